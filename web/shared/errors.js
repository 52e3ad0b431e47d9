// Turns an ApiError into one sentence for a person, chosen by its `code` and
// filled from its `details` (amounts left, lock end, attempts, retry time,
// the provider), in the current language. Never shows the raw body.
//
// `context` says what the request was about, where a code alone does not:
// `asset` (the asset its amounts are in, when `details.asset` does not say)
// and `action` (a sentence `error.<CODE>.<action>`, when there is one, wins
// over the general one: "verify your identity to transfer").

import { formatFromNow, formatDateTime, formatSeconds } from "./format.js";
import { formatAsset } from "./money.js";
import { h } from "./dom.js";

/** The sentence for `error` (an ApiError, or anything thrown). */
export function describeError(error, i18n, context = {}) {
  const { t } = i18n;
  const code = error?.code ?? "NETWORK_ERROR";
  const details = error?.details ?? {};
  const asset = details.asset ?? context.asset ?? "CNY";
  const keys = [specificKey(code, details, asset), context.action && `error.${code}.${context.action}`];
  const specific = keys.find((key) => key && i18n.has(key));
  if (specific) return t(specific, params(error, i18n, asset));
  if (code === "VALIDATION_FAILED" && !details.field) return t("error.VALIDATION_FAILED.any");
  if (i18n.has(`error.${code}`)) return t(`error.${code}`, params(error, i18n, asset));
  return t("error.UNKNOWN", { code });
}

function specificKey(code, details, asset) {
  switch (code) {
    case "VALIDATION_FAILED":
      if (details.field === "amount" && asset !== "CNY") return `error.VALIDATION_FAILED.amount.${asset}`;
      return details.field ? `error.VALIDATION_FAILED.${details.field}` : null;
    case "PIN_INCORRECT":
      return details.attempts_remaining === 1 ? "error.PIN_INCORRECT.last" : null;
    case "LOGIN_FAILED":
      return details.field === "email" ? "error.LOGIN_FAILED.email" : null;
    case "LIMIT_EXCEEDED":
      return details.limit === "daily_count" ? "error.LIMIT_EXCEEDED.daily_count" : null;
    default:
      return null;
  }
}

function params(error, i18n, asset) {
  const { t, locale } = i18n;
  const amount = (value) => (value ? formatAsset(value, asset, { trim: true }) : "");
  const details = error.details ?? {};
  const translated = (prefix, value) => (i18n.has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value);
  const retryAfter = error.retryAfterSecs ?? details.retry_after_secs ?? 1;
  return {
    ...details,
    code: error.code,
    status: details.status ? translated("status", details.status) : error.status,
    field: details.field ? translated("field", details.field) : "",
    resource: details.resource ? translated("resource", details.resource) : "",
    reason: details.reason ? translated("kyc_reason", details.reason) : "",
    limit: details.limit ? translated("limit", details.limit) : "",
    provider: translated("provider", details.provider ?? "any"),
    remaining: amount(details.remaining),
    available: amount(details.available),
    requested: amount(details.requested),
    minimum: amount(details.minimum),
    until: details.locked_until ? formatDateTime(details.locked_until, locale) : "",
    from_now: details.locked_until ? formatFromNow(details.locked_until, locale) : "",
    retry_after: formatSeconds(retryAfter, locale),
  };
}

/** An alert box with the error's sentence, or nothing for no error. */
export function errorNotice(error, i18n, context = {}) {
  if (!error) return null;
  return h("p", { className: "notice notice-error", role: "alert" }, describeError(error, i18n, context));
}
