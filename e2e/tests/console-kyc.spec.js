// The identity-check queue: a check is approved only after a confirmation
// that says whose it is, or rejected with a reason from the list, which the
// user reads in their app's words (never the operator's note); on a server
// of its own where checks wait for an operator (no automatic approval
// racing the test).

import AxeBuilder from "@axe-core/playwright";
import { test, expect } from "../support/fixtures.js";
import { residentId, uniquePhone } from "../support/api.js";
import { ownServer, pendingIdentityCheck } from "../support/own-server.js";
import { openQueue } from "../support/queue-scenario.js";

/**
 * Runs `work({ server, phone, token, item })` with the console's identity
 * checks open on a server of its own, where one user's check waits (`item`).
 */
async function withPendingCheck(opsPage, work) {
  const server = await ownServer({ env: { WALLETGATE__KYC__AUTO_APPROVE: "false" } });
  try {
    const phone = uniquePhone();
    const token = await pendingIdentityCheck(server.base, phone, residentId());
    await openQueue(opsPage, server.base);
    await opsPage.getByRole("link", { name: "Identity checks" }).click();
    const item = opsPage.getByTestId("kyc-item");
    await expect(item).toHaveCount(1);
    await work({ server, phone, token, item });
  } finally {
    server.stop();
  }
}

test("console: an identity check is approved only after a confirmation that says whose it is", async ({ opsPage }) => {
  await withPendingCheck(opsPage, async ({ phone, item }) => {
    await item.getByRole("button", { name: "Approve" }).click();
    const dialog = opsPage.getByRole("dialog", { name: "Approve this identity check?" });
    await expect(dialog).toContainText("**明");
    await expect(dialog).toContainText(`${phone.slice(0, 3)}****${phone.slice(7)}`);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(item).toHaveCount(1);

    await item.getByRole("button", { name: "Approve" }).click();
    await dialog.getByRole("button", { name: "Approve" }).click();
    await expect(opsPage.getByTestId("kyc-empty")).toBeVisible();
    await expect(opsPage.getByRole("status").filter({ hasText: "Approved: the account is now" })).toBeVisible();
  });
});

test("console: an identity check is rejected with a listed reason, which the user reads in their language, never the note", async ({
  opsPage,
  page,
}) => {
  await withPendingCheck(opsPage, async ({ server, phone, token, item }) => {
    await item.getByRole("button", { name: "Reject" }).click();
    const reason = item.getByLabel("Reason (the user sees it)");
    await expect(reason).toBeFocused();
    // No reason picked: nothing is sent, the list asks for one.
    await item.getByRole("button", { name: "Reject identity check" }).click();
    await expect(reason).toHaveAttribute("aria-invalid", "true");
    await expect(item).toHaveCount(1);
    await reason.selectOption({ label: "Name does not match the ID number" });
    await item.getByLabel("Note for operators (not shown to the user)").fill("证件姓名为王晓明 — checked by ops-7");
    const { violations: formViolations } = await new AxeBuilder({ page: opsPage }).analyze();
    expect(formViolations.map((v) => v.id)).toEqual([]);
    await item.getByRole("button", { name: "Reject identity check" }).click();
    await expect(opsPage.getByTestId("kyc-empty")).toBeVisible();

    await page.addInitScript(
      ([access, login]) => {
        localStorage.setItem("walletgate.app.access_token", access);
        localStorage.setItem("walletgate.app.phone", login);
        localStorage.setItem("walletgate.lang", "zh");
      },
      [token, phone],
    );
    await page.goto(`${server.base}/app#/kyc`);
    const notice = page.getByTestId("kyc-rejected");
    await expect(notice).toHaveText("你的 L1 认证未通过：姓名与身份证号不符。请核对信息后重新提交。");
    await page.getByRole("button", { name: "English" }).click();
    await expect(notice).toHaveText(
      "Your L1 request was not approved: the name does not match the ID number. Check your details and submit again.",
    );
    for (const hidden of ["王晓明", "ops-7", "acc_"]) await expect(page.locator("body")).not.toContainText(hidden);
    // The form is there to try again.
    await expect(page.getByRole("button", { name: "Submit for review" })).toBeVisible();
    const { violations } = await new AxeBuilder({ page }).analyze();
    expect(violations.map((v) => v.id)).toEqual([]);
  });
});
