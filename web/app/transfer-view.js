// How a transfer looks (a TransferView of /v1/transfers): its amount in its
// asset, signed for the side reading it, its status badge, the sentence that
// says where it stands, and its row in the history list.

import { h } from "/shared/dom.js";
import { formatDateTime } from "/shared/format.js";
import { formatAsset } from "/shared/money.js";

/** Statuses after which nothing more happens to a transfer. */
export const FINAL_TRANSFER_STATUSES = new Set(["completed", "returned"]);

/** "12.50 USDT", "¥88.00": exact, zeros past the second place left off. */
export function transferAmount(transfer) {
  return formatAsset(transfer.amount, transfer.asset, { trim: true });
}

/** The amount as a change to the reader's balance: "-¥88.00", "+12.50 USDT"; a returned one moved nothing. */
function signedAmount(transfer) {
  if (transfer.status === "returned") return transferAmount(transfer);
  return `${transfer.direction === "sent" ? "-" : "+"}${transferAmount(transfer)}`;
}

/** "Completed", "Processing", "Returned"; for the recipient "Received". */
export function transferStatusText(transfer, t) {
  return transfer.direction === "received" ? t("transfer_status.received") : t(`transfer_status.${transfer.status}`);
}

export function transferBadge(transfer, t) {
  const tone = { completed: "good", in_flight: "warn", returned: "bad" }[transfer.status] ?? "";
  return h("span", { className: `badge ${tone}`, "data-testid": "transfer-status" }, transferStatusText(transfer, t));
}

/** Why the recipient's side sent it back, in the user's words; an unknown reason as it is. */
function returnReasonText(reason, i18n) {
  if (!reason) return "";
  return i18n.has(`return_reason.${reason}`) ? i18n.t(`return_reason.${reason}`) : reason;
}

/** One sentence saying where the transfer stands, from the reader's side. */
export function transferSentence(transfer, i18n) {
  const name = transfer.counterparty.name;
  if (transfer.direction === "received") return i18n.t("transfer_line.received", { name });
  return i18n.t(`transfer_line.${transfer.status}`, {
    name,
    reason: returnReasonText(transfer.return_reason, i18n),
  });
}

/** A tappable row of the history list. */
export function transferRow(transfer, i18n) {
  const { t, locale } = i18n;
  const sent = transfer.direction === "sent";
  const name = transfer.counterparty.name;
  return h(
    "a",
    {
      className: "history-row",
      href: `#/transfers/${encodeURIComponent(transfer.id)}`,
      "data-testid": "transfer-row",
      "data-direction": transfer.direction,
    },
    h("div", { className: `transfer-mark ${sent ? "sent" : "received"}`, "aria-hidden": "true" }, sent ? "↑" : "↓"),
    h(
      "div",
      { className: "history-main" },
      h("p", {}, t(sent ? "history.transfer_to" : "history.transfer_from", { name })),
      h(
        "p",
        { className: "muted small" },
        formatDateTime(transfer.created_at, locale),
        transfer.memo && ` · ${transfer.memo}`,
      ),
    ),
    h(
      "div",
      { className: "history-end" },
      h("p", { className: `history-amount ${sent ? "" : "incoming"}` }, signedAmount(transfer)),
      transferBadge(transfer, t),
    ),
  );
}
