// The wallet app's login: the access token (see shared/api.js Session), the
// refresh token in the HttpOnly cookie the server sets (never readable here,
// and it survives a reload: docs/web.md), and the phone number it was made
// with, which the demo SMS outbox is read by. The phone is an identifier the
// user typed, not a secret; passwords, PINs and codes are never written to
// storage.

import { Session } from "/shared/api.js";

const PHONE_KEY = "walletgate.app.phone";

export class AppSession extends Session {
  constructor() {
    super("walletgate.app.access_token", { refreshCookie: true });
  }

  get phone() {
    return localStorage.getItem(PHONE_KEY);
  }

  signIn(tokens, phone) {
    this.save(tokens);
    localStorage.setItem(PHONE_KEY, phone);
  }

  clear() {
    super.clear();
    localStorage.removeItem(PHONE_KEY);
  }
}
