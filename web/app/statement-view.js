// How the wallet's statement (零钱明细, /v1/wallet/transactions) looks:
// every movement of the available balance as a row — top-ups (with the
// operator's memo, which the console promises the user sees), withdrawals,
// their return when rejected or failed, transfers sent, received and
// returned — under a heading per month. A withdrawal's settlement moves only
// the held balance and is no row of its own: its withdrawal row already
// took the money out.

import { h } from "/shared/dom.js";
import { formatDateTime } from "/shared/format.js";
import { formatAsset, parseUnits } from "/shared/money.js";

/** What each kind of movement is called (and its mark, `<key>_mark`), and which way it moves money. */
const KINDS = {
  operator_credit: { key: "statement.top_up", tone: "in" },
  demo_seed: { key: "statement.opening", tone: "in" },
  operator_debit: { key: "statement.taken_back", tone: "out" },
  withdrawal_hold: { key: "statement.withdrawal", tone: "out" },
  withdrawal_release: { key: "statement.withdrawal_returned", tone: "in" },
  transfer_out: { key: "statement.transfer_out", tone: "out" },
  transfer_in: { key: "statement.transfer_in", tone: "in" },
  transfer_return: { key: "statement.transfer_returned", tone: "in" },
};

/** Whether a movement is a row of the statement: it changed what can be spent. */
export function shownInStatement(movement) {
  const units = parseUnits(movement.available_change, movement.asset);
  return units !== null && units !== 0n;
}

/** The rows of `movements` (newest first) under a heading for each month, in the reader's time zone. */
export function statementGroups(movements, i18n) {
  const monthName = new Intl.DateTimeFormat(i18n.locale, { year: "numeric", month: "long" });
  const monthKey = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit" });
  const groups = [];
  for (const movement of movements.filter(shownInStatement)) {
    const when = new Date(movement.created_at);
    const key = monthKey.format(when);
    if (groups.at(-1)?.key !== key) groups.push({ key, title: monthName.format(when), rows: [] });
    groups.at(-1).rows.push(statementRow(movement, i18n));
  }
  return groups.map((group) =>
    h(
      "section",
      { className: "statement-month", "data-testid": "statement-month", "aria-label": group.title },
      h("h2", { className: "month-title" }, group.title),
      group.rows,
    ),
  );
}

/** Where a row leads: the withdrawal's or the transfer's own page, when it has one. */
function detailHref(movement) {
  if (movement.withdrawal_id) return `#/status/${encodeURIComponent(movement.withdrawal_id)}`;
  if (movement.transfer_id) return `#/transfers/${encodeURIComponent(movement.transfer_id)}`;
  return null;
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
      h("p", { className: "statement-label" }, t(kind.key)),
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
