// One transfer, from the side reading it: the result screen after sending
// (`?sent=1`) and the detail view of a history row. A transfer still in
// flight (its credit left to the worker) is watched on /v1/events until it
// completes or comes back.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { openEventStream } from "/shared/events.js";
import { formatDateTime } from "/shared/format.js";
import { formatAsset } from "/shared/money.js";
import { FINAL_TRANSFER_STATUSES, transferAmount, transferSentence, transferStatusText } from "../transfer-view.js";
import { fact, idFact, icon, loading } from "../ui.js";

export function transferDetailScreen({ api, i18n, session, params, query }) {
  const { t } = i18n;
  const id = params[0] ?? "";
  const justSent = query.get("sent") === "1";
  let transfer = null;
  let error = null;
  let stream = null;
  let fetchSeq = 0;

  const element = h("section", { className: "status-screen transfer-detail" }, loading(t));

  /** The latest record; an answer overtaken by a later request is dropped. */
  async function refetch() {
    const seq = ++fetchSeq;
    try {
      const latest = await api.get(`/v1/transfers/${encodeURIComponent(id)}`);
      if (seq !== fetchSeq) return;
      transfer = latest;
      error = null;
    } catch (failure) {
      if (seq !== fetchSeq) return;
      error = failure;
    }
    if (transfer && FINAL_TRANSFER_STATUSES.has(transfer.status)) {
      stream?.close();
      stream = null;
    } else if (transfer && !stream) {
      watch();
    }
    render();
  }

  function watch() {
    stream = openEventStream({
      url: "/v1/events",
      token: () => session.accessToken,
      // Fetched again once the stream listens, so no change can fall between the two.
      onOpen: refetch,
      onEvent(event) {
        if (event.type.startsWith("transfer.") && event.data?.data?.transfer?.id === id) refetch();
      },
      async onUnauthorized() {
        if (await api.refresh()) return true;
        api.signOut();
        return false;
      },
    });
  }

  function render() {
    if (!transfer) {
      fill(element, errorNotice(error, i18n) ?? loading(t));
      return;
    }
    const sent = transfer.direction === "sent";
    const outcome = sent ? transfer.status : "received";
    const amountOf = (value) => formatAsset(value, transfer.asset, { trim: true });
    fill(
      element,
      h(
        "div",
        { className: `card status-hero transfer-hero-${outcome}` },
        h(
          "div",
          { className: "status-icon", "aria-hidden": "true" },
          transfer.status === "in_flight"
            ? h("span", { className: "spinner" })
            : icon(transfer.status === "returned" ? "cross" : "check"),
        ),
        h("h2", { className: "transfer-headline", "data-testid": "transfer-headline" }, t(`transfer_hero.${outcome}`)),
        h("p", { className: "status-amount", "data-testid": "transfer-amount" }, transferAmount(transfer)),
        h("p", { className: "status-sentence", "data-testid": "transfer-sentence" }, transferSentence(transfer, i18n)),
      ),
      errorNotice(error, i18n),
      h(
        "div",
        { className: "card" },
        h(
          "dl",
          { className: "facts" },
          fact(
            t(sent ? "transfer_detail.to" : "transfer_detail.from"),
            transfer.counterparty.name,
            "transfer-counterparty",
          ),
          fact(t("transfer_detail.amount"), transferAmount(transfer)),
          sent && fact(t("transfer_detail.fee"), amountOf(transfer.fee), "transfer-fee"),
          sent && fact(t("transfer_detail.total"), amountOf(transfer.total_debit), "transfer-total"),
          fact(t("transfer_detail.memo"), transfer.memo || t("common.none"), "transfer-memo"),
          fact(t("transfer_detail.status"), transferStatusText(transfer, t)),
          fact(t("transfer_detail.created"), formatDateTime(transfer.created_at, i18n.locale)),
          transfer.finished_at &&
            fact(t("transfer_detail.finished"), formatDateTime(transfer.finished_at, i18n.locale)),
          idFact(t("transfer_detail.id"), transfer.id),
        ),
      ),
      justSent
        ? [
            h("a", { className: "button primary block", href: "#/my" }, t("transfer_detail.done")),
            h("a", { className: "button block detail-next", href: "#/transfer" }, t("transfer_detail.again")),
          ]
        : h("a", { className: "button block", href: "#/history?kind=transfers" }, t("transfer_detail.all")),
    );
  }

  refetch();
  return {
    element,
    title: "transfer_detail.title",
    back: justSent ? "#/my" : "#/history?kind=transfers",
    refresh: render,
    dispose() {
      fetchSeq++;
      stream?.close();
      stream = null;
    },
  };
}
