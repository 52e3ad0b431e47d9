// The audit log: every operator action, newest first, a page at a time.
// Details are shown as "name: value" pairs, never as raw JSON.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatTimestamp } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";
import { pagedList } from "./paged.js";

const PAGE_SIZE = 50;

export function auditView({ api, i18n }) {
  const { t } = i18n;
  const log = pagedList(api, PAGE_SIZE);
  let loaded = false;

  const element = h("section", { className: "audit" });

  async function load({ more = false } = {}) {
    await log.load("/v1/ops/audit-log", { more });
    loaded = true;
    render();
  }

  function render() {
    const items = log.items ?? [];
    fill(
      element,
      h(
        "div",
        { className: "view-head" },
        h("h1", {}, t("audit.title")),
        h("button", { type: "button", className: "button", onclick: () => load() }, t("common.refresh")),
      ),
      errorNotice(log.error, i18n),
      !loaded && h("p", { className: "muted" }, t("common.loading")),
      loaded && items.length === 0 && !log.error && h("p", { className: "panel empty muted" }, t("audit.empty")),
      items.length > 0 &&
        h(
          "div",
          { className: "panel table-wrap" },
          h(
            "table",
            { className: "table", "data-testid": "audit-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["audit.at", "audit.operator", "audit.action", "audit.target", "audit.outcome", "audit.details"].map(
                  (key) => h("th", { scope: "col" }, t(key)),
                ),
              ),
            ),
            h("tbody", {}, items.map(row)),
          ),
        ),
      log.nextCursor !== null &&
        h("button", { type: "button", className: "button", onclick: () => load({ more: true }) }, t("audit.older")),
    );
  }

  function row(record) {
    const target = record.target;
    return h(
      "tr",
      { "data-testid": "audit-row" },
      h("td", { className: "nowrap" }, formatTimestamp(record.at, i18n.locale)),
      h("td", { className: "mono nowrap" }, record.operator_id),
      h("td", {}, i18n.has(`action.${record.action}`) ? t(`action.${record.action}`) : record.action),
      h(
        "td",
        {},
        h("span", { className: "muted small" }, `${target.kind} `),
        h("span", { className: "mono" }, target.id),
        target.account_id && target.account_id !== target.id
          ? h("div", { className: "mono muted small" }, target.account_id)
          : null,
      ),
      h(
        "td",
        {},
        h(
          "span",
          { className: record.outcome === "succeeded" ? "badge good" : "badge bad" },
          t(`audit.outcome.${record.outcome}`),
        ),
        record.error_code && h("div", { className: "mono small" }, record.error_code),
      ),
      h("td", {}, details(record.details)),
    );
  }

  function details(fields) {
    const entries = Object.entries(fields ?? {}).filter(([, value]) => value !== null && value !== undefined);
    if (entries.length === 0) return "—";
    return h(
      "dl",
      { className: "inline-facts" },
      entries.map(([name, value]) => [
        h("dt", {}, i18n.has(`field.${name}`) ? t(`field.${name}`) : name),
        h("dd", {}, present(name, value)),
      ]),
    );
  }

  function present(name, value) {
    if (name === "amount" && typeof value === "string") return formatMoney(value);
    if (typeof value !== "object") return String(value);
    return Object.entries(value)
      .map(([key, inner]) => `${key}: ${inner}`)
      .join(", ");
  }

  load();
  return { element, title: "audit.title", refresh: render, reload: load };
}
