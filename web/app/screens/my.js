// "My": balances (CNY, and every other asset the wallet holds), the ways to
// transfer and withdraw, verification level, limits left today and this
// month, each destination's free fee quota, and the way into identity, the
// WeChat and Alipay bindings, PIN and history.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";
import { formatAmount, formatMoney } from "/shared/money.js";
import { PROVIDERS, freeQuota, providerOf } from "../providers.js";
import { fact, idFact, levelBadge, loading, setBusy } from "../ui.js";

export function myScreen({ api, i18n, navigate }) {
  const { t } = i18n;
  const element = h("section", { className: "my" }, loading(t));
  let data = null;
  let error = null;

  async function load() {
    try {
      const [wallet, me, kyc, bindings] = await Promise.all([
        api.get("/v1/wallet"),
        api.get("/v1/me"),
        api.get("/v1/kyc"),
        api.get("/v1/bindings"),
      ]);
      data = { wallet, me, kyc, bindings: bindings.items };
      error = null;
    } catch (failure) {
      error = failure;
    }
    render();
  }

  function render() {
    if (error) {
      fill(
        element,
        errorNotice(error, i18n),
        h("button", { className: "button", type: "button", onclick: load }, t("common.retry")),
      );
      return;
    }
    if (!data) return;
    const { wallet, me, kyc, bindings } = data;
    const limits = wallet.limits;
    fill(
      element,
      h(
        "div",
        { className: "balance-card" },
        h("p", { className: "balance-label" }, t("my.available")),
        h("p", { className: "balance-amount", "data-testid": "available" }, formatMoney(wallet.available)),
        h(
          "p",
          { className: "balance-held" },
          t("my.held"),
          " ",
          h("strong", { "data-testid": "held" }, formatMoney(wallet.held)),
        ),
        otherAssets(wallet, t),
        h(
          "div",
          { className: "balance-actions" },
          h("a", { className: "button balance-action", href: "#/transfer" }, t("my.transfer")),
          h("a", { className: "button balance-action", href: "#/withdraw" }, t("my.withdraw")),
        ),
      ),
      h(
        "div",
        { className: "card" },
        h("h2", { className: "card-title" }, t("my.limits")),
        h(
          "dl",
          { className: "facts" },
          fact(t("my.level"), levelBadge(wallet.verification_level, t)),
          fact(t("my.daily_left"), formatMoney(limits.daily_remaining), "daily-left"),
          fact(t("my.daily_count_left"), t("my.count", { count: limits.daily_count_remaining })),
          fact(t("my.monthly_left"), formatMoney(limits.monthly_remaining), "monthly-left"),
          fact(t("my.per_withdrawal"), formatMoney(limits.per_transaction_max)),
          PROVIDERS.map((provider) => {
            const left = freeQuota(wallet, provider);
            return left !== null && fact(t(`my.free_quota.${provider}`), formatMoney(left), `free-quota-${provider}`);
          }),
        ),
      ),
      h(
        "nav",
        { className: "card menu", "aria-label": t("my.settings") },
        menuItem("#/kyc", t("my.identity"), kycSummary(kyc, t)),
        PROVIDERS.map((provider) =>
          menuItem(`#/bind/${provider}`, t(`my.destination.${provider}`), bindingSummary(bindings, provider, t)),
        ),
        menuItem("#/pin", t("my.pin"), pinSummary(me, i18n)),
        menuItem("#/history", t("my.statement"), ""),
        menuItem("#/history?kind=withdrawals", t("my.history"), ""),
        menuItem("#/history?kind=transfers", t("my.transfers"), ""),
      ),
      h(
        "div",
        { className: "card account" },
        h(
          "dl",
          { className: "facts" },
          fact(t("my.phone"), me.phone ?? me.email),
          idFact(t("my.account_id"), me.id, "account-id"),
        ),
        h("button", { className: "button danger block", type: "button", onclick: logout }, t("common.logout")),
      ),
    );
  }

  async function logout(event) {
    setBusy(event.currentTarget, true);
    // Ends the session on the server (refresh cookie and access token), then here.
    await api.logOut();
    navigate("#/login");
  }

  load();
  return { element, title: "my.title", tab: "my", refresh: render };
}

/**
 * The balances of every asset but CNY (shown above them), one line each;
 * none when the wallet lists no `assets`.
 */
function otherAssets(wallet, t) {
  const others = (wallet.assets ?? []).filter((balance) => balance.asset !== "CNY");
  if (others.length === 0) return null;
  return h(
    "ul",
    { className: "asset-balances", "aria-label": t("my.other_assets") },
    others.map((balance) =>
      h(
        "li",
        { "data-testid": `balance-${balance.asset}` },
        h("span", { className: "asset-code" }, balance.asset),
        h(
          "span",
          { className: "asset-amounts" },
          h(
            "strong",
            { "data-testid": `available-${balance.asset}` },
            formatAmount(balance.available, balance.asset, { trim: true }),
          ),
          balance.held !== undefined &&
            !/^[0.]+$/.test(balance.held) &&
            h(
              "span",
              { className: "asset-held" },
              t("my.asset_held", { amount: formatAmount(balance.held, balance.asset, { trim: true }) }),
            ),
        ),
      ),
    ),
  );
}

/** The bound nickname, a binding under way, or "not bound". */
function bindingSummary(bindings, provider, t) {
  const own = bindings.filter((binding) => providerOf(binding) === provider);
  const active = own.find((binding) => binding.status === "active");
  if (active) return active.nickname;
  if (own.some((binding) => ["authorizing", "pending_confirmation"].includes(binding.status))) return t("my.binding");
  return t("my.not_bound");
}

function kycSummary(kyc, t) {
  if (kyc.pending) return t("my.kyc_pending", { level: kyc.pending.level });
  return t(`level.${kyc.level}`);
}

function pinSummary(me, { t, locale }) {
  if (me.pin_locked_until) return t("my.pin_locked", { until: formatDateTime(me.pin_locked_until, locale) });
  return me.pin_set ? t("my.pin_set") : t("my.pin_not_set");
}

function menuItem(href, label, value) {
  return h(
    "a",
    { className: "menu-item", href },
    h("span", {}, label),
    h("span", { className: "menu-value" }, value),
    h("span", { className: "chevron", "aria-hidden": "true" }, "›"),
  );
}
