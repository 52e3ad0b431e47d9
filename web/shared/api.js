// The HTTP API client both front ends share: JSON in and out, the bearer
// token, one refresh on an expired token, and every failure as an ApiError
// carrying the catalogue's `code` and `details` (see src/error.rs).

/** A refused or failed request, in the shape of the API's error body. */
export class ApiError extends Error {
  constructor({ status, code, message, details = {}, retryAfterSecs = null }) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterSecs = retryAfterSecs;
  }

  /**
   * No definite answer came back (the network failed, or the server did),
   * so the request may or may not have taken effect: repeat it unchanged,
   * with the same Idempotency-Key, rather than as a new one.
   */
  get outcomeUnknown() {
    return this.status === 0 || this.status >= 500;
  }
}

/**
 * Where a front end keeps its login: the access token in localStorage, so a
 * reload stays signed in for its short life; the long-lived refresh token in
 * memory only, so nothing that outlives the tab can mint new tokens.
 */
export class Session {
  constructor(storageKey) {
    this.storageKey = storageKey;
    this.refreshToken = null;
  }

  get accessToken() {
    return localStorage.getItem(this.storageKey);
  }

  get signedIn() {
    return Boolean(this.accessToken);
  }

  save(tokens) {
    localStorage.setItem(this.storageKey, tokens.access_token);
    this.refreshToken = tokens.refresh_token ?? null;
  }

  clear() {
    localStorage.removeItem(this.storageKey);
    this.refreshToken = null;
  }
}

/**
 * `session` is a Session; `onSignedOut()` runs when the API no longer takes
 * the token and it cannot be refreshed.
 */
export function createApi({ session, onSignedOut = () => {} }) {
  let refreshing = null;

  async function send(method, path, { body, headers = {}, signal, auth }) {
    const allHeaders = { Accept: "application/json", ...headers };
    if (body !== undefined) allHeaders["Content-Type"] = "application/json";
    if (auth && session.accessToken) allHeaders.Authorization = `Bearer ${session.accessToken}`;
    try {
      return await fetch(path, {
        method,
        headers: allHeaders,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError({ status: 0, code: "NETWORK_ERROR", message: error.message });
    }
  }

  /** Trades the refresh token for a new pair, once at a time however many requests wait. */
  function refresh() {
    if (!session.refreshToken) return Promise.resolve(false);
    refreshing ??= send("POST", "/v1/auth/refresh", { body: { refresh_token: session.refreshToken }, auth: false })
      .then(async (response) => {
        if (!response.ok) return false;
        session.save(await response.json());
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  function signOut() {
    session.clear();
    onSignedOut();
  }

  async function request(method, path, { body, headers, signal, auth = true } = {}) {
    let response = await send(method, path, { body, headers, signal, auth });
    if (response.status === 401 && auth) {
      if (await refresh()) {
        response = await send(method, path, { body, headers, signal, auth });
      }
      if (response.status === 401) signOut();
    }
    return read(response);
  }

  return {
    request,
    get: (path, options) => request("GET", path, options),
    post: (path, body = {}, options = {}) => request("POST", path, { ...options, body }),
    put: (path, body = {}, options = {}) => request("PUT", path, { ...options, body }),
    delete: (path, body, options = {}) => request("DELETE", path, { ...options, body }),
    refresh,
    signOut,
  };
}

async function read(response) {
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (response.ok) return json;
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  const error = json?.error;
  if (!error?.code) {
    throw new ApiError({ status: response.status, code: "UNEXPECTED_RESPONSE", message: text.slice(0, 200) });
  }
  throw new ApiError({
    status: response.status,
    code: error.code,
    message: error.message,
    details: error.details ?? {},
    retryAfterSecs: error.details?.retry_after_secs ?? (Number.isFinite(retryAfter) ? retryAfter : null),
  });
}

/** A fresh Idempotency-Key: 128 random bits as hex (works outside secure contexts too). */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
