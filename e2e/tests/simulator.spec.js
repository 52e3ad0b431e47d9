// The console's simulator panel: a rule written there fails one user's next
// payout (and only theirs), the panel counts what each rule did and the
// request journal names it, and rules are removed one by one or all at once.

import { test, expect, logInToConsole } from "../support/fixtures.js";
import { PIN, call, operatorToken, readyUser } from "../support/api.js";

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
  await expect(opsPage.getByRole("heading", { name: "Forced payout answers" })).toBeVisible();
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
  await expect(opsPage.getByText("No rules: every payout is answered as the mock decides.")).toBeVisible();
  expect((await call("GET", "/v1/sim/rules", { token: operator })).json.rules).toEqual([]);
});
