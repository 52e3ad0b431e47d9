// Topping up by phone number: the console finds the account, shows whose
// wallet (the verified name and the phone, masked) and how much before
// anything moves, and sends one Idempotency-Key per intended credit, so a
// double Enter credits once.

import { test, expect } from "../support/fixtures.js";
import { newUser, verifiedIdentity, wallet } from "../support/api.js";
import { logInToConsole } from "../support/fixtures.js";

test("console: a top-up by phone shows the masked name and the amount first, and a double Enter credits once", async ({
  opsPage,
}) => {
  const user = await newUser();
  await verifiedIdentity(user);
  await logInToConsole(opsPage);
  await opsPage.getByRole("link", { name: "Top up a demo wallet" }).click();
  const keys = [];
  await opsPage.route("**/v1/ops/accounts/*/credit", async (route) => {
    keys.push(route.request().headers()["idempotency-key"]);
    // A slow answer, so the second Enter lands while the first is under way.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await route.continue();
  });
  await opsPage.getByLabel("Phone number or account ID").fill(user.phone);
  await opsPage.getByLabel("Amount (yuan)").fill("12.3");
  await opsPage.getByLabel("Amount (yuan)").press("Enter");

  const dialog = opsPage.getByRole("dialog", { name: "Top up this wallet?" });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("**明");
  await expect(dialog).toContainText(`${user.phone.slice(0, 3)}****${user.phone.slice(7)}`);
  await expect(dialog.getByTestId("credit-confirm-amount")).toHaveText("¥12.30");
  expect((await wallet(user)).available).toBe("0.00");

  await opsPage.keyboard.press("Enter");
  await opsPage.keyboard.press("Enter");
  await expect(opsPage.getByTestId("credit-result")).toHaveText(
    `Credited ¥12.30 to ${user.accountId}. Balance now ¥12.30 available, ¥0.00 held.`,
  );
  expect((await wallet(user)).available).toBe("12.30");
  expect(keys.length).toBeGreaterThan(0);
  expect(new Set(keys).size, "one key for the one credit").toBe(1);
  expect(keys[0]).toMatch(/^[0-9a-f-]{32,36}$/);

  // Cancelling the confirmation moves nothing; an unknown phone is said so.
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  expect((await wallet(user)).available).toBe("12.30");
  await opsPage.getByLabel("Phone number or account ID").fill("13999999999");
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  await expect(opsPage.getByRole("alert")).toHaveText("We could not find that account.");
  await expect(dialog).toBeHidden();
});
