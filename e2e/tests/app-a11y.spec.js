// Every main screen of the wallet app, checked the way a phone user meets it:
// axe-core finds no accessibility violation (contrast, names, roles…), every
// control is a touch target of at least 44 × 44 px, and on small phones
// (360 × 640 and 320 × 568) each form's primary button is in view without
// scrolling, the withdrawal's even with the keyboard up.

import { test, expect, openAppAs, tapPin } from "../support/fixtures.js";
import { expectAccessible, expectSheetAccessible, switchTo } from "../support/a11y.js";
import {
  WRONG_PIN,
  authorizeWeChat,
  newUser,
  payingUser,
  readyUser,
  rejectWithdrawal,
  transfer,
  verifiedIdentity,
  withdraw,
} from "../support/api.js";

test("the login and registration screens pass axe with no small targets", async ({ page }) => {
  await page.goto("/app#/login");
  await expect(page.getByRole("heading", { name: "Log in with your phone" })).toBeVisible();
  await expectAccessible(page, "login");
  await page.goto("/app#/register");
  await switchTo(page, "en");
  await page.getByRole("button", { name: "Get SMS code" }).click();
  await expect(page.locator(".field-error:visible")).toHaveCount(3);
  await expectAccessible(page, "register, every field refused");
});

test("My, the statement, the withdrawal and transfer lists pass axe with no small targets", async ({ page }) => {
  const user = await readyUser({ balance: "300.00" });
  const made = await withdraw(user, "20.00");
  await rejectWithdrawal(made.id, { reason_code: "RISK_POLICY", note: "an operator's own words" });
  await openAppAs(page, user, "#/my");
  await expect(page.getByTestId("available")).toHaveText("¥300.00");
  await expectAccessible(page, "my");

  await page.goto("/app#/history");
  await expect(page.getByTestId("statement-row").first()).toBeVisible();
  await expectAccessible(page, "statement");
  await page.goto("/app#/history?kind=withdrawals");
  await expect(page.getByTestId("history-row")).toHaveCount(1);
  await expectAccessible(page, "withdrawals");
  await page.goto(`/app#/status/${made.id}`);
  await expect(page.getByTestId("refund")).toBeVisible();
  await expectAccessible(page, "a rejected withdrawal");
});

test("the withdrawal screen, its limits sheet and its PIN sheet pass axe with no small targets", async ({ page }) => {
  const user = await readyUser({ balance: "300.00" });
  await openAppAs(page, user, "#/withdraw");
  await page.getByLabel("Amount").fill("30");
  await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
  await expectAccessible(page, "withdraw with a quote");

  await expectSheetAccessible(page, "the limits sheet", async () => {
    await page.getByTestId("withdraw-limits").click();
    await expect(page.getByRole("dialog")).toBeVisible();
  });
  await expectSheetAccessible(page, "the PIN sheet after a wrong PIN", async () => {
    await page.getByTestId("withdraw-confirm").click();
    const sheet = page.getByRole("dialog");
    await expect(sheet.getByRole("button", { name: "1", exact: true })).toBeEnabled();
    await tapPin(sheet, WRONG_PIN);
    await expect(sheet.getByRole("alert")).toBeVisible();
  });
});

test("identity, WeChat binding and PIN screens pass axe with no small targets", async ({ page }) => {
  const user = await newUser();
  await openAppAs(page, user, "#/kyc");
  await expect(page.getByLabel("Real name")).toBeVisible();
  await expectAccessible(page, "identity form");
  await page.goto("/app#/pin");
  await expect(page.getByTestId("pin-step")).toHaveText("Enter the SMS code we text to your phone.");
  await expectAccessible(page, "PIN code step");
  await page.goto("/app#/bind");
  await expect(page.getByRole("button", { name: "Bind WeChat" })).toBeVisible();
  await expectAccessible(page, "bind start");

  await authorizeWeChat(user, "周小七");
  await page.reload();
  await expect(page.getByTestId("bind-nickname")).toHaveText("周*七");
  await expectAccessible(page, "bind, waiting for the SMS code");

  await verifiedIdentity(user);
  await page.goto("/app#/kyc");
  await expect(page.getByTestId("kyc-verified")).toBeVisible();
  await expectAccessible(page, "identity verified");
});

test("the transfer screens pass axe with no small targets", async ({ page }) => {
  const sender = await payingUser({ cny: "100.00" });
  const recipient = await newUser();
  const sent = await transfer(sender, { to: recipient.phone, amount: "12.00", asset: "CNY", memo: "午饭" });
  await openAppAs(page, sender, "#/transfer");
  await expect(page.getByLabel("Recipient's mobile number")).toBeVisible();
  await expectAccessible(page, "transfer");
  await page.goto(`/app#/transfers/${sent.id}`);
  await expect(page.getByTestId("transfer-headline")).toBeVisible();
  await expectAccessible(page, "transfer details");
  await page.goto("/app#/history?kind=transfers");
  await expect(page.getByTestId("transfer-row")).toHaveCount(1);
  await expectAccessible(page, "transfers");
});

for (const size of [
  { width: 360, height: 640 },
  { width: 320, height: 568 },
]) {
  test(`at ${size.width}×${size.height} every form's primary button is in view without scrolling`, async ({ page }) => {
    await page.setViewportSize(size);
    const inView = async (what, button) => {
      await expect(button, what).toBeVisible();
      expect(await page.evaluate(() => window.scrollY), `${what}: scrolled`).toBe(0);
      await expect(button, `${what}: in view`).toBeInViewport({ ratio: 1 });
    };

    await page.goto("/app#/login");
    await inView("login", page.getByRole("button", { name: "Log in", exact: true }));
    await page.goto("/app#/register");
    await inView("register", page.getByRole("button", { name: "Get SMS code" }));

    const user = await readyUser({ balance: "300.00" });
    await page.goto("/healthz");
    await openAppAs(page, user, "#/withdraw");
    await page.getByLabel("Amount").fill("30");
    await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
    await inView("withdraw", page.getByRole("button", { name: "Confirm withdrawal" }));
    // An on-screen keyboard leaves a short viewport (the page is laid out for it: resizes-content).
    await page.setViewportSize({ width: size.width, height: size.height - 260 });
    await page.getByLabel("Amount").focus();
    await expect(page.getByRole("button", { name: "Confirm withdrawal" }), "withdraw, keyboard up").toBeInViewport({
      ratio: 1,
    });
    await page.setViewportSize(size);

    await page.goto("/app#/transfer");
    await inView("transfer", page.getByRole("button", { name: "Next" }));
    await page.goto("/app#/kyc");
    await inView("identity", page.getByRole("button", { name: "Submit for review" }));

    const fresh = await newUser();
    await page.goto("/healthz");
    await openAppAs(page, fresh, "#/bind");
    await inView("bind", page.getByRole("button", { name: "Bind WeChat" }));
    await page.goto("/app#/bind/alipay");
    await inView("bind Alipay", page.getByRole("button", { name: "Bind Alipay" }));
    await page.goto("/app#/pin");
    await inView("PIN", page.getByRole("button", { name: "Next" }));
  });
}
