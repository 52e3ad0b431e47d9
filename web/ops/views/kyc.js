// Identity checks waiting for an operator, oldest first, with whose they
// are: approve, or reject with a reason from the documented list (the user
// is told it in their app's words; the note stays with operators). Checks the clock
// approves (when automatic approval is on) leave the list by themselves.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatFromNow, formatTimestamp } from "/shared/format.js";
import { decisions } from "./decisions.js";
import { pagedList } from "./paged.js";

const PAGE_SIZE = 50;

/** The reasons an operator can give, as `reason_code` (docs/api.md). */
const KYC_REJECTION_REASONS = [
  "NAME_MISMATCH",
  "ID_NUMBER_UNVERIFIABLE",
  "FACE_MISMATCH",
  "UNDERAGE",
  "SUSPECTED_FRAUD",
  "OTHER",
];

export function kycView({ api, i18n, toast, changed }) {
  const { t } = i18n;
  const pending = pagedList(api, PAGE_SIZE);
  const decide = decisions({
    i18n,
    render: () => render(),
    reload: () => load(),
    reasonId: "kyc-reason",
    reasonCodes: KYC_REJECTION_REASONS,
    reasonLabels: "kyc_rejection",
  });

  const element = h("section", { className: "kyc" });

  async function load({ more = false } = {}) {
    await pending.load("/v1/ops/kyc/pending", { more });
    render();
  }

  function render() {
    const { items, nextCursor, error } = pending;
    fill(
      element,
      h(
        "div",
        { className: "view-head" },
        h("h1", {}, t("kyc.title")),
        items &&
          h("span", { className: "badge", "data-testid": "kyc-count" }, t("queue.count", { count: items.length })),
        h("button", { type: "button", className: "button", onclick: () => load() }, t("common.refresh")),
      ),
      errorNotice(error, i18n),
      items === null && !error && h("p", { className: "muted" }, t("common.loading")),
      items?.length === 0 && h("p", { className: "panel empty muted", "data-testid": "kyc-empty" }, t("kyc.empty")),
      items?.map(card),
      nextCursor !== null &&
        h("button", { type: "button", className: "button", onclick: () => load({ more: true }) }, t("accounts.more")),
    );
    decide.focus();
  }

  function card({ request, account }) {
    const id = request.id;
    const requestRows = [
      [t("kyc.request_id"), h("span", { className: "mono" }, id)],
      [t("kyc.level"), t(`level.${request.level}`)],
      [t("kyc.real_name"), request.real_name],
      [t("kyc.id_number"), h("span", { className: "mono" }, request.id_number)],
      request.auto_decide_at && [t("kyc.auto_at"), formatTimestamp(request.auto_decide_at, i18n.locale)],
    ].filter(Boolean);
    const accountRows = [
      [t("queue.account_id"), h("span", { className: "mono" }, account.id)],
      [t("accounts.login"), account.phone ?? account.email],
      [t("queue.level"), t(`level.${account.verification_level}`)],
    ];
    const facts = (rows) =>
      h(
        "dl",
        { className: "facts" },
        rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
      );
    return h(
      "article",
      {
        className: "panel queue-item",
        "data-testid": "kyc-item",
        "data-request-id": id,
        "aria-labelledby": `kyc-${id}`,
      },
      h(
        "header",
        { className: "item-head" },
        h("h2", { id: `kyc-${id}` }, t(`level.${request.level}`)),
        h(
          "span",
          { className: "muted small" },
          t("queue.waiting", {
            at: formatTimestamp(request.submitted_at, i18n.locale),
            ago: formatFromNow(request.submitted_at, i18n.locale),
          }),
        ),
      ),
      h(
        "div",
        { className: "columns" },
        h("section", {}, h("h3", {}, t("kyc.request")), facts(requestRows)),
        h("section", {}, h("h3", {}, t("queue.account")), facts(accountRows)),
      ),
      decide.controls(id, {
        approveLabel: t("queue.approve"),
        confirmTitle: t("kyc.confirm_approve"),
        confirmFacts: [
          [t("kyc.level"), t(`level.${request.level}`)],
          [t("kyc.real_name"), request.real_name],
          [t("accounts.login"), account.phone ?? account.email],
        ],
        confirmRejectLabel: t("kyc.confirm_reject"),
        approve: () => api.post(`/v1/ops/kyc/${id}/approve`, {}),
        reject: ({ reasonCode, note }) =>
          api.post(`/v1/ops/kyc/${id}/reject`, { reason_code: reasonCode, ...(note && { note }) }),
        decided: (decided) => {
          const done = decided.status === "rejected" ? "kyc.rejected" : "kyc.approved";
          toast(t(done, { level: t(`level.${decided.level}`) }));
          changed();
        },
      }),
    );
  }

  load();
  return { element, title: "kyc.title", refresh: render, reload: () => load() };
}
