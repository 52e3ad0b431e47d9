// The review queue: withdrawals waiting for an operator (manual reviews and
// parked payouts) as a table built for volume — searched by phone, account
// or withdrawal id, filtered by reason, level and amount, sorted, paged
// through the API, approved one by one or in bulk (each after a
// confirmation), rejected with a reason from the documented list (the
// operator's own words stay an internal note). Keyboard: j/k move, a
// approves, r rejects, x selects, / searches, ? shows the help. The focus
// and the scroll position survive every action and the 5-second refresh.
// Decisions made here stay listed below for the rest of the session.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatMoney, fenToWire, parseFen } from "/shared/money.js";
import { confirmAction, dialogOpen, rejectDialog } from "./dialogs.js";
import { queueTable, userOf, waitedFor } from "./queue-table.js";
import { historyTable, statusBadge, withdrawalFacts } from "./withdrawal.js";

const REFRESH_MS = 5000;
const PAGE_SIZES = [25, 50, 100, 200];
const REASONS = ["first_to_destination", "large_amount", "pin_recently_changed", "payout_attempts_exhausted"];
const LEVELS = ["L0", "L1", "L2"];
const ORDERS = ["oldest", "newest", "largest", "smallest"];
const SHORTCUTS = ["j", "k", "a", "r", "x", "/", "?"];
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

/** What a search text is: an id by its prefix, anything else a phone number. */
function searchParam(text) {
  if (text.startsWith("wd_")) return "withdrawal_id";
  if (text.startsWith("acc_")) return "account_id";
  return "phone";
}

export function queueView({ api, i18n, toast, changed }) {
  const { t } = i18n;
  // The current row's details open once the operator picks or moves to a row.
  const state = { current: null, expanded: false, selected: new Set(), order: "oldest" };
  let page = null; // { items, total, next_cursor }
  let error = null;
  let timer = null;
  let busy = false;
  let helpOpen = false;
  /** The cursor of each page read so far: cursors[0] is the first page's (none). */
  let cursors = [null];
  let pageIndex = 0;
  let pageSize = 50;

  const field = (id, key, control) => h("div", { className: "field" }, h("label", { for: id, i18n: key }), control);
  const select = (id, name, options, onchange) =>
    h(
      "select",
      { id, name, onchange },
      options.map(([value, key]) => h("option", { value, i18n: key })),
    );
  const search = h("input", {
    id: "queue-search",
    name: "search",
    type: "search",
    autocomplete: "off",
    placeholder: "13800000001 · acc_… · wd_…",
  });
  const reason = select(
    "queue-reason",
    "reason",
    [["", "queue.any"], ...REASONS.map((r) => [r, `reason.${r}`])],
    apply,
  );
  const level = select("queue-level", "level", [["", "queue.any"], ...LEVELS.map((l) => [l, `level.${l}`])], apply);
  const amountMin = h("input", { id: "queue-min", name: "amount_min", inputmode: "decimal", autocomplete: "off" });
  const amountMax = h("input", { id: "queue-max", name: "amount_max", inputmode: "decimal", autocomplete: "off" });
  const order = select(
    "queue-order",
    "order",
    ORDERS.map((o) => [o, `queue.order.${o}`]),
    () => {
      state.order = order.value;
      apply();
    },
  );
  // Beyond the search box, the filters fold away on a phone-sized screen.
  const more = h(
    "details",
    { className: "more-filters", open: window.matchMedia("(min-width: 761px)").matches },
    h("summary", { i18n: "queue.filters" }),
    h(
      "div",
      { className: "filter-grid" },
      field("queue-reason", "queue.filter.reason", reason),
      field("queue-level", "queue.filter.level", level),
      field("queue-min", "queue.filter.amount_min", amountMin),
      field("queue-max", "queue.filter.amount_max", amountMax),
      field("queue-order", "queue.filter.order", order),
    ),
  );
  const filters = h(
    "form",
    { className: "panel queue-filters", role: "search", novalidate: true, onsubmit: onFilter },
    h(
      "div",
      { className: "search-row" },
      field("queue-search", "queue.search", search),
      h(
        "div",
        { className: "filter-actions" },
        h("button", { type: "submit", className: "button primary", i18n: "queue.apply" }),
        h("button", { type: "button", className: "button", onclick: clearFilters, i18n: "queue.clear" }),
      ),
    ),
    more,
  );
  const filterError = h("div", { "aria-live": "polite" });
  const heading = h("div", {});
  const results = h("div", { className: "queue-results" });
  const element = h("section", { className: "queue" }, heading, filters, filterError, results);

  /** An amount filter in fen (thousands separators allowed), null when empty or unreadable. */
  function amountFen(input) {
    return parseFen(input.value.trim().replaceAll(",", ""));
  }

  function query() {
    const params = new URLSearchParams({ limit: String(pageSize), order: state.order });
    const text = search.value.trim();
    if (text) params.set(searchParam(text), text);
    if (reason.value) params.set("reason", reason.value);
    if (level.value) params.set("level", level.value);
    for (const [input, name] of [
      [amountMin, "amount_min"],
      [amountMax, "amount_max"],
    ]) {
      const fen = amountFen(input);
      if (fen !== null) params.set(name, fenToWire(fen));
    }
    const cursor = cursors[pageIndex];
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  /** Counts the reads, so that only the latest one's answer is shown. */
  let reads = 0;

  async function load() {
    clearTimeout(timer);
    const read = ++reads;
    try {
      const answer = await api.get(`/v1/ops/review-queue?${query()}`);
      if (read !== reads) return;
      page = answer;
      error = null;
      // A page emptied by decisions falls back to the one before it.
      if (page.items.length === 0 && pageIndex > 0) {
        pageIndex -= 1;
        return load();
      }
    } catch (failure) {
      if (read !== reads) return;
      error = failure;
    }
    render();
    timer = setTimeout(autoRefresh, REFRESH_MS);
  }

  /** Keeps the queue fresh, but never under an open dialog or a decision under way. */
  function autoRefresh() {
    if (dialogOpen() || busy) timer = setTimeout(autoRefresh, REFRESH_MS);
    else load();
  }

  function apply() {
    cursors = [null];
    pageIndex = 0;
    state.selected.clear();
    load();
  }

  function onFilter(event) {
    event.preventDefault();
    const bad = [amountMin, amountMax].find((input) => input.value.trim() && amountFen(input) === null);
    fill(filterError, bad && errorNotice({ code: "VALIDATION_FAILED", details: { field: "amount" } }, i18n));
    if (!bad) apply();
  }

  function clearFilters() {
    for (const input of [search, amountMin, amountMax]) input.value = "";
    reason.value = "";
    level.value = "";
    fill(filterError);
    apply();
  }

  /** Redraws the results, putting the focus and the scroll back where they were. */
  function render() {
    const active = document.activeElement;
    const key = element.contains(active) || active === document.body ? lastKey : null;
    const scroll = window.scrollY;
    const items = page?.items ?? [];
    if (!items.some((item) => item.withdrawal.id === state.current)) state.current = items[0]?.withdrawal.id ?? null;
    for (const id of state.selected) if (!items.some((item) => item.withdrawal.id === id)) state.selected.delete(id);
    fill(heading, head(), help());
    fill(
      results,
      errorNotice(error, i18n),
      page === null && !error && h("p", { className: "muted" }, t("common.loading")),
      page && items.length === 0 && h("p", { className: "panel empty", "data-testid": "queue-empty" }, t(emptyKey())),
      items.length > 0 &&
        queueTable(items, state, i18n, {
          pick: (id) => moveTo(id, { focus: true }),
          toggle: (id) => toggle(id),
          toggleAll,
          sort: (next) => {
            state.order = next;
            order.value = next;
            apply();
          },
          approve: (item) => approve(item),
          reject: (item) => reject(item),
        }),
      pager(),
      decidedThisSession.length > 0 && decidedSection(),
    );
    if (window.scrollY !== scroll) window.scrollTo(0, scroll);
    if (key) restoreFocus(key);
  }

  /** What had the focus in the view, by its data-key, kept as the focus moves. */
  let lastKey = null;
  element.addEventListener("focusin", (event) => {
    lastKey = event.target.closest("[data-key]")?.dataset.key ?? null;
  });

  function restoreFocus(key) {
    const again = element.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) {
      again.focus({ preventScroll: true });
      return;
    }
    // The element left with its row (decided): the current row takes the focus.
    if (/^(row|approve|reject|select):/.test(key)) focusCurrent();
  }

  function focusCurrent() {
    const row = state.current && results.querySelector(`[data-key="row:${CSS.escape(state.current)}"]`);
    row?.focus({ preventScroll: false });
    row?.scrollIntoView({ block: "nearest" });
  }

  function emptyKey() {
    const filtered = search.value.trim() || reason.value || level.value || amountMin.value || amountMax.value;
    return filtered ? "queue.no_match" : "queue.empty";
  }

  function head() {
    const selected = [...state.selected];
    return h(
      "div",
      { className: "view-head" },
      h("h1", {}, t("queue.title")),
      page && h("span", { className: "badge", "data-testid": "queue-count" }, t("queue.count", { count: page.total })),
      h(
        "div",
        { className: "head-actions" },
        h(
          "button",
          {
            type: "button",
            className: "button primary",
            "data-key": "bulk-approve",
            disabled: selected.length === 0 || busy,
            onclick: bulkApprove,
          },
          t("queue.bulk_approve", { count: selected.length }),
        ),
        h(
          "button",
          {
            type: "button",
            className: "button",
            "data-key": "help",
            "aria-expanded": String(helpOpen),
            "aria-controls": "queue-help",
            onclick: () => toggleHelp(),
          },
          t("queue.shortcuts"),
        ),
        h("button", { type: "button", className: "button", "data-key": "refresh", onclick: load }, t("common.refresh")),
      ),
    );
  }

  function help() {
    return [
      h("p", { className: "shortcut-hint small" }, t("queue.shortcuts_hint")),
      helpOpen &&
        h(
          "dl",
          { className: "panel shortcuts", id: "queue-help", "data-testid": "queue-help" },
          SHORTCUTS.map((key) => [h("dt", {}, h("kbd", {}, key)), h("dd", {}, t(`queue.key.${keyName(key)}`))]),
        ),
    ];
  }

  function pager() {
    if (!page || page.total === 0) return null;
    const from = pageIndex * pageSize + 1;
    const to = pageIndex * pageSize + page.items.length;
    const sizes = h(
      "select",
      {
        id: "queue-page-size",
        onchange: (event) => {
          pageSize = Number(event.target.value);
          apply();
        },
      },
      PAGE_SIZES.map((size) => h("option", { value: String(size), selected: size === pageSize }, String(size))),
    );
    return h(
      "nav",
      { className: "pager", "aria-label": t("queue.pages") },
      h("span", { "data-testid": "queue-range" }, t("queue.range", { from, to, total: page.total })),
      h("label", { for: "queue-page-size", className: "muted small" }, t("queue.page_size")),
      sizes,
      h(
        "button",
        { type: "button", className: "button", "data-key": "previous", disabled: pageIndex === 0, onclick: previous },
        t("queue.previous"),
      ),
      h(
        "button",
        { type: "button", className: "button", "data-key": "next", disabled: !page.next_cursor, onclick: next },
        t("queue.next"),
      ),
    );
  }

  function next() {
    if (!page?.next_cursor) return;
    cursors[pageIndex + 1] = page.next_cursor;
    pageIndex += 1;
    state.current = null;
    load();
  }

  function previous() {
    if (pageIndex === 0) return;
    pageIndex -= 1;
    state.current = null;
    load();
  }

  function toggleHelp(open = !helpOpen) {
    helpOpen = open;
    render();
  }

  function toggle(id) {
    if (state.selected.has(id)) state.selected.delete(id);
    else state.selected.add(id);
    render();
  }

  function toggleAll() {
    const items = page?.items ?? [];
    const all = items.every((item) => state.selected.has(item.withdrawal.id));
    for (const item of items) {
      if (all) state.selected.delete(item.withdrawal.id);
      else state.selected.add(item.withdrawal.id);
    }
    render();
  }

  function moveTo(id, { focus = false } = {}) {
    state.current = id;
    state.expanded = true;
    render();
    if (focus) focusCurrent();
  }

  function move(step) {
    const items = page?.items ?? [];
    if (items.length === 0) return;
    const at = items.findIndex((item) => item.withdrawal.id === state.current);
    const next = Math.min(items.length - 1, Math.max(0, at + step));
    moveTo(items[next].withdrawal.id, { focus: true });
  }

  function currentItem() {
    return page?.items.find((item) => item.withdrawal.id === state.current) ?? null;
  }

  /** The facts a confirmation shows of one withdrawal. */
  function factsOf(item) {
    return [
      [t("wd.amount"), formatMoney(item.withdrawal.amount)],
      [t("queue.col.user"), userOf(item)],
      [t("wd.destination"), item.withdrawal.destination.nickname],
      [t("queue.col.waiting"), waitedFor(item, i18n.locale)],
    ];
  }

  async function approve(item) {
    const id = item.withdrawal.id;
    // The row acted on becomes the current one, so the next row takes its place once it is decided.
    state.current = id;
    const retry = item.queue === "parked_payout";
    const decided = await confirmAction({
      i18n,
      title: t(retry ? "queue.confirm_retry" : "queue.confirm_approve"),
      facts: factsOf(item),
      confirmLabel: t(retry ? "queue.retry_payout" : "queue.approve"),
      run: () => api.post(`/v1/ops/withdrawals/${id}/approve`, {}),
    });
    if (decided) await afterDecision([decided]);
  }

  async function reject(item) {
    const id = item.withdrawal.id;
    state.current = id;
    const decided = await rejectDialog({
      i18n,
      title: t("queue.reject_title"),
      facts: factsOf(item),
      reasonCodes: REJECTION_REASONS,
      confirmLabel: t("queue.confirm_reject"),
      run: ({ reasonCode, note }) =>
        api.post(`/v1/ops/withdrawals/${id}/reject`, {
          ...(reasonCode && { reason_code: reasonCode }),
          ...(note && { note }),
        }),
    });
    if (decided) await afterDecision([decided]);
  }

  async function bulkApprove() {
    const items = (page?.items ?? []).filter((item) => state.selected.has(item.withdrawal.id));
    if (items.length === 0) return;
    const total = items.reduce((sum, item) => sum + parseFen(item.withdrawal.amount), 0n);
    const outcome = await confirmAction({
      i18n,
      title: t("queue.bulk_title", { count: items.length }),
      facts: [
        [t("queue.bulk_count"), String(items.length)],
        [t("queue.bulk_total"), formatMoney(fenToWire(total))],
        [t("queue.col.user"), [...new Set(items.map(userOf))].join(", ")],
      ],
      confirmLabel: t("queue.bulk_confirm", { count: items.length }),
      testId: "bulk-dialog",
      run: async () => {
        busy = true;
        const settled = await Promise.allSettled(
          items.map((item) => api.post(`/v1/ops/withdrawals/${item.withdrawal.id}/approve`, {})),
        );
        busy = false;
        return settled;
      },
    });
    if (!outcome) return;
    const approved = outcome.filter((result) => result.status === "fulfilled").map((result) => result.value);
    const refused = outcome.filter((result) => result.status === "rejected");
    await afterDecision(approved, { quiet: true });
    toast(
      refused.length === 0
        ? t("queue.bulk_done", { count: approved.length })
        : t("queue.bulk_partly", { count: approved.length, refused: refused.length }),
    );
  }

  /** Keeps what was decided, says so, and reads the page again (the focus stays on the same place). */
  async function afterDecision(decided, { quiet = false } = {}) {
    for (const withdrawal of decided) {
      decidedThisSession.unshift(withdrawal);
      state.selected.delete(withdrawal.id);
    }
    const items = page?.items ?? [];
    const gone = new Set(decided.map((withdrawal) => withdrawal.id));
    if (gone.has(state.current)) {
      // The next row waiting takes the place of the one decided.
      const at = items.findIndex((item) => item.withdrawal.id === state.current);
      const rest = items.filter((item) => !gone.has(item.withdrawal.id));
      state.current = rest[Math.min(at, rest.length - 1)]?.withdrawal.id ?? null;
      lastKey = state.current ? `row:${state.current}` : null;
    }
    if (!quiet && decided.length === 1) {
      const [withdrawal] = decided;
      const done = withdrawal.status === "rejected" ? "queue.rejected" : "queue.approved";
      toast(t(done, { amount: formatMoney(withdrawal.amount), status: t(`status.${withdrawal.status}`) }));
    }
    changed();
    await load();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || dialogOpen()) return;
    if (event.target.closest?.("input, select, textarea, dialog")) return;
    const item = currentItem();
    const actions = {
      j: () => move(1),
      k: () => move(-1),
      a: () => item && approve(item),
      r: () => item && reject(item),
      x: () => item && toggle(item.withdrawal.id),
      "/": () => search.focus(),
      "?": () => toggleHelp(),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  }

  function decidedSection() {
    return h(
      "section",
      { className: "decided", "aria-labelledby": "decided-title" },
      h("h2", { id: "decided-title" }, t("queue.decided")),
      decidedThisSession.map((withdrawal) =>
        h(
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
        ),
      ),
    );
  }

  document.addEventListener("keydown", onKey);
  load();
  return {
    element,
    title: "queue.title",
    refresh: render,
    reload: load,
    dispose: () => {
      clearTimeout(timer);
      document.removeEventListener("keydown", onKey);
    },
  };
}

/** The message name of a shortcut key. */
function keyName(key) {
  return { "/": "slash", "?": "help" }[key] ?? key;
}
