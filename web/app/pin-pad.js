// The 6-digit PIN pad: six dots and a phone-style keypad, also driven by the
// keyboard (digits, Backspace). The digits live only in this closure and are
// handed to `onComplete` once all six are in; a refused PIN shakes the dots
// and clears them. `pinSheet` puts a pad in a modal bottom sheet with a place
// for messages and a "forgot PIN" link, as payment apps do; the sheet is an
// entry in the browser history, so Back closes it.

import { h, fill } from "/shared/dom.js";
import { openSheet } from "./sheet.js";

const PIN_LENGTH = 6;
/**
 * A sheet's keys wake up this long after it opens, so the second tap of a
 * double tap on the button that opened it cannot land on a digit.
 */
const SHEET_ARM_MS = 400;
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", null, "0", "back"];

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

  function clear() {
    digits = "";
    renderDots();
  }

  renderDots();
  return {
    element,
    clear,
    /** A refused PIN: the dots shake and empty, ready for another try. */
    reject() {
      clear();
      dots.classList.remove("shake");
      // Restart the animation: read layout between the class changes.
      void dots.offsetWidth;
      dots.classList.add("shake");
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
 * A modal sheet (see sheet.js) with a PIN pad. `onPin(pin, sheet)` runs when
 * six digits are in; `sheet` can `setBusy`, `clear`, `reject` (shake and
 * clear), `showMessage(node)` and `close()` (which resolves once the history
 * is back where it was). `summary` (a node) is shown above the pad; `onClose`
 * runs however it closes. `forgot` (default on) links to the PIN reset.
 */
export function pinSheet({ i18n, title, summary = null, onPin, onClose = () => {}, forgot = true }) {
  const message = h("div", { className: "sheet-message", "aria-live": "assertive" });
  // A closed sheet takes no PIN, even if its pad is still reachable.
  const pad = createPinPad({ i18n, label: title, onComplete: (pin) => opened.dialog.open && onPin(pin, sheet) });
  const opened = openSheet({
    i18n,
    title,
    onClose,
    content: [
      summary,
      message,
      forgot &&
        h(
          "p",
          { className: "sheet-forgot" },
          h("a", { href: "#/pin?mode=reset", "data-testid": "forgot-pin" }, i18n.t("pin.forgot")),
        ),
      pad.element,
    ],
  });
  const sheet = {
    setBusy: pad.setBusy,
    clear: pad.clear,
    reject: pad.reject,
    showMessage(...nodes) {
      fill(message, ...nodes);
    },
    close: opened.close,
  };
  pad.focus();
  pad.setBusy(true);
  setTimeout(() => pad.setBusy(false), SHEET_ARM_MS);
  return sheet;
}
