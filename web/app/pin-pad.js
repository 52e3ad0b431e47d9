// The 6-digit PIN pad: six dots and a phone-style keypad, also driven by the
// keyboard (digits, Backspace). The digits live only in this closure and are
// handed to `onComplete` once all six are in. `pinSheet` puts a pad in a modal
// bottom sheet with a place for messages, as payment apps do.

import { h, fill } from "/shared/dom.js";

const PIN_LENGTH = 6;
/**
 * A sheet's keys wake up this long after it opens, so the second tap of a
 * double tap on the button that opened it cannot land on a digit.
 */
const SHEET_ARM_MS = 400;
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", null, "0", "back"];
let sheets = 0;

export function createPinPad({ i18n, label, onComplete }) {
  const { t } = i18n;
  let digits = "";
  let busy = false;

  const dots = h("div", { className: "pin-dots", role: "status", "aria-live": "polite" });
  const keypad = h(
    "div",
    { className: "pin-keys" },
    KEYS.map((key) => {
      if (key === null) return h("span", { className: "pin-key-gap" });
      const isBack = key === "back";
      return h(
        "button",
        {
          type: "button",
          className: isBack ? "pin-key pin-key-back" : "pin-key",
          "aria-label": isBack ? t("pin.delete") : key,
          onclick: () => press(key),
        },
        isBack ? "⌫" : key,
      );
    }),
  );
  const element = h(
    "div",
    { className: "pin-pad", tabindex: 0, role: "group", "aria-label": label, onkeydown: onKey },
    dots,
    keypad,
  );

  function renderDots() {
    fill(
      dots,
      Array.from({ length: PIN_LENGTH }, (_, index) =>
        h("span", { className: index < digits.length ? "pin-dot filled" : "pin-dot", "aria-hidden": "true" }),
      ),
      h("span", { className: "visually-hidden" }, t("pin.entered", { count: digits.length, total: PIN_LENGTH })),
    );
    element.dataset.filled = String(digits.length);
  }

  function press(key) {
    if (busy) return;
    if (key === "back") {
      digits = digits.slice(0, -1);
    } else if (digits.length < PIN_LENGTH) {
      digits += key;
    }
    renderDots();
    if (digits.length === PIN_LENGTH) {
      const pin = digits;
      onComplete(pin);
    }
  }

  function onKey(event) {
    if (/^[0-9]$/.test(event.key)) {
      event.preventDefault();
      press(event.key);
    } else if (event.key === "Backspace") {
      event.preventDefault();
      press("back");
    }
  }

  renderDots();
  return {
    element,
    clear() {
      digits = "";
      renderDots();
    },
    setBusy(value) {
      busy = value;
      element.setAttribute("aria-busy", String(value));
      for (const button of keypad.querySelectorAll("button")) button.disabled = value;
    },
    focus() {
      element.focus();
    },
  };
}

/**
 * A modal sheet with a PIN pad. `onPin(pin, sheet)` runs when six digits are
 * in; `sheet` can `setBusy`, `clear`, `showMessage(node)` and `close()`.
 * `summary` (a node) is shown above the pad; `onClose` runs however it closes.
 */
export function pinSheet({ i18n, title, summary = null, onPin, onClose = () => {} }) {
  const titleId = `pin-sheet-title-${++sheets}`;
  const message = h("div", { className: "sheet-message", "aria-live": "assertive" });
  // A closed sheet takes no PIN, even if its pad is still reachable.
  const pad = createPinPad({ i18n, label: title, onComplete: (pin) => dialog.open && onPin(pin, sheet) });
  const dialog = h(
    "dialog",
    { className: "sheet", "aria-labelledby": titleId },
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
    summary,
    message,
    pad.element,
  );
  const sheet = {
    setBusy: pad.setBusy,
    clear: pad.clear,
    showMessage(...nodes) {
      fill(message, ...nodes);
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
  dialog.addEventListener("close", () => {
    dialog.remove();
    onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  pad.focus();
  pad.setBusy(true);
  setTimeout(() => pad.setBusy(false), SHEET_ARM_MS);
  return sheet;
}
