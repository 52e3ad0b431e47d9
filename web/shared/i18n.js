// Two languages, Simplified Chinese and English, with the choice remembered
// in localStorage. Messages are plain strings with {named} placeholders.
// Static labels carry `data-i18n` (and `data-i18n-placeholder`,
// `data-i18n-aria-label`, `data-i18n-title`) so a switch can re-translate a
// page in place; dynamic parts are re-rendered by their screen.

const STORAGE_KEY = "walletgate.lang";
export const LANGUAGES = ["zh", "en"];
// Attribute, and its data-i18n-* key as `dataset` spells it.
const TRANSLATED_ATTRIBUTES = [
  ["placeholder", "i18nPlaceholder"],
  ["aria-label", "i18nAriaLabel"],
  ["title", "i18nTitle"],
];

function initialLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** `catalogues` is a list of `{ zh: {...}, en: {...} }`, later ones winning. */
export function createI18n(catalogues) {
  const messages = { zh: {}, en: {} };
  for (const catalogue of catalogues) {
    for (const lang of LANGUAGES) Object.assign(messages[lang], catalogue[lang]);
  }
  const listeners = new Set();
  let lang = initialLanguage();

  const i18n = {
    get lang() {
      return lang;
    },
    /** The locale for Intl formatting. */
    get locale() {
      return lang === "zh" ? "zh-CN" : "en-GB";
    },
    has(key) {
      return key in messages[lang] || key in messages.en;
    },
    t(key, params = {}) {
      const text = messages[lang][key] ?? messages.en[key] ?? key;
      return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
    },
    setLang(next) {
      if (!LANGUAGES.includes(next) || next === lang) return;
      lang = next;
      localStorage.setItem(STORAGE_KEY, next);
      i18n.apply(document);
      for (const listener of listeners) listener(next);
    },
    /** Calls `listener(lang)` after every switch; returns the unsubscribe. */
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Translates every tagged element under `root`. */
    apply(root) {
      document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
      for (const element of root.querySelectorAll("[data-i18n]")) {
        element.textContent = i18n.t(element.dataset.i18n);
      }
      for (const [attribute, key] of TRANSLATED_ATTRIBUTES) {
        for (const element of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
          element.setAttribute(attribute, i18n.t(element.dataset[key]));
        }
      }
    },
  };
  return i18n;
}

/**
 * A button that switches between the two languages, showing the other one's
 * name in that language ("English", "中文"): its text is its whole
 * accessible name, so what a speech-input user says is what they see.
 */
export function languageSwitch(i18n, className = "lang-switch") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  const label = () => {
    const other = i18n.lang === "zh" ? "en" : "zh";
    button.textContent = other === "en" ? "English" : "中文";
    button.lang = other === "en" ? "en" : "zh-CN";
  };
  label();
  button.addEventListener("click", () => i18n.setLang(i18n.lang === "zh" ? "en" : "zh"));
  i18n.onChange(label);
  return button;
}
