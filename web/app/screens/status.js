// One withdrawal, live: the stream of /v1/events (read with fetch, since
// EventSource cannot send the bearer token) updates it as the review, payout
// and settlement happen, until it is settled, failed or rejected.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { openEventStream } from "/shared/events.js";
import { formatDateTime } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";
import { FINAL_STATUSES, RETURNED_STATUSES, statusBadge, statusSentence, timeline } from "../withdrawal-view.js";
import { providerOf } from "../providers.js";
import { fact, icon, idFact, loading } from "../ui.js";

export function statusScreen({ api, i18n, session, params }) {
  const { t } = i18n;
  const id = params[0] ?? "";
  let withdrawal = null;
  let error = null;
  let live = "connecting"; // "connecting" | "live" | "reconnecting" | "done"
  let stream = null;
  let fetching = null;
  let fetchAgain = false;

  const element = h("section", { className: "status-screen" }, loading(t));

  function connect() {
    stream = openEventStream({
      url: "/v1/events",
      token: () => session.accessToken,
      onOpen() {
        live = "live";
        // Fetched once the stream listens, so no change can fall between the two.
        refetch();
      },
      onEvent(event) {
        const summary = event.data?.data?.withdrawal;
        if (!event.type.startsWith("withdrawal.") || summary?.id !== id) return;
        withdrawal = { ...withdrawal, ...summary, destination: { ...withdrawal?.destination, ...summary.destination } };
        render();
        refetch();
      },
      onError() {
        live = "reconnecting";
        render();
      },
      async onUnauthorized() {
        if (await api.refresh()) return true;
        api.signOut();
        return false;
      },
    });
  }

  /**
   * The full record (with its status history), one request at a time. A call
   * while one is in flight asks again once it is back: the answer in flight
   * may predate the event that asked, and must not have the last word.
   */
  function refetch() {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = api
      .get(`/v1/withdrawals/${encodeURIComponent(id)}`)
      .then((latest) => {
        withdrawal = latest;
        error = null;
      })
      .catch((failure) => {
        error = failure;
      })
      .finally(() => {
        fetching = null;
        if (fetchAgain) {
          fetchAgain = false;
          refetch();
          return;
        }
        if (withdrawal && FINAL_STATUSES.has(withdrawal.status)) {
          live = "done";
          stream?.close();
        }
        render();
      });
  }

  function render() {
    if (!withdrawal) {
      fill(element, errorNotice(error, i18n) ?? loading(t));
      return;
    }
    const final = FINAL_STATUSES.has(withdrawal.status);
    fill(
      element,
      h(
        "div",
        { className: `card status-hero status-hero-${withdrawal.status}` },
        h(
          "div",
          { className: "status-icon", "aria-hidden": "true" },
          final ? icon(withdrawal.status === "settled" ? "check" : "cross") : h("span", { className: "spinner" }),
        ),
        h("p", { className: "status-amount" }, formatMoney(withdrawal.amount)),
        statusBadge(withdrawal.status, t),
        RETURNED_STATUSES.has(withdrawal.status) &&
          h(
            "p",
            { className: "refund-line", "data-testid": "refund" },
            t("status_page.returned", { amount: formatMoney(withdrawal.total_debit ?? withdrawal.amount) }),
          ),
        h("p", { className: "status-sentence", "data-testid": "status-sentence" }, statusSentence(withdrawal, i18n)),
        h("p", { className: `live live-${live}`, "aria-live": "polite" }, t(`status_live.${live}`)),
      ),
      errorNotice(error, i18n),
      h(
        "div",
        { className: "card" },
        h(
          "dl",
          { className: "facts" },
          fact(t("withdraw.fee"), formatMoney(withdrawal.fee)),
          withdrawal.total_debit &&
            (RETURNED_STATUSES.has(withdrawal.status)
              ? fact(t("status_page.returned_label"), formatMoney(withdrawal.total_debit), "returned-total")
              : fact(t("withdraw.total"), formatMoney(withdrawal.total_debit), "total-debit")),
          fact(
            t("status_page.to"),
            t(`status_page.to_value.${providerOf(withdrawal)}`, { nickname: withdrawal.destination?.nickname ?? "" }),
            "status-to",
          ),
          fact(t("status_page.created"), formatDateTime(withdrawal.created_at, i18n.locale)),
          withdrawal.transfer_bill_no &&
            idFact(t(`status_page.bill.${providerOf(withdrawal)}`), withdrawal.transfer_bill_no, "status-bill"),
          idFact(t("status_page.id"), withdrawal.id),
        ),
      ),
      h(
        "div",
        { className: "card" },
        h("h2", { className: "card-title" }, t("timeline.title")),
        timeline(withdrawal, i18n),
      ),
      h("a", { className: "button block", href: "#/history?kind=withdrawals" }, t("status_page.all")),
    );
  }

  connect();
  return {
    element,
    title: "status_page.title",
    back: "#/history?kind=withdrawals",
    refresh: render,
    dispose: () => stream?.close(),
  };
}
