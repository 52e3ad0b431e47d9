// Log in with a phone number and password (registering is its own screen,
// #/register). Demo accounts can be filled in with one tap. The refresh
// token goes into the HttpOnly cookie (`refresh_cookie`), so the session
// survives a reload.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { PHONE, field, phoneField, setBusy } from "../ui.js";

const DEMO_ACCOUNTS = [
  { name: "Alice", phone: "13800000001", password: "alice-demo", level: "L0" },
  { name: "Bob", phone: "13800000002", password: "bob-demo", level: "L2" },
  { name: "Carol", phone: "13800000003", password: "carol-demo", level: "L1" },
];

export function loginScreen({ api, i18n, session, navigate }) {
  const { t } = i18n;
  let error = null;
  let problems = {};

  const phone = phoneField("login-phone", t("login.phone"));
  const password = field({
    label: t("login.password"),
    input: h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password" }),
  });
  const submit = h("button", { className: "button primary block", type: "submit" });
  const errorSlot = h("div", { "aria-live": "polite" });
  const heading = h("h2", { className: "hero-title" });
  const toRegister = h("a", { href: "#/register" });

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
            phone.input.value = account.phone;
            password.input.value = account.password;
            problems = {};
            render();
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
    phone.element,
    password.element,
    errorSlot,
    submit,
    h("p", { className: "center switch-mode" }, toRegister),
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
    heading.textContent = t("login.title");
    submit.textContent = t("login.submit");
    toRegister.textContent = t("login.no_account");
    phone.element.querySelector("label").textContent = t("login.phone");
    password.element.querySelector("label").textContent = t("login.password");
    phone.setError(problems.phone ? t(problems.phone) : null);
    password.setError(problems.password ? t(problems.password) : null);
    fill(errorSlot, errorNotice(error, i18n));
  }

  async function onSubmit(event) {
    event.preventDefault();
    const credentials = { phone: phone.input.value.trim(), password: password.input.value };
    problems = {};
    if (!PHONE.test(credentials.phone)) problems.phone = "error.VALIDATION_FAILED.phone";
    if (credentials.password === "") problems.password = "login.password_missing";
    error = null;
    render();
    if (Object.keys(problems).length > 0) {
      form.querySelector("[aria-invalid='true']")?.focus();
      return;
    }
    setBusy(submit, true);
    try {
      const tokens = await api.post("/v1/auth/login", { ...credentials, refresh_cookie: true }, { auth: false });
      session.signIn(tokens, credentials.phone);
      password.input.value = "";
      navigate("#/my");
    } catch (failure) {
      // A wrong password and an unknown phone get the same 401, on purpose.
      error = failure.code === "UNAUTHENTICATED" ? { ...failure, code: "LOGIN_FAILED" } : failure;
      render();
      setBusy(submit, false);
    }
  }

  render();
  return { element, title: "login.screen_title", refresh: render };
}
