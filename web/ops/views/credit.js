// Top up a demo wallet: find the account by its phone number (or its
// account id), confirm whose wallet and how much in a dialog (the verified
// name masked, the phone masked, the amount), then credit it from the
// funding account (a balanced journal entry) and show the balance it
// leaves. One Idempotency-Key per intended credit: a double Enter, or a
// retry of the same credit after a lost answer, credits once; changing any
// field starts a new credit.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatAsset, parseUnits, unitsToWire } from "/shared/money.js";
import { ApiError, newIdempotencyKey } from "/shared/api.js";
import { confirmAction } from "./dialogs.js";

const DEMO_ACCOUNTS = [
  ["13800000001", "Alice"],
  ["13800000002", "Bob"],
  ["13800000003", "Carol"],
];

/** What the "who" box holds: an account id by its prefix, anything else a phone number. */
function whoParam(text) {
  return text.startsWith("acc_") ? "account_id" : "phone";
}

export function creditView({ api, i18n, query, changed }) {
  const { t } = i18n;
  let error = null;
  let result = null;
  /** The credit being sent: its request and key, kept until it is answered. */
  let attempt = null;

  const who = h("input", {
    id: "credit-account",
    name: "account",
    autocomplete: "off",
    inputmode: "text",
    placeholder: "13800000001 · acc_…",
    value: query.get("account") ?? "",
  });
  const asset = h(
    "select",
    { id: "credit-asset", name: "asset", onchange: () => relabel() },
    h("option", { value: "CNY", i18n: "credit.asset_cny" }),
    h("option", { value: "USDT", i18n: "credit.asset_usdt" }),
  );
  const amountLabel = h("label", { for: "credit-amount", i18n: "credit.amount" });
  const amount = h("input", {
    id: "credit-amount",
    name: "amount",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "100.00",
  });
  const memo = h("input", { id: "credit-memo", name: "memo", maxlength: 200, autocomplete: "off" });
  memo.value = t("credit.memo_default");
  const submit = h("button", { type: "submit", className: "button primary", i18n: "credit.review" });
  const outcome = h("div", { "aria-live": "polite" });

  const element = h(
    "section",
    {},
    h("div", { className: "view-head" }, h("h1", { i18n: "credit.title" })),
    h(
      "form",
      { className: "panel credit-form", novalidate: true, onsubmit: onSubmit },
      h("p", { className: "muted small explain", i18n: "credit.explain" }),
      h("div", { className: "field" }, h("label", { for: "credit-account", i18n: "credit.account" }), who),
      h(
        "p",
        { className: "quick" },
        h("span", { className: "muted small", i18n: "credit.demo" }),
        DEMO_ACCOUNTS.map(([phone, name]) =>
          h(
            "button",
            { type: "button", className: "button link", title: phone, onclick: () => (who.value = phone) },
            name,
          ),
        ),
      ),
      h(
        "div",
        { className: "field-pair" },
        h("div", { className: "field" }, amountLabel, amount),
        h("div", { className: "field" }, h("label", { for: "credit-asset", i18n: "credit.asset" }), asset),
      ),
      h("div", { className: "field" }, h("label", { for: "credit-memo", i18n: "credit.memo" }), memo),
      submit,
      outcome,
    ),
  );

  function relabel() {
    const usdt = asset.value === "USDT";
    // The key, not only the text, so a language switch keeps the right label.
    amountLabel.dataset.i18n = usdt ? "credit.amount_usdt" : "credit.amount";
    amountLabel.textContent = t(amountLabel.dataset.i18n);
    amount.placeholder = usdt ? "10.000000" : "100.00";
  }

  function render() {
    fill(
      outcome,
      errorNotice(error, i18n, { asset: asset.value }),
      result &&
        h(
          "p",
          { className: "notice notice-success", "data-testid": "credit-result" },
          t("credit.done", {
            amount: formatAsset(result.entry.available_change, result.wallet.currency),
            account: result.wallet.account_id,
            available: formatAsset(result.wallet.available, result.wallet.currency),
            held: formatAsset(result.wallet.held, result.wallet.currency),
          }),
        ),
    );
  }

  /** The account the box names, found as operators find accounts; an ApiError when none. */
  async function findAccount(text) {
    const found = await api.get(`/v1/ops/accounts?${new URLSearchParams({ [whoParam(text)]: text })}`);
    const account = found.items[0];
    if (!account) throw new ApiError({ status: 404, code: "NOT_FOUND", details: { resource: "account" } });
    if (!account.wallet) throw new ApiError({ status: 422, code: "NOT_FOUND", details: { resource: "wallet" } });
    return account;
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (submit.disabled) return;
    error = null;
    result = null;
    const text = who.value.trim().replaceAll(" ", "");
    const wire = amountOnTheWire(asset.value, amount.value.trim().replaceAll(",", ""));
    if (!text || wire === null) {
      error = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: text ? "amount" : "account" } });
      render();
      return;
    }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    render();
    let account = null;
    try {
      account = await findAccount(text);
    } catch (failure) {
      error = failure;
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
    render();
    if (account) await confirmCredit(account, { asset: asset.value, amount: wire, memo: memo.value.trim() });
  }

  /** Shows whose wallet gets how much; the credit is made only once confirmed. */
  async function confirmCredit(account, body) {
    const request = { id: account.id, body };
    if (!attempt || JSON.stringify(attempt.request) !== JSON.stringify(request)) {
      attempt = { request, key: newIdempotencyKey() };
    }
    const current = attempt;
    const money = formatAsset(body.amount, body.asset);
    const credited = await confirmAction({
      i18n,
      title: t("credit.confirm_title"),
      facts: [
        [t("credit.confirm_name"), account.real_name ?? t("credit.unverified")],
        [t("accounts.login"), account.phone ?? account.email],
        [t("queue.account_id"), h("span", { className: "mono" }, account.id)],
        [t("credit.confirm_amount"), h("strong", { "data-testid": "credit-confirm-amount" }, money)],
        [t("credit.memo"), body.memo],
      ],
      confirmLabel: t("credit.submit", { amount: money }),
      testId: "credit-dialog",
      run: () => send(current),
    });
    if (!credited) return;
    result = credited;
    attempt = null;
    changed();
    render();
  }

  /** Sends the credit under its key; a failure whose outcome is unknown keeps the key for the retry. */
  async function send(current) {
    try {
      return await api.post(`/v1/ops/accounts/${encodeURIComponent(current.request.id)}/credit`, current.request.body, {
        headers: { "Idempotency-Key": current.key },
      });
    } catch (failure) {
      // Only a request that may not have arrived is worth repeating under its key.
      if (!(failure instanceof ApiError && failure.outcomeUnknown)) attempt = null;
      throw failure;
    }
  }

  return { element, title: "credit.title", refresh: render };
}

/** A positive amount of `code` as the API takes it (at the asset's places, never through a float), or null. */
function amountOnTheWire(code, text) {
  const units = parseUnits(text, code);
  return units === null || units <= 0n ? null : unitsToWire(units, code);
}
