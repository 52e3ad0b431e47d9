// The simulator's business clock in the console and the app, on a server of
// this test's own: moving the clock would move every other test's time
// (quotes, review delays) on the shared one.

import { test, expect } from "../support/fixtures.js";
import { ownServer } from "../support/own-server.js";

test("simulator: the console moves the business clock, and the app shows simulated time", async ({ opsPage, page }) => {
  const server = await ownServer();
  try {
    await page.goto(`${server.base}/app`);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await expect(page.locator("#sim-badge")).toBeHidden();

    await opsPage.goto(`${server.base}/ops`);
    await opsPage.getByLabel("Email").fill("ops@walletgate.test");
    await opsPage.getByLabel("Password").fill("operator-demo");
    await opsPage.getByRole("button", { name: "Log in" }).click();
    await opsPage.getByRole("link", { name: "Simulator" }).click();
    const clock = opsPage.getByTestId("sim-clock");
    await expect(clock.getByTestId("sim-clock-reading")).toContainText("wall time");

    await clock.getByRole("button", { name: "+1 day" }).click();
    await expect(clock.getByTestId("sim-clock-reading")).toContainText("1 d 0 h 0 min ahead");
    await expect(clock.getByTestId("sim-clock-advanced")).toContainText("Last advance:");
    await page.reload();
    await expect(page.locator("#sim-badge")).toContainText("Simulated time");

    await clock.getByRole("button", { name: "Freeze" }).click();
    await expect(clock.getByTestId("sim-clock-reading")).toContainText("frozen");
    await page.reload();
    await expect(page.locator("#sim-badge")).toContainText("(paused)");
    await clock.getByRole("button", { name: "Resume" }).click();
    await expect(clock.getByTestId("sim-clock-reading")).toContainText("running");

    const reading = await (await fetch(`${server.base}/v1/sim/clock`)).json();
    // A day ahead, less the seconds it stood frozen.
    expect(reading.offset_secs).toBeGreaterThan(86300);
    expect(reading.frozen).toBe(false);
  } finally {
    server.stop();
  }
});
