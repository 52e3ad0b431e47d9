// The payment PIN: set the first one with an SMS code, change it with the old
// one, or reset a forgotten or locked one with an SMS code (and, for an
// account with a verified ID number, its last six characters). A new PIN is
// entered twice; the server refuses trivial ones.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { ApiError } from "/shared/api.js";
import { createPinPad } from "../pin-pad.js";
import { demoOutbox } from "../outbox.js";
import { loading, setBusy } from "../ui.js";

const SMS_CODE = /^\d{6}$/;
const ID_NUMBER_LAST6 = /^\d{5}[\dXx]$/;
/** Where a PIN set on the way to paying (`?next=`) returns to. */
const NEXT_SCREENS = { withdraw: "#/withdraw", transfer: "#/transfer" };

export function pinScreen(context) {
  const { api, i18n, toast, navigate, query } = context;
  const { t } = i18n;
  let me = null;
  let mode = null; // "set" | "change" | "reset"
  let step = null; // "code" | "old" | "new" | "repeat"
  let error = null;
  let sentTo = null;
  const entered = { smsCode: "", idNumberLast6: "", oldPin: "", newPin: "" };

  const element = h("section", { className: "pin-screen" }, loading(t));
  const codeInput = h("input", {
    id: "pin-code",
    name: "sms_code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: 6,
  });
  const idInput = h("input", {
    id: "pin-id-last6",
    name: "id_number_last6",
    autocomplete: "off",
    autocapitalize: "characters",
    maxlength: 6,
  });

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

  function choose(next) {
    mode = next;
    step = mode === "change" ? "old" : "code";
    error = null;
    sentTo = null;
    Object.assign(entered, { smsCode: "", idNumberLast6: "", oldPin: "", newPin: "" });
    codeInput.value = "";
    idInput.value = "";
    render();
  }

  function render() {
    if (!mode) {
      fill(element, errorNotice(error, i18n) ?? loading(t));
      return;
    }
    fill(
      element,
      me.pin_set && modeSwitch(),
      h(
        "div",
        { className: "card" },
        h("h2", { className: "card-title" }, t(`pin.${mode}_title`)),
        h("p", { className: "muted small step-hint", "data-testid": "pin-step" }, t(`pin.step_${step}`)),
        errorNotice(error, i18n),
        step === "code" ? codeStep() : padStep(),
      ),
    );
    element.querySelector(".pin-pad")?.focus();
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
    const send = h(
      "button",
      { className: "button block", type: "button", onclick: () => sendCode(send) },
      t(sentTo ? "pin.resend" : "pin.send_code"),
    );
    const next = h("button", { className: "button primary block", type: "submit" }, t("pin.next"));
    return h(
      "form",
      { className: "form", novalidate: true, onsubmit: codeEntered },
      sentTo && h("p", { className: "notice notice-info" }, t("sms.sent", { to: sentTo })),
      send,
      h("div", { className: "field" }, h("label", { for: "pin-code" }, t("pin.code")), codeInput),
      asksIdentity() &&
        h(
          "div",
          { className: "field" },
          h("label", { for: "pin-id-last6" }, t("pin.id_last6")),
          idInput,
          h("p", { className: "muted small" }, t("pin.id_last6_hint")),
        ),
      next,
      demoOutbox(context),
    );
  }

  function padStep() {
    const pad = createPinPad({ i18n, label: t(`pin.step_${step}`), onComplete: (pin) => padEntered(pin, pad) });
    return pad.element;
  }

  async function sendCode(button) {
    setBusy(button, true);
    try {
      const sent = await api.post("/v1/sms/codes", { purpose: mode === "set" ? "set_pin" : "reset_pin" });
      sentTo = sent.sent_to;
      error = null;
    } catch (failure) {
      error = failure;
    }
    render();
    codeInput.focus();
  }

  function codeEntered(event) {
    event.preventDefault();
    const code = codeInput.value.trim();
    if (!SMS_CODE.test(code)) {
      error = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "sms_code" } });
      render();
      return;
    }
    const idAnswer = idInput.value.trim();
    if (asksIdentity() && !ID_NUMBER_LAST6.test(idAnswer)) {
      error = new ApiError({ status: 400, code: "VALIDATION_FAILED", details: { field: "id_number_last6" } });
      render();
      idInput.focus();
      return;
    }
    entered.smsCode = code;
    entered.idNumberLast6 = asksIdentity() ? idAnswer : "";
    step = "new";
    error = null;
    render();
  }

  async function padEntered(pin, pad) {
    error = null;
    if (step === "old") {
      entered.oldPin = pin;
      step = "new";
    } else if (step === "new") {
      entered.newPin = pin;
      step = "repeat";
    } else if (pin !== entered.newPin) {
      error = { code: "PIN_MISMATCH" };
      step = "new";
    } else {
      pad.setBusy(true);
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
      const next = query.get("next");
      navigate(Object.hasOwn(NEXT_SCREENS, next) ? NEXT_SCREENS[next] : "#/my");
      return;
    } catch (failure) {
      error = failure;
      if (failure.code === "PIN_LOCKED") {
        // Only a reset with an SMS code lifts a lock.
        mode = "reset";
        step = "code";
      } else {
        step = stepFor(failure.code);
      }
    }
    render();
  }

  /** Where to go back to after a refusal: the step whose input was wrong. */
  function stepFor(code) {
    if (code === "PIN_INCORRECT") return "old";
    // A wrong identity answer spends the code: a new one is needed.
    if (code.startsWith("SMS_CODE") || code === "IDENTITY_CHECK_FAILED") return "code";
    return "new";
  }

  load();
  return { element, title: "pin.screen_title", back: "#/my", refresh: render };
}
