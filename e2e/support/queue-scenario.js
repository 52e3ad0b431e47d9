// A review queue of a given length for a server of a test's own: a
// scenario file of `count` users, each with one withdrawal waiting for an
// operator (their first to their WeChat wallet), loaded at startup, and the
// console opened on it.

import { expect } from "@playwright/test";
import { ownServer } from "./own-server.js";

export const QUEUE_PASSWORD = "queue-demo-pass";
export const QUEUE_PIN = "246810";

/** The phone of the `n`th user (from 0). */
export function queuePhone(n) {
  return `1390000${String(n).padStart(4, "0")}`;
}

/** The amount of the `n`th user's withdrawal: every one different, in no order. */
export function queueAmount(n) {
  return `${((n * 37) % 500) + 1}.${String(n % 100).padStart(2, "0")}`;
}

export function queueScenario(count) {
  const lines = ["version = 1", 'name = "console-queue"', `description = "${count} withdrawals waiting for review."`];
  for (let n = 0; n < count; n += 1) {
    lines.push(
      "",
      "[[users]]",
      `name = "queued-${n}"`,
      `phone = "${queuePhone(n)}"`,
      `password = "${QUEUE_PASSWORD}"`,
      'balances = { CNY = "1000.00" }',
      `pin = "${QUEUE_PIN}"`,
      `wechat = { nickname = "用户${n}" }`,
      "",
      "[[users.withdrawals]]",
      `amount = "${queueAmount(n)}"`,
      'state = "in_review"',
    );
  }
  return `${lines.join("\n")}\n`;
}

/** A server whose queue holds `count` withdrawals. */
export function queueServer(count) {
  return ownServer({ scenario: queueScenario(count) });
}

/** Logs in to the console of `base` and opens the review queue. */
export async function openQueue(page, base) {
  await page.goto(`${base}/ops`);
  await page.getByLabel("Email").fill("ops@walletgate.test");
  await page.getByLabel("Password").fill("operator-demo");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("queue-count")).toBeVisible();
}

/** What the operator API says of one withdrawal (status, failure_reason…). */
export async function withdrawalOn(base, id) {
  const login = await fetch(`${base}/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: "ops@walletgate.test", password: "operator-demo" }),
  });
  const { access_token: token } = await login.json();
  const found = await fetch(`${base}/v1/ops/withdrawals?limit=200`, { headers: { Authorization: `Bearer ${token}` } });
  const { items } = await found.json();
  return items.find((item) => item.withdrawal.id === id)?.withdrawal ?? null;
}

/**
 * Opens in `page` the console of a server of its own whose queue holds
 * `count` withdrawals, runs `work(server)`, and stops the server.
 */
export async function withQueue(page, count, work) {
  const server = await queueServer(count);
  try {
    await openQueue(page, server.base);
    await work(server);
  } finally {
    server.stop();
  }
}
