// The shared browser modules that need no page: exact money handling (CNY
// and USDT) and the Server-Sent Events reader, run in Node.

import { test, expect } from "@playwright/test";
import { readFile } from "node:fs/promises";

/**
 * Imports a browser module from web/shared. Node would take a .js file with
 * no "type": "module" around it for CommonJS, so it is loaded by its text;
 * these two modules import nothing.
 */
async function browserModule(name) {
  const source = await readFile(new URL(`../../web/shared/${name}`, import.meta.url), "utf8");
  return import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`);
}

const { fenToWire, formatAmount, formatAsset, formatMoney, minAmount, parseFen, parseUnits, unitsToWire } =
  await browserModule("money.js");
const { readEvents } = await browserModule("events.js");

test("amounts are exact fen, with the API's wire form and the screen's", () => {
  expect(parseFen("100")).toBe(10000n);
  expect(parseFen("100.5")).toBe(10050n);
  expect(parseFen("0.07")).toBe(7n);
  expect(parseFen("-7.00")).toBe(-700n);
  for (const bad of ["", "1.234", "1e3", "abc", "1,000", ".5", "１００"]) expect(parseFen(bad), bad).toBeNull();
  expect(fenToWire(10050n)).toBe("100.50");
  expect(fenToWire(-5n)).toBe("-0.05");
  expect(formatMoney("1234567.8")).toBe("¥1,234,567.80");
  expect(formatMoney("-7.00")).toBe("-¥7.00");
  expect(minAmount("800.00", "1000.00", "999.99")).toBe("800.00");
  // 0.1 + 0.2 in floats is 0.30000000000000004; in fen it is 30.
  expect(fenToWire(parseFen("0.1") + parseFen("0.2"))).toBe("0.30");
});

test("USDT amounts are exact millionths: never rounded, trimmed for the screen without losing a digit", () => {
  expect(parseUnits("12.5", "USDT")).toBe(12_500_000n);
  expect(parseUnits("0.000001", "USDT")).toBe(1n);
  expect(parseUnits("1.1234567", "USDT")).toBeNull();
  expect(parseUnits("1.123", "CNY")).toBeNull();
  expect(unitsToWire(12_500_000n, "USDT")).toBe("12.500000");
  expect(unitsToWire(-1n, "USDT")).toBe("-0.000001");
  expect(formatAmount("1234567.5", "USDT")).toBe("1,234,567.500000");
  expect(formatAsset("12.500000", "USDT", { trim: true })).toBe("12.50 USDT");
  expect(formatAsset("0.000001", "USDT", { trim: true })).toBe("0.000001 USDT");
  expect(formatAsset("-3.000000", "USDT", { trim: true })).toBe("-3.00 USDT");
  expect(formatAsset("7", "CNY", { trim: true })).toBe("¥7.00");
  // 0.1 + 0.2 USDT in millionths is exactly 0.3.
  expect(unitsToWire(parseUnits("0.1", "USDT") + parseUnits("0.2", "USDT"), "USDT")).toBe("0.300000");
});

function streamOf(chunks) {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

test("the event-stream reader takes ids, types, multi-line data and comments, split anywhere", async () => {
  const text =
    'retry: 2000\n\n: keep-alive\n\nid: 1-0\nevent: withdrawal.created\ndata: {"a":1}\n\n' +
    "id: 2-0\r\nevent: withdrawal.settled\r\ndata: line one\r\ndata: line two\r\n\r\n" +
    "data: no id\n\n";
  const expected = [
    { id: "1-0", type: "withdrawal.created", data: '{"a":1}' },
    { id: "2-0", type: "withdrawal.settled", data: "line one\nline two" },
    { id: null, type: "message", data: "no id" },
  ];
  // Whole, one character at a time, and cut between "\r" and "\n".
  const cut = text.indexOf("\r\n") + 1;
  for (const chunks of [[text], [...text], [text.slice(0, cut), text.slice(cut)]]) {
    const events = [];
    const fields = [];
    await readEvents(streamOf(chunks), {
      onEvent: (event) => events.push(event),
      onField: (...field) => fields.push(field),
    });
    expect(events).toEqual(expected);
    expect(fields).toEqual([["retry", "2000"]]);
  }
});
