// Top up a demo wallet: credit an account from the funding account (a
// balanced journal entry), and show the balance it leaves. One
// Idempotency-Key per intended credit: a double Enter, or a retry of the
// same form after a lost answer, credits once; changing any field starts a
// new credit.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatAsset, parseUnits, unitsToWire } from "/shared/money.js";
import { ApiError, newIdempotencyKey } from "/shared/api.js";

const DEMO_ACCOUNTS = ["acc_demo_alice", "acc_demo_bob", "acc_demo_carol"];

export function creditView({ api, i18n, query, changed }) {
  const { t } = i18n;
  let error = null;
  let result = null;
  /** The credit being sent: its request and key, kept until it is answered. */
  let attempt = null;

  const account = h("input", {
    id: "credit-account",
    name: "account",
    autocomplete: "off",
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
  const submit = h("button", { type: "submit", className: "button primary", i18n: "credit.submit" });
  const outcome = h("div", { "aria-live": "polite" });

  const element = h(
    "section",
    {},
    h("div", { className: "view-head" }, h("h1", { i18n: "credit.title" })),
    h(
      "form",
      { className: "panel credit-form", novalidate: true, onsubmit: onSubmit },
      h("p", { className: "muted small", i18n: "credit.explain" }),
      h("div", { className: "field" }, h("label", { for: "credit-account", i18n: "credit.account" }), account),
      h(
        "p",
        { className: "quick" },
        h("span", { className: "muted small", i18n: "credit.demo" }),
        DEMO_ACCOUNTS.map((id) =>
          h("button", { type: "button", className: "button link mono", onclick: () => (account.value = id) }, id),
        ),
      ),
      h("div", { className: "field" }, h("label", { for: "credit-asset", i18n: "credit.asset" }), asset),
      h("div", { className: "field" }, amountLabel, amount),
      h("div", { className: "field" }, h("label", { for: "credit-memo", i18n: "credit.memo" }), memo),
      outcome,
      submit,
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

  async function onSubmit(event) {
    event.preventDefault();
    error = null;
    result = null;
    const id = account.value.trim();
    const wire = amountOnTheWire(asset.value, amount.value.trim());
    if (!id || wire === null) {
      error = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: id ? "amount" : "account" } });
      render();
      return;
    }
    const request = { id, body: { asset: asset.value, amount: wire, memo: memo.value.trim() } };
    if (!attempt || JSON.stringify(attempt.request) !== JSON.stringify(request)) {
      attempt = { request, key: newIdempotencyKey() };
    }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      result = await api.post(`/v1/ops/accounts/${encodeURIComponent(id)}/credit`, request.body, {
        headers: { "Idempotency-Key": attempt.key },
      });
      attempt = null;
      changed();
    } catch (failure) {
      error = failure;
      // Only a request that may not have arrived is worth repeating under its key.
      if (!(failure instanceof ApiError && failure.outcomeUnknown)) attempt = null;
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
    render();
  }

  return { element, title: "credit.title", refresh: render };
}

/** A positive amount of `code` as the API takes it (at the asset's places, never through a float), or null. */
function amountOnTheWire(code, text) {
  const units = parseUnits(text, code);
  return units === null || units <= 0n ? null : unitsToWire(units, code);
}
