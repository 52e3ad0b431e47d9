// Money as the API sends it: strings at their asset's places, yuan with two
// decimals ("1234.50"), USDT with six ("12.345678"). In here an amount is a
// whole number of its asset's smallest unit (fen, or millionths of a USDT)
// in a BigInt, so no float ever touches it.

/** The decimal places every amount of an asset keeps (src/domain/asset.rs). */
export const ASSET_PLACES = { CNY: 2, USDT: 6 };
export const ASSETS = Object.keys(ASSET_PLACES);

const AMOUNT = /^(-)?(\d{1,13})(?:\.(\d+))?$/;
/** Places shown at least when trailing zeros are trimmed: "12.50 USDT", never "12.5 USDT". */
const TRIMMED_PLACES_MIN = 2;

function placesOf(asset) {
  const places = ASSET_PLACES[asset];
  if (places === undefined) throw new Error(`unknown asset ${asset}`);
  return places;
}

/**
 * "12.5" of USDT → 12500000n; "100.5" of CNY → 10050n. Anything that is not
 * a plain decimal, or has more places than the asset keeps, → null (never
 * rounded).
 */
export function parseUnits(text, asset) {
  const places = placesOf(asset);
  const match = AMOUNT.exec(String(text ?? "").trim());
  if (!match) return null;
  const [, minus, whole, decimals = ""] = match;
  if (decimals.length > places) return null;
  const units = BigInt(whole) * 10n ** BigInt(places) + BigInt(decimals.padEnd(places, "0") || "0");
  return minus ? -units : units;
}

/** 12500000n of USDT → "12.500000", the API's wire form. */
export function unitsToWire(units, asset) {
  const places = placesOf(asset);
  const scale = 10n ** BigInt(places);
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const fraction = places ? `.${String(abs % scale).padStart(places, "0")}` : "";
  return `${negative ? "-" : ""}${abs / scale}${fraction}`;
}

/** "100", "100.5" or "100.50" → 10050n; anything else (or "") → null. */
export function parseFen(text) {
  return parseUnits(text, "CNY");
}

/** 10050n → "100.50", the API's wire form. */
export function fenToWire(fen) {
  return unitsToWire(fen, "CNY");
}

/**
 * "1234.5" → "1,234.50" (no currency sign), at the asset's places; with
 * `trim`, zeros after the second place are left off ("12.500000" USDT →
 * "12.50"), which changes nothing of the value.
 */
export function formatAmount(text, asset = "CNY", { trim = false } = {}) {
  const units = parseUnits(text, asset);
  if (units === null) return String(text ?? "");
  let [whole, fraction = ""] = unitsToWire(units, asset).split(".");
  if (trim) fraction = fraction.replace(/0+$/, "").padEnd(Math.min(TRIMMED_PLACES_MIN, fraction.length), "0");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${digits}${fraction ? `.${fraction}` : ""}`;
}

/** "1234.5" → "¥1,234.50"; a signed change keeps its sign in front: "-¥7.00". */
export function formatMoney(text) {
  const formatted = formatAmount(text);
  return formatted.startsWith("-") ? `-¥${formatted.slice(1)}` : `¥${formatted}`;
}

/**
 * An amount of `asset` as people read it: CNY as `formatMoney`, others with
 * their code after ("12.345678 USDT", "-1.500000 USDT"); `trim` as in
 * `formatAmount`.
 */
export function formatAsset(text, asset, { trim = false } = {}) {
  if (asset === "CNY" || !asset) return formatMoney(text);
  return `${formatAmount(text, asset, { trim })} ${asset}`;
}

/** The smaller of several amounts given as strings, as a string. */
export function minAmount(...texts) {
  const values = texts.map(parseFen).filter((fen) => fen !== null);
  if (values.length === 0) return null;
  return fenToWire(values.reduce((a, b) => (b < a ? b : a)));
}
