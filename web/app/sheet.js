// Bottom sheets, as phone apps show them: a modal <dialog> with a title and a
// close button, that is also a step in the browser history, so Back closes
// it (and only it) the way a phone's back gesture does.

import { h } from "/shared/dom.js";

let sheets = 0;

/**
 * Opens a sheet titled `title` over the screen, with `content` (nodes) under
 * the title. `onClose` runs however it closes. Returns `{ dialog, close }`:
 * `close()` resolves once the history is back where it was.
 */
export function openSheet({ i18n, title, content, onClose = () => {}, className = "" }) {
  const titleId = `sheet-title-${++sheets}`;
  const entry = titleId;
  const dialog = h(
    "dialog",
    { className: `sheet ${className}`.trim(), "aria-labelledby": titleId },
    h(
      "div",
      { className: "sheet-head" },
      h("h2", { id: titleId }, title),
      h(
        "button",
        {
          type: "button",
          className: "sheet-close",
          "aria-label": i18n.t("common.close"),
          onclick: () => dialog.close(),
        },
        "×",
      ),
    ),
    content,
  );
  let closedByBack = false;
  let leaving = Promise.resolve();
  const onBack = () => {
    if (!dialog.open) return;
    closedByBack = true;
    dialog.close();
  };
  dialog.addEventListener("close", () => {
    window.removeEventListener("popstate", onBack);
    // Closed here rather than by Back: take the sheet's history entry away
    // again, unless the page has already moved on from it (a link).
    if (!closedByBack && history.state?.sheet === entry) {
      leaving = new Promise((resolve) => {
        window.addEventListener("popstate", resolve, { once: true });
        history.back();
      });
    }
    dialog.remove();
    onClose();
  });
  document.body.append(dialog);
  history.pushState({ sheet: entry }, "");
  window.addEventListener("popstate", onBack);
  dialog.showModal();
  return {
    dialog,
    close() {
      if (dialog.open) dialog.close();
      return leaving;
    },
  };
}

/** A sheet that only shows something (the limits, say), with an "OK" to close it. */
export function infoSheet({ i18n, title, body }) {
  const done = h("button", { type: "button", className: "button primary block", onclick: () => sheet.close() });
  done.textContent = i18n.t("common.ok");
  const sheet = openSheet({ i18n, title, content: h("div", { className: "sheet-body" }, body, done) });
  done.focus();
  return sheet;
}
