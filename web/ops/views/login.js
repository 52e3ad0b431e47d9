// Operator log in with email and password. A user account is turned away
// here rather than at the first 403.

import { h, fill } from "/shared/dom.js";
import { ApiError } from "/shared/api.js";
import { errorNotice } from "/shared/errors.js";

export function loginView({ api, i18n, session, navigate }) {
  let error = null;
  const email = h("input", { id: "ops-email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", {
    id: "ops-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const submit = h("button", { className: "button primary block", type: "submit", i18n: "login.submit" });
  const errorSlot = h("div", { "aria-live": "polite" });
  const fillDemo = h("button", {
    type: "button",
    className: "button link",
    i18n: "login.demo",
    onclick: () => {
      email.value = "ops@walletgate.test";
      password.value = "operator-demo";
    },
  });

  const element = h(
    "form",
    { className: "panel login-panel", novalidate: true, onsubmit: onSubmit },
    h("h1", { i18n: "login.title" }),
    h("div", { className: "field" }, h("label", { for: "ops-email", i18n: "login.email" }), email),
    h("div", { className: "field" }, h("label", { for: "ops-password", i18n: "login.password" }), password),
    errorSlot,
    submit,
    h("p", { className: "muted small" }, fillDemo),
  );

  function render() {
    fill(errorSlot, errorNotice(error, i18n));
  }

  async function onSubmit(event) {
    event.preventDefault();
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    error = null;
    render();
    try {
      const tokens = await api.post(
        "/v1/auth/login",
        { email: email.value.trim(), password: password.value },
        { auth: false },
      );
      session.save(tokens);
      const me = await api.get("/v1/me");
      if (me.role !== "operator") {
        session.clear();
        throw new ApiError({ status: 403, code: "FORBIDDEN" });
      }
      password.value = "";
      navigate("#/queue");
    } catch (failure) {
      error =
        failure.code === "UNAUTHENTICATED"
          ? { ...failure, code: "LOGIN_FAILED", details: { field: "email" } }
          : failure;
      render();
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  }

  return { element, title: "login.title", refresh: render };
}
