// The simulator panel: the business clock (advanced an hour, a day or a
// week, running the work that falls due; frozen and resumed), the rules
// that force how the mock providers answer — WeChat Pay, WeChat OAuth, the
// SMS gateway — (ready-made ones a click away, or one written field by
// field, showing the fields the chosen call carries), what each has done,
// and removing them;
// and the request journal, every call the mock providers were asked, with
// the rule that shaped its answer. Served only by a simulator; elsewhere the
// panel says so.

import { h, fill } from "/shared/dom.js";
import { errorNotice } from "/shared/errors.js";
import { formatTimestamp } from "/shared/format.js";
import { formatMoney } from "/shared/money.js";

const FAIL_REASONS = [
  "ACCOUNT_FROZEN",
  "REAL_NAME_CHECK_FAIL",
  "DAY_RECEIVED_QUOTA_EXCEED",
  "MONTH_RECEIVED_QUOTA_EXCEED",
  "OPENID_INVALID",
  "NAME_NOT_CORRECT",
  "ACCOUNT_NOT_EXIST",
  "TRANSFER_RISK",
  "PAYEE_ACCOUNT_ABNORMAL",
  "TRANSFER_QUOTA_EXCEED",
  "OTHER_FAIL_REASON_TYPE",
];
const FAULTS = ["timeout", "connection_reset", "malformed_body", "empty_response"];
const RESPONDS = ["fail", "processing", "system_error", "api_error", "http_error", "fault", "as_usual"];
const TRANSFER = { operation: "wechat_pay.transfer" };

/** Each operation, with the match fields its calls carry and the answers only some allow. */
const OPERATIONS = {
  "wechat_pay.transfer": { fields: ["account", "payee", "amount"], answers: ["fail", "processing"] },
  "wechat_pay.query": { fields: ["account"], answers: [] },
  "wechat_pay.cancel": { fields: ["account"], answers: [] },
  "wechat_oauth.access_token": { fields: [], answers: ["api_error"] },
  "wechat_oauth.userinfo": { fields: ["payee"], answers: ["api_error"] },
  "sms.send": { fields: ["phone", "purpose"], answers: [] },
};
const RESTRICTED_ANSWERS = ["fail", "processing", "api_error"];

/** Ready-made rules: a message key and the rule it adds. */
const PRESETS = [
  ["sim.preset.timeout_once", { match: TRANSFER, respond: { type: "fault", fault: "timeout" }, times: 1 }],
  ["sim.preset.system_error_twice", { match: TRANSFER, respond: { type: "system_error" }, times: 2 }],
  ["sim.preset.frozen_once", { match: TRANSFER, respond: { type: "fail", fail_reason: "ACCOUNT_FROZEN" }, times: 1 }],
  ["sim.preset.processing_once", { match: TRANSFER, respond: { type: "processing" }, times: 1 }],
  [
    "sim.preset.slow",
    { match: TRANSFER, respond: { type: "as_usual" }, delay: { type: "lognormal", median_ms: 800, sigma: 0.5 } },
  ],
  [
    "sim.preset.oauth_reset_once",
    {
      match: { operation: "wechat_oauth.access_token" },
      respond: { type: "fault", fault: "connection_reset" },
      times: 1,
    },
  ],
  ["sim.preset.sms_fails_once", { match: { operation: "sms.send" }, respond: { type: "system_error" }, times: 1 }],
];

/** The clock's advance buttons: a message key and the seconds. */
const ADVANCES = [
  ["sim.clock.plus_hour", 3600],
  ["sim.clock.plus_day", 86400],
  ["sim.clock.plus_week", 7 * 86400],
];

export function simulatorView({ api, i18n, toast, changed }) {
  const { t } = i18n;
  let rules = null;
  let error = null;
  let unavailable = false;
  const clock = clockSection({ api, i18n, toast, changed });
  const journal = journalSection({ api, i18n, toast });

  const list = h("div", { "aria-live": "polite" });
  const form = ruleForm(i18n, add);
  const element = h(
    "section",
    { className: "simulator" },
    h(
      "div",
      { className: "view-head" },
      h("h1", { i18n: "sim.title" }),
      h("button", { type: "button", className: "button", onclick: () => load(), i18n: "common.refresh" }),
    ),
    clock.element,
    h(
      "section",
      { className: "panel", "aria-labelledby": "sim-rules-title" },
      h("h2", { id: "sim-rules-title", i18n: "sim.rules.title" }),
      h("p", { className: "muted small", i18n: "sim.rules.explain" }),
      h(
        "div",
        { className: "quick", role: "group", "aria-label": t("sim.presets") },
        PRESETS.map(([key, rule]) =>
          h(
            "button",
            { type: "button", className: "button", "data-testid": "sim-preset", onclick: () => add(rule) },
            t(key),
          ),
        ),
      ),
      list,
      form.element,
    ),
    journal.element,
  );

  async function load() {
    clock.load();
    journal.load();
    try {
      rules = (await api.get("/v1/sim/rules")).rules;
      error = null;
    } catch (failure) {
      unavailable = failure.status === 404;
      error = unavailable ? null : failure;
    }
    render();
  }

  async function add(rule) {
    try {
      await api.post("/v1/sim/rules", rule);
      error = null;
      toast(t("sim.rules.added"));
      await load();
      return true;
    } catch (failure) {
      error = failure;
      render();
      return false;
    }
  }

  async function remove(rule) {
    try {
      await api.delete(`/v1/sim/rules/${encodeURIComponent(rule.id)}`);
      toast(t("sim.rules.removed"));
    } catch (failure) {
      error = failure;
    }
    await load();
  }

  async function clear() {
    try {
      const cleared = await api.delete("/v1/sim/rules");
      toast(t("sim.rules.cleared", { count: cleared.removed }));
    } catch (failure) {
      error = failure;
    }
    await load();
  }

  function render() {
    if (unavailable) {
      fill(list, h("p", { className: "notice", i18n: "sim.unavailable" }));
      return;
    }
    fill(
      list,
      errorNotice(error, i18n),
      rules === null && h("p", { className: "muted", i18n: "common.loading" }),
      rules?.length === 0 && h("p", { className: "empty muted", i18n: "sim.rules.empty" }),
      rules?.length > 0 &&
        table(
          t,
          "sim-rules",
          ["sim.rules.match", "sim.rules.respond", "sim.rules.shape", "sim.rules.done", "sim.rules.actions"],
          rules.map(row),
        ),
      rules?.length > 0 &&
        h(
          "button",
          { type: "button", className: "button", onclick: clear, "data-testid": "sim-clear" },
          t("sim.rules.clear"),
        ),
    );
  }

  function row(rule) {
    return h(
      "tr",
      { "data-testid": "sim-rule", className: rule.remaining === 0 ? "muted" : null },
      h(
        "td",
        {},
        rule.description && h("div", {}, rule.description),
        h("div", { className: "mono small" }, describeMatch(rule.match)),
      ),
      h("td", { className: "mono small" }, describeRespond(rule.respond)),
      h("td", { className: "small" }, describeShape(rule, t)),
      h(
        "td",
        { className: "small" },
        t("sim.rules.matched", { count: rule.matched }),
        rule.remaining !== null && h("div", {}, t("sim.rules.remaining", { count: rule.remaining })),
      ),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            className: "button link",
            "aria-label": t("sim.rules.remove_one", { id: rule.id }),
            onclick: () => remove(rule),
          },
          t("sim.rules.remove"),
        ),
      ),
    );
  }

  load();
  return {
    element,
    title: "sim.title",
    refresh: () => {
      clock.render();
      journal.render();
      render();
    },
    reload: load,
  };
}

/** The business clock: what it reads, and the buttons that move it. */
function clockSection({ api, i18n, toast, changed }) {
  const { t } = i18n;
  let reading = null;
  let advanced = null;
  let error = null;
  let busy = false;

  const body = h("div", { "aria-live": "polite" });
  const element = h(
    "section",
    { className: "panel", "aria-labelledby": "sim-clock-title", "data-testid": "sim-clock" },
    h("h2", { id: "sim-clock-title", i18n: "sim.clock.title" }),
    h("p", { className: "muted small", i18n: "sim.clock.explain" }),
    body,
  );

  async function load() {
    try {
      reading = await api.get("/v1/sim/clock", { auth: false });
      error = null;
    } catch (failure) {
      reading = null;
      error = failure.status === 404 ? null : failure;
    }
    render();
  }

  async function act(path, body) {
    busy = true;
    render();
    try {
      const answer = await api.post(path, body);
      if (answer.clock) {
        advanced = answer;
        reading = answer.clock;
        toast(t("sim.clock.advanced", { settled: answer.work.settled, steps: answer.steps }));
      } else {
        reading = answer;
      }
      error = null;
      changed();
    } catch (failure) {
      error = failure;
    }
    busy = false;
    render();
  }

  function render() {
    if (!reading && !error) {
      fill(body);
      return;
    }
    const frozen = reading?.frozen;
    fill(
      body,
      errorNotice(error, i18n),
      reading &&
        h(
          "dl",
          { className: "inline-facts", "data-testid": "sim-clock-reading" },
          h("dt", { i18n: "sim.clock.now" }),
          h("dd", { className: "mono" }, formatTimestamp(reading.now, i18n.locale)),
          h("dt", { i18n: "sim.clock.offset" }),
          h("dd", {}, describeOffset(reading.offset_secs, t)),
          h("dt", { i18n: "sim.clock.state" }),
          h("dd", {}, t(frozen ? "sim.clock.frozen" : `sim.clock.${reading.status}`)),
        ),
      reading &&
        h(
          "div",
          { className: "quick", role: "group", "aria-label": t("sim.clock.title") },
          ADVANCES.map(([key, secs]) =>
            h(
              "button",
              {
                type: "button",
                className: "button",
                disabled: busy,
                onclick: () => act("/v1/sim/clock/advance", { by_secs: secs }),
              },
              t(key),
            ),
          ),
          h(
            "button",
            {
              type: "button",
              className: "button",
              disabled: busy,
              onclick: () => act(frozen ? "/v1/sim/clock/resume" : "/v1/sim/clock/freeze", {}),
            },
            t(frozen ? "sim.clock.resume" : "sim.clock.freeze"),
          ),
        ),
      advanced &&
        h(
          "p",
          { className: "small muted", "data-testid": "sim-clock-advanced" },
          t(advanced.complete ? "sim.clock.report" : "sim.clock.report_incomplete", {
            steps: advanced.steps,
            settled: advanced.work.settled,
            failed: advanced.work.failed,
            rejected: advanced.work.rejected,
            retried: advanced.work.retried,
          }),
        ),
    );
  }

  return { element, load, render };
}

/** The mock providers' request journal: the newest calls, and clearing it. */
function journalSection({ api, i18n, toast }) {
  const { t } = i18n;
  const PAGE = 50;
  let items = null;
  let error = null;

  const provider = h(
    "select",
    { id: "sim-journal-provider", onchange: () => load() },
    h("option", { value: "" }, t("sim.journal.any")),
    ["wechat", "wechat_pay", "sms"].map((name) => h("option", { value: name }, name)),
  );
  const body = h("div", { "aria-live": "polite" });
  const element = h(
    "section",
    { className: "panel", "aria-labelledby": "sim-journal-title" },
    h("h2", { id: "sim-journal-title", i18n: "sim.journal.title" }),
    h("p", { className: "muted small", i18n: "sim.journal.explain" }),
    h(
      "div",
      { className: "quick" },
      h("label", { for: "sim-journal-provider", i18n: "sim.journal.provider" }),
      provider,
      h("button", { type: "button", className: "button", onclick: () => load(), i18n: "common.refresh" }),
      h("button", { type: "button", className: "button", onclick: clear, i18n: "sim.journal.clear" }),
    ),
    body,
  );

  async function load() {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (provider.value) query.set("provider", provider.value);
    try {
      items = (await api.get(`/mock/requests?${query}`, { auth: false })).items;
      error = null;
    } catch (failure) {
      items = null;
      error = failure.status === 404 ? null : failure;
    }
    render();
  }

  async function clear() {
    try {
      await api.delete("/mock/requests");
      toast(t("sim.journal.cleared"));
    } catch (failure) {
      error = failure;
    }
    await load();
  }

  function render() {
    fill(
      body,
      errorNotice(error, i18n),
      items?.length === 0 && h("p", { className: "empty muted", i18n: "sim.journal.empty" }),
      items?.length > 0 &&
        table(
          t,
          "sim-journal",
          ["sim.journal.at", "sim.journal.call", "sim.journal.answer", "sim.journal.rule"],
          items.map(row),
        ),
    );
  }

  function row(entry) {
    const answer = entry.response?.fault ?? entry.response?.status ?? "—";
    return h(
      "tr",
      { "data-testid": "sim-journal-row" },
      h("td", { className: "nowrap small" }, formatTimestamp(entry.at, i18n.locale)),
      h(
        "td",
        { className: "mono small" },
        `${entry.request.method} ${entry.request.path}`,
        h("div", { className: "muted" }, `${entry.provider} · ${entry.transport}`),
      ),
      h("td", { className: "mono small" }, `${answer} · ${entry.latency_ms} ms`),
      h("td", { className: "mono small" }, entry.matched_rule ?? "—"),
    );
  }

  return { element, load, render };
}

/** One of the panel's tables: its column headings (message keys) and rows. */
function table(t, testId, headings, rows) {
  return h(
    "div",
    { className: "table-wrap" },
    h(
      "table",
      { className: "table", "data-testid": testId },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headings.map((key) => h("th", { scope: "col" }, t(key))),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

/** How far ahead of wall time, to the nearest minute (an offset is read a little after it was set). */
function describeOffset(secs, t) {
  const total = Math.round(Math.abs(secs) / 60);
  if (total === 0) return t("sim.clock.wall");
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  return t("sim.clock.ahead", { days, hours, minutes: total % 60 });
}

function describeMatch(match) {
  const parts = [match.operation];
  if (match.payee) parts.push(`payee=${match.payee}`);
  if (match.account_id) parts.push(`account=${match.account_id}`);
  if (match.out_bill_no) parts.push(`bill=${match.out_bill_no}`);
  if (match.phone) parts.push(`phone=${match.phone}`);
  if (match.purpose) parts.push(`purpose=${match.purpose}`);
  if (match.amount_min || match.amount_max) {
    parts.push(
      `${formatMoney(match.amount_min ?? "0.00")} – ${match.amount_max ? formatMoney(match.amount_max) : "∞"}`,
    );
  }
  return parts.join(" · ");
}

function describeRespond(respond) {
  switch (respond.type) {
    case "fail":
      return `FAIL ${respond.fail_reason}`;
    case "http_error":
      return `${respond.status} ${respond.code}`;
    case "api_error":
      return `errcode ${respond.errcode}`;
    case "fault":
      return respond.fault;
    default:
      return respond.type;
  }
}

function describeShape(rule, t) {
  const parts = [];
  if (rule.delay?.type === "fixed") parts.push(t("sim.delay.fixed", { ms: rule.delay.ms }));
  if (rule.delay?.type === "lognormal") {
    parts.push(t("sim.delay.lognormal", { ms: rule.delay.median_ms, sigma: rule.delay.sigma }));
  }
  if (rule.times !== null) parts.push(t("sim.times", { count: rule.times }));
  if (rule.probability !== null) parts.push(t("sim.probability", { percent: Math.round(rule.probability * 100) }));
  return parts.length > 0 ? parts.join(" · ") : "—";
}

/** The form for a rule written field by field. */
function ruleForm(i18n, add) {
  const { t } = i18n;
  const field = (id, key, input) => h("div", { className: "field" }, h("label", { for: id, i18n: key }), input);
  const select = (id, values, labelOf) =>
    h(
      "select",
      { id, name: id },
      values.map((value) => h("option", { value }, labelOf(value))),
    );

  const operation = select("sim-operation", Object.keys(OPERATIONS), (value) => value);
  const respond = select("sim-respond", RESPONDS, (value) => t(`sim.respond.${value}`));
  const reason = select("sim-reason", FAIL_REASONS, (value) => value);
  const fault = select("sim-fault", FAULTS, (value) => t(`sim.fault.${value}`));
  const status = h("input", { id: "sim-status", inputmode: "numeric", value: "429", autocomplete: "off" });
  const code = h("input", { id: "sim-code", value: "FREQUENCY_LIMITED", autocomplete: "off" });
  const errcode = h("input", { id: "sim-errcode", inputmode: "numeric", value: "40029", autocomplete: "off" });
  const errmsg = h("input", { id: "sim-errmsg", value: "invalid code", maxlength: 200, autocomplete: "off" });
  const phone = h("input", { id: "sim-phone", inputmode: "numeric", autocomplete: "off", placeholder: "138…" });
  const purpose = select("sim-purpose", ["", "set_pin", "reset_pin", "bind_wechat"], (value) => value || "—");
  const payee = h("input", { id: "sim-payee", autocomplete: "off", placeholder: "o…" });
  const account = h("input", { id: "sim-account", autocomplete: "off", placeholder: "acc_…" });
  const amountMin = h("input", {
    id: "sim-amount-min",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "0.00",
  });
  const amountMax = h("input", { id: "sim-amount-max", inputmode: "decimal", autocomplete: "off", placeholder: "∞" });
  const delay = h("input", { id: "sim-delay", inputmode: "numeric", autocomplete: "off", placeholder: "0" });
  const times = h("input", { id: "sim-times", inputmode: "numeric", autocomplete: "off", placeholder: "∞" });
  const probability = h("input", {
    id: "sim-probability",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "1",
  });
  const description = h("input", { id: "sim-description", maxlength: 200, autocomplete: "off" });
  const reasonField = field("sim-reason", "sim.form.reason", reason);
  const faultField = field("sim-fault", "sim.form.fault", fault);
  const statusField = field("sim-status", "sim.form.status", status);
  const codeField = field("sim-code", "sim.form.code", code);
  const errcodeField = field("sim-errcode", "sim.form.errcode", errcode);
  const errmsgField = field("sim-errmsg", "sim.form.errmsg", errmsg);
  const matchFields = {
    account: [field("sim-account", "sim.form.account", account)],
    payee: [field("sim-payee", "sim.form.payee", payee)],
    amount: [
      field("sim-amount-min", "sim.form.amount_min", amountMin),
      field("sim-amount-max", "sim.form.amount_max", amountMax),
    ],
    phone: [field("sim-phone", "sim.form.phone", phone)],
    purpose: [field("sim-purpose", "sim.form.purpose", purpose)],
  };
  /** The fields the chosen call carries and the answers it allows; the rest hidden (and left out). */
  const carries = (name) => OPERATIONS[operation.value].fields.includes(name);

  function showFields() {
    const allowed = OPERATIONS[operation.value].answers;
    for (const option of respond.options) {
      option.hidden = option.disabled = RESTRICTED_ANSWERS.includes(option.value) && !allowed.includes(option.value);
    }
    if (respond.selectedOptions[0]?.disabled) respond.value = "system_error";
    for (const [name, fields] of Object.entries(matchFields)) {
      for (const shown of fields) shown.hidden = !carries(name);
    }
    reasonField.hidden = respond.value !== "fail";
    faultField.hidden = respond.value !== "fault";
    statusField.hidden = codeField.hidden = respond.value !== "http_error";
    errcodeField.hidden = errmsgField.hidden = respond.value !== "api_error";
  }
  respond.addEventListener("change", showFields);
  operation.addEventListener("change", showFields);
  showFields();

  function rule() {
    const match = { operation: operation.value };
    const given = (name, input) => carries(name) && input.value.trim();
    if (given("payee", payee)) match.payee = payee.value.trim();
    if (given("account", account)) match.account_id = account.value.trim();
    if (given("amount", amountMin)) match.amount_min = amountMin.value.trim();
    if (given("amount", amountMax)) match.amount_max = amountMax.value.trim();
    if (given("phone", phone)) match.phone = phone.value.trim();
    if (given("purpose", purpose)) match.purpose = purpose.value;
    const answer = { type: respond.value };
    if (respond.value === "fail") answer.fail_reason = reason.value;
    if (respond.value === "fault") answer.fault = fault.value;
    if (respond.value === "http_error")
      Object.assign(answer, { status: Number(status.value), code: code.value.trim() });
    if (respond.value === "api_error")
      Object.assign(answer, { errcode: Number(errcode.value), errmsg: errmsg.value.trim() });
    const written = { description: description.value.trim(), match, respond: answer };
    if (delay.value.trim()) written.delay = { type: "fixed", ms: Number(delay.value) };
    if (times.value.trim()) written.times = Number(times.value);
    if (probability.value.trim()) written.probability = Number(probability.value);
    return written;
  }

  const element = h(
    "form",
    {
      className: "sim-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        if (await add(rule())) element.reset();
        showFields();
      },
    },
    h("h3", { i18n: "sim.form.title" }),
    h(
      "div",
      { className: "sim-grid" },
      field("sim-operation", "sim.form.operation", operation),
      field("sim-respond", "sim.form.respond", respond),
      reasonField,
      faultField,
      statusField,
      codeField,
      errcodeField,
      errmsgField,
      Object.values(matchFields).flat(),
      field("sim-delay", "sim.form.delay", delay),
      field("sim-times", "sim.form.times", times),
      field("sim-probability", "sim.form.probability", probability),
      field("sim-description", "sim.form.description", description),
    ),
    h("button", { type: "submit", className: "button primary", i18n: "sim.form.submit" }),
  );
  return { element };
}
