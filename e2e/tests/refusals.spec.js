// One refusal per screen: each is shown as a sentence chosen from the error
// code, with the numbers the person needs, never as a raw error body.

import { test, expect, openAppAs, tapPin, logInToConsole } from "../support/fixtures.js";
import {
  PIN,
  WRONG_PIN,
  authorizeWeChat,
  latestCode,
  newUser,
  readyUser,
  residentId,
  setPin,
  verifiedIdentity,
  wallet,
  withWrongCheck,
} from "../support/api.js";

test("log in: a wrong password, and registering a taken phone", async ({ page }) => {
  const user = await newUser();
  await page.goto("/app");
  await page.getByLabel("Phone number").fill(user.phone);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("The phone number or password is incorrect.");
  await expect(page).toHaveURL(/#\/login$/);

  await page.getByRole("link", { name: "New here? Create an account" }).click();
  await page.getByLabel("Phone number").fill(user.phone);
  await page.getByLabel(/password/).fill(user.password);
  await page.getByRole("checkbox", { name: /I have read and agree/ }).check();
  await page.getByRole("button", { name: "Get SMS code" }).click();
  await expect(page.getByTestId("register-sent-to")).toBeVisible();
  await page.getByLabel("SMS code").fill(await latestCode(user.phone, "register"));
  await expect(page.getByText("This phone number is already registered. Log in instead.")).toBeVisible();
  await expect(page.getByLabel("Phone number")).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator("body")).not.toContainText("ALREADY_REGISTERED");
});

test("identity: an invalid ID number is refused; a valid one is reviewed and approved", async ({ page }) => {
  const user = await newUser();
  const id = residentId();
  await openAppAs(page, user, "#/kyc");
  await page.getByLabel("Real name").fill("王小明");
  await page.getByLabel(/Resident ID number/).fill(withWrongCheck(id));
  await page.getByRole("button", { name: "Submit for review" }).click();
  await expect(page.getByRole("alert")).toHaveText(
    "That ID number is not valid: check the 18 characters, the date of birth and the final check character.",
  );

  await page.getByLabel(/Resident ID number/).fill(id);
  await page.getByRole("button", { name: "Submit for review" }).click();
  await expect(page.getByTestId("kyc-pending")).toContainText("Your L1 request (**明");
  // Identity checks are approved automatically after a few seconds; the screen keeps looking.
  await expect(page.getByTestId("kyc-level")).toHaveText("Verified (L1)", { timeout: 20_000 });
  await expect(page.getByTestId("kyc-pending")).toHaveCount(0);
  // The full number typed in is gone: only the masked one is shown.
  await expect(page.getByLabel(/Resident ID number/)).toBeHidden();
  await expect(page.getByTestId("kyc-id")).toHaveText(`${id.slice(0, 6)}********${id.slice(-4)}`);
});

test("PIN reset of a verified account: the ID number's last six are asked for, and a wrong answer spends the code", async ({
  page,
}) => {
  const user = await newUser();
  await setPin(user);
  const id = await verifiedIdentity(user);
  await openAppAs(page, user, "#/pin?mode=reset");
  const card = page.locator(".pin-screen .card");
  const resetWith = async (lastSix) => {
    // Wait for this code's request itself: the "sent" notice of the first one is still on screen.
    const sent = page.waitForResponse(
      (response) => response.request().method() === "POST" && new URL(response.url()).pathname === "/v1/sms/codes",
    );
    await card.getByRole("button", { name: /^(Get code|Resend)$/ }).click();
    expect((await sent).status()).toBe(202);
    await card.getByLabel("Last six characters of your ID number").fill(lastSix);
    // The six boxes send themselves once full: the code is checked before the PIN.
    await card.getByLabel("SMS code").fill(await latestCode(user.phone, "reset_pin"));
    await tapPin(page, "246813");
    await tapPin(page, "246813");
  };
  const wrong = id.slice(-6, -1) + (id.at(-1) === "0" ? "1" : "0");
  await resetWith(wrong);
  await expect(page.getByRole("alert")).toHaveText(
    "Those are not the last six characters of your verified ID number. Request a new SMS code.",
  );
  // The spent code needs no waiting out: a new one can be asked for at once.
  await resetWith(id.slice(-6).toLowerCase());
  await expect(page).toHaveURL(/#\/my$/);
});

test("binding: a wrong SMS code says how many tries are left", async ({ page }) => {
  const user = await newUser();
  await authorizeWeChat(user, "赵小六");
  const code = await latestCode(user.phone, "bind_wechat");
  const wrong = code === "000000" ? "111111" : "000000";
  // The app picks up the binding waiting for its code.
  await openAppAs(page, user, "#/bind");
  await expect(page.getByTestId("bind-nickname")).toHaveText("赵*六");
  await page.getByLabel("SMS code").fill(wrong);
  await page.getByRole("button", { name: "Confirm binding" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong SMS code. 2 tries left.");
  await page.getByLabel("SMS code").fill(code);
  await page.getByRole("button", { name: "Confirm binding" }).click();
  await expect(page.getByText("Withdrawals go to this WeChat wallet.")).toBeVisible();
});

test("PIN: a trivial PIN is refused at once, and two different entries are caught", async ({ page }) => {
  const user = await newUser();
  await openAppAs(page, user, "#/pin");
  await page.getByRole("button", { name: "Get code" }).click();
  await expect(page.getByText(/Code sent to/)).toBeVisible();
  await page.getByLabel("SMS code").fill(await latestCode(user.phone, "set_pin"));

  await tapPin(page, "123456");
  await expect(page.getByRole("alert")).toHaveText(
    "That PIN is too easy to guess (repeated digits, a run like 123456, or a common PIN). Choose another.",
  );
  await expect(page.getByTestId("pin-step")).toHaveText("Choose a new 6-digit PIN");
  await tapPin(page, "246813");
  await tapPin(page, "135791");
  await expect(page.getByRole("alert")).toHaveText("The two PINs differ. Choose your new PIN again.");
  await expect(page.getByTestId("pin-step")).toHaveText("Choose a new 6-digit PIN");
});

test("withdraw: over the balance, over the limit, below the minimum, malformed; withdraw all fits", async ({
  page,
}) => {
  const user = await readyUser({ balance: "500.00" });
  await openAppAs(page, user, "#/withdraw");
  const amount = page.getByLabel("Amount");
  const quote = page.getByTestId("quote");
  const confirm = page.getByRole("button", { name: "Confirm withdrawal" });

  await amount.fill("600");
  await expect(quote.getByRole("alert")).toHaveText("Not enough balance: ¥500.00 available, ¥600.00 needed.");
  await expect(confirm).toBeDisabled();

  await amount.fill("1200");
  await expect(quote.getByRole("alert")).toHaveText("That is over your per-withdrawal limit: ¥1,000.00 left.");
  await expect(confirm).toBeDisabled();

  await amount.fill("0.05");
  await expect(quote.getByRole("alert")).toHaveText("The minimum withdrawal is ¥0.10.");

  await amount.fill("12.345");
  await expect(quote.getByRole("alert")).toHaveText("Enter an amount in yuan with at most two decimals, e.g. 100.50.");

  await page.getByRole("button", { name: "Withdraw all" }).click();
  await expect(amount).toHaveValue("500.00");
  await expect(quote.getByTestId("quote-fee")).toHaveText("¥0.00");
  await expect(confirm).toBeEnabled();
});

test("withdraw: five wrong PINs lock it, and the sheet says until when", async ({ page }) => {
  const user = await readyUser();
  await openAppAs(page, user, "#/withdraw");
  await page.getByLabel("Amount").fill("50");
  await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
  await page.getByRole("button", { name: "Confirm withdrawal" }).click();
  const sheet = page.getByRole("dialog", { name: "Enter payment PIN" });
  for (const left of [4, 3, 2]) {
    await tapPin(sheet, WRONG_PIN);
    await expect(sheet.getByRole("alert")).toHaveText(`Wrong payment PIN. ${left} attempts left before it locks.`);
  }
  await tapPin(sheet, WRONG_PIN);
  await expect(sheet.getByRole("alert")).toHaveText("Wrong payment PIN. One more wrong entry locks it.");
  await tapPin(sheet, WRONG_PIN);
  await expect(sheet.getByRole("alert")).toHaveText(
    /^Your payment PIN is locked until .+ \(in 3 hours\)\. Reset it with an SMS code to unlock it now\.$/,
  );
  await expect(sheet.getByRole("link", { name: "Reset PIN" })).toBeVisible();
  // Even the right PIN is refused now, and nothing was withdrawn.
  await expect(sheet.getByRole("button", { name: "1", exact: true })).toBeDisabled();
  expect((await wallet(user)).held).toBe("0.00");
});

test("review: an operator's rejection reaches the app with its reason, and the hold comes back", async ({
  page,
  opsPage,
}) => {
  const user = await readyUser({ balance: "500.00" });
  await openAppAs(page, user, "#/withdraw");
  await page.getByLabel("Amount").fill("80");
  await expect(page.getByTestId("quote-fee")).toHaveText("¥0.00");
  await page.getByRole("button", { name: "Confirm withdrawal" }).click();
  await tapPin(page.getByRole("dialog"), PIN);
  await page.waitForURL(/#\/status\/wd_/);
  const withdrawalId = page.url().split("/").pop();
  await expect(page.getByTestId("status")).toHaveText("In review");

  await logInToConsole(opsPage);
  const item = opsPage.locator(`[data-testid="queue-item"][data-withdrawal-id="${withdrawalId}"]`);
  await item.getByRole("button", { name: "Reject…" }).click();
  const dialog = opsPage.getByRole("dialog", { name: "Reject this withdrawal?" });
  await dialog.getByRole("button", { name: "Reject withdrawal" }).click();
  await expect(dialog.getByRole("alert")).toHaveText("Choose a reason from the list.");
  await dialog.getByLabel("Reason (the user sees it)").selectOption("DESTINATION_MISMATCH");
  await dialog.getByLabel("Note for operators (not shown to the user)").fill("payee name differs from the ID on file");
  await dialog.getByRole("button", { name: "Reject withdrawal" }).click();
  await expect(item).toHaveCount(0);

  // The user reads the reason in their own words, never the operator's note.
  await expect(page.getByTestId("status")).toHaveText("Rejected");
  await expect(page.getByTestId("status-sentence")).toHaveText(
    "Rejected: the WeChat account does not look like your own. The money is back in your balance.",
  );
  await expect(page.locator("body")).not.toContainText("payee name differs");
  await page.getByRole("link", { name: "My" }).click();
  await expect(page.getByTestId("available")).toHaveText("¥500.00");
  await expect(page.getByTestId("held")).toHaveText("¥0.00");
});
