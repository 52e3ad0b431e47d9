// SMS codes as Chinese apps ask for them: six boxes that submit themselves
// once the sixth digit is in, and a "get code" button that counts down
// ("重新获取(59s)") before it can send again.

import { h, fill } from "/shared/dom.js";

const CODE_LENGTH = 6;
/** How long the button waits before a code can be asked for again. */
export const RESEND_AFTER_SECS = 60;

/**
 * One real <input> (so one-time-code autofill, paste and screen readers work
 * as they do anywhere) drawn as six boxes. `onComplete(code)` runs once per
 * complete code typed; `label` names the input for assistive technology.
 */
export function codeInput({ id, label, onComplete }) {
  let submitted = null;
  const input = h("input", {
    id,
    name: "sms_code",
    className: "code-field",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: CODE_LENGTH,
    "aria-label": label,
    oninput: changed,
    onfocus: render,
    onblur: render,
  });
  const boxes = h("div", { className: "code-boxes", "aria-hidden": "true" });
  const element = h("div", { className: "code-input" }, boxes, input);

  function changed() {
    const digits = input.value.replace(/\D/g, "").slice(0, CODE_LENGTH);
    if (digits !== input.value) input.value = digits;
    render();
    if (digits.length === CODE_LENGTH && digits !== submitted) {
      submitted = digits;
      onComplete(digits);
    } else if (digits.length < CODE_LENGTH) {
      submitted = null;
    }
  }

  function render() {
    const value = input.value;
    const focused = document.activeElement === input;
    fill(
      boxes,
      Array.from({ length: CODE_LENGTH }, (_, index) =>
        h(
          "span",
          {
            className: [
              "code-box",
              index < value.length && "filled",
              focused && index === Math.min(value.length, CODE_LENGTH - 1) && "current",
            ]
              .filter(Boolean)
              .join(" "),
          },
          value[index] ?? "",
        ),
      ),
    );
  }

  render();
  return {
    element,
    input,
    get value() {
      return input.value;
    },
    /** Empties the boxes (after a wrong code), shaking them, and focuses them. */
    reject() {
      input.value = "";
      submitted = null;
      element.classList.remove("shake");
      // Restart the animation: read layout between the class changes.
      void element.offsetWidth;
      element.classList.add("shake");
      render();
      input.focus();
    },
    focus() {
      input.focus();
    },
  };
}

/**
 * "获取验证码", then "重新获取(59s)" counting down, then "重新获取". `send()`
 * asks for a code and resolves true when one went (false when refused: the
 * screen shows why); a refusal that says when to try again (`RATE_LIMITED`)
 * counts down that long instead. `alreadySent`: a code went before this
 * screen, so the button offers to send again.
 */
export function sendCodeButton({ i18n, send, className = "button code-send", alreadySent = false }) {
  const { t } = i18n;
  let left = 0;
  let sentOnce = alreadySent;
  let timer = null;
  const button = h("button", { type: "button", className, onclick: press });

  async function press() {
    if (left > 0 || button.getAttribute("aria-busy") === "true") return;
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    let wait = 0;
    try {
      const sent = await send();
      if (sent === true) {
        sentOnce = true;
        wait = RESEND_AFTER_SECS;
      } else if (typeof sent === "number") {
        wait = sent;
      }
    } finally {
      button.removeAttribute("aria-busy");
      countDown(wait);
    }
  }

  function countDown(secs) {
    clearInterval(timer);
    left = secs;
    render();
    if (left <= 0) return;
    timer = setInterval(() => {
      left -= 1;
      if (left <= 0) clearInterval(timer);
      render();
    }, 1000);
  }

  function render() {
    button.disabled = left > 0;
    if (left > 0) button.textContent = t("sms.resend_in", { secs: left });
    else button.textContent = t(sentOnce ? "sms.resend" : "sms.get_code");
  }

  render();
  return {
    element: button,
    press,
    /** Starts the countdown as if a code had just been sent (one went out before this screen). */
    started() {
      sentOnce = true;
      countDown(RESEND_AFTER_SECS);
    },
    /** The code sent is dead (used up by a refusal): a new one may be asked for at once. */
    reset() {
      countDown(0);
    },
    refresh: render,
    dispose() {
      clearInterval(timer);
    },
  };
}
