// How a withdrawal looks: its status badge, the sentence under it, a row in
// the history list and the timeline of its status changes. A rejected or
// failed one says its money came back; its reason is always one of our own
// labels for its code (never words an operator typed), and no operator is
// ever named.

import { h } from "/shared/dom.js";
import { formatDateTime } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";
import { providerMark, providerOf } from "./providers.js";

export const FINAL_STATUSES = new Set(["settled", "failed", "rejected"]);
/** Finished without paying out: the hold came back to the balance. */
export const RETURNED_STATUSES = new Set(["failed", "rejected"]);

export function statusBadge(status, t) {
  return h("span", { className: `badge status-${status}`, "data-testid": "status" }, t(`status.${status}`));
}

/**
 * A failure or rejection code in the user's words, from our own list (in
 * the destination provider's terms where they differ); a code
 * the list does not know (or text that is no code) gets the general label,
 * so nothing typed by an operator or a provider ever reaches the user as is.
 */
export function failureText(code, i18n, provider = "wechat") {
  if (!/^[A-Z_]+$/.test(code ?? "")) return i18n.t("failure.unknown");
  const key = [`failure.${code}.${provider}`, `failure.${code}`].find((candidate) => i18n.has(candidate));
  return i18n.t(key ?? "failure.unknown");
}

/** A review reason in words; the first withdrawal to a destination names its provider ("首次提现到该支付宝"). */
export function reviewReason(reason, withdrawal, { t, has }) {
  const specific = `reason.${reason}.${providerOf(withdrawal)}`;
  return has(specific) ? t(specific) : t(`reason.${reason}`);
}

/** One sentence saying where the withdrawal stands and what happens next. */
export function statusSentence(withdrawal, i18n) {
  const { t } = i18n;
  const nickname = withdrawal.destination?.nickname ?? "";
  switch (withdrawal.status) {
    case "in_review":
      return t("status_line.in_review", {
        reasons: (withdrawal.review_reasons ?? [])
          .map((reason) => reviewReason(reason, withdrawal, i18n))
          .join(t("withdraw.list_separator")),
      });
    case "pending":
      return t("status_line.pending");
    case "processing":
      return t(`status_line.processing.${providerOf(withdrawal)}`, { nickname });
    case "settled":
      return t(`status_line.settled.${providerOf(withdrawal)}`, { nickname });
    case "rejected":
      return t("status_line.rejected", {
        reason: failureText(withdrawal.failure_reason, i18n, providerOf(withdrawal)),
      });
    case "failed":
      return t("status_line.failed", { reason: failureText(withdrawal.failure_reason, i18n, providerOf(withdrawal)) });
    default:
      return "";
  }
}

/** A tappable row of the history list. */
export function withdrawalRow(withdrawal, i18n) {
  const { t, locale } = i18n;
  return h(
    "a",
    { className: "history-row", href: `#/status/${withdrawal.id}`, "data-testid": "history-row" },
    providerMark(providerOf(withdrawal), "small"),
    h(
      "div",
      { className: "history-main" },
      h("p", {}, t(`history.to.${providerOf(withdrawal)}`, { nickname: withdrawal.destination.nickname })),
      h("p", { className: "muted small" }, formatDateTime(withdrawal.created_at, locale)),
    ),
    h(
      "div",
      { className: "history-end" },
      h(
        "p",
        { className: RETURNED_STATUSES.has(withdrawal.status) ? "history-amount returned" : "history-amount" },
        `-${formatMoney(withdrawal.amount)}`,
      ),
      statusBadge(withdrawal.status, t),
    ),
  );
}

/** The status history as an ordered list. */
export function timeline(withdrawal, i18n) {
  const { t, locale } = i18n;
  const changes = withdrawal.history ?? [];
  const reached = new Set(changes.map((change) => change.status));
  const items = [
    h(
      "li",
      { className: "done" },
      h("span", {}, t("timeline.submitted")),
      h("time", { datetime: withdrawal.created_at }, formatDateTime(withdrawal.created_at, locale)),
    ),
    ...changes.map((change) =>
      h(
        "li",
        { className: change.status === "failed" || change.status === "rejected" ? "done bad" : "done" },
        h("span", {}, t(`status.${change.status}`)),
        h("time", { datetime: change.at }, formatDateTime(change.at, locale)),
      ),
    ),
  ];
  if (!FINAL_STATUSES.has(withdrawal.status) && !reached.has("settled")) {
    items.push(
      h(
        "li",
        { className: "next" },
        h("span", {}, t("status.settled")),
        h("span", { className: "muted small" }, t("timeline.waiting")),
      ),
    );
  }
  return h("ol", { className: "timeline", "aria-label": t("timeline.label") }, items);
}
