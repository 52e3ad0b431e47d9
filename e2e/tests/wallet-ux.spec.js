// The wallet app as a Chinese wallet user expects it (issue 21): every
// movement in a statement by month, a rejected withdrawal that says the money
// came back, 提现 laid out like WeChat's 零钱提现, PIN entry that catches a weak
// PIN or a wrong code at once, a verified identity shown masked, registration
// proved by SMS, a session that survives a reload and ends on logout, and
// SMS codes that count down before they can be sent again.

import { test, expect, openAppAs, snap, tapPin } from "../support/fixtures.js";
import {
  PASSWORD,
  PIN,
  WRONG_PIN,
  call,
  latestCode,
  newUser,
  payingUser,
  readyUser,
  rejectWithdrawal,
  topUp,
  transfer,
  uniquePhone,
  verifiedIdentity,
  withdraw,
} from "../support/api.js";

/** Shows the app in Chinese from the first paint. */
async function inChinese(page) {
  await page.addInitScript(() => localStorage.setItem("walletgate.lang", "zh"));
}

/** The month a movement made now is listed under, as the reader's language names it. */
function thisMonth(locale) {
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", timeZone: "Asia/Shanghai" }).format(
    new Date(),
  );
}

test.describe("the statement (零钱明细)", () => {
  test("lists top-ups with the operator's memo, withdrawals and their return, and transfers, by month", async ({
    page,
  }) => {
    const user = await readyUser({ balance: "300.00" });
    const made = await withdraw(user, "80.00");
    await rejectWithdrawal(made.id, { reason_code: "RISK_POLICY", note: "pattern looks odd" });
    const friend = await payingUser({ cny: "50.00" });
    await transfer(user, { to: friend.phone, amount: "12.00", asset: "CNY" });
    await transfer(friend, { to: user.phone, amount: "5.00", asset: "CNY" });

    await openAppAs(page, user, "#/my");
    await page.getByRole("link", { name: /Balance statement/ }).click();
    await expect(page.locator("#title")).toHaveText("Balance statement");
    const month = page.getByTestId("statement-month");
    await expect(month).toHaveCount(1);
    await expect(month.getByRole("heading")).toHaveText(thisMonth("en-GB"));
    const rows = page.getByTestId("statement-row");
    await expect(rows).toHaveCount(5);
    const row = (kind) => page.locator(`[data-testid="statement-row"][data-kind="${kind}"]`);
    await expect(row("operator_credit")).toContainText("Top-up");
    await expect(row("operator_credit").getByTestId("statement-memo")).toHaveText("e2e top-up");
    await expect(row("operator_credit").getByTestId("statement-amount")).toHaveText("+¥300.00");
    await expect(row("withdrawal_hold")).toContainText("Withdrawal to WeChat");
    await expect(row("withdrawal_hold").getByTestId("statement-amount")).toHaveText("-¥80.00");
    await expect(row("withdrawal_release")).toContainText("Withdrawal returned");
    await expect(row("withdrawal_release").getByTestId("statement-amount")).toHaveText("+¥80.00");
    await expect(row("transfer_out").getByTestId("statement-amount")).toHaveText("-¥12.00");
    await expect(row("transfer_in").getByTestId("statement-amount")).toHaveText("+¥5.00");
    // Each transfer names the other side, masked; the month adds up what went out and came in.
    const friendMasked = `${friend.phone.slice(0, 3)}****${friend.phone.slice(7)}`;
    await expect(row("transfer_out")).toContainText(`Transfer to ${friendMasked}`);
    await expect(row("transfer_in")).toContainText(`Transfer from ${friendMasked}`);
    await expect(month.getByTestId("month-totals")).toHaveText("Out ¥92.00 In ¥385.00");
    // No operator's note, and no memo but a top-up's, reaches the statement.
    await expect(page.locator("body")).not.toContainText("pattern looks odd");

    await page.getByRole("button", { name: "中文" }).click();
    await expect(page.locator("#title")).toHaveText("零钱明细");
    await expect(month.getByRole("heading")).toHaveText(thisMonth("zh-CN"));
    await expect(row("operator_credit")).toContainText("充值");
    await expect(row("withdrawal_hold")).toContainText("零钱提现-到微信");
    await expect(row("withdrawal_release")).toContainText("提现退回");
    await expect(row("transfer_out")).toContainText(`转账-转给${friendMasked}`);
    await expect(month.getByTestId("month-totals")).toHaveText("支出 ¥92.00 收入 ¥385.00");
    await snap(page, "app-statement");

    await row("withdrawal_hold").click();
    await expect(page).toHaveURL(new RegExp(`#/status/${made.id}$`));
  });
});

test.describe("a rejected withdrawal", () => {
  test("shows the money returned and the reason as our label, never the operator's words or id", async ({ page }) => {
    const user = await readyUser({ balance: "500.00" });
    const made = await withdraw(user, "80.00");
    await rejectWithdrawal(made.id, { reason_code: "DESTINATION_MISMATCH", note: "payee name differs from the ID" });

    await inChinese(page);
    await openAppAs(page, user, `#/status/${made.id}`);
    await expect(page.getByTestId("refund")).toHaveText("已退回 ¥80.00 至余额");
    await expect(page.getByTestId("status-sentence")).toHaveText("已驳回：收款微信与本人信息不符。资金已退回余额。");
    await expect(page.getByTestId("returned-total")).toHaveText("¥80.00");
    await expect(page.getByTestId("total-debit")).toHaveCount(0);
    await expect(page.locator("body")).not.toContainText("合计扣款");
    await expect(page.locator("body")).not.toContainText("payee name differs");
    await expect(page.locator("body")).not.toContainText("acc_");
    await expect(page.locator("body")).not.toContainText("操作人");
  });

  test("with an operator's free-text reason (the old form) shows only our general label", async ({ page }) => {
    const user = await readyUser({ balance: "500.00" });
    const made = await withdraw(user, "30.00");
    await rejectWithdrawal(made.id, { reason: "you look suspicious to me" });
    await openAppAs(page, user, `#/status/${made.id}`);
    await expect(page.getByTestId("refund")).toHaveText("¥30.00 returned to your balance");
    await expect(page.getByTestId("status-sentence")).toHaveText(
      "Rejected: it could not be approved. The money is back in your balance.",
    );
    await expect(page.locator("body")).not.toContainText("suspicious");
    await expect(page.locator("body")).not.toContainText("by acc_");
  });
});

test.describe("提现 like WeChat's 零钱提现", () => {
  test("one fee line with its rate, the expected arrival, limits in a sheet, and thousand separators", async ({
    page,
  }) => {
    test.setTimeout(90_000);
    const user = await readyUser({ balance: "5000.00" });
    await verifiedIdentity(user);
    // The whole free quota (¥1,000.00) goes on a first withdrawal.
    await withdraw(user, "1000.00");

    await inChinese(page);
    await openAppAs(page, user, "#/withdraw");
    const amount = page.getByLabel("提现金额");
    await amount.fill("230");
    await expect(page.getByTestId("quote-fee-line")).toHaveText("服务费 ¥0.23（费率0.1%，微信免费额度已用完）");
    await expect(page.getByTestId("quote-arrival-line")).toContainText("预计到账微信零钱");
    await expect(page.getByTestId("quote-arrival")).toHaveText(/^\d+月\d+日 \d\d:\d\d前$/);
    await snap(page, "app-withdraw");
    // One line of fee, one of arrival: no seven equal rows.
    await expect(page.getByTestId("quote").locator("dt")).toHaveCount(0);

    await amount.fill("1234.5");
    await expect(amount).toHaveValue("1,234.5");
    await amount.fill("3,000");
    await expect(amount).toHaveValue("3,000");
    await expect(page.getByTestId("quote-fee")).toHaveText("¥3.00");

    await page.getByRole("button", { name: "限额说明" }).click();
    const sheet = page.getByRole("dialog", { name: "限额说明" });
    // What this withdrawal leaves: L1's ¥10,000.00 a day less ¥1,000.00 and ¥3,000.00.
    await expect(sheet.getByTestId("quote-daily")).toHaveText("¥6,000.00");
    await expect(sheet.getByTestId("quote-free")).toHaveText("¥0.00");
    await page.goBack();
    await expect(sheet).toHaveCount(0);
    await expect(page).toHaveURL(/#\/withdraw$/);
    await expect(page.getByRole("button", { name: "确认提现" })).toBeEnabled();
  });

  test("at 320 px a review reason stays on one line and ids never break inside", async ({ page }) => {
    await page.setViewportSize({ width: 320, height: 568 });
    const user = await readyUser({ balance: "300.00" });
    await inChinese(page);
    await openAppAs(page, user, "#/withdraw");
    await page.getByLabel("提现金额").fill("100");
    const reason = page.getByTestId("review-reason");
    await expect(reason).toHaveText("首次提现到该微信");
    expect(await reason.evaluate((element) => element.getClientRects().length)).toBe(1);

    const made = await withdraw(user, "10.00");
    await page.goto(`/app#/status/${made.id}`);
    const id = page.getByText(made.id, { exact: true });
    await expect(id).toBeVisible();
    const box = await id.evaluate((element) => ({
      lines: element.getClientRects().length,
      right: element.getBoundingClientRect().right,
    }));
    expect(box.lines).toBe(1);
    expect(box.right).toBeLessThanOrEqual(320);
    await page.goto("/app#/my");
    const accountId = page.getByTestId("account-id").locator("span");
    await expect(accountId).toHaveText(user.accountId);
    expect(await accountId.evaluate((element) => element.getClientRects().length)).toBe(1);
  });
});

test.describe("PIN entry", () => {
  test("a wrong SMS code is caught before any PIN, and a weak PIN at its first entry", async ({ page }) => {
    const user = await newUser();
    await openAppAs(page, user, "#/pin");
    await page.getByRole("button", { name: "Get code" }).click();
    await expect(page.getByText(/Code sent to/)).toBeVisible();
    const code = await latestCode(user.phone, "set_pin");
    await page.getByLabel("SMS code").fill(code === "000000" ? "111111" : "000000");
    await expect(page.getByRole("alert")).toHaveText("Wrong SMS code. 2 tries left.");
    await expect(page.getByTestId("pin-step")).toHaveText("Enter the SMS code we text to your phone.");
    await expect(page.getByLabel("SMS code")).toHaveValue("");

    await page.getByLabel("SMS code").fill(code);
    await expect(page.getByTestId("pin-step")).toHaveText("Choose a new 6-digit PIN");
    await tapPin(page, "123456");
    await expect(page.getByRole("alert")).toHaveText(
      "That PIN is too easy to guess (repeated digits, a run like 123456, or a common PIN). Choose another.",
    );
    await expect(page.getByTestId("pin-step")).toHaveText("Choose a new 6-digit PIN");
    await expect(page.locator(".pin-pad")).toHaveAttribute("data-filled", "0");
    await expect(page.locator(".pin-dots")).toHaveClass(/shake/);
    await tapPin(page, PIN);
    await tapPin(page, PIN);
    await expect(page.getByText("Payment PIN set.")).toBeVisible();
  });

  test("the PIN sheet offers Forgot PIN?, shakes and clears a wrong PIN, and is empty once locked", async ({
    page,
  }) => {
    const user = await readyUser({ balance: "300.00" });
    await openAppAs(page, user, "#/withdraw");
    await page.getByLabel("Amount").fill("50");
    await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
    await page.getByRole("button", { name: "Confirm withdrawal" }).click();
    const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
    await expect(sheet.getByRole("link", { name: "Forgot PIN?" })).toBeVisible();
    // The boxes share their borders: the last one draws no second line beside the frame's.
    const lastDot = sheet.locator(".pin-dot").last();
    await expect(lastDot).toHaveCSS("border-right-width", "0px");
    await expect(lastDot).toHaveCSS("border-left-width", "1px");

    await tapPin(sheet, WRONG_PIN);
    await expect(sheet.getByRole("alert")).toHaveText("Wrong payment PIN. 4 attempts left before it locks.");
    await expect(sheet.locator(".pin-pad")).toHaveAttribute("data-filled", "0");
    await expect(sheet.locator(".pin-dots")).toHaveClass(/shake/);
    for (let entry = 2; entry <= 5; entry++) await tapPin(sheet, WRONG_PIN);
    await expect(sheet.getByRole("alert")).toHaveText(/^Your payment PIN is locked until /);
    await expect(sheet.locator(".pin-pad")).toHaveAttribute("data-filled", "0");
    await expect(sheet.getByRole("link", { name: "Forgot PIN?" })).toBeVisible();
  });

  test("a sheet is a step in the history: Back closes it and stays; Back again leaves", async ({ page }) => {
    const user = await readyUser({ balance: "300.00" });
    await openAppAs(page, user, "#/my");
    await page.locator("#tabbar").getByRole("link", { name: "Withdraw" }).click();
    await page.getByLabel("Amount").fill("40");
    await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
    await page.getByRole("button", { name: "Confirm withdrawal" }).click();
    await expect(page.getByRole("dialog")).toBeVisible();
    await page.goBack();
    await expect(page.getByRole("dialog")).toHaveCount(0);
    await expect(page).toHaveURL(/#\/withdraw$/);
    await expect(page.getByLabel("Amount")).toHaveValue("40");
    // Closed by its × instead, it takes its step away: Back goes to the screen before.
    await page.getByRole("button", { name: "Confirm withdrawal" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    await expect(page.getByRole("dialog")).toHaveCount(0);
    await page.goBack();
    await expect(page).toHaveURL(/#\/my$/);
  });
});

test.describe("identity", () => {
  test("once verified, a masked card with the way up to L2, and no form with the number", async ({ page }) => {
    const user = await newUser();
    const id = await verifiedIdentity(user);
    await inChinese(page);
    await openAppAs(page, user, "#/kyc");
    const card = page.getByTestId("kyc-verified");
    await expect(card).toContainText("已实名");
    await expect(card.getByTestId("kyc-name")).toHaveText("**明");
    await expect(card.getByTestId("kyc-id")).toHaveText(`${id.slice(0, 6)}********${id.slice(-4)}`);
    await expect(page.locator("body")).not.toContainText(id);
    await expect(page.getByLabel("真实姓名")).toBeHidden();
    await card.getByRole("button", { name: "升级 L2" }).click();
    await expect(page.getByLabel("真实姓名")).toHaveValue("");
    await expect(page.getByLabel(/居民身份证号/)).toHaveValue("");
    await expect(page.getByLabel("人脸识别（模拟）")).toBeVisible();
  });

  test("an unverified level is not shown in green", async ({ page }) => {
    const user = await newUser();
    await openAppAs(page, user, "#/kyc");
    const badge = page.getByTestId("kyc-level");
    await expect(badge).toHaveText("Unverified (L0)");
    await expect(badge).not.toHaveCSS("background-color", "rgb(231, 248, 239)");
    await expect(badge).not.toHaveCSS("color", "rgb(11, 107, 58)");
  });
});

test.describe("registration", () => {
  test("shows every problem at once, asks for the agreement, and proves the phone by a code that submits itself", async ({
    page,
  }) => {
    const phone = uniquePhone();
    await page.goto("/app#/login");
    await page.getByRole("link", { name: "New here? Create an account" }).click();
    await expect(page.locator("#title")).toHaveText("Register");
    await page.getByRole("button", { name: "Get SMS code" }).click();
    await expect(page.getByText("Enter an 11-digit mainland mobile number.")).toBeVisible();
    await expect(page.getByText("The password must be 8 to 128 characters.")).toBeVisible();
    await expect(page.getByText("Read and agree to the User Agreement and Privacy Policy first.")).toBeVisible();

    await page.getByLabel("Phone number").fill(phone);
    await page.getByLabel(/password/).fill(PASSWORD);
    await page.getByRole("checkbox", { name: /I have read and agree/ }).check();
    await page.getByRole("button", { name: "Get SMS code" }).click();
    await expect(page.getByTestId("register-sent-to")).toContainText(`${phone.slice(0, 3)}****${phone.slice(7)}`);
    await expect(page.getByRole("button", { name: /^Resend \(\d+s\)$/ })).toBeDisabled();

    const code = await latestCode(phone, "register");
    await page.getByLabel("SMS code").fill(code === "000000" ? "111111" : "000000");
    await expect(page.getByRole("alert")).toHaveText("Wrong SMS code. 2 tries left.");
    await expect(page.getByLabel("SMS code")).toHaveValue("");
    await page.getByLabel("SMS code").fill(code);
    await expect(page).toHaveURL(/#\/my$/);
    await expect(page.getByTestId("available")).toHaveText("¥0.00");
  });

  test("says 注册 while registering and 登录 while logging in", async ({ page }) => {
    await inChinese(page);
    await page.goto("/app#/login");
    await expect(page.locator("#title")).toHaveText("登录");
    await page.getByRole("link", { name: "还没有账户？立即注册" }).click();
    await expect(page.locator("#title")).toHaveText("注册");
    await expect(page.getByRole("checkbox", { name: /我已阅读并同意/ })).not.toBeChecked();
  });
});

test.describe("the session", () => {
  test("survives a reload after its access token expired, renewed from the refresh cookie", async ({ page }) => {
    const user = await newUser();
    await topUp(user.accountId, "66.00");
    await page.goto("/app#/login");
    await page.getByLabel("Phone number").fill(user.phone);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect(page.getByTestId("available")).toHaveText("¥66.00");
    // No script can read the refresh token.
    expect(await page.evaluate(() => document.cookie)).not.toContain("walletgate_refresh");

    // The access token has run out (15 minutes on): the next request is refused and renewed.
    await page.evaluate(() => localStorage.setItem("walletgate.app.access_token", "expired"));
    await page.reload();
    await expect(page.getByTestId("available")).toHaveText("¥66.00");
    await expect(page).toHaveURL(/#\/my$/);
    expect(await page.evaluate(() => localStorage.getItem("walletgate.app.access_token"))).not.toBe("expired");
  });

  test("logging out revokes it: the old access token and the refresh cookie stop working", async ({ page }) => {
    const user = await newUser();
    await page.goto("/app#/login");
    await page.getByLabel("Phone number").fill(user.phone);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect(page.getByTestId("available")).toHaveText("¥0.00");
    const token = await page.evaluate(() => localStorage.getItem("walletgate.app.access_token"));
    expect((await call("GET", "/v1/wallet", { token })).status).toBe(200);

    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/#\/login$/);
    expect((await call("GET", "/v1/wallet", { token })).status).toBe(401);
    const refreshed = await page.evaluate(async () => {
      const response = await fetch("/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      return response.status;
    });
    expect([400, 401]).toContain(refreshed);
  });
});

test.describe("SMS codes", () => {
  test("the resend button counts down, 重新获取(59s)", async ({ page }) => {
    const user = await newUser();
    await inChinese(page);
    await openAppAs(page, user, "#/pin");
    await page.getByRole("button", { name: "获取验证码" }).click();
    const resend = page.getByRole("button", { name: /^重新获取\(\d+s\)$/ });
    await expect(resend).toBeDisabled();
    await expect(resend).toHaveText("重新获取(59s)");
  });

  test("a rate limit is said without stray spaces", async ({ page }) => {
    await page.route("**/v1/auth/register/code", (route) =>
      route.fulfill({
        status: 429,
        contentType: "application/json",
        headers: { "Retry-After": "28" },
        body: JSON.stringify({
          error: { code: "RATE_LIMITED", message: "slow down", details: { retry_after_secs: 28 } },
        }),
      }),
    );
    await inChinese(page);
    await page.goto("/app#/register");
    await page.getByLabel("手机号").fill(uniquePhone());
    await page.getByLabel(/登录密码/).fill(PASSWORD);
    await page.getByRole("checkbox", { name: /我已阅读并同意/ }).check();
    await page.getByRole("button", { name: "获取验证码" }).click();
    await expect(page.getByRole("alert")).toHaveText("操作过于频繁，请28秒后重试。");
  });
});
