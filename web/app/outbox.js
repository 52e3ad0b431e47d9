// "Demo: show SMS outbox": the simulator texts codes to a mock outbox rather
// than a phone, so screens that ask for a code offer a peek at it.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";

const SHOWN = 3;

/** `phone()`, when given, says whose outbox (before a login there is no session's phone). */
export function demoOutbox({ api, i18n, session, phone = () => session.phone }) {
  const { t } = i18n;
  const list = h("div", { className: "outbox", "aria-live": "polite", hidden: true });
  const toggle = h("button", {
    type: "button",
    className: "button link small touch",
    "aria-expanded": "false",
    onclick: show,
    i18n: "outbox.show",
  });

  async function show() {
    toggle.setAttribute("aria-expanded", "true");
    list.hidden = false;
    try {
      const outbox = await api.get(`/mock/sms/outbox?phone=${encodeURIComponent(phone() ?? "")}`, {
        auth: false,
      });
      const items = outbox.items.slice(0, SHOWN);
      fill(
        list,
        items.length === 0
          ? h("p", { className: "muted small" }, t("outbox.empty"))
          : items.map((message) =>
              h(
                "div",
                { className: "outbox-message" },
                h(
                  "p",
                  { className: "small muted" },
                  `${formatDateTime(message.sent_at, i18n.locale)} · ${message.purpose}`,
                ),
                h("p", {}, message.text),
                h(
                  "p",
                  {},
                  t("outbox.code"),
                  " ",
                  h("strong", { className: "mono", "data-testid": "outbox-code" }, message.code),
                ),
              ),
            ),
      );
    } catch (error) {
      fill(list, errorNotice(error, i18n));
    }
  }

  return h("div", { className: "demo-hint" }, h("span", { className: "demo-tag", i18n: "outbox.demo" }), toggle, list);
}
