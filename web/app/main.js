// The wallet app's shell: language, session, API client and a hash router
// (#/my, #/withdraw, #/status/<id>, #/transfer, #/transfers/<id>…). Each
// screen is a function of a context that returns { element, title, back?,
// tab?, refresh?, dispose? }: `refresh` re-renders its dynamic parts after a
// language switch, `dispose` stops its timers and streams when the user leaves.

import { createApi } from "/shared/api.js";
import { $, fill, useTranslator } from "/shared/dom.js";
import { createI18n, languageSwitch } from "/shared/i18n.js";
import { sharedMessages } from "/shared/messages.js";
import { appMessages } from "./messages.js";
import { AppSession } from "./session.js";
import { bindScreen } from "./screens/bind.js";
import { historyScreen } from "./screens/history.js";
import { kycScreen } from "./screens/kyc.js";
import { loginScreen } from "./screens/login.js";
import { myScreen } from "./screens/my.js";
import { pinScreen } from "./screens/pin.js";
import { registerScreen } from "./screens/register.js";
import { statusScreen } from "./screens/status.js";
import { transferDetailScreen } from "./screens/transfer-detail.js";
import { transferScreen } from "./screens/transfer.js";
import { withdrawScreen } from "./screens/withdraw.js";
import { simulatedTimeBadge } from "./sim-badge.js";

const SCREENS = {
  login: loginScreen,
  register: registerScreen,
  my: myScreen,
  kyc: kycScreen,
  bind: bindScreen,
  pin: pinScreen,
  withdraw: withdrawScreen,
  status: statusScreen,
  history: historyScreen,
  transfer: transferScreen,
  transfers: transferDetailScreen,
};
const PUBLIC_SCREENS = new Set(["login", "register"]);
const TOAST_MS = 3500;
/** A visual viewport this much shorter than the window means a keyboard is open (not a toolbar). */
const KEYBOARD_MIN_PX = 120;

const i18n = createI18n([sharedMessages, appMessages]);
useTranslator(i18n.t);
const session = new AppSession();
const api = createApi({
  session,
  onSignedOut: () => {
    toast(i18n.t("error.UNAUTHENTICATED"));
    navigate("#/login");
  },
});

const root = $("#screen");
let current = null;
let toastTimer = null;

function navigate(hash) {
  if (location.hash === hash) {
    show();
  } else {
    location.hash = hash;
  }
}

function toast(text) {
  const element = $("#toast");
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    element.hidden = true;
  }, TOAST_MS);
}

/** "#/status/wd_1?from=withdraw" → { name: "status", params: ["wd_1"], query }. */
function route() {
  const [path, queryString = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name = "", ...params] = path.split("/");
  return { name: SCREENS[name] ? name : "my", params, query: new URLSearchParams(queryString) };
}

function show() {
  const { name, params, query } = route();
  if (!session.signedIn && !PUBLIC_SCREENS.has(name)) {
    location.replace("#/login");
    return;
  }
  if (session.signedIn && PUBLIC_SCREENS.has(name)) {
    location.replace("#/my");
    return;
  }
  closeModals();
  current?.dispose?.();
  const context = { api, i18n, session, navigate, toast, params, query, setTitle };
  current = SCREENS[name](context);
  fill(root, current.element);
  i18n.apply(root);
  decorate(current);
  root.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

/**
 * A sheet or dialog belongs to the screen that opened it: when the route
 * changes (browser Back, a link inside the sheet), it closes with its screen,
 * so a PIN can no longer be typed into a payment the user has left.
 */
function closeModals() {
  for (const dialog of document.querySelectorAll("dialog")) {
    if (dialog.open) dialog.close();
    dialog.remove();
  }
}

/** A screen whose title follows what it shows (a view of its own) names its new title. */
function setTitle(key) {
  if (!current) return;
  current.title = key;
  decorate(current);
}

/** Title, back arrow and tab bar for the current screen. */
function decorate(screen) {
  const title = i18n.t(screen.title);
  $("#title").textContent = title;
  document.title = `${title} · ${i18n.t("app.name")}`;
  const back = $("#back");
  back.hidden = !screen.back;
  if (screen.back) back.setAttribute("href", screen.back);
  const tabbar = $("#tabbar");
  tabbar.hidden = !session.signedIn;
  for (const tab of tabbar.querySelectorAll("a")) {
    if (tab.dataset.tab === screen.tab) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
}

/**
 * An on-screen keyboard shrinks the visual viewport: its height is written to
 * --keyboard-inset, and `keyboard-open` set on <body>, so what must stay in
 * view (the withdrawal's confirm button) sits right above the keyboard.
 */
function watchKeyboard() {
  const viewport = window.visualViewport;
  if (!viewport) return;
  const update = () => {
    const inset = Math.max(0, window.innerHeight - viewport.height - viewport.offsetTop);
    document.documentElement.style.setProperty("--keyboard-inset", `${Math.round(inset)}px`);
    document.body.classList.toggle("keyboard-open", inset > KEYBOARD_MIN_PX);
  };
  viewport.addEventListener("resize", update);
  viewport.addEventListener("scroll", update);
  update();
}

watchKeyboard();
$("#lang-slot").append(languageSwitch(i18n));
const badge = simulatedTimeBadge($("#sim-badge"), i18n);
window.addEventListener("hashchange", () => badge.read());
i18n.onChange(() => {
  badge.render();
  current?.refresh?.();
  if (current) decorate(current);
});
i18n.apply(document);
window.addEventListener("hashchange", show);
// A sheet's own history entry (see pin-pad.js) left behind when a link inside
// it moved on: Back passes over it rather than stopping on nothing.
window.addEventListener("popstate", () => {
  if (history.state?.sheet && !document.querySelector("dialog[open]")) history.back();
});
show();
