// The operator console beyond the review queue: who may use it, the worker
// step, the ledger light, top-ups and finding an account.

import { test, expect, logInToConsole } from "../support/fixtures.js";
import { PIN, call, newUser, readyUser, wallet } from "../support/api.js";

test("console: a wrong password and a user account are turned away", async ({ opsPage }) => {
  const user = await newUser();
  await opsPage.goto("/ops");
  await opsPage.getByLabel("Email").fill("ops@walletgate.test");
  await opsPage.getByLabel("Password").fill("not-the-password");
  await opsPage.getByRole("button", { name: "Log in" }).click();
  await expect(opsPage.getByRole("alert")).toHaveText("The email or password is incorrect.");

  // A wallet user logging in by phone is not an operator.
  await opsPage.evaluate(
    async ([phone, password]) => {
      const response = await fetch("/v1/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ phone, password }),
      });
      localStorage.setItem("walletgate.ops.access_token", (await response.json()).access_token);
    },
    [user.phone, user.password],
  );
  await opsPage.goto("/ops#/queue");
  await expect(opsPage.getByRole("alert")).toHaveText("This needs an operator account.");
});

test("console: a top-up shows the new balance, the worker step reports, the ledger stays balanced", async ({
  opsPage,
}) => {
  const user = await newUser();
  await logInToConsole(opsPage);
  await expect(opsPage.getByTestId("ledger")).toHaveAttribute("data-state", "balanced");

  await opsPage.getByRole("link", { name: "Top up a demo wallet" }).click();
  await opsPage.getByLabel("Phone number or account ID").fill(user.accountId);
  await opsPage.getByLabel("Amount (yuan)").fill("12.3");
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  await opsPage.getByRole("dialog").getByRole("button", { name: "Top up ¥12.30" }).click();
  await expect(opsPage.getByTestId("credit-result")).toHaveText(
    `Credited ¥12.30 to ${user.accountId}. Balance now ¥12.30 available, ¥0.00 held.`,
  );
  expect((await wallet(user)).available).toBe("12.30");

  await opsPage.getByLabel("Phone number or account ID").fill("acc_nobody");
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  await expect(opsPage.getByRole("alert")).toHaveText("We could not find that account.");

  await opsPage.getByRole("button", { name: "Run worker step" }).click();
  await expect(opsPage.getByRole("status").filter({ hasText: /^Worker step: \d+ claimed, \d+ settled/ })).toBeVisible();
  await expect(opsPage.getByTestId("ledger")).toHaveAttribute("data-state", "balanced");
  await expect(opsPage.getByTestId("ledger")).toContainText("Ledger balanced");
});

test("console: a top-up whose answer was lost, sent again, credits once", async ({ opsPage }) => {
  const user = await newUser();
  await logInToConsole(opsPage);
  await opsPage.getByRole("link", { name: "Top up a demo wallet" }).click();
  // The first top-up reaches the server, but its answer never reaches the page.
  let lost = 0;
  await opsPage.route("**/v1/ops/accounts/*/credit", async (route) => {
    if (lost++ === 0) {
      await route.fetch();
      await route.abort("connectionreset");
    } else {
      await route.continue();
    }
  });
  await opsPage.getByLabel("Phone number or account ID").fill(user.accountId);
  await opsPage.getByLabel("Amount (yuan)").fill("5");
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  const confirm = opsPage.getByRole("dialog").getByRole("button", { name: "Top up ¥5.00" });
  await confirm.click();
  await expect(opsPage.getByRole("dialog").getByRole("alert")).toBeVisible();
  await confirm.click();
  await expect(opsPage.getByTestId("credit-result")).toHaveText(
    `Credited ¥5.00 to ${user.accountId}. Balance now ¥5.00 available, ¥0.00 held.`,
  );
  expect((await wallet(user)).available).toBe("5.00");
});

test("console: USDT is topped up at its six places and kept apart from CNY", async ({ opsPage }) => {
  const user = await newUser();
  await logInToConsole(opsPage);
  await opsPage.getByRole("link", { name: "Top up a demo wallet" }).click();
  await opsPage.getByLabel("Phone number or account ID").fill(user.accountId);
  await opsPage.getByLabel("Asset").selectOption("USDT");
  await opsPage.getByLabel("Amount (USDT, up to 6 places)").fill("1.1234567");
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  await expect(opsPage.getByRole("alert")).toBeVisible();
  await opsPage.getByLabel("Amount (USDT, up to 6 places)").fill("1.5");
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  await opsPage.getByRole("dialog").getByRole("button", { name: "Top up 1.500000 USDT" }).click();
  await expect(opsPage.getByTestId("credit-result")).toHaveText(
    `Credited 1.500000 USDT to ${user.accountId}. Balance now 1.500000 USDT available, 0.000000 USDT held.`,
  );
  const balances = await wallet(user);
  expect(balances.available).toBe("0.00");
  expect(balances.assets).toContainEqual({ asset: "USDT", available: "1.500000", held: "0.000000" });
});

test("console: an account is found by its phone number, with its balances and withdrawals", async ({ opsPage }) => {
  const user = await readyUser({ balance: "8.80" });
  const withdrawal = await call("POST", "/v1/withdrawals", {
    token: user.token,
    body: { amount: "1.00", binding_id: user.bindingId, pin: PIN },
    headers: { "Idempotency-Key": crypto.randomUUID() },
  });
  expect(withdrawal.status).toBe(202);
  const held = withdrawal.json.total_debit;
  await logInToConsole(opsPage);

  await opsPage.getByRole("link", { name: "Find an account" }).click();
  const search = opsPage.getByLabel("Phone number, email or account ID");
  await search.fill(user.phone);
  await opsPage.getByRole("button", { name: "Find", exact: true }).click();
  const found = opsPage.getByTestId("account-item");
  await expect(found).toHaveCount(1);
  await expect(found).toHaveAttribute("data-account-id", user.accountId);
  await expect(found).toContainText(`${user.phone.slice(0, 3)}****${user.phone.slice(7)}`);
  await expect(found).toContainText(`¥${held} held`);
  await found.getByRole("button", { name: "Details" }).click();
  await expect(found.getByTestId("account-detail")).toContainText("In review ¥1.00");

  await search.fill("ops@walletgate.test");
  await opsPage.getByRole("button", { name: "Find", exact: true }).click();
  await expect(opsPage.getByTestId("account-item")).toContainText("No wallet (operator)");

  await search.fill("138");
  await opsPage.getByRole("button", { name: "Find", exact: true }).click();
  await expect(opsPage.getByRole("alert")).toHaveText("Enter an 11-digit mainland mobile number.");
});
