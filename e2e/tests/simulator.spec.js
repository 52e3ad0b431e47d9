// The console's simulator panel: a rule written there fails one user's next
// payout (and only theirs), or the text of one user's code; the form shows
// the fields the chosen call carries; the panel counts what each rule did
// and the request journal names it, and rules are removed one by one or all
// at once.

import { test, expect, logInToConsole } from "../support/fixtures.js";
import { PIN, call, newUser, operatorToken, readyUser, setPin } from "../support/api.js";

test("console: a rule written in the simulator panel fails one user's next payout, and is counted and removed", async ({
  opsPage,
}) => {
  const user = await readyUser({ balance: "300.00" });
  const created = await call("POST", "/v1/withdrawals", {
    token: user.token,
    headers: { "Idempotency-Key": crypto.randomUUID() },
    body: { amount: "20.00", binding_id: user.bindingId, pin: PIN },
  });
  expect(created.status).toBe(202);

  await logInToConsole(opsPage);
  await opsPage.getByRole("link", { name: "Simulator" }).click();
  await expect(opsPage.getByRole("heading", { name: "Forced provider answers" })).toBeVisible();
  await opsPage.getByLabel("Answer", { exact: true }).selectOption("fail");
  await opsPage.getByLabel("Fail reason").selectOption("REAL_NAME_CHECK_FAIL");
  await expect(opsPage.getByLabel("Fault", { exact: true })).toBeHidden();
  await opsPage.getByLabel("Account ID (any if empty)").fill(user.accountId);
  await opsPage.getByLabel("Times (every call if empty)").fill("1");
  await opsPage.getByLabel("Description").fill("e2e: this user's next payout");
  await opsPage.getByRole("button", { name: "Add the rule" }).click();
  const row = opsPage.getByTestId("sim-rule").filter({ hasText: "e2e: this user's next payout" });
  await expect(row).toContainText("FAIL REAL_NAME_CHECK_FAIL");
  await expect(row).toContainText(`account=${user.accountId}`);
  await expect(row).toContainText("1 left");

  const operator = await operatorToken();
  const approved = await call("POST", `/v1/ops/withdrawals/${created.json.id}/approve`, { token: operator });
  expect(approved.status).toBe(200);
  await expect
    .poll(async () => {
      await call("POST", "/v1/ops/worker/step", { token: operator });
      const withdrawal = await call("GET", `/v1/withdrawals/${created.json.id}`, { token: user.token });
      return `${withdrawal.json.status} ${withdrawal.json.failure_reason}`;
    })
    .toBe("failed REAL_NAME_CHECK_FAIL");

  await opsPage.getByRole("button", { name: "Refresh" }).first().click();
  await expect(row).toContainText("answered 1");
  // The journal names the rule that answered the payout.
  const ruled = opsPage
    .getByTestId("sim-journal-row")
    .filter({ hasText: "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills" })
    .filter({ hasText: /rule_[0-9a-f]{32}/ });
  await expect(ruled.first()).toContainText("wechat_pay · in_process");
  await expect(row).toContainText("0 left");
  await row.getByRole("button", { name: /^Remove rule rule_/ }).click();
  await expect(row).toHaveCount(0);

  // A rule that only slows payouts down, removed with every other at once.
  await opsPage.getByRole("button", { name: "Every payout slow (≈ 800 ms)" }).click();
  await expect(opsPage.getByTestId("sim-rule").filter({ hasText: "as_usual" })).toContainText("wait ≈ 800 ms");
  await opsPage.getByRole("button", { name: "Remove every rule" }).click();
  await expect(opsPage.getByText("No rules: every call is answered as the mock decides.")).toBeVisible();
  expect((await call("GET", "/v1/sim/rules", { token: operator })).json.rules).toEqual([]);
});

test("console: a rule on the SMS gateway, written with the phone and purpose it matches, keeps one user's reset code from being sent", async ({
  opsPage,
}) => {
  const user = await newUser();
  await setPin(user);
  await logInToConsole(opsPage);
  await opsPage.getByRole("link", { name: "Simulator" }).click();
  await opsPage.getByLabel("Call", { exact: true }).selectOption("sms.send");
  // A text has no payee, amount or account; WeChat Pay's outcomes are not offered.
  await expect(opsPage.getByLabel("Amount from (yuan)")).toBeHidden();
  await expect(opsPage.getByLabel("Account ID (any if empty)")).toBeHidden();
  await expect(opsPage.getByLabel("Answer", { exact: true }).locator("option[value=fail]")).toBeDisabled();
  await opsPage.getByLabel("Answer", { exact: true }).selectOption("system_error");
  await opsPage.getByLabel("Phone (any if empty)").fill(user.phone);
  await opsPage.getByLabel("Code purpose (any if empty)").selectOption("reset_pin");
  await opsPage.getByLabel("Times (every call if empty)").fill("1");
  await opsPage.getByRole("button", { name: "Add the rule" }).click();
  const row = opsPage.getByTestId("sim-rule").filter({ hasText: `phone=${user.phone}` });
  await expect(row).toContainText("sms.send");
  await expect(row).toContainText("purpose=reset_pin");

  const unsent = await call("POST", "/v1/sms/codes", { token: user.token, body: { purpose: "reset_pin" } });
  expect([unsent.status, unsent.json.error.code]).toEqual([503, "SMS_NOT_SENT"]);
  const sent = await call("POST", "/v1/sms/codes", { token: user.token, body: { purpose: "reset_pin" } });
  expect(sent.status).toBe(202);

  await opsPage.getByRole("button", { name: "Refresh" }).first().click();
  await expect(row).toContainText("answered 1");
  const journaled = opsPage.getByTestId("sim-journal-row").filter({ hasText: "/mock/sms/outbox" });
  await expect(journaled.filter({ hasText: /rule_[0-9a-f]{32}/ }).first()).toContainText("500");
  await row.getByRole("button", { name: /^Remove rule rule_/ }).click();
  await expect(row).toHaveCount(0);
});
