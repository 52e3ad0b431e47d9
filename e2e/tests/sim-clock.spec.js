// The simulator's business clock in the console and the app, on a server of
// this test's own: moving the clock would move every other test's time
// (quotes, review delays) on the shared one.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test, expect } from "../support/fixtures.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const BINARY = process.env.WALLETGATE_BIN ?? path.join(here, "..", "..", "target", "release", "walletgate");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A walletgate of its own on the memory store; stopped after the test. */
async function ownServer() {
  const port = await freePort();
  const child = spawn(BINARY, ["--port", String(port), "--store", "memory://"], { stdio: "ignore" });
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 0; tries < 100; tries += 1) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { base, stop: () => child.kill() };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error("the test's own server did not start");
}

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
