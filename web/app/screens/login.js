// Log in or register with a phone number and password. Registering logs in
// straight away. Demo accounts can be filled in with one tap.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";

const DEMO_ACCOUNTS = [
  { name: "Alice", phone: "13800000001", password: "alice-demo", level: "L0" },
  { name: "Bob", phone: "13800000002", password: "bob-demo", level: "L2" },
  { name: "Carol", phone: "13800000003", password: "carol-demo", level: "L1" },
];

export function loginScreen({ api, i18n, session, navigate }) {
  const { t } = i18n;
  let registering = false;
  let error = null;

  const phone = h("input", {
    id: "login-phone",
    name: "phone",
    type: "tel",
    inputmode: "numeric",
    autocomplete: "tel-national",
    maxlength: 11,
    required: true,
  });
  const password = h("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const submit = h("button", { className: "button primary block", type: "submit" });
  const toggle = h("button", { className: "button link", type: "button", onclick: switchMode });
  const errorSlot = h("div", { "aria-live": "polite" });
  const heading = h("h2", { className: "hero-title" });

  const demo = h(
    "div",
    { className: "demo-accounts" },
    h("p", { className: "muted small", i18n: "login.demo" }),
    DEMO_ACCOUNTS.map((account) =>
      h(
        "button",
        {
          type: "button",
          className: "chip",
          onclick: () => {
            phone.value = account.phone;
            password.value = account.password;
            if (registering) switchMode();
          },
        },
        `${account.name} · ${account.level}`,
      ),
    ),
  );

  const form = h(
    "form",
    { className: "card form", novalidate: true, onsubmit: onSubmit },
    heading,
    h("div", { className: "field" }, h("label", { for: "login-phone", i18n: "login.phone" }), phone),
    h("div", { className: "field" }, h("label", { for: "login-password", i18n: "login.password" }), password),
    errorSlot,
    submit,
    h("p", { className: "center" }, toggle),
  );

  const element = h(
    "section",
    { className: "login" },
    h(
      "div",
      { className: "brand" },
      h("img", { src: "/shared/icon.svg", alt: "", width: 56, height: 56 }),
      h("p", { className: "brand-name", i18n: "app.name" }),
      h("p", { className: "muted", i18n: "login.tagline" }),
    ),
    form,
    demo,
  );

  function render() {
    heading.textContent = t(registering ? "login.register_title" : "login.title");
    submit.textContent = t(registering ? "login.register" : "login.submit");
    toggle.textContent = t(registering ? "login.have_account" : "login.no_account");
    password.setAttribute("autocomplete", registering ? "new-password" : "current-password");
    fill(errorSlot, errorNotice(error, i18n));
  }

  function switchMode() {
    registering = !registering;
    error = null;
    render();
  }

  async function onSubmit(event) {
    event.preventDefault();
    const credentials = { phone: phone.value.trim(), password: password.value };
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    error = null;
    render();
    try {
      if (registering) await api.post("/v1/auth/register", credentials, { auth: false });
      const tokens = await api.post("/v1/auth/login", credentials, { auth: false });
      session.signIn(tokens, credentials.phone);
      password.value = "";
      navigate("#/my");
    } catch (failure) {
      // A wrong password and an unknown phone get the same 401, on purpose.
      error = failure.code === "UNAUTHENTICATED" ? { ...failure, code: "LOGIN_FAILED" } : failure;
      render();
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  }

  render();
  return { element, title: "login.screen_title", refresh: render };
}
