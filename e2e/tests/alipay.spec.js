// Alipay beside WeChat in the wallet app: an Alipay account bound through
// the mock Alipay consent page in a popup and an SMS code; a withdrawal to
// it, chosen over WeChat (到账方式), priced by Alipay's own fee schedule
// (¥20,000 free for life) while WeChat's quota is spent, reviewed once and
// settled; an Alipay account bound to another wallet refused in words; each
// new state checked with axe-core in both languages, and at 360 and 320 px.

import { test, expect, logInToConsole, openAppAs, tapPin } from "../support/fixtures.js";
import { expectAccessible, switchTo } from "../support/a11y.js";
import {
  PIN,
  bindAlipay,
  bindWeChat,
  call,
  newUser,
  operatorToken,
  readyUser,
  setPin,
  verifiedIdentity,
  withdraw,
} from "../support/api.js";

/** A nickname no other test's mock Alipay user has, so the consent page's list shows it once. */
function uniqueNickname(prefix) {
  return `${prefix}${Math.random().toString(36).slice(2, 7)}`;
}

/** Opens the consent popup from the app's "Bind Alipay" button; returns the popup on the consent page. */
async function openAlipayConsent(page) {
  const popupOpened = page.waitForEvent("popup");
  await page.getByRole("button", { name: "Bind Alipay" }).click();
  const consent = await popupOpened;
  await consent.waitForURL(/\/mock\/alipay\/oauth2\/publicAppAuthorize\.htm\?/);
  return consent;
}

test("Alipay is bound in the app through the consent page and an SMS code, beside WeChat, and unbound with the PIN", async ({
  page,
}) => {
  test.setTimeout(90_000);
  const user = await readyUser({ balance: "100.00", nickname: "张三丰" });
  await openAppAs(page, user, "#/my");
  await expect(page.getByRole("link", { name: /WeChat wallet\s*张\*丰/ })).toBeVisible();
  await page.getByRole("link", { name: /Alipay account\s*Not bound/ }).click();
  await expect(page).toHaveURL(/#\/bind\/alipay$/);
  await expect(page.getByRole("heading", { name: "Bind your Alipay account" })).toBeVisible();

  const consent = await openAlipayConsent(page);
  const card = page.getByTestId("bind-alipay");
  await expect(card.getByText("Authorize in the Alipay window…")).toBeVisible();
  await expectAccessible(page, "bind Alipay, waiting for the consent");
  await consent.getByPlaceholder(/^昵称 nick name/).fill("支小宝");
  await consent.getByPlaceholder(/^实名 real name/).fill("李小龙");
  await consent.getByRole("button", { name: /Allow/ }).click();

  // The app notices the authorization by itself, closes the window and shows whose account it is.
  await expect(card.getByRole("heading", { name: "Is this your Alipay account?" })).toBeVisible();
  await expect(card.getByTestId("bind-nickname")).toHaveText("支*宝");
  await expect(card.getByTestId("bind-real-name")).toHaveText("Real name 李*龙");
  await expect.poll(() => consent.isClosed()).toBe(true);
  await expectAccessible(page, "bind Alipay, waiting for the SMS code");

  await card.getByRole("button", { name: "Show the SMS outbox" }).click();
  const message = card.locator(".outbox-message").first();
  await expect(message).toContainText("bind_alipay");
  await expect(message).toContainText("绑定支付宝");
  await card.getByLabel("SMS code").fill((await card.getByTestId("outbox-code").first().textContent()).trim());
  await card.getByRole("button", { name: "Confirm binding" }).click();
  await expect(card.getByText("Withdrawals can go to this Alipay account.")).toBeVisible();
  await expect(page.getByText("Alipay 支*宝 is bound.")).toBeVisible();

  // #/bind shows both destinations, each with its own way out.
  await page.goto("/app#/bind");
  await expect(page.getByTestId("bind-wechat").getByTestId("bind-nickname")).toHaveText("张*丰");
  await expect(page.getByTestId("bind-alipay").getByTestId("bind-nickname")).toHaveText("支*宝");
  await expect(page.getByRole("link", { name: "Withdraw to Alipay" })).toHaveAttribute("href", "#/withdraw?to=alipay");
  await expectAccessible(page, "both destinations bound");

  await page.goto("/app#/my");
  await expect(page.getByRole("link", { name: /Alipay account\s*支\*宝/ })).toBeVisible();
  await expect(page.getByTestId("free-quota-wechat")).toHaveText("¥1,000.00");
  await expect(page.getByTestId("free-quota-alipay")).toHaveText("¥20,000.00");
  await switchTo(page, "zh");
  await expect(page.getByRole("link", { name: /支付宝账户\s*支\*宝/ })).toBeVisible();
  await expect(page.getByText("支付宝剩余免费额度")).toBeVisible();
  await switchTo(page, "en");

  await page.goto("/app#/bind/alipay");
  await page.getByRole("button", { name: "Unbind Alipay" }).click();
  const sheet = page.getByRole("dialog", { name: "Enter your payment PIN to unbind Alipay" });
  await expect(sheet.getByRole("button", { name: "1", exact: true })).toBeEnabled();
  await tapPin(sheet, PIN);
  await expect(page.getByText("Alipay unbound.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Bind Alipay" })).toBeVisible();
  const bindings = await call("GET", "/v1/bindings", { token: user.token });
  expect(bindings.json.items.filter((item) => item.status === "active").map((item) => item.provider)).toEqual([
    "wechat",
  ]);
});

test("a withdrawal goes to Alipay chosen over WeChat, free within Alipay's quota while WeChat's is spent, and settles", async ({
  page,
  opsPage,
}) => {
  test.setTimeout(120_000);
  const user = await readyUser({ balance: "3000.00", nickname: "张三丰" });
  await verifiedIdentity(user);
  // WeChat's whole free quota (¥1,000.00) goes on a first withdrawal to WeChat.
  await withdraw(user, "1000.00");
  await bindAlipay(user, "钱多多");

  await openAppAs(page, user, "#/withdraw");
  const choice = page.getByRole("group", { name: "Withdraw to" });
  const wechat = choice.getByRole("radio", { name: /WeChat\s*张\*丰/ });
  const alipay = choice.getByRole("radio", { name: /Alipay\s*钱\*多/ });
  await expect(wechat).toBeChecked();
  await page.getByLabel("Amount").fill("500");
  await expect(page.getByTestId("quote-fee-line")).toHaveText("Fee ¥0.50 (0.1% rate; WeChat fee-free quota used up)");
  await expect(page.getByTestId("quote-arrival-line")).toContainText("Arrives in WeChat");

  await alipay.check();
  await expect(alipay).toBeChecked();
  await expect(page.getByTestId("quote-fee-line")).toHaveText("Fee ¥0.00 (within your Alipay fee-free quota)");
  await expect(page.getByTestId("quote-arrival-line")).toContainText("Arrives in Alipay");
  await expect(page.getByTestId("quote-review")).toHaveText(
    "An operator reviews it first: First withdrawal to this Alipay account.",
  );
  await page.getByTestId("withdraw-limits").click();
  const limits = page.getByRole("dialog", { name: "Limits and fees" });
  await expect(limits.getByText("Alipay fee-free quota left")).toBeVisible();
  await expect(limits.getByTestId("quote-free")).toHaveText("¥19,500.00");
  await expect(limits.getByText(/¥20,000 for life/)).toBeVisible();
  await page.goBack();
  await expect(limits).toHaveCount(0);
  await expectAccessible(page, "withdraw, Alipay chosen over WeChat");
  await switchTo(page, "zh");
  await expect(page.getByRole("group", { name: "到账方式" }).getByRole("radio", { name: /支付宝账户/ })).toBeChecked();
  await expect(page.getByTestId("quote-fee-line")).toHaveText("服务费 ¥0.00（支付宝免费额度内）");
  await expect(page.getByTestId("quote-arrival-line")).toContainText("预计到账支付宝");
  await switchTo(page, "en");

  await page.getByRole("button", { name: "Confirm withdrawal" }).click();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  await expect(sheet.getByTestId("sheet-to")).toHaveText("Withdraw to Alipay 钱*多");
  await expect(sheet.getByTestId("sheet-fee")).toHaveText("Fee ¥0.00 · total debited ¥500.00");
  await tapPin(sheet, PIN);
  await page.waitForURL(/#\/status\/wd_/);
  const withdrawalId = page.url().split("/").pop();
  await expect(page.getByTestId("status")).toHaveText("In review");
  await expect(page.getByTestId("status-sentence")).toHaveText(
    "Waiting for an operator's review: First withdrawal to this Alipay account.",
  );
  await expect(page.getByTestId("status-to")).toHaveText("Alipay 钱*多");

  // The console's queue names the destination's provider in the review reason.
  await logInToConsole(opsPage);
  await opsPage.goto("/ops#/queue");
  await opsPage.getByLabel("Phone, account ID or withdrawal ID").fill(withdrawalId);
  await opsPage.getByRole("button", { name: "Apply" }).click();
  const queued = opsPage.locator(`[data-testid="queue-item"][data-withdrawal-id="${withdrawalId}"]`);
  await expect(queued).toContainText("First withdrawal to this Alipay account");

  // The first withdrawal to a destination waits for an operator; the worker then pays Alipay.
  const operator = await operatorToken();
  const approved = await call("POST", `/v1/ops/withdrawals/${withdrawalId}/approve`, { token: operator });
  expect(approved.status).toBe(200);
  await expect
    .poll(async () => {
      await call("POST", "/v1/ops/worker/step", { token: operator });
      return (await call("GET", `/v1/withdrawals/${withdrawalId}`, { token: user.token })).json.status;
    })
    .toBe("settled");
  await expect(page.getByTestId("status")).toHaveText("Settled", { timeout: 15_000 });
  await expect(page.getByTestId("status-sentence")).toHaveText("Arrived in Alipay account 钱*多.");
  await expect(page.getByText("Alipay order number")).toBeVisible();
  await expectAccessible(page, "a withdrawal settled in Alipay");
  await switchTo(page, "zh");
  await expect(page.getByTestId("status-sentence")).toHaveText("已到账支付宝账户 钱*多。");
  await switchTo(page, "en");

  await page.goto("/app#/history?kind=withdrawals");
  await expect(page.getByTestId("history-row").filter({ hasText: "To Alipay 钱*多" })).toHaveCount(1);
  await expect(page.getByTestId("history-row").filter({ hasText: "To WeChat 张*丰" })).toHaveCount(1);
});

test("an Alipay account bound to another wallet is refused in words, in both languages", async ({ page }) => {
  const nickname = uniqueNickname("钱");
  const owner = await newUser();
  await bindAlipay(owner, nickname);

  const user = await newUser();
  await openAppAs(page, user, "#/bind/alipay");
  const consent = await openAlipayConsent(page);
  await consent.getByRole("radio", { name: new RegExp(nickname) }).check();
  await consent.getByRole("button", { name: /Allow/ }).click();

  const refusal = page.getByTestId("bind-failed");
  await expect(refusal).toHaveText("The last attempt failed: the Alipay account is bound to another wallet.");
  await expect.poll(() => consent.isClosed()).toBe(true);
  await expect(page.getByRole("button", { name: "Bind Alipay" })).toBeEnabled();
  await expectAccessible(page, "bind Alipay, refused");
  await expect(refusal).toHaveText("The last attempt failed: the Alipay account is bound to another wallet.");
  await switchTo(page, "zh");
  await expect(refusal).toHaveText("上次绑定失败：该支付宝账号已绑定其他钱包。");
});

test("with nothing bound the withdrawal screen offers WeChat and Alipay", async ({ page }) => {
  const user = await newUser();
  await setPin(user);
  await openAppAs(page, user, "#/withdraw");
  await expect(page.getByText("Bind a WeChat wallet or an Alipay account to receive the money.")).toBeVisible();
  await expect(page.getByRole("link", { name: "Bind WeChat" })).toHaveAttribute("href", "#/bind/wechat");
  await expect(page.getByRole("link", { name: "Bind Alipay" })).toHaveAttribute("href", "#/bind/alipay");
  await expectAccessible(page, "withdraw, nothing bound");
});

for (const size of [
  { width: 360, height: 640 },
  { width: 320, height: 568 },
]) {
  test(`at ${size.width}×${size.height} the choice of destination and the Alipay binding fit the screen`, async ({
    page,
  }) => {
    await page.setViewportSize(size);
    const sideways = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const user = await readyUser({ balance: "300.00", nickname: "欧阳长名字的微信" });
    await bindAlipay(user, "诸葛长名字的支付宝", "诸葛孔明");

    await openAppAs(page, user, "#/withdraw?to=alipay");
    const choice = page.getByRole("group", { name: "Withdraw to" });
    await expect(choice.getByRole("radio", { name: /Alipay/ })).toBeChecked();
    await page.getByLabel("Amount").fill("30");
    await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
    await expect(page.getByRole("button", { name: "Confirm withdrawal" })).toBeInViewport({ ratio: 1 });
    for (const option of await choice.locator("label").all()) await expect(option).toBeInViewport({ ratio: 1 });
    expect(await sideways(), "withdraw: nothing wider than the screen").toBeLessThanOrEqual(0);

    await page.goto("/app#/bind");
    await expect(page.getByTestId("bind-alipay").getByTestId("bind-nickname")).toBeVisible();
    expect(await sideways(), "bind: nothing wider than the screen").toBeLessThanOrEqual(0);

    const fresh = await newUser();
    await bindWeChat(fresh, "周小七");
    await page.goto("/healthz");
    await openAppAs(page, fresh, "#/bind/alipay");
    const start = page.getByRole("button", { name: "Bind Alipay" });
    await expect(start).toBeVisible();
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    await expect(start).toBeInViewport({ ratio: 1 });
    expect(await sideways(), "bind Alipay: nothing wider than the screen").toBeLessThanOrEqual(0);
  });
}
