// 转账: send CNY or USDT to another user by their phone number. The app looks
// the recipient up first and shows their masked name ("Transfer to *明")
// before anything can be paid; then the asset, an amount checked at that
// asset's places, an optional memo, and the PIN sheet. One Idempotency-Key
// per confirmation (see payment.js): a retry after a lost answer repeats the
// same request with the same key, so a flaky network never sends twice; a
// new PIN after a refusal, or any other change, is a new request.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { ApiError } from "/shared/api.js";
import { ASSETS, formatAsset, parseUnits, unitsToWire } from "/shared/money.js";
import { pinPayment } from "../payment.js";
import { pinSheet } from "../pin-pad.js";
import { loading } from "../ui.js";

const PHONE = /^1\d{10}$/;
const MEMO_CHARS_MAX = 100;
const PLACEHOLDERS = { CNY: "0.00", USDT: "0.000000" };
const CURRENCY_SIGNS = { CNY: "¥", USDT: "USDT" };

export function transferScreen({ api, i18n, navigate }) {
  const { t } = i18n;
  let wallet = null;
  let me = null;
  let loadError = null;

  /** The recipient as looked up (`{to, name, verified}`), or null until one is found. */
  let recipient = null;
  let lookupError = null;
  let lookingUp = false;
  let lookupSeq = 0;

  let asset = "CNY";
  let formError = null;
  let submitError = null;
  let sheetOpen = false;
  const payment = pinPayment({
    api,
    i18n,
    path: "/v1/transfers",
    sendingKey: "transfer.submitting",
    changed: () => renderForm(),
  });

  const element = h("section", { className: "transfer" }, loading(t));
  const phoneInput = h("input", {
    id: "transfer-to",
    name: "to",
    type: "tel",
    inputmode: "numeric",
    autocomplete: "off",
    maxlength: 11,
    placeholder: "13800000002",
    oninput: () => {
      if (!lookupError) return;
      lookupError = null;
      renderRecipient();
    },
  });
  const lookupErrorSlot = h("div", { "aria-live": "polite" });
  const findButton = h("button", { type: "submit", className: "button primary block", i18n: "transfer.find" });
  const lookupForm = h(
    "form",
    { className: "form", novalidate: true, onsubmit: lookUp },
    h("div", { className: "field" }, h("label", { for: "transfer-to", i18n: "transfer.to_label" }), phoneInput),
    lookupErrorSlot,
    findButton,
  );
  const recipientSlot = h("div", { "aria-live": "polite" });
  const recipientCard = h("div", { className: "card recipient-card" }, lookupForm, recipientSlot);
  const amountInput = h("input", {
    id: "transfer-amount",
    name: "amount",
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    oninput: () => {
      submitError = null;
      formError = amountProblem({ whileTyping: true });
      renderForm();
    },
  });
  const memoInput = h("input", {
    id: "transfer-memo",
    name: "memo",
    type: "text",
    autocomplete: "off",
    maxlength: MEMO_CHARS_MAX,
  });
  const assetSwitch = h("div", { className: "segmented", role: "group" });
  const currencySign = h("span", { className: "currency", "aria-hidden": "true" });
  const availableLine = h("p", { className: "muted small amount-meta", "data-testid": "transfer-available" });
  const formErrorSlot = h("div", { "aria-live": "polite" });
  const confirmButton = h("button", { type: "button", className: "button primary block", onclick: openPinPad });
  const form = h(
    "div",
    { className: "transfer-form" },
    h(
      "div",
      { className: "card" },
      assetSwitch,
      h("label", { className: "amount-label", for: "transfer-amount", i18n: "transfer.amount" }),
      h("div", { className: "amount-row" }, currencySign, amountInput),
      availableLine,
      h(
        "div",
        { className: "field memo-field" },
        h("label", { for: "transfer-memo", i18n: "transfer.memo" }),
        memoInput,
      ),
    ),
    formErrorSlot,
    confirmButton,
  );

  async function load() {
    try {
      [wallet, me] = await Promise.all([api.get("/v1/wallet"), api.get("/v1/me")]);
      loadError = null;
    } catch (failure) {
      loadError = failure;
    }
    layout();
  }

  /** Builds the screen once; its parts are re-rendered in place. */
  function layout() {
    if (loadError || !wallet) {
      fill(element, errorNotice(loadError, i18n));
      return;
    }
    if (!me.pin_set) {
      fill(
        element,
        h(
          "div",
          { className: "card" },
          h("h2", { className: "card-title" }, t("transfer.before")),
          h("p", {}, t("transfer.need_pin"), " ", h("a", { href: "#/pin?next=transfer" }, t("withdraw.go_pin"))),
        ),
      );
      return;
    }
    fill(element, recipientCard, form);
    renderRecipient();
    renderForm();
    phoneInput.focus();
  }

  function refresh() {
    if (phoneInput.isConnected) {
      renderRecipient();
      renderForm();
    } else {
      layout();
    }
  }

  /** The recipient card: the phone number to look up, or who was found. */
  function renderRecipient() {
    form.hidden = !recipient;
    lookupForm.hidden = Boolean(recipient);
    fill(lookupErrorSlot, errorNotice(lookupError, i18n, { action: "transfer" }));
    findButton.disabled = lookingUp;
    if (lookingUp) findButton.setAttribute("aria-busy", "true");
    else findButton.removeAttribute("aria-busy");
    fill(recipientSlot, recipient && recipientView());
  }

  function recipientView() {
    return [
      h(
        "div",
        { className: "recipient" },
        h("div", { className: "recipient-mark", "aria-hidden": "true" }, recipient.name.slice(-1)),
        h(
          "div",
          { className: "recipient-main" },
          h("h2", { className: "recipient-name", "data-testid": "recipient-name" }, t("transfer.to_name", recipient)),
          h(
            "p",
            { className: "muted small" },
            recipient.to,
            " ",
            h(
              "span",
              { className: recipient.verified ? "badge good" : "badge" },
              t(recipient.verified ? "transfer.verified" : "transfer.unverified"),
            ),
          ),
        ),
        h("button", { type: "button", className: "button link", onclick: changeRecipient }, t("transfer.change")),
      ),
      h("p", { className: "muted small recipient-hint" }, t("transfer.check_name")),
    ];
  }

  async function lookUp(event) {
    event.preventDefault();
    const phone = phoneInput.value.trim();
    if (!PHONE.test(phone)) {
      lookupError = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "to" } });
      renderRecipient();
      phoneInput.focus();
      return;
    }
    const seq = ++lookupSeq;
    lookingUp = true;
    lookupError = null;
    renderRecipient();
    try {
      const found = await api.get(`/v1/transfers/recipient?to=${encodeURIComponent(phone)}`);
      if (seq !== lookupSeq) return;
      recipient = found;
      submitError = null;
    } catch (failure) {
      if (seq !== lookupSeq) return;
      lookupError = failure;
    } finally {
      if (seq === lookupSeq) lookingUp = false;
    }
    renderRecipient();
    renderForm();
    if (recipient) amountInput.focus();
    else phoneInput.focus();
  }

  function changeRecipient() {
    lookupSeq++;
    lookingUp = false;
    recipient = null;
    submitError = null;
    renderRecipient();
    phoneInput.focus();
  }

  function renderForm() {
    if (!recipient) return;
    assetSwitch.setAttribute("aria-label", t("transfer.asset"));
    fill(
      assetSwitch,
      ASSETS.map((code) =>
        h(
          "button",
          { type: "button", "aria-pressed": String(code === asset), onclick: () => chooseAsset(code) },
          t(`asset.${code}`),
        ),
      ),
    );
    currencySign.textContent = CURRENCY_SIGNS[asset];
    currencySign.className = asset === "CNY" ? "currency" : "currency currency-code";
    amountInput.placeholder = PLACEHOLDERS[asset];
    memoInput.placeholder = t("transfer.memo_placeholder");
    availableLine.textContent = t("transfer.available", { amount: formatAsset(available(), asset, { trim: true }) });
    fill(formErrorSlot, errorNotice(formError ?? submitError, i18n, { asset, action: "transfer" }));
    confirmButton.textContent = t("transfer.confirm");
    confirmButton.disabled = payment.sending;
    if (payment.sending) confirmButton.setAttribute("aria-busy", "true");
    else confirmButton.removeAttribute("aria-busy");
  }

  function chooseAsset(code) {
    asset = code;
    submitError = null;
    formError = amountProblem({ whileTyping: true });
    renderForm();
    amountInput.focus();
  }

  /** What the wallet holds of the chosen asset, available to send. */
  function available() {
    const held = (wallet.assets ?? []).find((balance) => balance.asset === asset);
    if (held) return held.available;
    return asset === "CNY" ? wallet.available : unitsToWire(0n, asset);
  }

  /**
   * Why the amount cannot be sent, as the API would say it, or null. While
   * typing, what may still become an amount ("", "12.", "0.0") is no
   * problem yet; a seventh USDT place already is.
   */
  function amountProblem({ whileTyping = false } = {}) {
    const text = amountInput.value.trim();
    if (whileTyping && /^(\d+\.?)?$/.test(text)) return null;
    const units = parseUnits(text, asset);
    if (units === null || (units <= 0n && !whileTyping)) {
      return new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "amount" } });
    }
    if (units <= 0n) return null;
    const balance = parseUnits(available(), asset) ?? 0n;
    if (units > balance) {
      return new ApiError({
        status: 422,
        code: "INSUFFICIENT_BALANCE",
        details: { available: available(), requested: unitsToWire(units, asset) },
      });
    }
    return null;
  }

  function openPinPad() {
    // A second tap while the sheet is up does nothing.
    if (!recipient || payment.sending || sheetOpen) return;
    submitError = null;
    formError = amountProblem();
    if (!formError && [...memoInput.value.trim()].length > MEMO_CHARS_MAX) {
      formError = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "memo" } });
    }
    renderForm();
    if (formError) {
      amountInput.focus();
      return;
    }
    const order = {
      to: recipient.to,
      name: recipient.name,
      asset,
      amount: unitsToWire(parseUnits(amountInput.value, asset), asset),
      memo: memoInput.value.trim(),
    };
    sheetOpen = true;
    const summary = h(
      "div",
      { className: "sheet-summary" },
      h("p", { className: "sheet-amount" }, formatAsset(order.amount, order.asset, { trim: true })),
      h("p", { className: "muted small" }, t("transfer.to_name", { name: order.name })),
      order.memo && h("p", { className: "muted small sheet-memo" }, order.memo),
    );
    pinSheet({
      i18n,
      title: t("transfer.pin_title"),
      summary,
      onPin: (pin, sheet) => submit(order, pin, sheet),
      onClose: () => {
        sheetOpen = false;
        renderForm();
      },
    });
  }

  function submit(order, pin, sheet) {
    const body = { to: order.to, asset: order.asset, amount: order.amount, memo: order.memo, pin };
    payment.send(body, sheet, {
      context: { asset: order.asset, action: "transfer" },
      paid: (transfer) => navigate(`#/transfers/${encodeURIComponent(transfer.id)}?sent=1`),
      refused(failure) {
        if (failure.code?.startsWith("RECIPIENT_") || failure.code === "TRANSFER_TO_SELF") {
          // Who was looked up can no longer be paid: ask for a recipient again.
          recipient = null;
          lookupError = failure;
          renderRecipient();
          phoneInput.focus();
          return;
        }
        submitError = failure;
        if (failure.code === "INSUFFICIENT_BALANCE" || failure.code === "LIMIT_EXCEEDED") reload();
      },
    });
  }

  async function reload() {
    try {
      wallet = await api.get("/v1/wallet");
    } catch {
      // The error already shown says what to do; the old figures stay.
    }
    renderForm();
  }

  load();
  return { element, title: "transfer.title", back: "#/my", tab: "my", refresh };
}
