// How the wallet app behaves around the edges: a lost answer is retried with
// the same Idempotency-Key (one withdrawal, not two), the language choice
// survives a reload, and an expired session returns to the login screen.

import { test, expect, loseFirstAnswer, openAppAs, tapPin } from "../support/fixtures.js";
import { PIN, readyUser, withdrawals } from "../support/api.js";

test("a withdrawal whose answer is lost is retried with the same key and happens once", async ({ page }) => {
  const user = await readyUser({ balance: "300.00" });
  // The server receives and performs the first one; the browser never hears back.
  const keys = await loseFirstAnswer(page, "/v1/withdrawals");

  await openAppAs(page, user, "#/withdraw");
  await page.getByLabel("Amount").fill("30");
  await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
  // A double tap opens one PIN sheet.
  await page.getByRole("button", { name: "Confirm withdrawal" }).dblclick();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  await expect(sheet).toHaveCount(1);
  await tapPin(sheet, PIN);
  await expect(sheet.getByRole("alert")).toHaveText("Could not reach the server. Check your connection and try again.");
  await sheet.getByRole("button", { name: "Try again" }).click();
  await page.waitForURL(/#\/status\/wd_/);

  expect(keys).toHaveLength(2);
  expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
  expect(keys[1]).toBe(keys[0]);
  const made = await withdrawals(user);
  expect(made).toHaveLength(1);
  expect(page.url()).toContain(made[0].id);
});

test("the language switch is remembered across reloads", async ({ page }) => {
  await page.goto("/app");
  await expect(page.getByRole("heading", { name: "Log in with your phone" })).toBeVisible();
  await page.getByRole("button", { name: "中文" }).click();
  await expect(page.getByRole("heading", { name: "手机号登录" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await page.reload();
  await expect(page.getByRole("heading", { name: "手机号登录" })).toBeVisible();
  await page.getByLabel("手机号").fill("13800000001");
  await page.getByLabel(/密码/).fill("not-the-password");
  await page.getByRole("button", { name: "登录", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("手机号或密码错误。");
  await page.getByRole("button", { name: "English" }).click();
  await expect(page.getByRole("alert")).toHaveText("The phone number or password is incorrect.");
});

test("an expired session goes back to the login screen", async ({ page }) => {
  await openAppAs(page, { token: "not-a-valid-token", phone: "13800000009" }, "#/my");
  await expect(page).toHaveURL(/#\/login$/);
  await expect(
    page.getByRole("status").filter({ hasText: "Your session has ended. Please log in again." }),
  ).toBeVisible();
  expect(await page.evaluate(() => localStorage.getItem("walletgate.app.access_token"))).toBeNull();
});
