// The review queue: withdrawals waiting for an operator (manual reviews and
// parked payouts), oldest first, with why they wait and the account's
// context; approve, or reject with a reason the user will see. Decisions made
// here stay listed below with their history for the rest of the session.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatFromNow, formatSeconds, formatTimestamp } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";
import { historyTable, reasonBadges, statusBadge, withdrawalFacts } from "./withdrawal.js";

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
  let rejecting = null; // id of the withdrawal whose reject form is open
  let busy = null; // id of the withdrawal being decided
  const itemErrors = new Map();
  const reasonSelect = h(
    "select",
    { id: "reject-reason", name: "reason_code" },
    h("option", { value: "" }, t("queue.reason_pick")),
    REJECTION_REASONS.map((code) => h("option", { value: code }, t(`rejection.${code}`))),
  );
  const noteInput = h("input", { id: "reject-note", name: "note", maxlength: 200, autocomplete: "off" });

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
    if (rejecting || busy) timer = setTimeout(autoRefresh, REFRESH_MS);
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
    if (rejecting) reasonSelect.focus();
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
      errorNotice(itemErrors.get(id), i18n),
      rejecting === id ? rejectForm(id) : actions(item),
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
      [
        t("queue.recent"),
        recent.length === 0
          ? t("common.none")
          : h(
              "ul",
              { className: "recent" },
              recent.map((w) =>
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
            ),
      ],
    ];
    return h(
      "dl",
      { className: "facts" },
      rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
    );
  }

  function actions(item) {
    const id = item.withdrawal.id;
    const working = busy === id;
    return h(
      "div",
      { className: "item-actions" },
      h(
        "button",
        {
          type: "button",
          className: "button primary",
          disabled: working,
          "aria-busy": working ? "true" : null,
          onclick: () => approve(id),
        },
        t(item.queue === "parked_payout" ? "queue.retry_payout" : "queue.approve"),
      ),
      h(
        "button",
        { type: "button", className: "button danger", disabled: working, onclick: () => openReject(id) },
        t("queue.reject"),
      ),
    );
  }

  function rejectForm(id) {
    const working = busy === id;
    return h(
      "form",
      { className: "reject-form", novalidate: true, onsubmit: (event) => reject(event, id) },
      h("div", { className: "field" }, h("label", { for: "reject-reason" }, t("queue.reason")), reasonSelect),
      h("div", { className: "field" }, h("label", { for: "reject-note" }, t("queue.note")), noteInput),
      h(
        "div",
        { className: "item-actions" },
        h(
          "button",
          { type: "submit", className: "button danger", disabled: working, "aria-busy": working ? "true" : null },
          t("queue.confirm_reject"),
        ),
        h("button", { type: "button", className: "button", onclick: closeReject }, t("common.cancel")),
      ),
    );
  }

  function openReject(id) {
    rejecting = id;
    reasonSelect.value = "";
    noteInput.value = "";
    itemErrors.delete(id);
    render();
  }

  function closeReject() {
    rejecting = null;
    render();
  }

  async function approve(id) {
    await decide(id, () => api.post(`/v1/ops/withdrawals/${id}/approve`, {}), "queue.approved");
  }

  async function reject(event, id) {
    event.preventDefault();
    await decide(
      id,
      () => {
        const note = noteInput.value.trim();
        const body = { ...(reasonSelect.value && { reason_code: reasonSelect.value }), ...(note && { note }) };
        return api.post(`/v1/ops/withdrawals/${id}/reject`, body);
      },
      "queue.rejected",
    );
  }

  async function decide(id, request, doneKey) {
    busy = id;
    itemErrors.delete(id);
    render();
    try {
      const withdrawal = await request();
      decidedThisSession.unshift(withdrawal);
      rejecting = null;
      toast(t(doneKey, { amount: formatMoney(withdrawal.amount), status: t(`status.${withdrawal.status}`) }));
      changed();
    } catch (failure) {
      itemErrors.set(id, failure);
    }
    busy = null;
    await load();
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
