// Find an account: by its exact phone number, email or ID (one search box),
// or every account a page at a time. Each shows its level and balances (of
// every asset); its details add the identity check it has waiting, its
// latest withdrawals and its latest transfers.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatTimestamp } from "/shared/format.js";
import { pagedList } from "./paged.js";
import { balanceLines, balancesOf, transferTable } from "./transfers.js";
import { recentWithdrawals } from "./withdrawal.js";

const PAGE_SIZE = 50;
const WITHDRAWALS_SHOWN = 10;
const TRANSFERS_SHOWN = 20;

/** What a search text is: an email has "@", an ID starts with "acc_", anything else is a phone number. */
function searchField(text) {
  if (text.includes("@")) return "email";
  if (text.startsWith("acc_")) return "account_id";
  return "phone";
}

export function accountsView({ api, i18n, query }) {
  const { t } = i18n;
  const found = pagedList(api, PAGE_SIZE);
  let searched = "";
  const details = new Map(); // account id → { account, withdrawals, transfers, error } once opened

  const box = h("input", {
    id: "account-search",
    name: "search",
    type: "search",
    autocomplete: "off",
    placeholder: "13800000001 · ops@walletgate.test · acc_…",
    value: query.get("q") ?? "",
  });
  const form = h(
    "form",
    { className: "panel search-form", role: "search", novalidate: true, onsubmit: onSearch },
    h("div", { className: "field" }, h("label", { for: "account-search", i18n: "accounts.search" }), box),
    h("p", { className: "muted small", i18n: "accounts.search_hint" }),
    h("button", { type: "submit", className: "button primary", i18n: "accounts.find" }),
  );
  const element = h("section", { className: "accounts" });

  async function load({ more = false } = {}) {
    const params = searched ? { [searchField(searched)]: searched } : {};
    await found.load("/v1/ops/accounts", { params, more });
    // A refused search shows its reason, not the accounts found before it.
    if (found.error && !more) found.items = [];
    render();
  }

  function onSearch(event) {
    event.preventDefault();
    searched = box.value.trim();
    details.clear();
    load();
  }

  function render() {
    const { items, nextCursor, error } = found;
    fill(
      element,
      h("div", { className: "view-head" }, h("h1", {}, t("accounts.title"))),
      form,
      errorNotice(error, i18n),
      items === null && h("p", { className: "muted" }, t("common.loading")),
      items?.length === 0 &&
        !error &&
        h("p", { className: "panel empty muted", "data-testid": "accounts-empty" }, t("accounts.none")),
      items?.map(card),
      nextCursor !== null &&
        h("button", { type: "button", className: "button", onclick: () => load({ more: true }) }, t("accounts.more")),
    );
  }

  function card(account) {
    const opened = details.get(account.id);
    const rows = [
      [t("queue.account_id"), h("span", { className: "mono" }, account.id)],
      [t("accounts.login"), account.phone ?? account.email],
      [t("accounts.role"), t(`role.${account.role}`)],
      [t("queue.level"), t(`level.${account.verification_level}`)],
      [
        t("queue.balances"),
        account.wallet ? balanceLines(balancesOf(opened?.account ?? account), t) : t("accounts.no_wallet"),
      ],
      [t("queue.frozen"), account.frozen ? h("span", { className: "badge bad" }, t("common.yes")) : t("common.no")],
      [t("accounts.created"), formatTimestamp(account.created_at, i18n.locale)],
    ];
    return h(
      "article",
      { className: "panel account-item", "data-testid": "account-item", "data-account-id": account.id },
      h(
        "dl",
        { className: "facts" },
        rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
      ),
      h(
        "div",
        { className: "item-actions" },
        h(
          "button",
          {
            type: "button",
            className: "button",
            "aria-expanded": String(Boolean(opened)),
            onclick: () => toggle(account.id),
          },
          t(opened ? "accounts.hide" : "accounts.details"),
        ),
        account.wallet &&
          h(
            "a",
            { className: "button link", href: `#/credit?account=${encodeURIComponent(account.id)}` },
            t("queue.top_up"),
          ),
      ),
      opened && detail(opened),
    );
  }

  async function toggle(id) {
    if (details.has(id)) {
      details.delete(id);
      render();
      return;
    }
    details.set(id, { account: null, withdrawals: null, transfers: null, error: null });
    render();
    const opened = details.get(id);
    try {
      const path = encodeURIComponent(id);
      const [account, withdrawals, transfers] = await Promise.all([
        api.get(`/v1/ops/accounts/${path}`),
        api.get(`/v1/ops/withdrawals?account_id=${path}&limit=${WITHDRAWALS_SHOWN}`),
        api.get(`/v1/ops/accounts/${path}/transfers?limit=${TRANSFERS_SHOWN}`),
      ]);
      Object.assign(opened, { account, withdrawals: withdrawals.items, transfers: transfers.items });
    } catch (failure) {
      opened.error = failure;
    }
    render();
  }

  function detail({ account, withdrawals, transfers, error: failure }) {
    if (failure) return errorNotice(failure, i18n);
    if (!account) return h("p", { className: "muted" }, t("common.loading"));
    const pending = account.pending_kyc;
    return h(
      "div",
      { className: "columns", "data-testid": "account-detail" },
      h(
        "section",
        {},
        h("h2", {}, t("accounts.pending_kyc")),
        pending
          ? h(
              "p",
              {},
              t(`level.${pending.level}`),
              " · ",
              pending.real_name,
              " · ",
              h("a", { href: "#/kyc" }, t("accounts.to_kyc")),
            )
          : h("p", { className: "muted" }, t("common.none")),
      ),
      h(
        "section",
        {},
        h("h2", {}, t("queue.recent")),
        recentWithdrawals(
          withdrawals.map(({ withdrawal }) => withdrawal),
          i18n,
        ),
      ),
      h("section", { className: "wide" }, h("h2", {}, t("accounts.transfers")), transferTable(transfers, i18n)),
    );
  }

  searched = box.value.trim();
  load();
  return { element, title: "accounts.title", refresh: render, reload: () => load() };
}
