// An amount field in yuan that shows thousand separators as it is typed
// ("1,234.5") and accepts them pasted, while `value` is the plain number
// ("1234.5") the API and the money helpers take. The caret stays after the
// same digit when separators come and go.

import { h } from "/shared/dom.js";

const GROUPED = /\B(?=(\d{3})+(?!\d))/g;

/** "1234567.8" → "1,234,567.8"; anything but digits and one point is left to the quote to refuse. */
export function groupDigits(plain) {
  const [whole, ...rest] = plain.split(".");
  const grouped = whole.replace(GROUPED, ",");
  return rest.length ? `${grouped}.${rest.join(".")}` : grouped;
}

export function amountInput({ id, onChange }) {
  const input = h("input", {
    id,
    name: "amount",
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "0.00",
    oninput: changed,
  });

  function plainOf(text) {
    return text.replace(/[,\s，]/g, "");
  }

  function changed() {
    const caret = input.selectionStart ?? input.value.length;
    // Where the caret is, counted in characters that are not separators.
    const kept = plainOf(input.value.slice(0, caret)).length;
    const plain = plainOf(input.value);
    const shown = /^\d*(\.\d*)?$/.test(plain) ? groupDigits(plain) : plain;
    if (shown !== input.value) {
      input.value = shown;
      let position = 0;
      for (let seen = 0; position < shown.length && seen < kept; position++) {
        if (shown[position] !== ",") seen++;
      }
      if (document.activeElement === input) input.setSelectionRange(position, position);
    }
    onChange();
  }

  return {
    input,
    /** The amount as typed, without separators or spaces. */
    get value() {
      return plainOf(input.value.trim());
    },
    /** Shows `plain` (e.g. "1000.00") with its separators. */
    set(plain) {
      input.value = groupDigits(plain);
    },
  };
}
