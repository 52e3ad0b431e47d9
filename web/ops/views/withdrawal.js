// A withdrawal as operators see it: amounts, destination, reasons and its
// status history with who made each change.

import { h } from "/shared/dom.js";
import { formatTimestamp } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";

export function statusBadge(status, t) {
  return h("span", { className: `badge status-${status}`, "data-testid": "status" }, t(`status.${status}`));
}

/**
 * A withdrawal's review reasons as badges; the first withdrawal to a
 * destination names its provider ("First withdrawal to this Alipay account").
 */
export function reasonBadges(reasons, i18n, provider = "wechat") {
  const { t, has } = i18n;
  const words = (reason) =>
    has(`reason.${reason}.${provider}`) ? t(`reason.${reason}.${provider}`) : t(`reason.${reason}`);
  return h(
    "ul",
    { className: "reasons" },
    reasons.map((reason) => h("li", { className: "badge warn" }, words(reason))),
  );
}

/** Withdrawals in brief (status, amount, when), one a line; "None" for none. */
export function recentWithdrawals(withdrawals, i18n) {
  const { t } = i18n;
  if (withdrawals.length === 0) return t("common.none");
  return h(
    "ul",
    { className: "recent" },
    withdrawals.map((w) =>
      h(
        "li",
        {},
        statusBadge(w.status, t),
        " ",
        formatMoney(w.amount),
        " · ",
        formatTimestamp(w.created_at, i18n.locale),
      ),
    ),
  );
}

/** The facts of one withdrawal (WithdrawalView), as a definition list. */
export function withdrawalFacts(withdrawal, i18n) {
  const { t } = i18n;
  const rows = [
    [t("wd.id"), h("span", { className: "mono" }, withdrawal.id)],
    [t("wd.amount"), formatMoney(withdrawal.amount)],
    [t("wd.fee"), formatMoney(withdrawal.fee)],
    [t("wd.total"), formatMoney(withdrawal.total_debit)],
    [t("wd.destination"), `${withdrawal.destination.nickname} · ${withdrawal.destination.openid ?? ""}`],
    withdrawal.failure_reason && [t("wd.failure"), withdrawal.failure_reason],
    withdrawal.transfer_bill_no && [t("wd.bill"), h("span", { className: "mono" }, withdrawal.transfer_bill_no)],
  ].filter(Boolean);
  return h(
    "dl",
    { className: "facts" },
    rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

/** The status history, oldest first. */
export function historyTable(withdrawal, i18n) {
  const { t, locale } = i18n;
  return h(
    "table",
    { className: "table compact", "data-testid": "history" },
    h("caption", { className: "visually-hidden" }, t("wd.history")),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t("wd.when")),
        h("th", { scope: "col" }, t("wd.status")),
        h("th", { scope: "col" }, t("wd.by")),
      ),
    ),
    h(
      "tbody",
      {},
      h(
        "tr",
        {},
        h("td", {}, formatTimestamp(withdrawal.created_at, locale)),
        h("td", {}, t("wd.submitted")),
        h("td", {}, "—"),
      ),
      (withdrawal.history ?? []).map((change) =>
        h(
          "tr",
          {},
          h("td", {}, formatTimestamp(change.at, locale)),
          h("td", {}, statusBadge(change.status, t)),
          h("td", { className: "mono" }, change.by ?? "—"),
        ),
      ),
    ),
  );
}
