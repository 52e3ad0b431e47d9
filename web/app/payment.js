// Paying from the PIN sheet (a withdrawal, a transfer): one request per
// confirmation under one Idempotency-Key. A retry after a lost answer repeats
// the same request with the same key, so a flaky network never pays twice;
// any other request (a new PIN after a refusal, another amount) gets a new
// key. The sheet answers what it can itself: a wrong PIN (enter it again), a
// locked PIN (reset it), no answer (try again); the screen gets the rest.

import { h } from "/shared/dom.js";
import { describeError } from "/shared/errors.js";
import { newIdempotencyKey } from "/shared/api.js";

/**
 * Payments POSTed to `path`. `sendingKey` is the message shown while one is
 * on its way; `changed()` runs when `sending` changes, for the screen's
 * buttons.
 */
export function pinPayment({ api, i18n, path, sendingKey, changed = () => {} }) {
  const { t } = i18n;
  /** The confirmation in flight, or whose answer never came: `{ key, body }`, repeated as is. */
  let attempt = null;
  let sending = false;

  /**
   * Sends `body` (the PIN in it) from `sheet`. On success the sheet closes and
   * `paid(answer)` runs; a refusal the sheet cannot answer closes it and goes
   * to `refused(failure)`. `context` is describeError's (the asset, the action).
   */
  async function send(body, sheet, { paid, refused, context = {} }) {
    if (sending) return;
    sending = true;
    sheet.setBusy(true);
    sheet.showMessage(h("p", { className: "quote-status" }, h("span", { className: "spinner" }), " ", t(sendingKey)));
    changed();
    if (!attempt || JSON.stringify(attempt.body) !== JSON.stringify(body)) attempt = { key: newIdempotencyKey(), body };
    try {
      const answer = await api.post(path, attempt.body, { headers: { "Idempotency-Key": attempt.key } });
      attempt = null;
      await sheet.close();
      paid(answer);
    } catch (failure) {
      const retry = () => send(body, sheet, { paid, refused, context });
      answer(failure, sheet, { retry, refused, context });
    } finally {
      sending = false;
      changed();
    }
  }

  function answer(failure, sheet, { retry, refused, context }) {
    const sentence = h("p", { className: "notice notice-error", role: "alert" }, describeError(failure, i18n, context));
    if (failure.outcomeUnknown) {
      // Keep `attempt`: the retry sends the same body with the same key.
      sheet.showMessage(
        sentence,
        h("button", { type: "button", className: "button primary block", onclick: retry }, t("common.retry")),
      );
      return;
    }
    attempt = null;
    if (failure.code === "PIN_INCORRECT") {
      sheet.showMessage(sentence);
      sheet.reject();
      sheet.setBusy(false);
    } else if (failure.code === "PIN_LOCKED") {
      // The keys stay off; the dots empty, so nothing looks half-entered.
      sheet.clear();
      sheet.showMessage(
        sentence,
        h("a", { className: "button block", href: "#/pin?mode=reset" }, t("withdraw.reset_pin")),
      );
    } else {
      sheet.close();
      refused(failure);
    }
  }

  return {
    send,
    /** Whether a payment is on its way. */
    get sending() {
      return sending;
    },
  };
}
