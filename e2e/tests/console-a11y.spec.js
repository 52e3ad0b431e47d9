// The console for everyone: axe-core finds no violation on any main screen
// (the queue with 100 withdrawals and its dialogs too), in English and
// Chinese; on phone-sized screens every form's primary button is in the
// first screen, and on touch screens every control is at least 44 pixels
// each way.

import AxeBuilder from "@axe-core/playwright";
import { test, expect, logInToConsole } from "../support/fixtures.js";
import { newUser, readyUser, residentId, uniquePhone } from "../support/api.js";
import { ownServer, pendingIdentityCheck } from "../support/own-server.js";
import { openQueue, queueServer, withQueue } from "../support/queue-scenario.js";

/** Asserts axe finds nothing on the page as it is, naming what it finds. */
async function expectNoViolations(page, where) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const found = violations.map(
    (violation) =>
      `${violation.id} (${violation.nodes.length}): ${violation.nodes
        .slice(0, 3)
        .map((node) => node.target.join(" "))
        .join(" | ")}`,
  );
  expect(found, `axe on ${where}`).toEqual([]);
}

test("console a11y: no axe violation on the login, identity checks, accounts, top-up, audit and simulator screens", async ({
  opsPage,
}) => {
  test.setTimeout(120_000);
  await readyUser({ balance: "50.00" });
  await opsPage.goto("/ops");
  await expect(opsPage.getByRole("heading", { name: "Operator log in" })).toBeVisible();
  await expectNoViolations(opsPage, "login");
  await logInToConsole(opsPage);
  for (const [link, ready] of [
    ["Identity checks", "Identity checks"],
    ["Find an account", "Find an account"],
    ["Top up a demo wallet", "Top up a demo wallet"],
    ["Audit log", "Audit log"],
    ["Simulator", "Simulator"],
  ]) {
    await opsPage.getByRole("link", { name: link }).click();
    await expect(opsPage.getByRole("heading", { name: ready, level: 1 })).toBeVisible();
    await opsPage.waitForLoadState("networkidle");
    await expectNoViolations(opsPage, link);
  }
  await opsPage.getByRole("link", { name: "Find an account" }).click();
  await opsPage.getByRole("button", { name: "Find", exact: true }).click();
  await opsPage.getByTestId("account-item").first().getByRole("button", { name: "Details" }).click();
  await expect(opsPage.getByTestId("account-detail").first()).toBeVisible();
  await expectNoViolations(opsPage, "an account's details");

  const user = await newUser();
  await opsPage.getByRole("link", { name: "Top up a demo wallet" }).click();
  await opsPage.getByLabel("Phone number or account ID").fill(user.phone);
  await opsPage.getByLabel("Amount (yuan)").fill("1");
  await opsPage.getByRole("button", { name: "Check and top up" }).click();
  await expect(opsPage.getByRole("dialog")).toBeVisible();
  await expectNoViolations(opsPage, "the top-up confirmation");
});

test("console a11y: no axe violation on a queue of 100, its dialogs and its help, in both languages", async ({
  opsPage,
}) => {
  test.setTimeout(120_000);
  await withQueue(opsPage, 100, async (server) => {
    await expect(opsPage.getByTestId("queue-item")).toHaveCount(50);
    await expectNoViolations(opsPage, "the queue of 100");
    await opsPage.keyboard.press("?");
    await opsPage.keyboard.press("j");
    await expectNoViolations(opsPage, "the queue with its help and a row's details");
    await opsPage.keyboard.press("a");
    await expect(opsPage.getByRole("dialog")).toBeVisible();
    await expectNoViolations(opsPage, "the approval confirmation");
    await opsPage.keyboard.press("Escape");
    await opsPage.keyboard.press("r");
    await expect(opsPage.getByRole("dialog")).toBeVisible();
    await expectNoViolations(opsPage, "the rejection dialog");
    await opsPage.keyboard.press("Escape");
    await opsPage.getByTestId("queue-item").first().getByRole("checkbox").check();
    await opsPage.getByRole("button", { name: "中文" }).click();
    await expect(opsPage.getByRole("heading", { name: "审核队列" })).toBeVisible();
    await expectNoViolations(opsPage, "the queue in Chinese");
  });
});

const PHONES = [
  { width: 360, height: 640 },
  { width: 320, height: 568 },
];

/** A phone-sized, touch-screen context of the console. */
async function phoneContext(browser, baseURL, viewport) {
  return browser.newContext({ baseURL, viewport, hasTouch: true, isMobile: true, locale: "en-US" });
}

/** Runs `work(page, server)` in a phone-sized context on the queue of a server of its own (3 withdrawals). */
async function withPhoneQueue(browser, viewport, work) {
  const server = await queueServer(3);
  const context = await phoneContext(browser, server.base, viewport);
  try {
    const page = await context.newPage();
    await openQueue(page, server.base);
    await work(page, server);
  } finally {
    await context.close();
    server.stop();
  }
}

/** Asserts `locator` is inside the viewport while the page is not scrolled. */
async function expectInFirstScreen(page, locator, what) {
  await expect(locator, what).toBeVisible();
  expect(await page.evaluate(() => window.scrollY), `${what}: not scrolled`).toBe(0);
  await expect(locator, `${what} is in the first screen`).toBeInViewport({ ratio: 1 });
}

for (const viewport of PHONES) {
  test(`console at ${viewport.width}×${viewport.height}: every form's primary button is in the first screen`, async ({
    browser,
    baseURL,
  }) => {
    const user = await newUser();
    const context = await phoneContext(browser, baseURL, viewport);
    const page = await context.newPage();
    try {
      await page.goto("/ops");
      await expectInFirstScreen(page, page.getByRole("button", { name: "Log in" }), "log in");
      await logInToConsole(page);
      await expectInFirstScreen(page, page.getByRole("button", { name: "Apply" }), "the queue's search");
      await page.goto("/ops#/accounts");
      await expectInFirstScreen(page, page.getByRole("button", { name: "Find", exact: true }), "find an account");
      await page.goto("/ops#/credit");
      const review = page.getByRole("button", { name: "Check and top up" });
      await expectInFirstScreen(page, review, "top up");
      await page.getByLabel("Phone number or account ID").fill(user.phone);
      await page.getByLabel("Amount (yuan)").fill("1");
      await review.click();
      await expectInFirstScreen(
        page,
        page.getByRole("dialog").getByRole("button", { name: "Top up ¥1.00" }),
        "confirm",
      );
    } finally {
      await context.close();
    }
  });
}

test("console at 320×568: the queue's dialogs fit, their primary buttons in view", async ({ browser }) => {
  await withPhoneQueue(browser, PHONES[1], async (page) => {
    await page.getByTestId("queue-item").first().getByRole("button", { name: "Approve" }).click();
    await expect(page.getByRole("dialog").getByRole("button", { name: "Approve" })).toBeInViewport({ ratio: 1 });
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    await page.getByTestId("queue-item").first().getByRole("button", { name: "Reject…" }).click();
    const reject = page.getByRole("dialog").getByRole("button", { name: "Reject withdrawal" });
    await expect(reject).toBeInViewport({ ratio: 1 });
  });
});

/** The controls on the page now smaller than 44 × 44 pixels, described with `where`. */
function smallControls(page, where) {
  return page.evaluate((where) => {
    const controls = document.querySelectorAll(
      "button, select, input:not([type=hidden]), summary, .ops-nav a, .ops-brand, a.button",
    );
    return [...controls]
      .filter((control) => control.getClientRects().length > 0 && !control.closest(".visually-hidden"))
      .map((control) => ({ control, box: control.getBoundingClientRect() }))
      .filter(({ box }) => box.width > 1 && (box.width < 44 || box.height < 44))
      .map(({ control, box }) => `${where} ${control.outerHTML.slice(0, 80)} ${box.width}×${box.height}`);
  }, where);
}

/** The elements wider than the screen that make the page scroll sideways (none, if it does not). */
function sidewaysOverflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return [];
    return [...document.querySelectorAll("body *")]
      .filter((element) => element.getBoundingClientRect().right > width + 0.5)
      .map((element) => element.outerHTML.slice(0, 80))
      .slice(0, 5);
  });
}

test("console on a touch screen: every control is at least 44 pixels each way", async ({ browser }) => {
  await withPhoneQueue(browser, PHONES[0], async (page, server) => {
    const small = [];
    for (const hash of ["#/queue", "#/credit", "#/accounts", "#/kyc", "#/audit"]) {
      await page.goto(`${server.base}/ops${hash}`);
      await page.waitForLoadState("networkidle");
      small.push(...(await smallControls(page, hash)));
    }
    expect(small).toEqual([]);
  });
});

for (const viewport of PHONES) {
  test(`console at ${viewport.width}×${viewport.height}: the inline identity-check rejection and the simulator's rule form fit, in both languages`, async ({
    browser,
  }) => {
    test.setTimeout(90_000);
    const server = await ownServer({ env: { WALLETGATE__KYC__AUTO_APPROVE: "false" } });
    const context = await phoneContext(browser, server.base, viewport);
    try {
      await pendingIdentityCheck(server.base, uniquePhone(), residentId());
      const page = await context.newPage();
      await openQueue(page, server.base);

      const check = async (where, primary) => {
        await expectNoViolations(page, where);
        expect(await sidewaysOverflow(page), `${where}: nothing wider than the screen`).toEqual([]);
        expect(await smallControls(page, where)).toEqual([]);
        await expect(primary, `${where}: its primary button`).toBeInViewport({ ratio: 1 });
      };
      for (const lang of ["en", "zh"]) {
        await page.goto(`${server.base}/ops#/kyc`);
        const item = page.getByTestId("kyc-item");
        await item.locator(".button.danger").click();
        await expect(item.locator("select")).toBeFocused();
        const reject = item.locator("form.reject-form button[type=submit]");
        await reject.scrollIntoViewIfNeeded();
        await check(`the identity-check rejection (${lang})`, reject);

        await page.goto(`${server.base}/ops#/simulator`);
        const add = page.locator("form.sim-form button[type=submit]");
        await expect(add).toBeVisible();
        await page.waitForLoadState("networkidle");
        await add.scrollIntoViewIfNeeded();
        await check(`the simulator's rule form (${lang})`, add);
        // The fields of another call and answer.
        await page.locator("#sim-respond").selectOption("fault");
        await add.scrollIntoViewIfNeeded();
        await check(`the simulator's rule form with a fault (${lang})`, add);
        if (lang === "en") await page.getByRole("button", { name: "中文" }).click();
      }
    } finally {
      await context.close();
      server.stop();
    }
  });
}
