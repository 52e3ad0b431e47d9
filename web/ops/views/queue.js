// The review queue: withdrawals waiting for an operator (manual reviews and
// parked payouts), oldest first, with why they wait and the account's
// context; approve, or reject with a reason the user will see. Decisions made
// here stay listed below with their history for the rest of the session.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatFromNow, formatSeconds, formatTimestamp } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";
import { decisions } from "./decisions.js";
import { historyTable, reasonBadges, recentWithdrawals, statusBadge, withdrawalFacts } from "./withdrawal.js";

const REFRESH_MS = 5000;
const decidedThisSession = [];

/** The reasons an operator can give, as `reason_code` (docs/review-and-settlement.md). */
const REJECTION_REASONS = [
  "SUSPECTED_FRAUD",
  "DESTINATION_MISMATCH",
  "IDENTITY_UNVERIFIED",
  "RISK_POLICY",
  "USER_REQUESTED",
  "OTHER",
];

export function queueView({ api, i18n, toast, changed }) {
  const { t } = i18n;
  let items = null;
  let error = null;
  let timer = null;
  const decide = decisions({
    i18n,
    render: () => render(),
    reload: () => load(),
    reasonId: "reject-reason",
    reasonCodes: REJECTION_REASONS,
  });

  const element = h("section", { className: "queue" });

  async function load() {
    clearTimeout(timer);
    try {
      const queue = await api.get("/v1/ops/review-queue?limit=200");
      items = queue.items;
      error = null;
    } catch (failure) {
      error = failure;
    }
    render();
    timer = setTimeout(autoRefresh, REFRESH_MS);
  }

  /** Keeps the queue fresh, but never under an operator who is typing a reason. */
  function autoRefresh() {
    if (decide.deciding()) timer = setTimeout(autoRefresh, REFRESH_MS);
    else load();
  }

  function render() {
    fill(
      element,
      h(
        "div",
        { className: "view-head" },
        h("h1", {}, t("queue.title")),
        items &&
          h("span", { className: "badge", "data-testid": "queue-count" }, t("queue.count", { count: items.length })),
        h("button", { type: "button", className: "button", onclick: load }, t("common.refresh")),
      ),
      errorNotice(error, i18n),
      items === null && !error && h("p", { className: "muted" }, t("common.loading")),
      items?.length === 0 && h("p", { className: "panel empty muted", "data-testid": "queue-empty" }, t("queue.empty")),
      items?.map(itemCard),
      decidedThisSession.length > 0 &&
        h(
          "section",
          { className: "decided", "aria-labelledby": "decided-title" },
          h("h2", { id: "decided-title" }, t("queue.decided")),
          decidedThisSession.map(decidedCard),
        ),
    );
    decide.focus();
  }

  function itemCard(item) {
    const withdrawal = item.withdrawal;
    const id = withdrawal.id;
    return h(
      "article",
      {
        className: "panel queue-item",
        "data-testid": "queue-item",
        "data-withdrawal-id": id,
        "aria-labelledby": `item-${id}`,
      },
      h(
        "header",
        { className: "item-head" },
        h("h2", { id: `item-${id}` }, formatMoney(withdrawal.amount)),
        statusBadge(withdrawal.status, t),
        h("span", { className: "badge" }, t(`queue.kind.${item.queue}`)),
        h(
          "span",
          { className: "muted small" },
          t("queue.waiting", {
            at: formatTimestamp(item.waiting_since, i18n.locale),
            ago: formatFromNow(item.waiting_since, i18n.locale),
          }),
        ),
      ),
      reasonBadges(item.reasons, t),
      h(
        "div",
        { className: "columns" },
        h("section", {}, h("h3", {}, t("queue.withdrawal")), withdrawalFacts(withdrawal, i18n)),
        h("section", {}, h("h3", {}, t("queue.account")), accountFacts(item)),
      ),
      h("details", {}, h("summary", {}, t("wd.history")), historyTable(withdrawal, i18n)),
      decide.controls(id, {
        approveLabel: t(item.queue === "parked_payout" ? "queue.retry_payout" : "queue.approve"),
        confirmRejectLabel: t("queue.confirm_reject"),
        approve: () => api.post(`/v1/ops/withdrawals/${id}/approve`, {}),
        reject: ({ reasonCode, note }) =>
          api.post(`/v1/ops/withdrawals/${id}/reject`, {
            ...(reasonCode && { reason_code: reasonCode }),
            ...(note && { note }),
          }),
        decided: (decided) => {
          decidedThisSession.unshift(decided);
          const done = decided.status === "rejected" ? "queue.rejected" : "queue.approved";
          toast(t(done, { amount: formatMoney(decided.amount), status: t(`status.${decided.status}`) }));
          changed();
        },
      }),
    );
  }

  function accountFacts(item) {
    const account = item.account;
    const recent = account.recent_withdrawals ?? [];
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
      [t("queue.recent"), recentWithdrawals(recent, i18n)],
    ];
    return h(
      "dl",
      { className: "facts" },
      rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
    );
  }

  function decidedCard(withdrawal) {
    return h(
      "article",
      { className: "panel decided-item", "data-testid": "decided-item", "data-withdrawal-id": withdrawal.id },
      h(
        "header",
        { className: "item-head" },
        h("h3", {}, formatMoney(withdrawal.amount)),
        statusBadge(withdrawal.status, t),
      ),
      withdrawalFacts(withdrawal, i18n),
      historyTable(withdrawal, i18n),
    );
  }

  load();
  return {
    element,
    title: "queue.title",
    refresh: render,
    reload: load,
    dispose: () => clearTimeout(timer),
  };
}
