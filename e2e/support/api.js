// Talks to walletgate over HTTP to set the stage for a test quickly: users,
// WeChat and Alipay bindings (through the mock consent forms, as a browser
// would post them), PINs, top-ups, withdrawals and transfers. The tests then
// drive the screens.

const BASE = () => process.env.E2E_BASE_URL_RESOLVED;
export const PASSWORD = "e2e-password-1";
export const PIN = "135790";
export const WRONG_PIN = "864209";
export const OPERATOR = { email: "ops@walletgate.test", password: "operator-demo" };

const usedPhones = new Set();

/** A mainland mobile number no other test in this run uses. */
export function uniquePhone() {
  for (;;) {
    const phone = `139${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
    if (!usedPhones.has(phone)) {
      usedPhones.add(phone);
      return phone;
    }
  }
}

export async function call(
  method,
  path,
  { token, body, headers = {}, redirect = "follow", accept = "application/json" } = {},
) {
  const response = await fetch(`${BASE()}${path}`, {
    method,
    redirect,
    headers: {
      Accept: accept,
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, json, text };
}

async function ok(promise, what) {
  const response = await promise;
  if (response.status >= 300) throw new Error(`${what}: HTTP ${response.status} ${response.text.slice(0, 300)}`);
  return response.json;
}

export async function login(credentials) {
  const tokens = await ok(call("POST", "/v1/auth/login", { body: credentials }), "log in");
  return tokens.access_token;
}

/** A fresh L0 user with an empty wallet: `{ phone, password, token, accountId }`. */
export async function newUser() {
  const phone = uniquePhone();
  const profile = await ok(call("POST", "/v1/auth/register", { body: { phone, password: PASSWORD } }), "register");
  const token = await login({ phone, password: PASSWORD });
  return { phone, password: PASSWORD, token, accountId: profile.id };
}

/**
 * Every operator login counts against the operator's login rate limit (10 a
 * minute), and top-ups are many: a token is reused for a few minutes, well
 * inside its life (15 minutes).
 */
const OPERATOR_TOKEN_REUSE_MS = 5 * 60_000;
let operatorSession = null;

export async function operatorToken() {
  if (!operatorSession || Date.now() - operatorSession.at > OPERATOR_TOKEN_REUSE_MS) {
    operatorSession = { token: await login(OPERATOR), at: Date.now() };
  }
  return operatorSession.token;
}

export async function topUp(accountId, amount, asset = "CNY") {
  const token = await operatorToken();
  return ok(
    call("POST", `/v1/ops/accounts/${accountId}/credit`, { token, body: { asset, amount, memo: "e2e top-up" } }),
    "top up",
  );
}

/** The newest SMS code texted to `phone` for `purpose`. */
export async function latestCode(phone, purpose) {
  const outbox = await ok(call("GET", `/mock/sms/outbox?phone=${phone}`), "read the SMS outbox");
  const message = outbox.items.find((item) => item.purpose === purpose);
  if (!message) throw new Error(`no ${purpose} SMS for ${phone}`);
  return message.code;
}

/**
 * Starts a binding of `provider` and posts its mock consent form with
 * `fields` (besides the authorize URL's own), as the consent page would;
 * then follows the redirect to the gateway's callback. Returns the binding
 * id and the callback's answer.
 */
async function consentAt(user, provider, consentPath, fields) {
  const started = await ok(call("POST", `/v1/bindings/${provider}`, { token: user.token, body: {} }), "start binding");
  const authorize = new URL(started.authorize_url);
  const form = new URLSearchParams({ ...Object.fromEntries(authorize.searchParams), ...fields });
  const consent = await fetch(`${BASE()}${consentPath}`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
  });
  const callback = consent.headers.get("location");
  if (!callback) throw new Error(`consent did not redirect: HTTP ${consent.status}`);
  const answer = await call("GET", new URL(callback).pathname + new URL(callback).search);
  return { bindingId: started.binding_id, answer };
}

/** Starts a binding and consents at the mock WeChat as a new user; returns the binding id. */
export async function authorizeWeChat(user, nickname = "李小龙") {
  const fields = { response_type: "code", action: "allow", openid: "", nickname };
  const { bindingId, answer } = await consentAt(user, "wechat", "/mock/wechat/connect/oauth2/authorize", fields);
  await ok(answer, "follow the callback");
  return bindingId;
}

/**
 * Starts an Alipay binding and consents at the mock Alipay as a new user
 * (`nickname`, certified as `realName`); returns the binding id.
 */
export async function authorizeAlipay(user, nickname = "支小宝", realName = nickname) {
  const fields = { action: "allow", user_id: "", nick_name: nickname, real_name: realName, logon_id: "" };
  const consentPath = "/mock/alipay/oauth2/publicAppAuthorize.htm";
  const { bindingId, answer } = await consentAt(user, "alipay", consentPath, fields);
  await ok(answer, "follow the Alipay callback");
  return bindingId;
}

/** A binding confirmed with its SMS code (`bind_<provider>`); returns the binding id. */
async function confirmBinding(user, bindingId, provider) {
  const code = await latestCode(user.phone, `bind_${provider}`);
  await ok(
    call("POST", `/v1/bindings/${bindingId}/confirm`, { token: user.token, body: { sms_code: code } }),
    "confirm binding",
  );
  return bindingId;
}

/** A WeChat binding confirmed with its SMS code; returns the binding id. */
export async function bindWeChat(user, nickname) {
  return confirmBinding(user, await authorizeWeChat(user, nickname), "wechat");
}

/** An Alipay binding confirmed with its SMS code; returns the binding id. */
export async function bindAlipay(user, nickname, realName) {
  return confirmBinding(user, await authorizeAlipay(user, nickname, realName), "alipay");
}

export async function setPin(user, pin = PIN) {
  await ok(call("POST", "/v1/sms/codes", { token: user.token, body: { purpose: "set_pin" } }), "request set_pin code");
  const code = await latestCode(user.phone, "set_pin");
  await ok(call("PUT", "/v1/pin", { token: user.token, body: { pin, sms_code: code } }), "set PIN");
}

/** A user ready to withdraw: bound to WeChat, PIN set, `balance` in the wallet. */
export async function readyUser({ balance = "500.00", nickname = "李小龙" } = {}) {
  const user = await newUser();
  user.bindingId = await bindWeChat(user, nickname);
  await setPin(user);
  if (balance) await topUp(user.accountId, balance);
  return user;
}

/** A user ready to transfer: PIN set, `cny` (and `usdt`, when given) in the wallet. */
export async function payingUser({ cny = "100.00", usdt = null } = {}) {
  const user = await newUser();
  await setPin(user);
  if (cny) await topUp(user.accountId, cny);
  if (usdt) await topUp(user.accountId, usdt, "USDT");
  return user;
}

/** Sends a transfer through the API (with the demo PIN); returns the TransferView. */
export async function transfer(from, body) {
  return ok(
    call("POST", "/v1/transfers", {
      token: from.token,
      body: { pin: PIN, ...body },
      headers: { "Idempotency-Key": crypto.randomUUID() },
    }),
    "transfer",
  );
}

export async function transfers(user) {
  return (await ok(call("GET", "/v1/transfers", { token: user.token }), "list transfers")).items;
}

export async function withdrawals(user) {
  return (await ok(call("GET", "/v1/withdrawals", { token: user.token }), "list withdrawals")).items;
}

export async function wallet(user) {
  return ok(call("GET", "/v1/wallet", { token: user.token }), "wallet");
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/**
 * A resident ID number with a valid check character (GB 11643): a random birth date
 * between 1970 and 1999 and a random sequence number, so ten million numbers are drawn
 * from and the tests of one run (on a store that may outlive it) do not collide.
 */
export function residentId() {
  const pick = (count) => Math.floor(Math.random() * count);
  const pad = (value, width) => String(value).padStart(width, "0");
  const born = `${1970 + pick(30)}${pad(1 + pick(12), 2)}${pad(1 + pick(28), 2)}`;
  const body = `110105${born}${pad(pick(1000), 3)}`;
  const sum = [...body].reduce((total, digit, index) => total + Number(digit) * ID_WEIGHTS[index], 0);
  return body + ID_CHECK[sum % 11];
}

/** Submits an L1 identity check with a fresh ID number and waits for its automatic approval; returns the number. */
export async function verifiedIdentity(user) {
  const id = residentId();
  const body = { level: "L1", real_name: "王小明", id_number: id };
  await ok(call("POST", "/v1/kyc", { token: user.token, body }), "submit identity");
  for (let tries = 0; tries < 100; tries++) {
    const me = await ok(call("GET", "/v1/me", { token: user.token }), "me");
    if (me.verification_level === "L1") return id;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the identity check was not approved in 20 s");
}

/** The same number with a wrong check character. */
export function withWrongCheck(id) {
  const wrong = ID_CHECK[(ID_CHECK.indexOf(id.at(-1)) + 1) % ID_CHECK.length];
  return id.slice(0, -1) + wrong;
}

/** A withdrawal made through the API (with the demo PIN); returns the WithdrawalView. */
export async function withdraw(user, amount) {
  return ok(
    call("POST", "/v1/withdrawals", {
      token: user.token,
      body: { amount, binding_id: user.bindingId, pin: PIN },
      headers: { "Idempotency-Key": crypto.randomUUID() },
    }),
    "withdraw",
  );
}

/** An operator's rejection of a withdrawal waiting for review (`body`: `{reason_code, note}`). */
export async function rejectWithdrawal(id, body) {
  const token = await operatorToken();
  return ok(call("POST", `/v1/ops/withdrawals/${id}/reject`, { token, body }), "reject withdrawal");
}
