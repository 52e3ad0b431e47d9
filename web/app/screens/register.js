// Registering as Chinese wallet apps do it: phone, password and the user
// agreement on one form (every problem shown at once), then the SMS code
// texted to the phone in six boxes that submit themselves. The account is
// opened only with the right code (POST /v1/auth/register/code, then
// /v1/auth/register with it), and is logged in straight away.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { demoOutbox } from "../outbox.js";
import { codeInput, sendCodeButton } from "../sms-code.js";
import { PHONE, field, phoneField, passwordProblem, setBusy } from "../ui.js";

export function registerScreen(context) {
  const { api, i18n, session, navigate } = context;
  const { t } = i18n;
  let step = "details"; // "details" | "code"
  let error = null;
  let sentTo = "";
  let problems = {};

  const phone = phoneField("register-phone", t("login.phone"));
  const password = field({
    label: t("register.password"),
    input: h("input", { id: "register-password", name: "password", type: "password", autocomplete: "new-password" }),
  });
  const agree = h("input", { id: "register-agree", name: "agree", type: "checkbox" });
  const agreeError = h("p", { className: "field-error", id: "register-agree-error", hidden: true });
  const next = h("button", { className: "button primary block", type: "submit" });
  const code = codeInput({ id: "register-code", label: t("register.code"), onComplete: () => submit() });
  const finish = h("button", { className: "button primary block", type: "submit" });
  const resend = sendCodeButton({ i18n, send: sendCode });
  const errorSlot = h("div", { "aria-live": "polite" });
  const element = h("section", { className: "login register" });

  function render() {
    fill(element, step === "details" ? detailsForm() : codeForm());
    i18n.apply(element);
  }

  function detailsForm() {
    next.textContent = t("register.get_code");
    phone.element.querySelector("label").textContent = t("login.phone");
    password.element.querySelector("label").textContent = t("register.password");
    phone.setError(problems.phone ? t(problems.phone) : null);
    password.setError(problems.password ? t(problems.password) : null);
    agreeError.textContent = problems.agree ? t(problems.agree) : "";
    agreeError.hidden = !problems.agree;
    if (problems.agree) {
      agree.setAttribute("aria-invalid", "true");
      agree.setAttribute("aria-describedby", agreeError.id);
    } else {
      agree.removeAttribute("aria-invalid");
      agree.removeAttribute("aria-describedby");
    }
    fill(errorSlot, errorNotice(error, i18n));
    return h(
      "form",
      { className: "card form", novalidate: true, onsubmit: detailsEntered },
      h("h2", { className: "hero-title" }, t("register.title")),
      phone.element,
      password.element,
      h("div", { className: "agree" }, agree, h("label", { for: "register-agree" }, t("register.agree")), agreeError),
      errorSlot,
      next,
      h("p", { className: "center switch-mode" }, h("a", { href: "#/login" }, t("login.have_account"))),
    );
  }

  function codeForm() {
    finish.textContent = t("register.submit");
    resend.refresh();
    fill(errorSlot, errorNotice(error, i18n));
    return h(
      "form",
      { className: "card form", novalidate: true, onsubmit: (event) => submit(event) },
      h("h2", { className: "hero-title" }, t("register.code_title")),
      h("p", { className: "muted small", "data-testid": "register-sent-to" }, t("register.sent_to", { to: sentTo })),
      h("div", { className: "field" }, h("label", { for: "register-code" }, t("register.code")), code.element),
      errorSlot,
      finish,
      h(
        "div",
        { className: "code-actions" },
        resend.element,
        h("button", { type: "button", className: "button link", onclick: backToDetails }, t("register.change_phone")),
      ),
      demoOutbox({ ...context, phone: () => phone.input.value.trim() }),
    );
  }

  /** Every problem of the form at once, by field; empty when there is none. */
  function check() {
    const found = {};
    if (!PHONE.test(phone.input.value.trim())) found.phone = "error.VALIDATION_FAILED.phone";
    const passwordIssue = passwordProblem(password.input.value);
    if (passwordIssue) found.password = passwordIssue;
    if (!agree.checked) found.agree = "register.agree_required";
    return found;
  }

  async function detailsEntered(event) {
    event.preventDefault();
    problems = check();
    error = null;
    if (Object.keys(problems).length > 0) {
      render();
      element.querySelector("[aria-invalid='true']")?.focus();
      return;
    }
    setBusy(next, true);
    const sent = await sendCode();
    setBusy(next, false);
    if (sent !== true) {
      render();
      return;
    }
    step = "code";
    render();
    resend.started();
    code.focus();
  }

  /** Asks for a code: true when one went, the seconds to wait when refused for the rate, else false. */
  async function sendCode() {
    try {
      const answer = await api.post("/v1/auth/register/code", { phone: phone.input.value.trim() }, { auth: false });
      sentTo = answer.sent_to;
      error = null;
      if (step === "code") render();
      return true;
    } catch (failure) {
      error = failure;
      if (step === "code") render();
      return failure.code === "RATE_LIMITED" ? (failure.retryAfterSecs ?? 0) : false;
    }
  }

  async function submit(event) {
    event?.preventDefault();
    if (code.value.length !== 6) {
      code.reject();
      return;
    }
    if (finish.getAttribute("aria-busy") === "true") return;
    const credentials = { phone: phone.input.value.trim(), password: password.input.value };
    setBusy(finish, true);
    error = null;
    fill(errorSlot);
    try {
      await api.post("/v1/auth/register", { ...credentials, sms_code: code.value }, { auth: false });
      const tokens = await api.post("/v1/auth/login", { ...credentials, refresh_cookie: true }, { auth: false });
      session.signIn(tokens, credentials.phone);
      password.input.value = "";
      navigate("#/my");
      return;
    } catch (failure) {
      refused(failure);
    } finally {
      setBusy(finish, false);
    }
  }

  /** A refusal of the code goes back to the boxes; one of the details, to the form with it. */
  function refused(failure) {
    error = failure;
    if (failure.code === "SMS_CODE_INCORRECT" || failure.code === "SMS_CODE_EXPIRED") {
      render();
      code.reject();
      return;
    }
    if (failure.code === "ALREADY_REGISTERED") {
      error = null;
      problems = { phone: "register.taken" };
      step = "details";
    } else if (failure.code === "VALIDATION_FAILED" && ["phone", "password"].includes(failure.details.field)) {
      error = null;
      problems = { [failure.details.field]: `error.VALIDATION_FAILED.${failure.details.field}` };
      step = "details";
    }
    render();
  }

  function backToDetails() {
    step = "details";
    error = null;
    render();
    phone.input.focus();
  }

  render();
  return {
    element,
    title: "register.screen_title",
    back: "#/login",
    refresh: render,
    dispose: () => resend.dispose(),
  };
}
