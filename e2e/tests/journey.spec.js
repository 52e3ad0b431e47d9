// The whole story in two browsers: a new user registers, binds WeChat
// through the consent page, sets a PIN, gets one wrong, withdraws; the
// operator console tops the wallet up and approves the withdrawal; the app
// watches it settle live. Screenshots of the main screens are saved on the way.

import { test, expect, snap, tapPin, logInToConsole } from "../support/fixtures.js";
import { PASSWORD, PIN, WRONG_PIN, latestCode, uniquePhone } from "../support/api.js";

test("a new user binds WeChat, sets a PIN and withdraws; the operator approves and the app shows it settled", async ({
  page,
  opsPage,
}) => {
  test.setTimeout(120_000);
  const phone = uniquePhone();
  let accountId;

  await test.step("register in the app", async () => {
    await page.goto("/app");
    await expect(page.getByRole("heading", { name: "Log in with your phone" })).toBeVisible();
    await snap(page, "app-login");
    await page.getByRole("link", { name: "New here? Create an account" }).click();
    await page.getByLabel("Phone number").fill(phone);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("checkbox", { name: /I have read and agree/ }).check();
    await snap(page, "app-register");
    await page.getByRole("button", { name: "Get SMS code" }).click();
    await expect(page.getByTestId("register-sent-to")).toBeVisible();
    // The six boxes send the code themselves once it is all in.
    await page.getByLabel("SMS code").fill(await latestCode(phone, "register"));
    await expect(page.getByTestId("available")).toHaveText("¥0.00");
    accountId = (await page.getByTestId("account-id").textContent()).trim();
  });

  await test.step("the operator tops the new wallet up from the console", async () => {
    await logInToConsole(opsPage);
    await opsPage.getByRole("link", { name: "Top up a demo wallet" }).click();
    await opsPage.getByLabel("Phone number or account ID").fill(accountId);
    await opsPage.getByLabel("Amount (yuan)").fill("500");
    await opsPage.getByRole("button", { name: "Check and top up" }).click();
    await opsPage.getByRole("dialog").getByRole("button", { name: "Top up ¥500.00" }).click();
    await expect(opsPage.getByTestId("credit-result")).toContainText("Balance now ¥500.00 available");
  });

  await test.step("My shows the balance, level, limits and free quota", async () => {
    await page.reload();
    await expect(page.getByTestId("available")).toHaveText("¥500.00");
    await expect(page.getByTestId("held")).toHaveText("¥0.00");
    await expect(page.getByText("Unverified (L0)").first()).toBeVisible();
    await expect(page.getByTestId("daily-left")).toHaveText("¥1,000.00");
    await expect(page.getByTestId("monthly-left")).toHaveText("¥3,000.00");
    await snap(page, "app-my");
  });

  await test.step("bind WeChat through the consent page and the SMS code", async () => {
    await page.getByRole("link", { name: /WeChat wallet/ }).click();
    const popupOpened = page.waitForEvent("popup");
    await page.getByRole("button", { name: "Bind WeChat" }).click();
    const consent = await popupOpened;
    await consent.waitForURL(/\/mock\/wechat\/connect\/oauth2\/authorize/);
    await expect(page.getByText("Confirm in the WeChat window…")).toBeVisible();
    await consent.getByPlaceholder(/nickname/).fill("张三丰");
    await consent.getByRole("button", { name: /Allow/ }).click();
    // The app notices the authorization by itself and closes the window.
    await expect(page.getByTestId("bind-nickname")).toHaveText("张*丰");
    await expect.poll(() => consent.isClosed()).toBe(true);
    await page.getByRole("button", { name: "Show the SMS outbox" }).click();
    const code = (await page.getByTestId("outbox-code").first().textContent()).trim();
    await page.getByLabel("SMS code").fill(code);
    await page.getByRole("button", { name: "Confirm binding" }).click();
    await expect(page.getByText("Withdrawals go to this WeChat wallet.")).toBeVisible();
    await expect(page.getByTestId("bind-nickname")).toHaveText("张*丰");
    await snap(page, "app-bind");
  });

  await test.step("set the payment PIN with an SMS code", async () => {
    await page.goto("/app#/pin");
    await page.getByRole("button", { name: "Get code" }).click();
    await expect(page.getByText(/Code sent to 139\*\*\*\*/)).toBeVisible();
    await page.getByRole("button", { name: "Show the SMS outbox" }).click();
    await expect(page.getByTestId("outbox-code").first()).toBeVisible();
    await page.getByLabel("SMS code").fill((await page.getByTestId("outbox-code").first().textContent()).trim());
    await expect(page.getByTestId("pin-step")).toHaveText("Choose a new 6-digit PIN");
    await tapPin(page, PIN);
    await expect(page.getByTestId("pin-step")).toHaveText("Enter the new PIN again");
    await tapPin(page, PIN);
    await expect(page.getByText("Payment PIN set.")).toBeVisible();
    await expect(page.getByRole("link", { name: /Payment PIN\s*Set/ })).toBeVisible();
  });

  let withdrawalId;
  await test.step("quote live, then a wrong PIN shows the attempts left, then the right one withdraws", async () => {
    await page.getByRole("link", { name: "Withdraw", exact: true }).click();
    await page.getByLabel("Amount").fill("100");
    const quote = page.getByTestId("quote");
    await expect(quote.getByTestId("quote-fee-line")).toHaveText("Fee ¥0.00 (within your WeChat fee-free quota)");
    await expect(quote.getByTestId("quote-arrival")).toHaveText(/^by \d+ \w+, \d\d:\d\d$/);
    await expect(quote.getByTestId("quote-review")).toHaveText(
      "An operator reviews it first: First withdrawal to this WeChat.",
    );
    await snap(page, "app-withdraw-quote");
    await page.getByRole("button", { name: "Limits" }).click();
    const limits = page.getByRole("dialog", { name: "Limits and fees" });
    await expect(limits.getByTestId("quote-daily")).toHaveText("¥900.00");
    await expect(limits.getByTestId("quote-count")).toHaveText("4 withdrawals");
    await expect(limits.getByTestId("quote-free")).toHaveText("¥900.00");
    await limits.getByRole("button", { name: "OK" }).click();
    await expect(limits).toHaveCount(0);

    await page.getByRole("button", { name: "Confirm withdrawal" }).click();
    const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
    await expect(sheet).toBeVisible();
    await expect(sheet.getByText("Withdraw to WeChat 张*丰")).toBeVisible();
    await expect(sheet.getByTestId("sheet-fee")).toHaveText("Fee ¥0.00 · total debited ¥100.00");
    await snap(page, "app-pin-pad");
    await tapPin(sheet, WRONG_PIN);
    await expect(sheet.getByRole("alert")).toHaveText("Wrong payment PIN. 4 attempts left before it locks.");
    await tapPin(sheet, PIN);
    await page.waitForURL(/#\/status\/wd_/);
    withdrawalId = page.url().split("/").pop();
    await expect(page.getByTestId("status")).toHaveText("In review");
    await expect(page.getByText("Live", { exact: true })).toBeVisible();
  });

  await test.step("the operator sees it in the queue, with reasons and context, and approves", async () => {
    await opsPage.getByRole("link", { name: "Review queue" }).click();
    const item = opsPage.locator(`[data-testid="queue-item"][data-withdrawal-id="${withdrawalId}"]`);
    await expect(item).toBeVisible();
    await expect(item.getByText("First withdrawal to this WeChat")).toBeVisible();
    // Its details open under it once it is the current row.
    await item.getByText("First withdrawal to this WeChat").click();
    await expect(item.getByText(accountId)).toBeVisible();
    await expect(item.getByText("¥400.00 available · ¥100.00 held")).toBeVisible();
    await snap(opsPage, "ops-queue");
    await item.getByRole("button", { name: "Approve" }).click();
    await opsPage
      .getByRole("dialog", { name: "Approve this withdrawal?" })
      .getByRole("button", { name: "Approve" })
      .click();
    await expect(item).toHaveCount(0);
    const decided = opsPage.locator(`[data-testid="decided-item"][data-withdrawal-id="${withdrawalId}"]`);
    await expect(decided.getByTestId("history")).toContainText("acc_demo_operator");
  });

  await test.step("the app shows it settled, live, without a reload", async () => {
    await expect(page.getByTestId("status")).toHaveText("Settled", { timeout: 15_000 });
    await expect(page.getByTestId("status-sentence")).toHaveText("Arrived in WeChat wallet 张*丰.");
    await expect(page.getByText("WeChat Pay bill")).toBeVisible();
    await snap(page, "app-status-settled");
  });

  await test.step("history lists it and filters by status", async () => {
    await page.getByRole("link", { name: "History" }).click();
    await expect(page.getByTestId("statement-row")).toHaveCount(2);
    await page.getByRole("button", { name: "Withdrawals" }).click();
    const rows = page.getByTestId("history-row");
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText("-¥100.00");
    await expect(rows.first().getByTestId("status")).toHaveText("Settled");
    await page.getByRole("button", { name: "Rejected" }).click();
    await expect(page.getByText("No withdrawals with this status.")).toBeVisible();
    await page.getByRole("button", { name: "Settled" }).click();
    await expect(rows).toHaveCount(1);
    await snap(page, "app-history");
    await page.getByRole("link", { name: "My" }).click();
    await expect(page.getByTestId("available")).toHaveText("¥400.00");
  });

  await test.step("the audit log records the decisions and the ledger balances", async () => {
    await opsPage.getByRole("link", { name: "Audit log" }).click();
    const rows = opsPage.getByTestId("audit-row");
    await expect(rows.filter({ hasText: withdrawalId }).filter({ hasText: "Approve withdrawal" })).toHaveCount(1);
    await expect(rows.filter({ hasText: accountId }).filter({ hasText: "Credit account" })).toHaveCount(1);
    await opsPage.getByTestId("ledger").click();
    await expect(opsPage.getByTestId("ledger")).toHaveAttribute("data-state", "balanced");
    await snap(opsPage, "ops-audit-log");
  });
});
