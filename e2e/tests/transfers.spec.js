// Transfers between users: the sender finds the recipient by phone number
// and sees their masked name before paying, confirms with the PIN and sees
// the result; the recipient finds it in their history; refusals come as
// sentences; the PIN sheet's Back pays nothing; amounts keep their asset's
// places; a lost answer is retried under the same key; and the console shows
// an account's transfers.

import { test, expect, logInToConsole, loseFirstAnswer, openAppAs, tapPin } from "../support/fixtures.js";
import {
  PASSWORD,
  PIN,
  WRONG_PIN,
  newUser,
  payingUser,
  transfer,
  transfers,
  uniquePhone,
  verifiedIdentity,
  wallet,
} from "../support/api.js";

/** "13912345678" → "139****5678", as the API masks an unverified user. */
function masked(phone) {
  return `${phone.slice(0, 3)}****${phone.slice(7)}`;
}

/** Records every transfer the page sends, so a test can count them or read their keys. */
function watchTransferPosts(page) {
  const posts = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).pathname === "/v1/transfers") posts.push(request);
  });
  return posts;
}

/** From "My", opens 转账 and looks `phone` up. */
async function startTransferTo(page, phone) {
  await page.getByRole("link", { name: "Transfer", exact: true }).click();
  await expect(page.locator("#title")).toHaveText("Transfer");
  await page.getByLabel("Recipient's mobile number").fill(phone);
  await page.getByRole("button", { name: "Next" }).click();
}

test("a user sends CNY by phone number to a verified user, who finds it in their history", async ({ page }) => {
  test.setTimeout(90_000);
  const sender = await payingUser({ cny: "100.00" });
  const recipient = await newUser();
  await verifiedIdentity(recipient);
  const posts = watchTransferPosts(page);

  await test.step("home shows the balance of each asset and the way to transfer", async () => {
    await openAppAs(page, sender, "#/my");
    await expect(page.getByTestId("available")).toHaveText("¥100.00");
    await expect(page.getByTestId("available-USDT")).toHaveText("0.00");
  });

  await test.step("the recipient is looked up and shown masked before anything is paid", async () => {
    await startTransferTo(page, recipient.phone);
    await expect(page.getByTestId("recipient-name")).toHaveText("Transfer to **明");
    await expect(page.getByText("Real name verified")).toBeVisible();
    await page.getByRole("button", { name: "中文" }).click();
    await expect(page.getByTestId("recipient-name")).toHaveText("向 **明 转账");
    await expect(page.getByRole("button", { name: "确认转账" })).toBeVisible();
    await page.getByRole("button", { name: "English" }).click();
    expect(posts).toHaveLength(0);
  });

  await test.step("amount, memo and the PIN send it; the result says so", async () => {
    await expect(page.getByTestId("transfer-available")).toHaveText("Available ¥100.00");
    await page.getByLabel("Amount").fill("12.3");
    await page.getByLabel("Add a memo (optional)").fill("晚饭");
    await page.getByRole("button", { name: "Confirm transfer" }).click();
    const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
    await expect(sheet.getByText("¥12.30")).toBeVisible();
    await expect(sheet.getByText("Transfer to **明")).toBeVisible();
    await tapPin(sheet, PIN);
    await page.waitForURL(/#\/transfers\/tr_[0-9a-f]+\?sent=1$/);
    await expect(page.getByTestId("transfer-headline")).toHaveText("Transfer successful");
    await expect(page.getByTestId("transfer-amount")).toHaveText("¥12.30");
    await expect(page.getByTestId("transfer-fee")).toHaveText("¥0.00");
    await expect(page.getByTestId("transfer-counterparty")).toHaveText("**明");
    await expect(page.getByTestId("transfer-memo")).toHaveText("晚饭");
    expect(posts).toHaveLength(1);
    await page.getByRole("link", { name: "Done" }).click();
    await expect(page.getByTestId("available")).toHaveText("¥87.70");
  });

  await test.step("the recipient logs in and finds it under History, from the sender's masked number", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Phone number").fill(recipient.phone);
    await page.getByLabel(/Password/).fill(PASSWORD);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect(page.getByTestId("available")).toHaveText("¥12.30");
    await page.locator("#tabbar").getByRole("link", { name: "History" }).click();
    await page.getByRole("button", { name: "Transfers" }).click();
    const row = page.getByTestId("transfer-row");
    await expect(row).toHaveCount(1);
    await expect(row).toContainText(`From ${masked(sender.phone)}`);
    await expect(row).toContainText("+¥12.30");
    await expect(row).toContainText("晚饭");
    await expect(row.getByTestId("transfer-status")).toHaveText("Received");
    await row.click();
    await expect(page.getByTestId("transfer-headline")).toHaveText("Money received");
    await expect(page.getByTestId("transfer-counterparty")).toHaveText(masked(sender.phone));
    await expect(page.getByTestId("transfer-fee")).toHaveCount(0);
    // Back returns to the transfers, not the withdrawals.
    await page.goBack();
    await expect(page.getByTestId("transfer-row")).toHaveCount(1);
  });
});

test("a lookup that finds nobody, or oneself, shows the refusal and offers no payment", async ({ page }) => {
  const sender = await payingUser({ cny: "10.00" });
  const posts = watchTransferPosts(page);
  await openAppAs(page, sender, "#/my");

  await startTransferTo(page, "138");
  await expect(page.getByRole("alert")).toHaveText("Enter the recipient's 11-digit mobile number.");
  await page.getByLabel("Recipient's mobile number").fill(uniquePhone());
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByRole("alert")).toHaveText("No user with this phone number. Check it and try again.");
  await page.getByLabel("Recipient's mobile number").fill(sender.phone);
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByRole("alert")).toHaveText("You cannot transfer to yourself.");
  await expect(page.getByRole("button", { name: "Confirm transfer" })).toBeHidden();
  expect(posts).toHaveLength(0);
});

test("browser Back closes the PIN sheet, and a PIN typed afterwards sends nothing, nor after a second Back", async ({
  page,
}) => {
  const sender = await payingUser({ cny: "50.00" });
  const recipient = await newUser();
  const posts = watchTransferPosts(page);
  await openAppAs(page, sender, "#/my");
  await startTransferTo(page, recipient.phone);
  await expect(page.getByTestId("recipient-name")).toHaveText(`Transfer to ${masked(recipient.phone)}`);
  await page.getByLabel("Amount").fill("20");
  await page.getByRole("button", { name: "Confirm transfer" }).click();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  // Wait until the keys wake up, so the sheet is fully armed when Back comes.
  await expect(sheet.getByRole("button", { name: "1", exact: true })).toBeEnabled();

  // Back closes the sheet (a step of its own in the history), a second Back leaves the screen.
  await page.goBack();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(page).toHaveURL(/#\/transfer$/);
  await page.keyboard.type(PIN);
  await page.goBack();
  await expect(page).toHaveURL(/#\/my$/);
  await page.keyboard.type(PIN);

  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 300))));
  expect(posts).toHaveLength(0);
  expect(await transfers(sender)).toHaveLength(0);
  expect((await wallet(sender)).available).toBe("50.00");
});

test("USDT amounts keep six places: a seventh is refused in the form, six are sent exactly", async ({ page }) => {
  const sender = await payingUser({ cny: null, usdt: "5" });
  const recipient = await newUser();
  const posts = watchTransferPosts(page);
  await openAppAs(page, sender, "#/my");
  await expect(page.getByTestId("available-USDT")).toHaveText("5.00");
  await startTransferTo(page, recipient.phone);
  await page.getByRole("button", { name: "USDT" }).click();
  await expect(page.getByTestId("transfer-available")).toHaveText("Available 5.00 USDT");

  await page.getByLabel("Amount").fill("1.1234567");
  await expect(page.getByRole("alert")).toHaveText("Enter an amount in USDT with at most six decimals, e.g. 12.5.");
  await page.getByRole("button", { name: "Confirm transfer" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await page.getByLabel("Amount").fill("6");
  await page.getByRole("button", { name: "Confirm transfer" }).click();
  await expect(page.getByRole("alert")).toHaveText("Not enough balance: 5.00 USDT available, 6.00 USDT needed.");
  expect(posts).toHaveLength(0);

  await page.getByLabel("Amount").fill("1.123456");
  await page.getByRole("button", { name: "Confirm transfer" }).click();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  await expect(sheet.getByText("1.123456 USDT")).toBeVisible();
  await tapPin(sheet, PIN);
  await page.waitForURL(/#\/transfers\/tr_/);
  await expect(page.getByTestId("transfer-amount")).toHaveText("1.123456 USDT");
  expect(posts[0].postDataJSON()).toMatchObject({ asset: "USDT", amount: "1.123456", to: recipient.phone });
  const balances = (await wallet(recipient)).assets;
  expect(balances).toContainEqual({ asset: "USDT", available: "1.123456", held: "0.000000" });
});

test("a wrong PIN is asked again in the sheet; a transfer over the level's limit is refused in its asset", async ({
  page,
}) => {
  const sender = await payingUser({ cny: null, usdt: "150" });
  const recipient = await newUser();
  await openAppAs(page, sender, "#/my");
  await startTransferTo(page, recipient.phone);
  await page.getByRole("button", { name: "USDT" }).click();
  await page.getByLabel("Amount").fill("120");
  await page.getByRole("button", { name: "Confirm transfer" }).click();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  await tapPin(sheet, WRONG_PIN);
  await expect(sheet.getByRole("alert")).toHaveText("Wrong payment PIN. 4 attempts left before it locks.");
  await tapPin(sheet, PIN);
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(page.getByRole("alert")).toHaveText("That is over your per-transfer limit: 100.00 USDT left.");
  expect(await transfers(sender)).toHaveLength(0);
});

test("a transfer whose answer is lost is retried with the same key and sent once; the next one has its own", async ({
  page,
}) => {
  const sender = await payingUser({ cny: "100.00" });
  const recipient = await newUser();
  // The server receives and performs the first one; the browser never hears back.
  const keys = await loseFirstAnswer(page, "/v1/transfers");

  await openAppAs(page, sender, "#/my");
  await startTransferTo(page, recipient.phone);
  await page.getByLabel("Amount").fill("30");
  // A double tap opens one PIN sheet.
  await page.getByRole("button", { name: "Confirm transfer" }).dblclick();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  await expect(sheet).toHaveCount(1);
  await tapPin(sheet, PIN);
  await expect(sheet.getByRole("alert")).toHaveText("Could not reach the server. Check your connection and try again.");
  await sheet.getByRole("button", { name: "Try again" }).click();
  await page.waitForURL(/#\/transfers\/tr_/);
  expect(keys).toHaveLength(2);
  expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
  expect(keys[1]).toBe(keys[0]);
  expect(await transfers(sender)).toHaveLength(1);

  await page.getByRole("link", { name: "Make another transfer" }).click();
  await page.getByLabel("Recipient's mobile number").fill(recipient.phone);
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByLabel("Amount").fill("30");
  await page.getByRole("button", { name: "Confirm transfer" }).click();
  await tapPin(page.getByRole("dialog", { name: "Enter payment PIN" }), PIN);
  await page.waitForURL(/#\/transfers\/tr_/);
  expect(keys).toHaveLength(3);
  expect(keys[2]).not.toBe(keys[0]);
  expect(await transfers(sender)).toHaveLength(2);
  expect((await wallet(sender)).available).toBe("40.00");
});

test("the transfer screen fits a 320-pixel phone with touch targets of 44 pixels", async ({ page }) => {
  const sender = await payingUser({ cny: "10.00" });
  const recipient = await newUser();
  await page.setViewportSize({ width: 320, height: 640 });
  await openAppAs(page, sender, "#/my");
  await startTransferTo(page, recipient.phone);
  await page.getByRole("button", { name: "USDT" }).click();
  await page.getByLabel("Amount").fill("1234567.123456");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  for (const name of ["CNY", "USDT", "Change", "Confirm transfer"]) {
    const box = await page.getByRole("button", { name, exact: true }).boundingBox();
    expect(box.height, name).toBeGreaterThanOrEqual(44);
    expect(box.width, name).toBeGreaterThanOrEqual(44);
  }
  for (const label of ["Amount", "Add a memo (optional)"]) {
    expect((await page.getByLabel(label).boundingBox()).height, label).toBeGreaterThanOrEqual(44);
  }
});

test("console: an account's details list its transfers with their kind, asset and amount", async ({ opsPage }) => {
  const sender = await payingUser({ cny: "50.00", usdt: "2" });
  const recipient = await newUser();
  await transfer(sender, { to: recipient.phone, amount: "12.30", memo: "房租" });
  await transfer(sender, { to: recipient.phone, asset: "USDT", amount: "0.5" });
  await logInToConsole(opsPage);
  await opsPage.getByRole("link", { name: "Find an account" }).click();
  const search = opsPage.getByLabel("Phone number, email or account ID");

  await search.fill(recipient.phone);
  await opsPage.getByRole("button", { name: "Find", exact: true }).click();
  const found = opsPage.getByTestId("account-item");
  // The search has answered once the only account listed is the one asked for.
  await expect(found).toHaveCount(1);
  await expect(found).toHaveAttribute("data-account-id", recipient.accountId);
  await found.getByRole("button", { name: "Details", exact: true }).click();
  const rows = found.getByTestId("account-transfers").getByTestId("transfer-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText("Transfer in");
  await expect(rows.nth(0)).toContainText("+0.500000 USDT");
  await expect(rows.nth(1)).toContainText("+¥12.30");
  await expect(rows.nth(1)).toContainText(masked(sender.phone));
  await expect(rows.nth(1)).toContainText("房租");
  await expect(rows.nth(1)).toContainText("Completed");
  await expect(found.getByTestId("balances")).toContainText("¥12.30 available");

  await search.fill(sender.phone);
  await opsPage.getByRole("button", { name: "Find", exact: true }).click();
  await expect(found).toHaveAttribute("data-account-id", sender.accountId);
  await found.getByRole("button", { name: "Details", exact: true }).click();
  await expect(found.getByTestId("transfer-row").filter({ hasText: "Transfer out" })).toHaveCount(2);
  await expect(found.getByTestId("transfer-row").nth(1)).toContainText("-¥12.30");
  await expect(found.getByTestId("balances")).toContainText("¥37.70 available");
});
