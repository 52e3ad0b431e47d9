// Small DOM helpers. Pages are built from data with these, never with
// innerHTML, so text that comes from the API is always text.

let translate = (key) => key;

/** Sets how `i18n` props are turned into text (the page's i18n `t`). */
export function useTranslator(t) {
  translate = t;
}

/**
 * Creates an element: h("button", { className: "primary", onclick: go }, "Next").
 * Props: `className`, `dataset`, `i18n` (a message key: text now, and again
 * after a language switch), `on<event>` handlers, booleans (`disabled`,
 * `hidden`…) and any other attribute. Children: nodes, strings, numbers,
 * arrays; null, undefined and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "i18n") {
      element.dataset.i18n = value;
      element.textContent = translate(value);
    } else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child instanceof Node) {
      parent.append(child);
    } else {
      parent.append(document.createTextNode(String(child)));
    }
  }
}

/** Replaces everything inside `parent` with `children`. */
export function fill(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

/** The first element matching `selector` inside `root` (the document by default). */
export function $(selector, root = document) {
  return root.querySelector(selector);
}
