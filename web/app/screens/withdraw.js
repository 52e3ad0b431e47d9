// Balance Withdrawal: an amount (or "withdraw all"), a live quote as it is
// typed (fee, total, what arrives, limits left, arrival or manual review),
// then the PIN pad. One Idempotency-Key per confirmation (see payment.js):
// a retry after a lost answer repeats the same request with the same key, so
// a flaky network never makes two withdrawals; a new PIN after a refusal is a
// new request.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";
import { ApiError } from "/shared/api.js";
import { fenToWire, formatMoney, minAmount, parseFen } from "/shared/money.js";
import { pinPayment } from "../payment.js";
import { pinSheet } from "../pin-pad.js";
import { fact, loading } from "../ui.js";

const QUOTE_DELAY_MS = 300;
const FIT_ATTEMPTS_MAX = 3;

export function withdrawScreen({ api, i18n, navigate }) {
  const { t } = i18n;
  let wallet = null;
  let me = null;
  let binding = null;
  let loadError = null;

  let quote = null; // the current quote, for exactly the amount in the field
  let quoteError = null;
  let quoting = false;
  let quoteSeq = 0;
  let quoteAbort = null;
  let quoteTimer = null;
  let expiryTimer = null;
  let submitError = null;
  let sheetOpen = false;
  const payment = pinPayment({
    api,
    i18n,
    path: "/v1/withdrawals",
    sendingKey: "withdraw.submitting",
    changed: () => renderDynamic(),
  });

  const element = h("section", { className: "withdraw" }, loading(t));
  const amountInput = h("input", {
    id: "withdraw-amount",
    name: "amount",
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "0.00",
    oninput: () => scheduleQuote(),
  });
  const quotePanel = h("div", { className: "quote", "aria-live": "polite", "data-testid": "quote" });
  const availableLine = h("span", { className: "muted small" });
  const allButton = h("button", {
    type: "button",
    className: "button link",
    onclick: withdrawAll,
    i18n: "withdraw.all",
  });
  const confirmButton = h("button", {
    type: "button",
    className: "button primary block",
    onclick: openPinPad,
    i18n: "withdraw.confirm",
  });
  const submitErrorSlot = h("div", { "aria-live": "polite" });

  async function load() {
    try {
      const [walletData, meData, bindings] = await Promise.all([
        api.get("/v1/wallet"),
        api.get("/v1/me"),
        api.get("/v1/bindings"),
      ]);
      wallet = walletData;
      me = meData;
      binding = bindings.items.find((item) => item.status === "active") ?? null;
      loadError = null;
    } catch (failure) {
      loadError = failure;
    }
    layout();
  }

  /** Builds the screen once; the quote panel and buttons are re-rendered in place. */
  function layout() {
    if (loadError || !wallet) {
      fill(element, errorNotice(loadError, i18n));
      return;
    }
    if (!binding || !me.pin_set) {
      fill(element, prerequisites());
      return;
    }
    fill(
      element,
      h(
        "div",
        { className: "card destination-card" },
        h("p", { className: "muted small", i18n: "withdraw.to" }),
        h(
          "div",
          { className: "destination" },
          h("div", { className: "wechat-mark", "aria-hidden": "true" }, "W"),
          h(
            "div",
            {},
            h("p", { className: "destination-name" }, binding.nickname),
            h("p", { className: "muted small mono" }, binding.openid),
          ),
        ),
      ),
      h(
        "div",
        { className: "card" },
        h("label", { className: "amount-label", for: "withdraw-amount", i18n: "withdraw.amount" }),
        h(
          "div",
          { className: "amount-row" },
          h("span", { className: "currency", "aria-hidden": "true" }, "¥"),
          amountInput,
        ),
        h("div", { className: "amount-meta" }, availableLine, allButton),
      ),
      quotePanel,
      submitErrorSlot,
      confirmButton,
    );
    renderDynamic();
    amountInput.focus();
  }

  function prerequisites() {
    return h(
      "div",
      { className: "card" },
      h("h2", { className: "card-title" }, t("withdraw.before")),
      !binding && h("p", {}, t("withdraw.need_binding"), " ", h("a", { href: "#/bind" }, t("withdraw.go_bind"))),
      !me.pin_set &&
        h("p", {}, t("withdraw.need_pin"), " ", h("a", { href: "#/pin?next=withdraw" }, t("withdraw.go_pin"))),
    );
  }

  /** After a language switch: the whole screen if the form is not up, else its dynamic parts. */
  function refresh() {
    if (amountInput.isConnected) renderDynamic();
    else layout();
  }

  function renderDynamic() {
    availableLine.textContent = t("withdraw.available", { amount: formatMoney(wallet.available) });
    fill(quotePanel, quoteView());
    fill(submitErrorSlot, errorNotice(submitError, i18n));
    confirmButton.disabled = !quote || quoting || payment.sending;
    if (payment.sending) confirmButton.setAttribute("aria-busy", "true");
    else confirmButton.removeAttribute("aria-busy");
  }

  function quoteView() {
    if (quoting) {
      return h("p", { className: "quote-status" }, h("span", { className: "spinner" }), " ", t("withdraw.quoting"));
    }
    if (quoteError) return errorNotice(quoteError, i18n);
    if (!quote) return h("p", { className: "quote-status muted" }, t("withdraw.enter_amount"));
    const limits = quote.limits_after;
    const arrival =
      quote.review === "auto"
        ? t("withdraw.arrives_by", { at: formatDateTime(quote.expected_settlement_at, i18n.locale) })
        : t("withdraw.manual_review", {
            reasons: quote.review_reasons.map((reason) => t(`reason.${reason}`)).join(t("withdraw.list_separator")),
            at: formatDateTime(quote.review_decided_by, i18n.locale),
          });
    return h(
      "dl",
      { className: "facts quote-facts" },
      fact(t("withdraw.fee"), formatMoney(quote.fee), "quote-fee"),
      fact(t("withdraw.total"), h("strong", {}, formatMoney(quote.total_debit)), "quote-total"),
      fact(t("withdraw.arrives"), formatMoney(quote.arrives), "quote-arrives"),
      fact(
        t("withdraw.arrival"),
        h("span", { className: quote.review === "auto" ? "" : "badge warn" }, arrival),
        "quote-arrival",
      ),
      fact(
        t("withdraw.daily_after"),
        `${formatMoney(limits.daily_remaining)} · ${t("my.count", { count: limits.daily_count_remaining })}`,
        "quote-daily",
      ),
      fact(t("withdraw.monthly_after"), formatMoney(limits.monthly_remaining), "quote-monthly"),
      fact(t("withdraw.free_after"), formatMoney(quote.fee_free_quota_after), "quote-free"),
    );
  }

  function scheduleQuote() {
    clearTimeout(quoteTimer);
    submitError = null;
    quote = null;
    quoteError = null;
    const text = amountInput.value.trim();
    const fen = parseFen(text);
    if (text === "") {
      quoting = false;
    } else if (fen === null || fen <= 0n) {
      quoting = false;
      quoteError = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "amount" } });
    } else {
      quoting = true;
      quoteTimer = setTimeout(() => requestQuote(fenToWire(fen)), QUOTE_DELAY_MS);
    }
    renderDynamic();
  }

  /**
   * Prices `amount`. With `fitBalance`, an amount whose fee would overdraw is
   * lowered by the shortfall and priced again (the fee never grows as the
   * amount shrinks, so the second price fits).
   */
  async function requestQuote(amount, { fitBalance = false } = {}) {
    const seq = ++quoteSeq;
    quoteAbort?.abort();
    quoteAbort = new AbortController();
    quoting = true;
    renderDynamic();
    let priced = amount;
    try {
      for (let attemptNo = 1; ; attemptNo++) {
        try {
          const result = await api.post(
            "/v1/withdrawals/quote",
            { amount: priced, binding_id: binding.id },
            { signal: quoteAbort.signal },
          );
          if (seq !== quoteSeq) return;
          quote = result;
          quoteError = null;
          if (priced !== amount) amountInput.value = priced;
          break;
        } catch (failure) {
          const shortBy =
            failure.code === "INSUFFICIENT_BALANCE"
              ? parseFen(failure.details.requested) - parseFen(failure.details.available)
              : 0n;
          const lower = parseFen(priced) - shortBy;
          if (!fitBalance || shortBy <= 0n || lower <= 0n || attemptNo >= FIT_ATTEMPTS_MAX) throw failure;
          priced = fenToWire(lower);
        }
      }
      scheduleExpiry();
    } catch (failure) {
      if (failure.name === "AbortError" || seq !== quoteSeq) return;
      quote = null;
      quoteError = failure;
    }
    quoting = false;
    renderDynamic();
  }

  /** A quote's price holds until `expires_at`; ask again then, so the screen never shows a stale one. */
  function scheduleExpiry() {
    clearTimeout(expiryTimer);
    const wait = new Date(quote.expires_at).getTime() - Date.now();
    expiryTimer = setTimeout(() => requestQuote(quote.amount), Math.max(wait, 1000));
  }

  function withdrawAll() {
    const limits = wallet.limits;
    const most = minAmount(
      wallet.available,
      limits.per_transaction_max,
      limits.daily_remaining,
      limits.monthly_remaining,
    );
    clearTimeout(quoteTimer);
    amountInput.value = most;
    submitError = null;
    quote = null;
    quoteError = null;
    requestQuote(most, { fitBalance: true });
  }

  function openPinPad() {
    // A second tap while the sheet is up does nothing.
    if (!quote || payment.sending || sheetOpen) return;
    sheetOpen = true;
    const priced = quote;
    const summary = h(
      "div",
      { className: "sheet-summary" },
      h("p", { className: "sheet-amount" }, formatMoney(priced.amount)),
      h(
        "p",
        { className: "muted small" },
        t("withdraw.sheet_summary", {
          nickname: priced.destination.nickname,
          fee: formatMoney(priced.fee),
          total: formatMoney(priced.total_debit),
        }),
      ),
    );
    pinSheet({
      i18n,
      title: t("withdraw.pin_title"),
      summary,
      onPin: (pin, sheet) => submit(priced, pin, sheet),
      onClose: () => {
        sheetOpen = false;
        renderDynamic();
      },
    });
  }

  function submit(priced, pin, sheet) {
    const body = { amount: priced.amount, binding_id: binding.id, pin, quote_id: priced.quote_id };
    payment.send(body, sheet, {
      paid: (withdrawal) => navigate(`#/status/${withdrawal.id}`),
      refused(failure) {
        submitError = failure;
        const stale = ["QUOTE_EXPIRED", "INSUFFICIENT_BALANCE", "LIMIT_EXCEEDED"];
        if (stale.includes(failure.code)) reload();
      },
    });
  }

  async function reload() {
    try {
      wallet = await api.get("/v1/wallet");
    } catch {
      // The error already shown says what to do; the old figures stay.
    }
    if (quote) requestQuote(quote.amount);
  }

  load();
  return {
    element,
    title: "withdraw.title",
    tab: "withdraw",
    refresh,
    dispose() {
      clearTimeout(quoteTimer);
      clearTimeout(expiryTimer);
      quoteAbort?.abort();
    },
  };
}
