// Approve (after a confirmation), or reject with a reason from a listed
// set, which the user is told in their own language, and a note only
// operators see: the controls of the identity checks, with their state —
// whose reject form is open, what is being decided, and each item's last
// error.

import { h } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { confirmAction } from "./dialogs.js";

/**
 * `render` redraws the view, `reload` fetches it again after a decision;
 * `reasonId` is the id of the reason field (one per view, the note's is
 * `${reasonId}-note`); `reasonCodes` are the codes an operator picks from,
 * labelled `${reasonLabels}.<code>`.
 */
export function decisions({ i18n, render, reload, reasonId, reasonCodes, reasonLabels }) {
  const { t } = i18n;
  let rejecting = null; // id of the item whose reject form is open
  let busy = null; // id of the item being decided
  const errors = new Map();
  const reasonInput = h("select", { id: reasonId, name: "reason_code", required: true });
  const noteInput = h("input", { id: `${reasonId}-note`, name: "note", maxlength: 200, autocomplete: "off" });

  function reasonOptions() {
    const chosen = reasonInput.value;
    reasonInput.replaceChildren(
      h("option", { value: "" }, t("queue.reason_pick")),
      ...reasonCodes.map((code) => h("option", { value: code }, t(`${reasonLabels}.${code}`))),
    );
    reasonInput.value = chosen;
  }

  /**
   * The item's last error and its controls: approve and "reject…", or the
   * reject form. `approve()` (once confirmed, with `confirmTitle` and
   * `confirmFacts` shown) and `reject({ reasonCode, note })` make the request;
   * `decided(result)` runs after either succeeds.
   */
  function controls(id, { approveLabel, confirmTitle, confirmFacts, confirmRejectLabel, approve, reject, decided }) {
    const working = busy === id;
    const busyMark = working ? "true" : null;
    const decide = async (request) => {
      busy = id;
      errors.delete(id);
      render();
      try {
        const result = await request();
        rejecting = null;
        decided(result);
      } catch (failure) {
        errors.set(id, failure);
      }
      busy = null;
      await reload();
    };
    const buttons = h(
      "div",
      { className: "item-actions" },
      h(
        "button",
        {
          type: "button",
          className: "button primary",
          disabled: working,
          "aria-busy": busyMark,
          onclick: async () => {
            const approved = await confirmAction({
              i18n,
              title: confirmTitle,
              facts: confirmFacts,
              confirmLabel: approveLabel,
              run: approve,
            });
            if (approved) decide(() => approved);
          },
        },
        approveLabel,
      ),
      h(
        "button",
        { type: "button", className: "button danger", disabled: working, onclick: () => openReject(id) },
        t("queue.reject"),
      ),
    );
    const form = () =>
      h(
        "form",
        {
          className: "reject-form",
          novalidate: true,
          onsubmit: (event) => {
            event.preventDefault();
            const reasonCode = reasonInput.value;
            if (!reasonCode) {
              reasonInput.setAttribute("aria-invalid", "true");
              reasonInput.focus();
              return;
            }
            reasonInput.removeAttribute("aria-invalid");
            decide(() => reject({ reasonCode, note: noteInput.value.trim() }));
          },
        },
        h("div", { className: "field" }, h("label", { for: reasonId }, t("queue.reason")), reasonInput),
        h("div", { className: "field" }, h("label", { for: noteInput.id }, t("queue.note")), noteInput),
        h(
          "div",
          { className: "item-actions" },
          h(
            "button",
            { type: "submit", className: "button danger", disabled: working, "aria-busy": busyMark },
            confirmRejectLabel,
          ),
          h("button", { type: "button", className: "button", onclick: closeReject }, t("common.cancel")),
        ),
      );
    return [errorNotice(errors.get(id), i18n), rejecting === id ? form() : buttons];
  }

  function openReject(id) {
    rejecting = id;
    reasonInput.value = "";
    reasonOptions();
    reasonInput.removeAttribute("aria-invalid");
    noteInput.value = "";
    errors.delete(id);
    render();
  }

  function closeReject() {
    rejecting = null;
    render();
  }

  return {
    controls,
    /** Whether an operator is in the middle of a decision (typing a reason, or waiting for one). */
    deciding: () => rejecting !== null || busy !== null,
    /** After a render: the reason keeps the focus while its form is open (unless the note has it). */
    focus: () => {
      if (rejecting && document.activeElement !== noteInput) {
        reasonOptions();
        reasonInput.focus();
      }
    },
  };
}
