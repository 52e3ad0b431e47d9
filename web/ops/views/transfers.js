// An account's money in the console: its balance of every asset, and its
// transfers (GET /v1/ops/accounts/{id}/transfers) as a table of the ledger
// kinds they moved: transfer out, transfer in, and a transfer returned.

import { h } from "/shared/dom.js";
import { formatTimestamp } from "/shared/format.js";
import { formatAsset } from "/shared/money.js";

/**
 * `[{asset, available, held}]` of an account summary: its `assets` when the
 * server lists them, else the CNY `wallet`; none for an account without one.
 */
export function balancesOf(account) {
  const assets = account.assets ?? account.wallet?.assets;
  if (Array.isArray(assets) && assets.length > 0) return assets;
  return account.wallet ? [{ asset: "CNY", available: account.wallet.available, held: account.wallet.held }] : [];
}

/** One line per asset: "¥8.80 available · ¥0.00 held", "1.500000 USDT available · …". */
export function balanceLines(balances, t) {
  return h(
    "ul",
    { className: "recent balances", "data-testid": "balances" },
    balances.map((balance) =>
      h(
        "li",
        { "data-asset": balance.asset },
        t("queue.balances_value", {
          available: formatAsset(balance.available, balance.asset),
          held: formatAsset(balance.held, balance.asset),
        }),
      ),
    ),
  );
}

/** The ledger kind a transfer moved money by, from the account's side. */
function kindOf(transfer) {
  if (transfer.direction === "received") return "transfer_in";
  return transfer.status === "returned" ? "transfer_return" : "transfer_out";
}

/** The account's transfers, newest first; "None" for none. */
export function transferTable(transfers, i18n) {
  const { t, locale } = i18n;
  if (transfers.length === 0) return h("p", { className: "muted" }, t("common.none"));
  return h(
    "div",
    { className: "table-wrap" },
    h(
      "table",
      { className: "table compact", "data-testid": "account-transfers" },
      h("caption", { className: "visually-hidden" }, t("accounts.transfers")),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["tr.when", "tr.kind", "tr.amount", "tr.counterparty", "tr.status", "tr.memo"].map((key) =>
            h("th", { scope: "col" }, t(key)),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        transfers.map((transfer) => {
          const kind = kindOf(transfer);
          const sign = kind === "transfer_out" ? "-" : kind === "transfer_in" ? "+" : "";
          return h(
            "tr",
            { "data-testid": "transfer-row", "data-transfer-id": transfer.id, "data-kind": kind },
            h("td", { className: "nowrap" }, formatTimestamp(transfer.created_at, locale)),
            h("td", {}, t(`kind.${kind}`)),
            h("td", { className: "nowrap" }, `${sign}${formatAsset(transfer.amount, transfer.asset)}`),
            h(
              "td",
              {},
              transfer.counterparty.name,
              " ",
              h("span", { className: "mono muted" }, transfer.counterparty.account_id),
            ),
            h("td", {}, statusText(transfer, i18n)),
            h("td", {}, transfer.memo || "—"),
          );
        }),
      ),
    ),
  );
}

function statusText(transfer, i18n) {
  const status = i18n.t(`transfer_status.${transfer.status}`);
  const reason = transfer.return_reason;
  if (!reason) return status;
  return `${status} · ${i18n.has(`return_reason.${reason}`) ? i18n.t(`return_reason.${reason}`) : reason}`;
}
