// The PIN sheet belongs to the screen that opened it, as a step of its own in
// the browser history: Back closes it (and a second Back leaves the screen),
// a link inside it leaves with it, and digits typed afterwards move no money.

import { test, expect, openAppAs, tapPin } from "../support/fixtures.js";
import { PIN, WRONG_PIN, readyUser, wallet, withdrawals } from "../support/api.js";

/** Records every withdrawal the page asks for, so a test can say none was. */
function watchWithdrawalPosts(page) {
  const posts = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).pathname === "/v1/withdrawals") posts.push(request);
  });
  return posts;
}

/** Opens the withdrawal screen from "My" (so Back has somewhere to go) and the PIN sheet for `amount`. */
async function openSheetFor(page, user, amount) {
  await openAppAs(page, user, "#/my");
  await expect(page.locator("#title")).toHaveText("My");
  await page.locator("#tabbar").getByRole("link", { name: "Withdraw" }).click();
  await page.getByLabel("Amount").fill(amount);
  await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
  await page.getByRole("button", { name: "Confirm withdrawal" }).click();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  await expect(sheet).toBeVisible();
  return sheet;
}

/** Lets any request the last input started reach the server, then checks the account moved no money. */
async function expectNoWithdrawal(page, user, posts) {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 300))));
  expect(posts).toHaveLength(0);
  expect(await withdrawals(user)).toHaveLength(0);
  expect((await wallet(user)).held).toBe("0.00");
}

test("browser Back closes the PIN sheet, and a PIN typed afterwards withdraws nothing", async ({ page }) => {
  const user = await readyUser({ balance: "300.00" });
  const posts = watchWithdrawalPosts(page);
  const sheet = await openSheetFor(page, user, "66");
  // Wait until the keys wake up, so the sheet is fully armed when Back comes.
  await expect(sheet.getByRole("button", { name: "1", exact: true })).toBeEnabled();

  await page.goBack();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(page).toHaveURL(/#\/withdraw$/);
  await page.keyboard.type(PIN);
  await expectNoWithdrawal(page, user, posts);

  // A second Back leaves the screen, and still nothing is paid.
  await page.goBack();
  await expect(page).toHaveURL(/#\/my$/);
  await expect(page.locator("#title")).toHaveText("My");
  await page.keyboard.type(PIN);
  await expectNoWithdrawal(page, user, posts);
});

test("Reset PIN in a locked sheet closes the sheet over the reset screen", async ({ page }) => {
  const user = await readyUser({ balance: "300.00" });
  const posts = watchWithdrawalPosts(page);
  const sheet = await openSheetFor(page, user, "66");
  for (let entry = 1; entry <= 5; entry++) {
    await tapPin(sheet, WRONG_PIN);
    await expect(sheet.getByRole("alert")).toBeVisible();
  }
  await expect(sheet.getByRole("alert")).toHaveText(/^Your payment PIN is locked until /);
  posts.length = 0;

  await sheet.getByRole("link", { name: "Reset PIN" }).click();
  await expect(page).toHaveURL(/#\/pin\?mode=reset$/);
  await expect(page.getByRole("dialog")).toHaveCount(0);

  await page.keyboard.type(PIN);
  await expectNoWithdrawal(page, user, posts);
});
