// How the wallet's statement (零钱明细, /v1/wallet/transactions) looks:
// every movement of the available balance as a row — top-ups (with the
// operator's memo, which the console promises the user sees), withdrawals,
// their return when rejected or failed, transfers sent, received and
// returned, each naming the other side as it was shown, masked — under a
// heading per month with what went out and came in that whole month (支出
// / 收入, added up by the API on the business calendar, as WeChat's 账单
// heads its months). A withdrawal's settlement moves only the held balance
// and is no row of its own: its withdrawal row already took the money out.

import { h } from "/shared/dom.js";
import { formatDateTime } from "/shared/format.js";
import { formatAsset, parseUnits } from "/shared/money.js";

/**
 * What each kind of movement is called (and its mark, `<key>_mark`), which
 * way it moves money, for transfers what it is called with the other side's
 * name (`named`, with `{name}`), and for a withdrawal what it is called with
 * the wallet it went to (`<byProvider>.<provider>`).
 */
const KINDS = {
  operator_credit: { key: "statement.top_up", tone: "in" },
  demo_seed: { key: "statement.opening", tone: "in" },
  operator_debit: { key: "statement.taken_back", tone: "out" },
  withdrawal_hold: { key: "statement.withdrawal", tone: "out", byProvider: "statement.withdrawal_to" },
  withdrawal_release: { key: "statement.withdrawal_returned", tone: "in" },
  transfer_out: { key: "statement.transfer_out", tone: "out", named: "statement.transfer_out_to" },
  transfer_in: { key: "statement.transfer_in", tone: "in", named: "statement.transfer_in_from" },
  transfer_return: { key: "statement.transfer_returned", tone: "in", named: "statement.transfer_returned_from" },
};

/** Whether a movement is a row of the statement: it changed what can be spent. */
export function shownInStatement(movement) {
  const units = parseUnits(movement.available_change, movement.asset);
  return units !== null && units !== 0n;
}

/**
 * The rows of `movements` (newest first) under a heading for each month of
 * `timeZone`'s calendar (the business one the API adds months up in), with
 * that month's totals from `months` (the API's `{month, asset, incoming,
 * outgoing}`, keyed `YYYY-MM`).
 */
export function statementGroups(movements, i18n, { months = [], timeZone } = {}) {
  const zone = timeZone ? { timeZone } : {};
  const monthName = new Intl.DateTimeFormat(i18n.locale, { year: "numeric", month: "long", ...zone });
  const monthKey = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", ...zone });
  const groups = [];
  for (const movement of movements.filter(shownInStatement)) {
    const when = new Date(movement.created_at);
    const key = monthKey.format(when).slice(0, 7);
    if (groups.at(-1)?.key !== key) groups.push({ key, title: monthName.format(when), rows: [] });
    groups.at(-1).rows.push(statementRow(movement, i18n));
  }
  return groups.map((group) =>
    h(
      "section",
      { className: "statement-month", "data-testid": "statement-month", "aria-label": group.title },
      h(
        "div",
        { className: "month-head" },
        h("h2", { className: "month-title" }, group.title),
        monthTotals(
          months.filter((totals) => totals.month === group.key),
          i18n,
        ),
      ),
      group.rows,
    ),
  );
}

/** "支出 ¥37.75　收入 ¥130.50", a line per asset (CNY first, as the API sends them). */
function monthTotals(totals, { t }) {
  if (totals.length === 0) return null;
  return h(
    "div",
    { className: "month-totals", "data-testid": "month-totals" },
    totals.map((sums) =>
      h(
        "p",
        { "data-asset": sums.asset },
        h("span", {}, t("statement.month_out", { amount: formatAsset(sums.outgoing, sums.asset) })),
        " ",
        h("span", {}, t("statement.month_in", { amount: formatAsset(sums.incoming, sums.asset) })),
      ),
    ),
  );
}

/** Where a row leads: the withdrawal's or the transfer's own page, when it has one. */
function detailHref(movement) {
  if (movement.withdrawal_id) return `#/status/${encodeURIComponent(movement.withdrawal_id)}`;
  if (movement.transfer_id) return `#/transfers/${encodeURIComponent(movement.transfer_id)}`;
  return null;
}

/** A row's label: its kind's, with the other side or the wallet when the movement names it. */
function statementLabel(kind, movement, t) {
  if (kind.named && movement.counterparty) return t(kind.named, { name: movement.counterparty });
  if (kind.byProvider && movement.provider) return t(`${kind.byProvider}.${movement.provider}`);
  return t(kind.key);
}

function statementRow(movement, { t, locale }) {
  const kind = KINDS[movement.kind] ?? { key: "statement.other", tone: "out" };
  const change = movement.available_change;
  const signed = change.startsWith("-")
    ? formatAsset(change, movement.asset)
    : `+${formatAsset(change, movement.asset)}`;
  const memo = movement.kind === "operator_credit" && movement.memo ? movement.memo : null;
  const href = detailHref(movement);
  return h(
    href ? "a" : "div",
    {
      className: "history-row statement-row",
      ...(href ? { href } : {}),
      "data-testid": "statement-row",
      "data-kind": movement.kind,
    },
    h("div", { className: `statement-mark ${kind.tone}`, "aria-hidden": "true" }, t(`${kind.key}_mark`)),
    h(
      "div",
      { className: "history-main" },
      h("p", { className: "statement-label" }, statementLabel(kind, movement, t)),
      memo && h("p", { className: "statement-memo", "data-testid": "statement-memo" }, memo),
      h("p", { className: "muted small" }, formatDateTime(movement.created_at, locale)),
    ),
    h(
      "div",
      { className: "history-end" },
      h(
        "p",
        {
          className: `history-amount ${kind.tone === "in" ? "incoming" : ""}`.trim(),
          "data-testid": "statement-amount",
        },
        signed,
      ),
    ),
  );
}
