// History, newest first, a page at a time: the wallet's statement (零钱明细,
// every movement: top-ups, withdrawals and their returns, transfers) by
// month, or the withdrawals (filtered by status), or the transfers sent and
// received (`#/history?kind=withdrawals`, `?kind=transfers`).

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { statementGroups } from "../statement-view.js";
import { transferRow } from "../transfer-view.js";
import { withdrawalRow } from "../withdrawal-view.js";
import { loading, setBusy } from "../ui.js";

const KINDS = ["statement", "withdrawals", "transfers"];
const PATHS = { statement: "/v1/wallet/transactions", withdrawals: "/v1/withdrawals", transfers: "/v1/transfers" };
const FILTERS = ["", "in_review", "pending", "processing", "settled", "failed", "rejected"];
const PAGE_SIZE = 20;

export function historyScreen({ api, i18n, query, setTitle }) {
  const { t } = i18n;
  let kind = KINDS.includes(query.get("kind")) ? query.get("kind") : "statement";
  let status = FILTERS.includes(query.get("status")) ? query.get("status") : "";
  let items = [];
  let nextCursor = null;
  let months = []; // the statement's month totals, the latest page's winning
  let timeZone = undefined; // the calendar those months follow
  let error = null;
  let loaded = false;
  let requestSeq = 0;

  const kinds = h("div", { className: "segmented three", role: "group" });
  const filters = h("div", { className: "chips", role: "group" });
  const list = h("div", { className: "card history-list", "aria-live": "polite" }, loading(t));
  const element = h("section", { className: "history" }, kinds, filters, list);

  async function load({ more = false } = {}) {
    const seq = ++requestSeq;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (kind === "withdrawals" && status) params.set("status", status);
    if (more && nextCursor) params.set("cursor", nextCursor);
    try {
      const page = await api.get(`${PATHS[kind]}?${params}`);
      if (seq !== requestSeq) return;
      items = more ? [...items, ...page.items] : page.items;
      nextCursor = page.next_cursor;
      if (kind === "statement") {
        const fresh = page.months ?? [];
        const older = more ? months.filter((m) => !fresh.some((f) => f.month === m.month)) : [];
        months = [...older, ...fresh];
        timeZone = page.time_zone;
      }
      error = null;
    } catch (failure) {
      if (seq !== requestSeq) return;
      error = failure;
    }
    loaded = true;
    render();
  }

  function render() {
    kinds.setAttribute("aria-label", t("history.kind"));
    fill(
      kinds,
      KINDS.map((value) =>
        h(
          "button",
          { type: "button", "aria-pressed": String(value === kind), onclick: () => show(value, "") },
          t(`history.${value}`),
        ),
      ),
    );
    filters.hidden = kind !== "withdrawals";
    filters.setAttribute("aria-label", t("history.filter"));
    fill(
      filters,
      FILTERS.map((value) =>
        h(
          "button",
          {
            type: "button",
            className: "chip",
            "aria-pressed": String(value === status),
            onclick: () => show(kind, value),
          },
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
      items.length === 0 && !error && h("p", { className: "empty muted" }, t(emptyKey())),
      rows(),
      nextCursor && more,
    );
  }

  function rows() {
    if (kind === "statement") return statementGroups(items, i18n, { months, timeZone });
    return items.map((item) => (kind === "transfers" ? transferRow(item, i18n) : withdrawalRow(item, i18n)));
  }

  function emptyKey() {
    if (kind === "statement") return "history.statement_empty";
    if (kind === "transfers") return "history.transfers_empty";
    return status ? "history.empty_status" : "history.empty";
  }

  function titleKey() {
    return kind === "statement" ? "history.statement_title" : "history.title";
  }

  function show(nextKind, nextStatus) {
    kind = nextKind;
    status = nextStatus;
    // Back from a row's details returns to this list.
    const params = new URLSearchParams();
    if (kind !== "statement") params.set("kind", kind);
    if (status) params.set("status", status);
    history.replaceState(null, "", params.size ? `#/history?${params}` : "#/history");
    loaded = false;
    items = [];
    nextCursor = null;
    months = [];
    fill(list, loading(t));
    setTitle(titleKey());
    render();
    load();
  }

  async function loadMore(button) {
    setBusy(button, true);
    await load({ more: true });
  }

  render();
  load();
  return { element, title: titleKey(), tab: "history", refresh: render };
}
