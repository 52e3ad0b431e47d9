// The bundled two-assets scenario (scenarios/two-assets.toml) in the app, on
// a server of this test's own that loads the file at startup: its users log
// in with the file's passwords, see the file's balances in both assets, and
// send each other the least USDT there is with the file's PIN.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { test, expect, tapPin } from "../support/fixtures.js";
import { ownServer } from "../support/own-server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const TWO_ASSETS = readFileSync(path.join(here, "..", "..", "scenarios", "two-assets.toml"), "utf8");

async function logIn(page, base, phone, password) {
  await page.goto(`${base}/app#/login`);
  await page.getByLabel("Phone number").fill(phone);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
}

test("two-assets scenario: Zhao sends Qian 0.000001 USDT with the file's PIN, and both see it", async ({ page }) => {
  test.setTimeout(90_000);
  const server = await ownServer({ scenario: TWO_ASSETS });
  try {
    await test.step("Zhao logs in with the file's password and sees its balances", async () => {
      await logIn(page, server.base, "13900000301", "zhao-assets");
      await expect(page.getByTestId("available")).toHaveText("¥50,000.00");
      await expect(page.getByTestId("available-USDT")).toHaveText("2,500.00");
    });

    await test.step("Qian is found by phone, shown by the masked verified name, and paid", async () => {
      await page.getByRole("link", { name: "Transfer", exact: true }).click();
      await page.getByLabel("Recipient's mobile number").fill("13900000302");
      await page.getByRole("button", { name: "Next" }).click();
      await expect(page.getByTestId("recipient-name")).toHaveText("Transfer to **多");
      await page.getByRole("button", { name: "USDT" }).click();
      await page.getByLabel("Amount").fill("0.000001");
      await page.getByRole("button", { name: "Confirm transfer" }).click();
      const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
      await expect(sheet.getByText("0.000001 USDT")).toBeVisible();
      await tapPin(sheet, "258369");
      await page.waitForURL(/#\/transfers\/tr_/);
      await expect(page.getByTestId("transfer-headline")).toHaveText("Transfer successful");
      await expect(page.getByTestId("transfer-amount")).toHaveText("0.000001 USDT");
    });

    await test.step("Qian logs in and sees the millionth added to the file's 12.5 USDT", async () => {
      await page.goto(`${server.base}/app#/my`);
      await page.getByRole("button", { name: "Log out" }).click();
      await expect(page).toHaveURL(/#\/login$/);
      await logIn(page, server.base, "13900000302", "qian-assets");
      await expect(page.getByTestId("available")).toHaveText("¥800.00");
      await expect(page.getByTestId("available-USDT")).toHaveText("12.500001");
    });
  } finally {
    server.stop();
  }
});
