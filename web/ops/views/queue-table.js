// The review queue's table: one body per waiting withdrawal (its row, and
// under the current one its details), sortable headers, a box to select
// each row and every row of the page. Every control carries a `data-key`
// so the view can put the focus back on it after a redraw.

import { h } from "/shared/dom.js";
import { formatSeconds, formatTimestamp } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";
import { historyTable, reasonBadges, recentWithdrawals, withdrawalFacts } from "./withdrawal.js";

/** Who a queue item belongs to, as operators see it: the masked phone (or email). */
export function userOf(item) {
  return item.account.phone ?? item.account.email ?? item.account_id;
}

/** How long an item has waited, now. */
export function waitedFor(item, locale) {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(item.waiting_since).getTime()) / 1000));
  return formatSeconds(seconds, locale);
}

/**
 * The table of `items`. `state` holds `current` (the id of the current
 * row, whose details are open once `expanded`), `selected` (a Set of ids)
 * and `order`; `on` has the handlers
 * `pick(id)`, `toggle(id)`, `toggleAll()`, `sort(column)`, `approve(item)`,
 * `reject(item)`.
 */
export function queueTable(items, state, i18n, on) {
  const { t } = i18n;
  const allSelected = items.length > 0 && items.every((item) => state.selected.has(item.withdrawal.id));
  return h(
    "div",
    { className: "panel table-wrap" },
    h(
      "table",
      { className: "table queue-table", "data-testid": "queue-table" },
      h("caption", { className: "visually-hidden" }, t("queue.title")),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h(
            "th",
            { scope: "col", className: "select-cell" },
            h("input", {
              type: "checkbox",
              "aria-label": t("queue.select_all"),
              "data-key": "select-all",
              checked: allSelected,
              onchange: on.toggleAll,
            }),
          ),
          sortHeader("waiting", state.order, t, on.sort),
          sortHeader("amount", state.order, t, on.sort),
          h("th", { scope: "col" }, t("queue.col.user")),
          h("th", { scope: "col" }, t("queue.col.reasons")),
          h("th", { scope: "col" }, t("queue.col.level")),
          h("th", { scope: "col" }, t("queue.col.actions")),
        ),
      ),
      items.map((item) => itemBody(item, state, i18n, on)),
    ),
  );
}

/** The orders a column's header switches between: its first click, then the other. */
const COLUMN_ORDERS = { waiting: ["oldest", "newest"], amount: ["largest", "smallest"] };

function sortHeader(column, order, t, sort) {
  const [first, second] = COLUMN_ORDERS[column];
  const sorted = order === first || order === second;
  const ascending = order === "oldest" || order === "smallest";
  return h(
    "th",
    { scope: "col", "aria-sort": sorted ? (ascending ? "ascending" : "descending") : null },
    h(
      "button",
      {
        type: "button",
        className: "sort-button",
        "data-key": `sort-${column}`,
        onclick: () => sort(order === first ? second : first),
      },
      t(`queue.col.${column}`),
      h("span", { "aria-hidden": "true" }, sorted ? (ascending ? " ▲" : " ▼") : ""),
    ),
  );
}

function itemBody(item, state, i18n, on) {
  const { t } = i18n;
  const id = item.withdrawal.id;
  const current = state.current === id;
  const amount = formatMoney(item.withdrawal.amount);
  const user = userOf(item);
  const row = h(
    "tr",
    {
      className: current ? "queue-row current" : "queue-row",
      tabindex: current ? "0" : "-1",
      "aria-current": current ? "true" : null,
      "data-key": `row:${id}`,
      onclick: (event) => {
        if (!event.target.closest("button, input, a")) on.pick(id);
      },
    },
    h(
      "td",
      { className: "select-cell" },
      h("input", {
        type: "checkbox",
        "aria-label": t("queue.select_row", { amount, user }),
        "data-key": `select:${id}`,
        checked: state.selected.has(id),
        onchange: () => on.toggle(id),
      }),
    ),
    h(
      "td",
      { className: "nowrap", title: formatTimestamp(item.waiting_since, i18n.locale) },
      waitedFor(item, i18n.locale),
    ),
    h("td", { className: "amount nowrap" }, amount),
    h("td", { className: "mono nowrap" }, user),
    h("td", {}, reasonBadges(item.reasons, i18n, item.withdrawal.destination?.provider)),
    h("td", { className: "nowrap" }, item.account.level),
    h(
      "td",
      { className: "row-actions" },
      h(
        "button",
        {
          type: "button",
          className: "button primary small-button",
          "data-key": `approve:${id}`,
          onclick: () => on.approve(item),
        },
        t(item.queue === "parked_payout" ? "queue.retry_payout" : "queue.approve"),
      ),
      h(
        "button",
        {
          type: "button",
          className: "button danger small-button",
          "data-key": `reject:${id}`,
          onclick: () => on.reject(item),
        },
        t("queue.reject"),
      ),
    ),
  );
  return h(
    "tbody",
    { "data-testid": "queue-item", "data-withdrawal-id": id },
    row,
    current && state.expanded && h("tr", { className: "detail-row" }, h("td", { colspan: "7" }, details(item, i18n))),
  );
}

function details(item, i18n) {
  const { t } = i18n;
  return h(
    "div",
    { className: "columns", "data-testid": "queue-detail" },
    h(
      "section",
      {},
      h("h2", {}, t("queue.withdrawal")),
      h("p", {}, h("span", { className: "badge" }, t(`queue.kind.${item.queue}`))),
      withdrawalFacts(item.withdrawal, i18n),
    ),
    h("section", {}, h("h2", {}, t("queue.account")), accountFacts(item, i18n)),
    h("details", { className: "wide" }, h("summary", {}, t("wd.history")), historyTable(item.withdrawal, i18n)),
  );
}

function accountFacts(item, i18n) {
  const { t } = i18n;
  const account = item.account;
  const rows = [
    [
      t("queue.account_id"),
      h(
        "span",
        {},
        h("span", { className: "mono" }, item.account_id),
        " ",
        h(
          "a",
          { className: "nowrap", href: `#/credit?account=${encodeURIComponent(item.account_id)}` },
          t("queue.top_up"),
        ),
      ),
    ],
    [t("queue.level"), t(`level.${account.level}`)],
    [
      t("queue.balances"),
      t("queue.balances_value", { available: formatMoney(account.available), held: formatMoney(account.held) }),
    ],
    [t("queue.frozen"), account.frozen ? h("span", { className: "badge bad" }, t("common.yes")) : t("common.no")],
    [
      t("queue.binding_age"),
      account.binding_age_secs === null ? "—" : formatSeconds(account.binding_age_secs, i18n.locale),
    ],
    [t("queue.recent"), recentWithdrawals(account.recent_withdrawals ?? [], i18n)],
  ];
  return h(
    "dl",
    { className: "facts" },
    rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}
