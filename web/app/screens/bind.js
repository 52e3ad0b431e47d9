// Bind a WeChat wallet the way the real apps do: start a binding, consent at
// (mock) WeChat in a popup window, come back here while the gateway exchanges
// the code, then confirm with the SMS code. The masked nickname is shown for
// the user to check before confirming. An active binding can be unbound with
// the payment PIN.

import { h, fill } from "/shared/dom.js";
import { describeError, errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";
import { demoOutbox } from "../outbox.js";
import { pinSheet } from "../pin-pad.js";
import { sendCodeButton } from "../sms-code.js";
import { loading, setBusy } from "../ui.js";

const POLL_MS = 1000;
const POPUP_NAME = "wechat-consent";
const POPUP_FEATURES = "popup,width=420,height=760";
const IN_PROGRESS = new Set(["authorizing", "pending_confirmation"]);

export function bindScreen(context) {
  const { api, i18n, toast } = context;
  const { t } = i18n;
  let binding = null; // the binding this screen shows: active, in progress, or just failed
  let authorizeUrl = null;
  let popup = null;
  let error = null;
  let timer = null;
  let loaded = false;
  let resend = null; // the "send again" button of the code step, counting down

  const element = h("section", { className: "bind" }, loading(t));
  const codeInput = h("input", {
    id: "bind-code",
    name: "sms_code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: 6,
  });

  async function load() {
    try {
      const { items } = await api.get("/v1/bindings");
      binding =
        items.find((item) => item.status === "active") ?? items.find((item) => IN_PROGRESS.has(item.status)) ?? null;
      loaded = true;
      if (binding?.status === "authorizing") poll();
    } catch (failure) {
      error = failure;
    }
    render();
  }

  function render() {
    if (!loaded) {
      fill(element, errorNotice(error, i18n) ?? loading(t));
      return;
    }
    const status = binding?.status;
    if (status === "active") fill(element, activeView());
    else if (status === "authorizing") fill(element, authorizingView());
    else if (status === "pending_confirmation") fill(element, confirmView());
    else fill(element, startView());
  }

  function startView() {
    const start = h(
      "button",
      { className: "button primary block", type: "button", onclick: () => begin(start) },
      t("bind.start"),
    );
    return h(
      "div",
      { className: "card" },
      h("div", { className: "wechat-mark", "aria-hidden": "true" }, "W"),
      h("h2", { className: "card-title" }, t("bind.title")),
      h("p", { className: "muted" }, t("bind.explain")),
      binding?.status === "failed" &&
        h(
          "p",
          { className: "notice notice-error", role: "alert" },
          t("bind.failed", { reason: t(`binding_failure.${binding.failure_reason}`) }),
        ),
      errorNotice(error, i18n),
      start,
    );
  }

  function authorizingView() {
    return h(
      "div",
      { className: "card", "aria-live": "polite" },
      h("p", {}, h("span", { className: "spinner" }), " ", t("bind.waiting")),
      h("p", { className: "muted small" }, t("bind.waiting_hint")),
      authorizeUrl &&
        h(
          "a",
          { className: "button block", href: authorizeUrl, target: POPUP_NAME, "data-testid": "open-wechat" },
          t("bind.open_again"),
        ),
      h("button", { className: "button link", type: "button", onclick: cancel }, t("common.cancel")),
      errorNotice(error, i18n),
    );
  }

  function confirmView() {
    const confirm = h("button", { className: "button primary block", type: "submit" }, t("bind.confirm"));
    resend ??= sendCodeButton({ i18n, send: resendCode, className: "button link touch", alreadySent: true });
    resend.refresh();
    return h(
      "form",
      { className: "card form", novalidate: true, onsubmit: (event) => confirmCode(event, confirm) },
      h("h2", { className: "card-title" }, t("bind.check_title")),
      h(
        "div",
        { className: "destination" },
        h("div", { className: "wechat-mark", "aria-hidden": "true" }, "W"),
        h(
          "div",
          {},
          h("p", { className: "destination-name", "data-testid": "bind-nickname" }, binding.nickname),
          h("p", { className: "muted small mono id" }, binding.openid),
        ),
      ),
      h("p", { className: "muted small" }, t("bind.check_hint")),
      h("div", { className: "field" }, h("label", { for: "bind-code" }, t("bind.code")), codeInput),
      errorNotice(error, i18n),
      confirm,
      h("p", { className: "center" }, resend.element),
      demoOutbox(context),
    );
  }

  function activeView() {
    const unbind = h(
      "button",
      { className: "button danger block", type: "button", onclick: askPinToUnbind },
      t("bind.unbind"),
    );
    return h(
      "div",
      { className: "card" },
      h("p", { className: "notice notice-success" }, t("bind.bound")),
      h(
        "div",
        { className: "destination" },
        h("div", { className: "wechat-mark", "aria-hidden": "true" }, "W"),
        h(
          "div",
          {},
          h("p", { className: "destination-name", "data-testid": "bind-nickname" }, binding.nickname),
          h("p", { className: "muted small mono id" }, binding.openid),
          binding.activated_at &&
            h(
              "p",
              { className: "muted small" },
              t("bind.since", { at: formatDateTime(binding.activated_at, i18n.locale) }),
            ),
        ),
      ),
      errorNotice(error, i18n),
      h("a", { className: "button primary block", href: "#/withdraw" }, t("my.withdraw")),
      unbind,
    );
  }

  async function begin(button) {
    // Opened during the tap, so popup blockers let it through; pointed at
    // WeChat once the gateway has answered.
    popup = window.open("about:blank", POPUP_NAME, POPUP_FEATURES);
    setBusy(button, true);
    error = null;
    try {
      const started = await api.post("/v1/bindings/wechat", {});
      authorizeUrl = started.authorize_url;
      binding = { id: started.binding_id, status: started.status };
      if (popup && !popup.closed) popup.location.href = authorizeUrl;
      poll();
    } catch (failure) {
      popup?.close();
      error = failure;
    }
    render();
  }

  /** Watches the binding until WeChat's redirect has reached the gateway. */
  function poll() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const latest = await api.get(`/v1/bindings/${binding.id}`);
        if (latest.status === "authorizing") {
          poll();
          return;
        }
        binding = latest;
        error = null;
        popup?.close();
        popup = null;
        render();
        if (latest.status === "pending_confirmation") codeInput.focus();
      } catch (failure) {
        error = failure;
        render();
        if (!failure.outcomeUnknown) return;
        poll();
      }
    }, POLL_MS);
  }

  function cancel() {
    clearTimeout(timer);
    popup?.close();
    binding = null;
    render();
  }

  async function confirmCode(event, button) {
    event.preventDefault();
    setBusy(button, true);
    try {
      binding = await api.post(`/v1/bindings/${binding.id}/confirm`, { sms_code: codeInput.value.trim() });
      error = null;
      codeInput.value = "";
      toast(t("bind.done", { nickname: binding.nickname }));
    } catch (failure) {
      error = failure;
      // Too many wrong codes or an expired step end the attempt: show where it stands.
      if (["SMS_CODE_EXPIRED", "BINDING_EXPIRED", "NO_PENDING_BINDING"].includes(failure.code)) await refreshBinding();
    }
    render();
  }

  async function refreshBinding() {
    try {
      binding = await api.get(`/v1/bindings/${binding.id}`);
    } catch {
      // Keep what is shown; the error above already says what went wrong.
    }
  }

  /** Texts the binding's code again: true when it went, the seconds to wait when refused for the rate. */
  async function resendCode() {
    try {
      const sent = await api.post("/v1/sms/codes", { purpose: "bind_wechat" });
      error = null;
      toast(t("sms.sent", { to: sent.sent_to }));
      return true;
    } catch (failure) {
      error = failure;
      render();
      return failure.code === "RATE_LIMITED" ? (failure.retryAfterSecs ?? 0) : false;
    }
  }

  function askPinToUnbind() {
    pinSheet({
      i18n,
      title: t("bind.unbind_pin"),
      async onPin(pin, sheet) {
        sheet.setBusy(true);
        try {
          await api.delete(`/v1/bindings/${binding.id}`, { pin });
          sheet.close();
          toast(t("bind.unbound"));
          binding = null;
          render();
        } catch (failure) {
          sheet.showMessage(h("p", { className: "notice notice-error", role: "alert" }, describeError(failure, i18n)));
          sheet.clear();
          sheet.setBusy(failure.code === "PIN_LOCKED");
        }
      },
    });
  }

  load();
  return {
    element,
    title: "bind.screen_title",
    back: "#/my",
    refresh: render,
    dispose() {
      clearTimeout(timer);
      resend?.dispose();
    },
  };
}
