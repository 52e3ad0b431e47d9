// Identity verification: submit a real name and an 18-character resident ID
// (L1), optionally with a simulated face check (L2); show what is verified and
// what is waiting, checking again every few seconds while a request waits.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";
import { fact, loading, setBusy } from "../ui.js";

const POLL_MS = 2000;

export function kycScreen({ api, i18n }) {
  const { t } = i18n;
  let overview = null;
  let error = null;
  let timer = null;

  const status = h("div", { "aria-live": "polite" }, loading(t));
  const level = h(
    "select",
    { id: "kyc-level", name: "level", onchange: () => (face.hidden = level.value !== "L2") },
    h("option", { value: "L1", i18n: "kyc.level_l1" }),
    h("option", { value: "L2", i18n: "kyc.level_l2" }),
  );
  const realName = h("input", { id: "kyc-name", name: "real_name", autocomplete: "name", required: true });
  const idNumber = h("input", { id: "kyc-id", name: "id_number", maxlength: 18, autocomplete: "off", required: true });
  const faceCheck = h(
    "select",
    { id: "kyc-face", name: "face_check" },
    h("option", { value: "pass", i18n: "kyc.face_pass" }),
    h("option", { value: "fail", i18n: "kyc.face_fail" }),
  );
  const face = h(
    "div",
    { className: "field", hidden: true },
    h("label", { for: "kyc-face", i18n: "kyc.face" }),
    faceCheck,
  );
  const errorSlot = h("div", { "aria-live": "polite" });
  const submit = h("button", { className: "button primary block", type: "submit", i18n: "kyc.submit" });
  const form = h(
    "form",
    { className: "card form", novalidate: true, onsubmit: onSubmit, hidden: true },
    h("h2", { className: "card-title", i18n: "kyc.form_title" }),
    h("div", { className: "field" }, h("label", { for: "kyc-level", i18n: "kyc.level" }), level),
    h("div", { className: "field" }, h("label", { for: "kyc-name", i18n: "kyc.real_name" }), realName),
    h("div", { className: "field" }, h("label", { for: "kyc-id", i18n: "kyc.id_number" }), idNumber),
    face,
    errorSlot,
    submit,
  );
  const element = h("section", {}, status, form);

  async function load() {
    clearTimeout(timer);
    try {
      overview = await api.get("/v1/kyc");
      error = null;
    } catch (failure) {
      error = failure;
    }
    render();
    if (overview?.pending) timer = setTimeout(load, POLL_MS);
  }

  function render() {
    if (!overview) {
      fill(status, errorNotice(error, i18n));
      return;
    }
    const { verified, pending } = overview;
    fill(
      status,
      h(
        "div",
        { className: "card" },
        h(
          "dl",
          { className: "facts" },
          fact(
            t("kyc.current"),
            h("span", { className: "badge good", "data-testid": "kyc-level" }, t(`level.${overview.level}`)),
            null,
          ),
        ),
        verified &&
          h(
            "p",
            { className: "muted small" },
            t("kyc.verified_as", { name: verified.real_name, id: verified.id_number }),
          ),
      ),
      pending &&
        h(
          "div",
          { className: "notice notice-info", "data-testid": "kyc-pending" },
          t("kyc.pending", { level: pending.level, name: pending.real_name, id: pending.id_number }),
          pending.auto_decide_at
            ? ` ${t("kyc.auto_decide", { at: formatDateTime(pending.auto_decide_at, i18n.locale) })}`
            : "",
        ),
    );
    form.hidden = Boolean(pending) || overview.level === "L2";
    fill(errorSlot, errorNotice(error, i18n));
  }

  async function onSubmit(event) {
    event.preventDefault();
    const request = {
      level: level.value,
      real_name: realName.value.trim(),
      id_number: idNumber.value.trim().toUpperCase(),
    };
    if (level.value === "L2") request.face_check = faceCheck.value;
    setBusy(submit, true);
    error = null;
    render();
    try {
      await api.post("/v1/kyc", request);
      await load();
    } catch (failure) {
      error = failure;
      render();
    } finally {
      setBusy(submit, false);
    }
  }

  load();
  return { element, title: "kyc.title", back: "#/my", refresh: render, dispose: () => clearTimeout(timer) };
}
