// The payment PIN: set the first one with an SMS code, change it with the old
// one, or reset a forgotten or locked one with an SMS code (and, for an
// account with a verified ID number, its last six characters). The code is
// checked as soon as its six boxes are full (POST /v1/sms/codes/check), so a
// mistyped one is caught before the new PIN is asked for; a new PIN is
// refused at its first entry when it is too easy to guess, and entered twice.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { ApiError } from "/shared/api.js";
import { createPinPad } from "../pin-pad.js";
import { isWeakPin } from "../pin-rules.js";
import { demoOutbox } from "../outbox.js";
import { codeInput, sendCodeButton } from "../sms-code.js";
import { loading, setBusy } from "../ui.js";

const ID_NUMBER_LAST6 = /^\d{5}[\dXx]$/;
/** Where a PIN set on the way to paying (`?next=`) returns to. */
const NEXT_SCREENS = { withdraw: "#/withdraw", transfer: "#/transfer" };
/** Refusals that send the user back to the code (a new one is needed, or this one was wrong). */
const CODE_REFUSALS = new Set(["SMS_CODE_INCORRECT", "SMS_CODE_EXPIRED", "IDENTITY_CHECK_FAILED"]);

export function pinScreen(context) {
  const { api, i18n, toast, navigate, query } = context;
  const { t } = i18n;
  let me = null;
  let mode = null; // "set" | "change" | "reset"
  let step = null; // "code" | "old" | "new" | "repeat"
  let error = null;
  let sentTo = null;
  let shake = false;
  const entered = { smsCode: "", idNumberLast6: "", oldPin: "", newPin: "" };

  const element = h("section", { className: "pin-screen" }, loading(t));
  const code = codeInput({ id: "pin-code", label: t("pin.code"), onComplete: () => codeEntered() });
  const idInput = h("input", {
    id: "pin-id-last6",
    name: "id_number_last6",
    autocomplete: "off",
    autocapitalize: "characters",
    maxlength: 6,
  });
  const next = h("button", { className: "button primary block", type: "submit" });
  const send = sendCodeButton({ i18n, send: sendCode });

  function purpose() {
    return mode === "set" ? "set_pin" : "reset_pin";
  }

  /** Whether this reset also asks for the ID number's last six characters. */
  function asksIdentity() {
    return mode === "reset" && me?.pin_reset_needs_id_number === true;
  }

  async function load() {
    try {
      me = await api.get("/v1/me");
      choose(!me.pin_set ? "set" : query.get("mode") === "reset" || me.pin_locked_until ? "reset" : "change");
    } catch (failure) {
      error = failure;
      render();
    }
  }

  function choose(nextMode) {
    mode = nextMode;
    step = mode === "change" ? "old" : "code";
    error = null;
    sentTo = null;
    Object.assign(entered, { smsCode: "", idNumberLast6: "", oldPin: "", newPin: "" });
    code.input.value = "";
    idInput.value = "";
    render();
  }

  function render() {
    if (!mode) {
      fill(element, errorNotice(error, i18n) ?? loading(t));
      return;
    }
    const pad = step === "code" ? null : padStep();
    fill(
      element,
      me.pin_set && modeSwitch(),
      h(
        "div",
        { className: "card" },
        h("h2", { className: "card-title" }, t(`pin.${mode}_title`)),
        h("p", { className: "muted small step-hint", "data-testid": "pin-step" }, t(`pin.step_${step}`)),
        errorNotice(error, i18n),
        step === "code" ? codeStep() : pad.element,
      ),
    );
    if (pad) {
      pad.focus();
      if (shake) pad.reject();
    }
    shake = false;
  }

  function modeSwitch() {
    return h(
      "div",
      { className: "segmented", role: "group", "aria-label": t("pin.mode") },
      ["change", "reset"].map((option) =>
        h(
          "button",
          { type: "button", "aria-pressed": String(mode === option), onclick: () => choose(option) },
          t(`pin.mode_${option}`),
        ),
      ),
    );
  }

  function codeStep() {
    next.textContent = t("pin.next");
    send.refresh();
    return h(
      "form",
      { className: "form", novalidate: true, onsubmit: codeEntered },
      sentTo && h("p", { className: "notice notice-info" }, t("sms.sent", { to: sentTo })),
      asksIdentity() &&
        h(
          "div",
          { className: "field" },
          h("label", { for: "pin-id-last6" }, t("pin.id_last6")),
          idInput,
          h("p", { className: "muted small" }, t("pin.id_last6_hint")),
        ),
      h(
        "div",
        { className: "field" },
        h("label", { for: "pin-code" }, t("pin.code")),
        h("div", { className: "code-row" }, code.element, send.element),
      ),
      next,
      demoOutbox(context),
    );
  }

  function padStep() {
    return createPinPad({ i18n, label: t(`pin.step_${step}`), onComplete: (pin) => padEntered(pin) });
  }

  async function sendCode() {
    try {
      const sent = await api.post("/v1/sms/codes", { purpose: purpose() });
      sentTo = sent.sent_to;
      error = null;
      render();
      code.focus();
      return true;
    } catch (failure) {
      error = failure;
      render();
      return failure.code === "RATE_LIMITED" ? (failure.retryAfterSecs ?? 0) : false;
    }
  }

  /** The code (and the ID answer) are in: checked now, so a wrong code never waits for two PIN entries. */
  async function codeEntered(event) {
    event?.preventDefault();
    const smsCode = code.value;
    if (smsCode.length !== 6) {
      error = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "sms_code" } });
      render();
      code.reject();
      return;
    }
    const idAnswer = idInput.value.trim();
    if (asksIdentity() && !ID_NUMBER_LAST6.test(idAnswer)) {
      error = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "id_number_last6" } });
      render();
      idInput.focus();
      return;
    }
    if (next.getAttribute("aria-busy") === "true") return;
    setBusy(next, true);
    try {
      await api.post("/v1/sms/codes/check", { purpose: purpose(), sms_code: smsCode });
    } catch (failure) {
      setBusy(next, false);
      error = failure;
      render();
      code.reject();
      return;
    }
    setBusy(next, false);
    entered.smsCode = smsCode;
    entered.idNumberLast6 = asksIdentity() ? idAnswer : "";
    step = "new";
    error = null;
    render();
  }

  async function padEntered(pin) {
    error = null;
    if (step === "old") {
      entered.oldPin = pin;
      step = "new";
    } else if (step === "new") {
      if (isWeakPin(pin)) {
        error = { code: "PIN_TOO_SIMPLE" };
        shake = true;
      } else {
        entered.newPin = pin;
        step = "repeat";
      }
    } else if (pin !== entered.newPin) {
      error = { code: "PIN_MISMATCH" };
      step = "new";
      shake = true;
    } else {
      element.querySelector(".pin-pad")?.setAttribute("aria-busy", "true");
      await save();
      return;
    }
    render();
  }

  async function save() {
    const body =
      mode === "change"
        ? { pin: entered.newPin, old_pin: entered.oldPin }
        : {
            pin: entered.newPin,
            sms_code: entered.smsCode,
            ...(entered.idNumberLast6 && { id_number_last6: entered.idNumberLast6 }),
          };
    try {
      await api.put("/v1/pin", body);
      Object.assign(entered, { smsCode: "", idNumberLast6: "", oldPin: "", newPin: "" });
      toast(t(mode === "set" ? "pin.done_set" : "pin.done_changed"));
      const nextScreen = query.get("next");
      navigate(Object.hasOwn(NEXT_SCREENS, nextScreen) ? NEXT_SCREENS[nextScreen] : "#/my");
      return;
    } catch (failure) {
      error = failure;
      shake = true;
      if (failure.code === "PIN_LOCKED") {
        // Only a reset with an SMS code lifts a lock.
        mode = "reset";
        step = "code";
      } else {
        step = stepFor(failure.code);
      }
      if (step === "code") {
        code.input.value = "";
        // A refusal at this point has spent the code: a new one is needed, without waiting.
        if (failure.code !== "SMS_CODE_INCORRECT") send.reset();
      }
    }
    render();
  }

  /** Where to go back to after a refusal: the step whose input was wrong. */
  function stepFor(refusal) {
    if (refusal === "PIN_INCORRECT") return "old";
    // A wrong identity answer spends the code: a new one is needed.
    if (CODE_REFUSALS.has(refusal)) return "code";
    return "new";
  }

  load();
  return { element, title: "pin.screen_title", back: "#/my", refresh: render, dispose: () => send.dispose() };
}
