// The operator console's shell: language, operator session, API client, the
// header tools (ledger check, worker step) and a hash router over the views
// (#/queue, #/kyc, #/accounts, #/credit, #/audit, #/simulator). Views have the app's screen shape:
// { element, title, refresh?, dispose? }.

import { Session, createApi } from "/shared/api.js";
import { $, fill, useTranslator } from "/shared/dom.js";
import { createI18n, languageSwitch } from "/shared/i18n.js";
import { sharedMessages } from "/shared/messages.js";
import { opsMessages } from "./messages.js";
import { headerTools } from "./views/header.js";
import { accountsView } from "./views/accounts.js";
import { auditView } from "./views/audit.js";
import { creditView } from "./views/credit.js";
import { kycView } from "./views/kyc.js";
import { loginView } from "./views/login.js";
import { queueView } from "./views/queue.js";
import { simulatorView } from "./views/simulator.js";

const VIEWS = {
  login: loginView,
  queue: queueView,
  kyc: kycView,
  accounts: accountsView,
  credit: creditView,
  audit: auditView,
  simulator: simulatorView,
};
const TOAST_MS = 4000;

const i18n = createI18n([sharedMessages, opsMessages]);
useTranslator(i18n.t);
const session = new Session("walletgate.ops.access_token");
const api = createApi({
  session,
  onSignedOut: () => {
    toast(i18n.t("error.UNAUTHENTICATED"));
    navigate("#/login");
  },
});

let current = null;
let tools = null;
let toastTimer = null;

function navigate(hash) {
  if (location.hash === hash) show();
  else location.hash = hash;
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

function route() {
  const [path, queryString = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const name = VIEWS[path] ? path : "queue";
  return { name, query: new URLSearchParams(queryString) };
}

function show() {
  const { name, query } = route();
  if (!session.signedIn && name !== "login") {
    location.replace("#/login");
    return;
  }
  if (session.signedIn && name === "login") {
    location.replace("#/queue");
    return;
  }
  current?.dispose?.();
  const context = { api, i18n, session, navigate, toast, query, changed: () => tools?.refreshLedger() };
  current = VIEWS[name](context);
  fill($("#view"), current.element);
  chrome(name);
  $("#view").focus({ preventScroll: true });
}

/** Header tools and navigation, shown once signed in. */
function chrome(name) {
  const signedIn = session.signedIn;
  $("#nav").hidden = !signedIn;
  $("#tools").hidden = !signedIn;
  if (signedIn && !tools) {
    tools = headerTools({ api, i18n, session, toast, navigate, workerStepped: () => current?.reload?.() });
    fill($("#tools"), tools.element);
  }
  if (!signedIn && tools) {
    tools.dispose();
    tools = null;
    fill($("#tools"));
  }
  for (const link of $("#nav").querySelectorAll("a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${i18n.t(current.title)} · ${i18n.t("ops.name")}`;
}

$("#lang-slot").append(languageSwitch(i18n));
i18n.onChange(() => {
  current?.refresh?.();
  tools?.refresh();
  if (current) document.title = `${i18n.t(current.title)} · ${i18n.t("ops.name")}`;
});
i18n.apply(document);
window.addEventListener("hashchange", show);
show();
