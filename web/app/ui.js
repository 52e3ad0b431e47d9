// Small pieces several screens share.

import { h } from "/shared/dom.js";

export function loading(t) {
  return h("p", { className: "loading" }, h("span", { className: "spinner" }), " ", t("common.loading"));
}

/** A term and its value for a <dl class="facts">. */
export function fact(term, value, testId) {
  return [h("dt", {}, term), h("dd", testId ? { "data-testid": testId } : {}, value)];
}

/**
 * A long id (a withdrawal's, a bill's) as a fact of its own line, under its
 * term, in one unbroken piece: an id split across lines is hard to read
 * out or compare.
 */
export function idFact(term, id, testId) {
  return [
    h("dt", { className: "wide" }, term),
    h(
      "dd",
      { className: "wide", ...(testId ? { "data-testid": testId } : {}) },
      h("span", { className: "mono id" }, id),
    ),
  ];
}

/**
 * The verification level as a badge: unverified (L0) in a neutral tone, a
 * verified level in green.
 */
export function levelBadge(level, t, testId = null) {
  const tone = level === "L0" ? "neutral" : "good";
  return h("span", { className: `badge ${tone}`, ...(testId ? { "data-testid": testId } : {}) }, t(`level.${level}`));
}

/** Marks a button as working (disabled, with a spinner) or done. */
export function setBusy(button, busy) {
  button.disabled = busy;
  if (busy) button.setAttribute("aria-busy", "true");
  else button.removeAttribute("aria-busy");
}

const SVG = "http://www.w3.org/2000/svg";
const ICON_PATHS = { check: "M5 12.5l4.5 4.5L19 7.5", cross: "M7 7l10 10M17 7L7 17" };

/** A stroked 24×24 icon ("check" or "cross") in the current text colour. */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "28");
  svg.setAttribute("height", "28");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICON_PATHS[name]);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2.6");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

/**
 * A labelled field with a place for its own error under it. `setError(text)`
 * shows (or, with null, clears) the error, tied to the input for assistive
 * technology (aria-invalid, aria-describedby), so a form can show every
 * field's problem at once.
 */
export function field({ input, label, hint = null }) {
  const errorId = `${input.id}-error`;
  const error = h("p", { className: "field-error", id: errorId, hidden: true });
  const element = h(
    "div",
    { className: "field" },
    h("label", { for: input.id }, label),
    input,
    hint && h("p", { className: "muted small" }, hint),
    error,
  );
  return {
    element,
    input,
    setError(text) {
      error.textContent = text ?? "";
      error.hidden = !text;
      if (text) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", errorId);
      } else {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    },
  };
}

/** The phone number field of the login and registration forms. */
export function phoneField(id, label) {
  return field({
    label,
    input: h("input", {
      id,
      name: "phone",
      type: "tel",
      inputmode: "numeric",
      autocomplete: "tel-national",
      maxlength: 11,
    }),
  });
}

/** A mainland mobile number, as the API takes it (src/domain/credentials.rs). */
export const PHONE = /^1[3-9]\d{9}$/;
/** Login passwords: 8 to 128 characters, not only whitespace (src/domain/credentials.rs). */
export function passwordProblem(password) {
  const chars = [...password].length;
  if (chars < 8 || chars > 128 || password.trim() === "") return "error.VALIDATION_FAILED.password";
  return null;
}
