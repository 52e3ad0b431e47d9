// Approve, or reject with a reason the user will see: the controls the
// review queue and the identity checks share, with their state — whose
// reject form is open, what is being decided, and each item's last error.
// A reason is free text, or (with `reasonCodes`) a code picked from a list
// plus a note for operators.

import { h } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";

/**
 * `render` redraws the view, `reload` fetches it again after a decision;
 * `reasonId` is the id of the reason field (one per view). With
 * `reasonCodes`, the reason is one of those codes (labelled by the
 * `rejection.<code>` messages) and a note goes with it: `reject` is then
 * called with `{reasonCode, note}` instead of the text.
 */
export function decisions({ i18n, render, reload, reasonId, reasonCodes = null }) {
  const { t } = i18n;
  let rejecting = null; // id of the item whose reject form is open
  let busy = null; // id of the item being decided
  const errors = new Map();
  const reasonInput = reasonCodes
    ? h(
        "select",
        { id: reasonId, name: "reason_code" },
        h("option", { value: "" }, t("queue.reason_pick")),
        reasonCodes.map((code) => h("option", { value: code }, t(`rejection.${code}`))),
      )
    : h("input", { id: reasonId, name: "reason", maxlength: 200, autocomplete: "off" });
  const noteId = `${reasonId}-note`;
  const noteInput = h("input", { id: noteId, name: "note", maxlength: 200, autocomplete: "off" });

  /** What the reject form says: the text, or the code and the note. */
  function rejection() {
    if (!reasonCodes) return reasonInput.value.trim();
    return { reasonCode: reasonInput.value, note: noteInput.value.trim() };
  }

  /**
   * The item's last error and its controls: approve and "reject…", or the
   * reject form. `approve()` and `reject(reason)` make the request;
   * `decided(result)` runs after either succeeds.
   */
  function controls(id, { approveLabel, confirmRejectLabel, approve, reject, decided }) {
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
          onclick: () => decide(approve),
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
            const reason = rejection();
            decide(() => reject(reason));
          },
        },
        h("div", { className: "field" }, h("label", { for: reasonId }, t("queue.reason")), reasonInput),
        reasonCodes && h("div", { className: "field" }, h("label", { for: noteId }, t("queue.note")), noteInput),
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
    /** After a render: the reason field keeps the focus while its form is open. */
    focus: () => {
      if (rejecting) reasonInput.focus();
    },
  };
}
