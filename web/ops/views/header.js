// The header's tools: the ledger-check light (balanced or not, re-checked
// after every action and every half minute), "run worker step", and who is
// signed in.

import { h, fill } from "/shared/dom.js";
import { describeError } from "/shared/errors.js";
import { formatMoney } from "/shared/money.js";

const LEDGER_CHECK_MS = 30000;

export function headerTools({ api, i18n, session, toast, navigate, workerStepped }) {
  const { t } = i18n;
  let ledger = null;
  let ledgerError = null;
  let operator = null;
  let timer = null;

  const light = h("button", {
    type: "button",
    className: "ledger",
    "data-testid": "ledger",
    onclick: () => refreshLedger(),
  });
  const step = h("button", { type: "button", className: "button", onclick: runStep, "data-testid": "worker-step" });
  const who = h("span", { className: "muted small who" });
  const logout = h("button", { type: "button", className: "button link", onclick: signOut });
  const element = h("div", { className: "ops-tools-inner" }, light, step, who, logout);

  function render() {
    let state = "unknown";
    let text = t("ledger.checking");
    if (ledgerError) {
      state = "unknown";
      text = t("ledger.unknown", { error: describeError(ledgerError, i18n) });
    } else if (ledger) {
      state = ledger.balanced ? "balanced" : "unbalanced";
      text = ledger.balanced
        ? t("ledger.balanced", { accounts: ledger.accounts_checked, entries: ledger.entries_checked })
        : t("ledger.unbalanced", { sum: formatMoney(ledger.sum), mismatches: ledger.mismatches.length });
    }
    light.className = `ledger ledger-${state}`;
    light.dataset.state = state;
    light.title = t("ledger.recheck");
    fill(
      light,
      h("span", { className: "ledger-dot", "aria-hidden": "true" }),
      h("span", { className: "ledger-text" }, text),
    );
    step.textContent = t("worker.step");
    who.textContent = operator ? t("ops.signed_in_as", { who: operator }) : "";
    logout.textContent = t("common.logout");
  }

  async function refreshLedger() {
    clearTimeout(timer);
    try {
      ledger = await api.get("/v1/ops/ledger/check");
      ledgerError = null;
    } catch (failure) {
      ledgerError = failure;
    }
    render();
    timer = setTimeout(refreshLedger, LEDGER_CHECK_MS);
  }

  async function runStep() {
    step.disabled = true;
    step.setAttribute("aria-busy", "true");
    try {
      const report = await api.post("/v1/ops/worker/step", {});
      toast(t("worker.report", report));
      workerStepped();
      refreshLedger();
    } catch (failure) {
      toast(describeError(failure, i18n));
    } finally {
      step.disabled = false;
      step.removeAttribute("aria-busy");
    }
  }

  function signOut() {
    session.clear();
    navigate("#/login");
  }

  async function loadOperator() {
    try {
      const me = await api.get("/v1/me");
      operator = me.email ?? me.phone ?? me.id;
      render();
    } catch {
      // The name is a nicety; the views report real failures.
    }
  }

  render();
  refreshLedger();
  loadOperator();
  return { element, refresh: render, refreshLedger, dispose: () => clearTimeout(timer) };
}
