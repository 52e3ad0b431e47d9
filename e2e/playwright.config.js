// Browser tests of the wallet app and the operator console, in Debian's
// Chromium (/usr/bin/chromium; no browser is downloaded).
//
// By default this starts the release server itself on a free port, on the
// memory store: ../target/release/walletgate, or $WALLETGATE_BIN. Set
// E2E_STORE=redis://127.0.0.1:6379/0 to run it on Redis (under a unique key
// prefix), or E2E_BASE_URL to test a server that is already running.
// E2E_SCREENSHOTS=1 (`npm run screenshots`) also retakes docs/screenshots;
// without it no committed file is written.

import { defineConfig } from "@playwright/test";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** A port nobody listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Chosen once, in the runner: workers inherit the environment, so they all
// see the same port and key prefix.
process.env.E2E_PORT ??= String(await freePort());
process.env.E2E_KEY_PREFIX ??= `wge2e:${process.pid}:${Date.now()}`;
const external = process.env.E2E_BASE_URL;
const baseURL = external ?? `http://127.0.0.1:${process.env.E2E_PORT}`;
process.env.E2E_BASE_URL_RESOLVED = baseURL;
const store = process.env.E2E_STORE ?? "memory://";
const binary = process.env.WALLETGATE_BIN ?? path.join(here, "..", "target", "release", "walletgate");

export default defineConfig({
  testDir: "tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: Number(process.env.E2E_WORKERS ?? 2),
  retries: 0,
  forbidOnly: Boolean(process.env.CI),
  reporter: [["list"], ["./support/summary-reporter.js"]],
  outputDir: "test-results",
  use: {
    baseURL,
    locale: "en-US",
    timezoneId: "Asia/Shanghai",
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    hasTouch: false,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: external
    ? undefined
    : {
        command: `"${binary}" --port ${process.env.E2E_PORT} --store ${store}`,
        url: `${baseURL}/readyz`,
        timeout: 30_000,
        reuseExistingServer: false,
        stdout: "ignore",
        stderr: "pipe",
        env: {
          WALLETGATE__STORE__KEY_PREFIX: process.env.E2E_KEY_PREFIX,
          WALLETGATE__LOG__LEVEL: "warn",
          // Every browser here comes from 127.0.0.1, so the per-IP request
          // limits would count the whole suite as one client. Per-account
          // limits and the PIN lock stay as configured.
          WALLETGATE__RATE_LIMITS__LOGIN__PER_IP__BURST: "1000",
          WALLETGATE__RATE_LIMITS__REGISTER__PER_IP__BURST: "1000",
          WALLETGATE__RATE_LIMITS__SMS__PER_IP__BURST: "1000",
          WALLETGATE__RATE_LIMITS__PIN__PER_IP__BURST: "1000",
          // The mock WeChat Pay's bills move on over business time (2 s
          // ACCEPTED, 3 s PROCESSING by default); a second each keeps the
          // journeys that wait for a payout well inside their timeouts.
          WALLETGATE__MOCK_WECHAT__PAY__ACCEPTED_SECS: "1",
          WALLETGATE__MOCK_WECHAT__PAY__PROCESSING_SECS: "1",
        },
      },
});
