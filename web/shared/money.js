// Money as the API sends it: strings of yuan with two decimals ("1234.50").
// In here amounts are whole fen in a BigInt, so no float ever touches them.

const AMOUNT = /^(-)?(\d{1,13})(?:\.(\d{1,2}))?$/;

/** "100", "100.5" or "100.50" → 10050n; anything else (or "") → null. */
export function parseFen(text) {
  const match = AMOUNT.exec(String(text ?? "").trim());
  if (!match) return null;
  const [, minus, yuan, cents = ""] = match;
  const fen = BigInt(yuan) * 100n + BigInt(cents.padEnd(2, "0"));
  return minus ? -fen : fen;
}

/** 10050n → "100.50", the API's wire form. */
export function fenToWire(fen) {
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  const cents = String(abs % 100n).padStart(2, "0");
  return `${negative ? "-" : ""}${abs / 100n}.${cents}`;
}

/** "1234.5" → "1,234.50" (no currency sign). */
export function formatAmount(text) {
  const fen = parseFen(text);
  if (fen === null) return String(text ?? "");
  const [whole, cents] = fenToWire(fen).split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${digits}.${cents}`;
}

/** "1234.5" → "¥1,234.50"; a signed change keeps its sign in front: "-¥7.00". */
export function formatMoney(text) {
  const formatted = formatAmount(text);
  return formatted.startsWith("-") ? `-¥${formatted.slice(1)}` : `¥${formatted}`;
}

/** The smaller of several amounts given as strings, as a string. */
export function minAmount(...texts) {
  const values = texts.map(parseFen).filter((fen) => fen !== null);
  if (values.length === 0) return null;
  return fenToWire(values.reduce((a, b) => (b < a ? b : a)));
}
