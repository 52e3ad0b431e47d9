// Dates and durations in the reader's language and time zone.

/** "2026-11-21T12:00:00Z" → "21 Nov, 20:00" / "11月21日 20:00". */
export function formatDateTime(iso, locale) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
}

/** With seconds, for logs and timelines. */
export function formatTimestamp(iso, locale) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).format(new Date(iso));
}

/** How long until `iso`, roughly: "in 3 hours" / "3小时后". */
export function formatFromNow(iso, locale) {
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ];
  const [unit, size] = units.find(([, size]) => Math.abs(seconds) >= size) ?? ["second", 1];
  return new Intl.RelativeTimeFormat(locale, { numeric: "auto" }).format(Math.round(seconds / size), unit);
}

/** A length of time in seconds: "45 s", "3 min" — short units read well in both languages. */
export function formatSeconds(seconds, locale) {
  const unit = seconds >= 3600 ? "hour" : seconds >= 60 ? "minute" : "second";
  const value = unit === "hour" ? seconds / 3600 : unit === "minute" ? seconds / 60 : seconds;
  return new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 0 }).format(
    Math.ceil(value),
  );
}
