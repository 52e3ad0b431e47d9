// Bind a WeChat wallet or an Alipay account the way the real apps do: start
// a binding, consent at (mock) WeChat or Alipay in a popup window, come back
// here while the gateway exchanges the code, then confirm with the SMS code.
// The masked nickname (and, for Alipay, the masked certified name) is shown
// for the user to check before confirming. An active binding can be unbound
// with the payment PIN. `#/bind` shows both destinations, each in its own
// card; `#/bind/wechat` and `#/bind/alipay` show one.

import { h, fill } from "/shared/dom.js";
import { describeError, errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";
import { demoOutbox } from "../outbox.js";
import { pinSheet } from "../pin-pad.js";
import { PROVIDERS, providerMark, providerNamed, providerOf } from "../providers.js";
import { sendCodeButton } from "../sms-code.js";
import { loading, setBusy } from "../ui.js";

const POLL_MS = 1000;
const POPUP_FEATURES = "popup,width=420,height=760";
const IN_PROGRESS = new Set(["authorizing", "pending_confirmation"]);
/** Codes that end the attempt: show where it stands. */
const ATTEMPT_ENDED = ["SMS_CODE_EXPIRED", "BINDING_EXPIRED", "NO_PENDING_BINDING"];

export function bindScreen(context) {
  const { api, i18n } = context;
  const only = providerNamed(context.params[0]);
  const cards = (only ? [only] : PROVIDERS).map((provider) => bindingCard(provider, context));
  const element = h("section", { className: "bind" }, loading(i18n.t));

  async function load() {
    try {
      const { items } = await api.get("/v1/bindings");
      for (const card of cards) card.show(items.filter((item) => providerOf(item) === card.provider));
      // A binding under way is what the user came back for: its card goes first.
      const first = cards.filter((card) => card.inProgress());
      fill(
        element,
        [...first, ...cards.filter((card) => !first.includes(card))].map((card) => card.element),
      );
    } catch (failure) {
      fill(element, errorNotice(failure, i18n));
    }
  }

  load();
  return {
    element,
    title: only ? `bind.screen_title.${only}` : "bind.screen_title",
    back: "#/my",
    refresh() {
      for (const card of cards) card.render();
    },
    dispose() {
      for (const card of cards) card.dispose();
    },
  };
}

/** One provider's binding: not bound (start), waiting for consent, waiting for the SMS code, or bound. */
function bindingCard(provider, context) {
  const { api, i18n, toast } = context;
  const { t } = i18n;
  const words = (key, params) => t(`${key}.${provider}`, params);
  /** Errors in this provider's terms ("error.BINDING_ALREADY_ACTIVE.alipay"), where they differ. */
  const about = { action: provider };
  let binding = null; // the binding this card shows: active, in progress, or just failed
  let authorizeUrl = null;
  let popup = null;
  let error = null;
  let timer = null;
  let resend = null; // the "send again" button of the code step, counting down

  const headingId = `bind-${provider}-title`;
  const element = h("section", {
    className: `card bind-card bind-${provider}`,
    "aria-labelledby": headingId,
    "data-testid": `bind-${provider}`,
  });
  const codeInput = h("input", {
    id: `bind-code-${provider}`,
    name: "sms_code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: 6,
  });

  function show(items) {
    binding =
      items.find((item) => item.status === "active") ?? items.find((item) => IN_PROGRESS.has(item.status)) ?? null;
    if (binding?.status === "authorizing") poll();
    render();
  }

  function render() {
    const status = binding?.status;
    if (status === "active") fill(element, activeView());
    else if (status === "authorizing") fill(element, authorizingView());
    else if (status === "pending_confirmation") fill(element, confirmView());
    else fill(element, startView());
  }

  function heading(key) {
    return h("h2", { className: "card-title", id: headingId }, words(key));
  }

  function startView() {
    const start = h(
      "button",
      { className: "button primary block", type: "button", onclick: () => begin(start) },
      words("bind.start"),
    );
    return [
      providerMark(provider),
      heading("bind.title"),
      h("p", { className: "muted" }, words("bind.explain")),
      binding?.status === "failed" &&
        h(
          "p",
          { className: "notice notice-error", role: "alert", "data-testid": "bind-failed" },
          t("bind.failed", { reason: failureReason(binding.failure_reason) }),
        ),
      errorNotice(error, i18n, about),
      start,
    ];
  }

  function failureReason(code) {
    const key = `binding_failure.${code}`;
    return i18n.has(key) ? t(key, { provider: t(`provider.${provider}`) }) : t("binding_failure.unknown");
  }

  function authorizingView() {
    return [
      heading("bind.title"),
      h(
        "div",
        { "aria-live": "polite" },
        h("p", {}, h("span", { className: "spinner" }), " ", words("bind.waiting")),
        h("p", { className: "muted small" }, words("bind.waiting_hint")),
      ),
      authorizeUrl &&
        h(
          "a",
          {
            className: "button block",
            href: authorizeUrl,
            target: `${provider}-consent`,
            "data-testid": `open-${provider}`,
          },
          words("bind.open_again"),
        ),
      h("button", { className: "button link touch", type: "button", onclick: cancel }, t("common.cancel")),
      errorNotice(error, i18n, about),
    ];
  }

  function confirmView() {
    const confirm = h("button", { className: "button primary block", type: "submit" }, t("bind.confirm"));
    resend ??= sendCodeButton({ i18n, send: resendCode, className: "button link touch", alreadySent: true });
    resend.refresh();
    return h(
      "form",
      { className: "form", novalidate: true, onsubmit: (event) => confirmCode(event, confirm) },
      heading("bind.check_title"),
      destination(),
      h("p", { className: "muted small" }, words("bind.check_hint")),
      h("div", { className: "field" }, h("label", { for: codeInput.id }, t("bind.code")), codeInput),
      errorNotice(error, i18n, about),
      confirm,
      h("p", { className: "center" }, resend.element),
      demoOutbox(context),
    );
  }

  /** Whose wallet it is: the provider's mark, the masked nickname and id, Alipay's certified name. */
  function destination(...more) {
    return h(
      "div",
      { className: "destination" },
      providerMark(provider),
      h(
        "div",
        {},
        h("p", { className: "destination-name", "data-testid": "bind-nickname" }, binding.nickname),
        binding.real_name &&
          h("p", { className: "muted small", "data-testid": "bind-real-name" }, t("bind.real_name", binding)),
        h("p", { className: "muted small mono id" }, binding.openid),
        ...more,
      ),
    );
  }

  function activeView() {
    const unbind = h(
      "button",
      { className: "button danger block", type: "button", onclick: askPinToUnbind },
      words("bind.unbind"),
    );
    return [
      heading("bind.name"),
      h("p", { className: "notice notice-success" }, words("bind.bound")),
      destination(
        binding.activated_at &&
          h(
            "p",
            { className: "muted small" },
            t("bind.since", { at: formatDateTime(binding.activated_at, i18n.locale) }),
          ),
      ),
      errorNotice(error, i18n, about),
      h("a", { className: "button primary block", href: `#/withdraw?to=${provider}` }, words("withdraw.go")),
      unbind,
    ];
  }

  async function begin(button) {
    // Opened during the tap, so popup blockers let it through; pointed at
    // the provider once the gateway has answered.
    popup = window.open("about:blank", `${provider}-consent`, POPUP_FEATURES);
    setBusy(button, true);
    error = null;
    try {
      const started = await api.post(`/v1/bindings/${provider}`, {});
      authorizeUrl = started.authorize_url;
      binding = { id: started.binding_id, provider, status: started.status };
      if (popup && !popup.closed) popup.location.href = authorizeUrl;
      poll();
    } catch (failure) {
      popup?.close();
      error = failure;
    }
    render();
  }

  /** Watches the binding until the provider's redirect has reached the gateway. */
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
      toast(words("bind.done", { nickname: binding.nickname }));
    } catch (failure) {
      error = failure;
      if (ATTEMPT_ENDED.includes(failure.code)) await refreshBinding();
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
      const sent = await api.post("/v1/sms/codes", { purpose: `bind_${provider}` });
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
      title: words("bind.unbind_pin"),
      async onPin(pin, sheet) {
        sheet.setBusy(true);
        try {
          await api.delete(`/v1/bindings/${binding.id}`, { pin });
          sheet.close();
          toast(words("bind.unbound"));
          binding = null;
          render();
        } catch (failure) {
          sheet.showMessage(
            h("p", { className: "notice notice-error", role: "alert" }, describeError(failure, i18n, about)),
          );
          sheet.clear();
          sheet.setBusy(failure.code === "PIN_LOCKED");
        }
      },
    });
  }

  return {
    provider,
    element,
    show,
    render,
    inProgress: () => IN_PROGRESS.has(binding?.status),
    dispose() {
      clearTimeout(timer);
      resend?.dispose();
    },
  };
}
