// Balance withdrawal, laid out like WeChat's 零钱提现: where it goes (a
// WeChat wallet or an Alipay account: a choice, 到账方式, when both are
// bound; `#/withdraw?to=alipay` picks one), the amount (with thousand
// separators as it is typed, or "withdraw all"), one fee line and the expected arrival from a live quote, and the confirm
// button kept in view above the tab bar and the keyboard. The limits left
// are one tap away, in a sheet. Then the PIN pad. One Idempotency-Key per
// confirmation (see payment.js): a retry after a lost answer repeats the
// same request with the same key, so a flaky network never makes two
// withdrawals; a new PIN after a refusal is a new request.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";
import { ApiError } from "/shared/api.js";
import { fenToWire, formatMoney, minAmount, parseFen } from "/shared/money.js";
import { amountInput as groupedAmountInput } from "../amount-input.js";
import { pinPayment } from "../payment.js";
import { pinSheet } from "../pin-pad.js";
import { reviewReason } from "../withdrawal-view.js";
import { activeBindings, freeQuota, providerMark, providerNamed, providerOf } from "../providers.js";
import { infoSheet } from "../sheet.js";
import { fact, loading } from "../ui.js";

const QUOTE_DELAY_MS = 300;
/** Where a node goes in a translated sentence (see `fillIn`). */
const SLOT = "\u0000";
const FIT_ATTEMPTS_MAX = 3;
/** The destination last withdrawn to, chosen again next time. */
const CHOICE_KEY = "walletgate.withdraw_to";

export function withdrawScreen({ api, i18n, navigate, query }) {
  const { t } = i18n;
  let wallet = null;
  let me = null;
  let bindings = []; // the active ones, one per provider at most
  let binding = null; // the chosen one
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
  const amount = groupedAmountInput({ id: "withdraw-amount", onChange: () => scheduleQuote() });
  const quotePanel = h("div", { className: "quote", "aria-live": "polite", "data-testid": "quote" });
  const availableLine = h("span", { className: "available-line" });
  const allButton = h("button", {
    type: "button",
    className: "button link touch",
    onclick: withdrawAll,
    i18n: "withdraw.all",
  });
  const confirmButton = h("button", {
    type: "button",
    className: "button primary block",
    "data-testid": "withdraw-confirm",
    onclick: openPinPad,
    i18n: "withdraw.confirm",
  });
  const limitsButton = h("button", {
    type: "button",
    className: "button link touch",
    "data-testid": "withdraw-limits",
    onclick: showLimits,
    i18n: "withdraw.limits",
  });
  const submitErrorSlot = h("div", { "aria-live": "polite" });
  const destinationPicker = h("div", { className: "destination-picker" });

  async function load() {
    try {
      const [walletData, meData, bindingList] = await Promise.all([
        api.get("/v1/wallet"),
        api.get("/v1/me"),
        api.get("/v1/bindings"),
      ]);
      wallet = walletData;
      me = meData;
      bindings = activeBindings(bindingList.items);
      binding = initialChoice();
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
    fill(destinationPicker, destinationView());
    fill(
      element,
      h(
        "div",
        { className: "card withdraw-card" },
        destinationPicker,
        h("label", { className: "amount-label", for: "withdraw-amount", i18n: "withdraw.amount" }),
        h(
          "div",
          { className: "amount-row" },
          h("span", { className: "currency", "aria-hidden": "true" }, "¥"),
          amount.input,
        ),
        h("div", { className: "amount-meta" }, availableLine, allButton),
        quotePanel,
        submitErrorSlot,
      ),
      h("div", { className: "action-bar" }, confirmButton, limitsButton),
    );
    renderDynamic();
    amount.input.focus();
  }

  /** The link's choice (`?to=`), else the last one, else the first bound. */
  function initialChoice() {
    const wanted = [providerNamed(query?.get("to")), providerNamed(localStorage.getItem(CHOICE_KEY))];
    for (const provider of wanted) {
      const found = bindings.find((item) => providerOf(item) === provider);
      if (found) return found;
    }
    return bindings[0] ?? null;
  }

  /** Where the money goes: the one bound destination, or a choice between them (到账方式). */
  function destinationView() {
    if (bindings.length < 2) {
      return h(
        "div",
        { className: "destination-row" },
        h("span", { className: "muted" }, t("withdraw.to")),
        h("span", { className: "destination-value", "data-testid": "withdraw-destination" }, destinationLabel(binding)),
      );
    }
    return h(
      "fieldset",
      { className: "destination-choice" },
      h("legend", { className: "muted" }, t("withdraw.to")),
      h(
        "div",
        { className: "destination-options" },
        bindings.map((item) =>
          h(
            "label",
            { className: "destination-option", "data-testid": `destination-${providerOf(item)}` },
            h("input", {
              type: "radio",
              name: "destination",
              value: providerOf(item),
              checked: item === binding,
              onchange: () => choose(item),
            }),
            destinationLabel(item),
          ),
        ),
      ),
    );
  }

  /** "微信零钱 张*丰" with the provider's mark. */
  function destinationLabel(item) {
    const provider = providerOf(item);
    return [
      providerMark(provider, "tiny"),
      h("span", { className: "destination-provider" }, t(`withdraw.destination.${provider}`)),
      h("span", { className: "destination-name" }, item.nickname),
    ];
  }

  /** Another destination: its own fee schedule and review, so the amount is priced again. */
  function choose(item) {
    binding = item;
    localStorage.setItem(CHOICE_KEY, providerOf(item));
    clearTimeout(quoteTimer);
    submitError = null;
    quote = null;
    const fen = parseFen(amount.value);
    if (fen !== null && fen > 0n) requestQuote(fenToWire(fen));
    else renderDynamic();
  }

  function prerequisites() {
    return h(
      "div",
      { className: "card" },
      h("h2", { className: "card-title" }, t("withdraw.before")),
      !binding &&
        h(
          "div",
          { className: "bind-either" },
          h("p", {}, t("withdraw.need_binding")),
          h(
            "div",
            { className: "bind-either-links" },
            ["wechat", "alipay"].map((provider) =>
              h(
                "a",
                { className: "button block bind-link", href: `#/bind/${provider}` },
                providerMark(provider, "tiny"),
                t(`withdraw.go_bind.${provider}`),
              ),
            ),
          ),
        ),
      !me.pin_set &&
        h("p", {}, t("withdraw.need_pin"), " ", h("a", { href: "#/pin?next=withdraw" }, t("withdraw.go_pin"))),
    );
  }

  /** After a language switch: the whole screen if the form is not up, else its dynamic parts. */
  function refresh() {
    if (!amount.input.isConnected) {
      layout();
      return;
    }
    fill(destinationPicker, destinationView());
    renderDynamic();
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
    return [
      h(
        "p",
        { className: "fee-line", "data-testid": "quote-fee-line" },
        t("withdraw.fee_label"),
        " ",
        h("strong", { "data-testid": "quote-fee" }, formatMoney(quote.fee)),
        feeNote(quote, freeQuotaLeft(), i18n, providerOf(quote)),
      ),
      h(
        "p",
        { className: "arrival-line", "data-testid": "quote-arrival-line" },
        h("span", { className: "muted" }, t(`withdraw.arrival.${providerOf(quote)}`)),
        h("span", { className: "nowrap", "data-testid": "quote-arrival" }, arrivalTime()),
      ),
      quote.review !== "auto" &&
        h(
          "p",
          { className: "review-note", "data-testid": "quote-review" },
          fillIn(t("withdraw.review_note", { reasons: SLOT }), [reviewReasons()]),
        ),
    ];
  }

  /** By when it arrives: after the automatic review's delay, or once an operator has decided. */
  function arrivalTime() {
    const at = quote.review === "auto" ? quote.expected_settlement_at : quote.review_decided_by;
    return t("withdraw.arrives_by", { at: formatDateTime(at, i18n.locale) });
  }

  /** Why an operator looks first, each reason in one piece (never "首次提现到该微/信"). */
  function reviewReasons() {
    return quote.review_reasons.flatMap((reason, index) => [
      index > 0 ? t("withdraw.list_separator") : null,
      h("span", { className: "nowrap", "data-testid": "review-reason" }, reviewReason(reason, quote, i18n)),
    ]);
  }

  /** What the free fee quota of the chosen destination leaves: each provider counts its own. */
  function freeQuotaLeft() {
    return freeQuota(wallet, providerOf(binding)) ?? wallet.fee_free_quota_remaining;
  }

  /** What the limits leave: before an amount is entered, today's; with a quote, after it. */
  function showLimits() {
    const limits = quote?.limits_after ?? wallet.limits;
    const free = quote?.fee_free_quota_after ?? freeQuotaLeft();
    const after = Boolean(quote);
    infoSheet({
      i18n,
      title: t("withdraw.limits_title"),
      body: h(
        "div",
        { className: "limits-sheet" },
        h("p", { className: "muted small" }, t(after ? "withdraw.limits_after" : "withdraw.limits_now")),
        h(
          "dl",
          { className: "facts" },
          fact(t("my.per_withdrawal"), formatMoney(limits.per_transaction_max), "limit-per"),
          fact(t("my.daily_left"), formatMoney(limits.daily_remaining), "quote-daily"),
          fact(t("my.daily_count_left"), t("my.count", { count: limits.daily_count_remaining }), "quote-count"),
          fact(t("my.monthly_left"), formatMoney(limits.monthly_remaining), "quote-monthly"),
          fact(t(`my.free_quota.${providerOf(binding)}`), formatMoney(free), "quote-free"),
        ),
        h("p", { className: "muted small" }, t(`withdraw.fee_rule_note.${providerOf(binding)}`)),
      ),
    });
  }

  function scheduleQuote() {
    clearTimeout(quoteTimer);
    submitError = null;
    quote = null;
    quoteError = null;
    const text = amount.value;
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
   * Prices `wire`. With `fitBalance`, an amount whose fee would overdraw is
   * lowered by the shortfall and priced again (the fee never grows as the
   * amount shrinks, so the second price fits).
   */
  async function requestQuote(wire, { fitBalance = false } = {}) {
    const seq = ++quoteSeq;
    quoteAbort?.abort();
    quoteAbort = new AbortController();
    quoting = true;
    renderDynamic();
    let priced = wire;
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
          if (priced !== wire) amount.set(priced);
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
    amount.set(most);
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
      h(
        "p",
        { className: "muted small", "data-testid": "sheet-to" },
        t(`withdraw.sheet_to.${providerOf(priced)}`, { nickname: priced.destination.nickname }),
      ),
      h("p", { className: "sheet-amount" }, formatMoney(priced.amount)),
      h(
        "p",
        { className: "muted small", "data-testid": "sheet-fee" },
        t("withdraw.sheet_summary", { fee: formatMoney(priced.fee), total: formatMoney(priced.total_debit) }),
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
    const body = { amount: priced.amount, binding_id: priced.destination.binding_id, pin, quote_id: priced.quote_id };
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

/** A sentence with SLOT marks, the marks replaced by `nodes` in order. */
function fillIn(sentence, nodes) {
  return sentence.split(SLOT).flatMap((text, index) => [text, nodes[index] ?? null]);
}

/**
 * The fee's reason, in brackets after it, naming the destination's quota:
 * "（费率0.1%，微信免费额度已用完）", "（支付宝免费额度内）", or — when the
 * free quota (`freeBefore`, what was left of it) covers part of the amount —
 * "（费率0.1%，超出微信免费额度的部分收取）".
 */
export function feeNote(quote, freeBefore, { t, locale }, provider = "wechat") {
  const quota = t(`provider.${provider}`);
  if (parseFen(quote.fee) === 0n) {
    return t("withdraw.fee_free", { quota, left: formatMoney(quote.fee_free_quota_after) });
  }
  const rate = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 3 }).format(
    Number(quote.fee_rule?.rate ?? 0),
  );
  const usedUp = (parseFen(freeBefore) ?? 0n) === 0n;
  return t(usedUp ? "withdraw.fee_rate_used_up" : "withdraw.fee_rate_partly", { rate, quota });
}
