// The suite's `test`: every page is watched for script errors and
// Content-Security-Policy violations (a test fails on any), `opsPage` is a
// second, desktop-sized browser context for the operator console, and a few
// helpers drive the PIN pad, log in, lose an answer and (when asked) save
// screenshots.

import { test as base, expect } from "@playwright/test";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");
const DESKTOP = { width: 1280, height: 860 };

function watch(page, problems) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    const text = message.text();
    if (/Content.Security.Policy|Refused to (load|execute|apply|connect)/i.test(text)) problems.push(`CSP: ${text}`);
  });
}

export const test = base.extend({
  /** What the watched pages complained about; checked after the pages close. */
  problems: async ({}, use) => {
    const problems = [];
    await use(problems);
    expect(problems, "script errors or CSP violations").toEqual([]);
  },
  page: async ({ page, problems }, use) => {
    watch(page, problems);
    page.context().on("page", (popup) => watch(popup, problems));
    await use(page);
  },
  opsPage: async ({ browser, baseURL, problems }, use) => {
    const context = await browser.newContext({
      baseURL,
      viewport: DESKTOP,
      locale: "en-US",
      timezoneId: "Asia/Shanghai",
    });
    const page = await context.newPage();
    watch(page, problems);
    await use(page);
    await context.close();
  },
});

export { expect };

/**
 * Saves a screenshot of what the page shows now to docs/screenshots/<name>.png,
 * only when asked (E2E_SCREENSHOTS=1, as `npm run screenshots` sets it): the
 * files are committed, so an ordinary run (and CI) leaves them as they are.
 */
export async function snap(page, name) {
  if (process.env.E2E_SCREENSHOTS !== "1") return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), animations: "disabled", caret: "hide" });
}

/** Taps the digits of `pin` on the PIN pad inside `scope` (a page or a dialog). */
export async function tapPin(scope, pin) {
  const pad = scope.locator(".pin-pad").last();
  for (const digit of pin) {
    await pad.getByRole("button", { name: digit, exact: true }).click();
  }
}

/**
 * Lets the first POST to `pathname` reach the server (which performs it) but
 * never answers the page: the connection resets. Later POSTs pass. Returns
 * the Idempotency-Key of every POST, in order, as it fills.
 */
export async function loseFirstAnswer(page, pathname) {
  const keys = [];
  let answerLost = false;
  await page.route(`**${pathname}`, async (route) => {
    const request = route.request();
    if (request.method() !== "POST") return route.fallback();
    keys.push(request.headers()["idempotency-key"]);
    if (answerLost) return route.continue();
    answerLost = true;
    await route.fetch();
    return route.abort("connectionreset");
  });
  return keys;
}

/** Opens the wallet app already signed in as `user` (an api.js user). */
export async function openAppAs(page, user, hash = "#/my") {
  await page.addInitScript(
    ([token, phone]) => {
      localStorage.setItem("walletgate.app.access_token", token);
      localStorage.setItem("walletgate.app.phone", phone);
    },
    [user.token, user.phone],
  );
  await page.goto(`/app${hash}`);
}

/** Logs in to the operator console with the demo operator. */
export async function logInToConsole(page) {
  await page.goto("/ops");
  await page.getByLabel("Email").fill("ops@walletgate.test");
  await page.getByLabel("Password").fill("operator-demo");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("ledger")).toBeVisible();
}
