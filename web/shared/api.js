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
 * reload stays signed in for its short life. The long-lived refresh token is
 * either in memory only (nothing that outlives the tab can mint new tokens),
 * or, with `refreshCookie`, in the HttpOnly cookie the server sets
 * (`refresh_cookie` at login): no script can read it, and it survives a
 * reload, so the session does too (docs/web.md).
 */
export class Session {
  constructor(storageKey, { refreshCookie = false } = {}) {
    this.storageKey = storageKey;
    this.refreshToken = null;
    this.refreshCookie = refreshCookie;
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

  /**
   * Trades the refresh token for a new pair, once at a time however many
   * requests wait. `stale` is the access token that was refused: when
   * another tab has replaced it meanwhile, its new one is used as it is.
   */
  function refresh(stale = session.accessToken) {
    if (!session.refreshCookie && !session.refreshToken) return Promise.resolve(false);
    refreshing ??= oneTabAtATime(async () => {
      if (session.accessToken && session.accessToken !== stale) return true;
      const body = session.refreshCookie ? {} : { refresh_token: session.refreshToken };
      const response = await send("POST", "/v1/auth/refresh", { body, auth: false });
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

  /** Ends the session on the server too (its refresh and access tokens), then here. */
  async function logOut() {
    const body = session.refreshCookie || !session.refreshToken ? {} : { refresh_token: session.refreshToken };
    try {
      await send("POST", "/v1/auth/logout", { body, auth: true });
    } catch {
      // Offline: the tokens are forgotten here all the same.
    }
    session.clear();
  }

  function signOut() {
    session.clear();
    onSignedOut();
  }

  async function request(method, path, { body, headers, signal, auth = true } = {}) {
    const used = session.accessToken;
    let response = await send(method, path, { body, headers, signal, auth });
    if (response.status === 401 && auth) {
      if (await refresh(used)) {
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
    logOut,
  };
}

/**
 * Runs `task` while no other tab of this site runs one under the same lock:
 * a refresh token works once, so two tabs refreshing with one cookie at the
 * same moment would look like a stolen token. Web Locks exist only in
 * secure contexts (https, localhost); elsewhere the task just runs.
 */
function oneTabAtATime(task) {
  if (!navigator.locks) return task();
  return navigator.locks.request("walletgate.refresh", task);
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
