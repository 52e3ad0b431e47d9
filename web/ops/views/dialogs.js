// Modal dialogs of the console, on the native <dialog> (focus stays inside
// while it is open, Escape cancels): a confirmation of an action, and the
// rejection of a withdrawal with a reason from the documented list and a
// note for operators. Each opens, waits for the operator, runs the action
// while it shows that it is busy, and keeps the dialog open with the
// error if the action fails; it resolves with the action's result, or null
// when cancelled. Focus goes back where it was when the dialog closes.

import { h } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";

let openCount = 0;

/** Whether a console dialog is open now (keyboard shortcuts and refreshes wait). */
export function dialogOpen() {
  return openCount > 0;
}

/**
 * Shows a modal dialog: `title`, `body` (nodes), the `fields` of its form,
 * and a primary button `confirmLabel` (`danger` for a red one). `run(form)`
 * performs the action; it may throw an ApiError, shown in the dialog.
 */
function modal({ i18n, title, body, fields = [], confirmLabel, danger = false, testId, run }) {
  const { t } = i18n;
  return new Promise((resolve) => {
    const returnTo = document.activeElement;
    const titleId = `dialog-title-${Date.now()}`;
    const outcome = h("div", {});
    const confirm = h(
      "button",
      { type: "submit", className: `button ${danger ? "danger-solid" : "primary"}`, autofocus: fields.length === 0 },
      confirmLabel,
    );
    const cancel = h("button", { type: "button", className: "button", onclick: () => close(null) }, t("common.cancel"));
    const form = h(
      "form",
      { method: "dialog", novalidate: true, onsubmit: submit },
      h("h2", { id: titleId }, title),
      body,
      fields,
      outcome,
      h("div", { className: "dialog-actions" }, confirm, cancel),
    );
    const dialog = h("dialog", { className: "ops-dialog", "aria-labelledby": titleId, "data-testid": testId }, form);
    let finished = false;

    function close(result) {
      if (finished) return;
      finished = true;
      openCount -= 1;
      dialog.close();
      dialog.remove();
      if (returnTo?.isConnected) returnTo.focus({ preventScroll: true });
      resolve(result);
    }

    async function submit(event) {
      event.preventDefault();
      if (confirm.disabled) return;
      confirm.disabled = true;
      confirm.setAttribute("aria-busy", "true");
      outcome.replaceChildren();
      try {
        const result = await run(form);
        close(result ?? true);
      } catch (failure) {
        const notice = errorNotice(failure, i18n);
        if (notice) outcome.append(notice);
        confirm.disabled = false;
        confirm.removeAttribute("aria-busy");
      }
    }

    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      if (!confirm.disabled) close(null);
    });
    document.body.append(dialog);
    openCount += 1;
    dialog.showModal();
    (fields.length ? dialog.querySelector("select, input") : confirm)?.focus();
  });
}

/** Asks before `run()` happens: `facts` (rows of [term, value]) say what it will do. */
export function confirmAction({ i18n, title, facts, confirmLabel, danger, testId = "confirm-dialog", run }) {
  const body = h(
    "dl",
    { className: "facts" },
    facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
  return modal({ i18n, title, body, confirmLabel, danger, testId, run: () => run() });
}

/**
 * Asks why a withdrawal (or several) is rejected: a code from `reasonCodes`
 * (labelled `rejection.<code>`), which the user sees, and a note only
 * operators see. `run({ reasonCode, note })` rejects.
 */
export function rejectDialog({ i18n, title, facts, reasonCodes, confirmLabel, run }) {
  const { t } = i18n;
  const reason = h(
    "select",
    { id: "reject-reason", name: "reason_code" },
    h("option", { value: "" }, t("queue.reason_pick")),
    reasonCodes.map((code) => h("option", { value: code }, t(`rejection.${code}`))),
  );
  const note = h("input", { id: "reject-note", name: "note", maxlength: 200, autocomplete: "off" });
  const fields = [
    h("div", { className: "field" }, h("label", { for: "reject-reason" }, t("queue.reason")), reason),
    h("div", { className: "field" }, h("label", { for: "reject-note" }, t("queue.note")), note),
  ];
  const body = h(
    "dl",
    { className: "facts" },
    facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
  return modal({
    i18n,
    title,
    body,
    fields,
    confirmLabel,
    danger: true,
    testId: "reject-dialog",
    run: () => run({ reasonCode: reason.value, note: note.value.trim() }),
  });
}
