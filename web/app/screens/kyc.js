// Identity verification: submit a real name and an 18-character resident ID
// (L1), optionally with a simulated face check (L2). Once verified, the
// screen is a card ("已实名 *三 110105********1239", masked as the API sends
// it) with the way up to L2; the form only comes back, empty, for that
// upgrade. A request waiting for review is checked again every few seconds.
// A rejected one is explained by its reason code in the app's own words
// (never an operator's note or id) above the form, until the next request.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatDateTime } from "/shared/format.js";
import { fact, levelBadge, loading, setBusy } from "../ui.js";

const POLL_MS = 2000;

export function kycScreen({ api, i18n }) {
  const { t } = i18n;
  let overview = null;
  let error = null;
  let timer = null;
  let upgrading = false;

  const status = h("div", { "aria-live": "polite" }, loading(t));
  const level = h(
    "select",
    { id: "kyc-level", name: "level", onchange: () => (face.hidden = level.value !== "L2") },
    h("option", { value: "L1", i18n: "kyc.level_l1" }),
    h("option", { value: "L2", i18n: "kyc.level_l2" }),
  );
  const levelField = h("div", { className: "field" }, h("label", { for: "kyc-level", i18n: "kyc.level" }), level);
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
  const formTitle = h("h2", { className: "card-title" });
  const submit = h("button", { className: "button primary block", type: "submit", i18n: "kyc.submit" });
  const form = h(
    "form",
    { className: "card form", novalidate: true, onsubmit: onSubmit, hidden: true },
    formTitle,
    levelField,
    h("div", { className: "field" }, h("label", { for: "kyc-name", i18n: "kyc.real_name" }), realName),
    h("div", { className: "field" }, h("label", { for: "kyc-id", i18n: "kyc.id_number" }), idNumber),
    face,
    errorSlot,
    submit,
  );
  const element = h("section", { className: "kyc" }, status, form);

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
    const { verified, pending, rejected } = overview;
    fill(
      status,
      verified ? verifiedCard(verified) : levelCard(),
      rejected &&
        !pending &&
        h(
          "div",
          { className: "notice notice-error", "data-testid": "kyc-rejected" },
          t("kyc.rejected", { level: rejected.level, reason: rejectionText(rejected.reason) }),
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
    // Unverified: the form straight away. Verified at L1: only after "upgrade to L2".
    const canAsk = !pending && overview.level !== "L2";
    form.hidden = !canAsk || (overview.level === "L1" && !upgrading);
    const upgrade = overview.level === "L1";
    levelField.hidden = upgrade;
    if (upgrade) level.value = "L2";
    face.hidden = level.value !== "L2";
    formTitle.textContent = t(upgrade ? "kyc.upgrade_title" : "kyc.form_title");
    fill(errorSlot, errorNotice(error, i18n));
  }

  /** The reason's words by its code; a code this app does not know reads as "not approved". */
  function rejectionText(code) {
    const key = `kyc_rejection.${code}`;
    return t(i18n.has(key) ? key : "kyc_rejection.OTHER");
  }

  function levelCard() {
    return h(
      "div",
      { className: "card" },
      h("dl", { className: "facts" }, fact(t("kyc.current"), levelBadge(overview.level, t, "kyc-level"))),
    );
  }

  /** "已实名 *三 110105********1239": what is verified, masked as the API sends it, and the way up to L2. */
  function verifiedCard(verified) {
    const canUpgrade = overview.level === "L1" && !overview.pending;
    return h(
      "div",
      { className: "card verified-card", "data-testid": "kyc-verified" },
      h(
        "div",
        { className: "verified-head" },
        h("span", { className: "verified-mark", "aria-hidden": "true" }, "✓"),
        h("p", { className: "verified-title" }, t("kyc.verified")),
        levelBadge(overview.level, t, "kyc-level"),
      ),
      h(
        "p",
        { className: "verified-identity" },
        h("span", { "data-testid": "kyc-name" }, verified.real_name),
        " ",
        h("span", { className: "mono id", "data-testid": "kyc-id" }, verified.id_number),
      ),
      canUpgrade &&
        !upgrading &&
        h("button", { type: "button", className: "button primary block", onclick: startUpgrade }, t("kyc.upgrade")),
    );
  }

  function startUpgrade() {
    upgrading = true;
    render();
    realName.focus();
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
      // Sent: the full number is not kept on screen; the API shows it masked from now on.
      realName.value = "";
      idNumber.value = "";
      upgrading = false;
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
