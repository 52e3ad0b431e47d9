// Small pieces several screens share.

import { h } from "/shared/dom.js";

export function loading(t) {
  return h("p", { className: "loading" }, h("span", { className: "spinner" }), " ", t("common.loading"));
}

/** A term and its value for a <dl class="facts">. */
export function fact(term, value, testId) {
  return [h("dt", {}, term), h("dd", testId ? { "data-testid": testId } : {}, value)];
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
