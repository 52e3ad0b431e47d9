// The identity-check queue: a check is approved only after a confirmation
// that says whose it is, on a server of its own where checks wait for an
// operator (no automatic approval racing the test).

import { test, expect } from "../support/fixtures.js";
import { residentId, uniquePhone } from "../support/api.js";
import { ownServer } from "../support/own-server.js";
import { openQueue } from "../support/queue-scenario.js";

async function post(base, path, body, token = null) {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token && { Authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  return response.json();
}

test("console: an identity check is approved only after a confirmation that says whose it is", async ({ opsPage }) => {
  const server = await ownServer({ env: { WALLETGATE__KYC__AUTO_APPROVE: "false" } });
  try {
    const phone = uniquePhone();
    const password = "kyc-demo-password";
    await post(server.base, "/v1/auth/register", { phone, password });
    const { access_token: token } = await post(server.base, "/v1/auth/login", { phone, password });
    await post(server.base, "/v1/kyc", { level: "L1", real_name: "王小明", id_number: residentId() }, token);

    await openQueue(opsPage, server.base);
    await opsPage.getByRole("link", { name: "Identity checks" }).click();
    const item = opsPage.getByTestId("kyc-item");
    await expect(item).toHaveCount(1);
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
  } finally {
    server.stop();
  }
});
