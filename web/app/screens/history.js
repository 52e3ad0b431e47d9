// Withdrawal history, newest first, filtered by status, a page at a time.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { withdrawalRow } from "../withdrawal-view.js";
import { loading, setBusy } from "../ui.js";

const FILTERS = ["", "in_review", "pending", "processing", "settled", "failed", "rejected"];
const PAGE_SIZE = 20;

export function historyScreen({ api, i18n, query }) {
  const { t } = i18n;
  let status = FILTERS.includes(query.get("status")) ? query.get("status") : "";
  let items = [];
  let nextCursor = null;
  let error = null;
  let loaded = false;
  let requestSeq = 0;

  const filters = h("div", { className: "chips", role: "group" });
  const list = h("div", { className: "card history-list", "aria-live": "polite" }, loading(t));
  const element = h("section", { className: "history" }, filters, list);

  async function load({ more = false } = {}) {
    const seq = ++requestSeq;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) params.set("status", status);
    if (more && nextCursor) params.set("cursor", nextCursor);
    try {
      const page = await api.get(`/v1/withdrawals?${params}`);
      if (seq !== requestSeq) return;
      items = more ? [...items, ...page.items] : page.items;
      nextCursor = page.next_cursor;
      error = null;
    } catch (failure) {
      if (seq !== requestSeq) return;
      error = failure;
    }
    loaded = true;
    render();
  }

  function render() {
    filters.setAttribute("aria-label", t("history.filter"));
    fill(
      filters,
      FILTERS.map((value) =>
        h(
          "button",
          { type: "button", className: "chip", "aria-pressed": String(value === status), onclick: () => select(value) },
          value ? t(`status.${value}`) : t("history.all"),
        ),
      ),
    );
    if (!loaded) return;
    const more = h(
      "button",
      { type: "button", className: "button block", onclick: () => loadMore(more) },
      t("history.more"),
    );
    fill(
      list,
      errorNotice(error, i18n),
      items.length === 0 &&
        !error &&
        h("p", { className: "empty muted" }, t(status ? "history.empty_status" : "history.empty")),
      items.map((item) => withdrawalRow(item, i18n)),
      nextCursor && more,
    );
  }

  function select(value) {
    status = value;
    loaded = false;
    items = [];
    nextCursor = null;
    fill(list, loading(t));
    render();
    load();
  }

  async function loadMore(button) {
    setBusy(button, true);
    await load({ more: true });
  }

  render();
  load();
  return { element, title: "history.title", tab: "history", refresh: render };
}
