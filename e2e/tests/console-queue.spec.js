// The review queue built for volume, each test on a server of its own whose
// queue holds a known number of withdrawals: a paged table searched,
// filtered and sorted through the API; approval only after a confirmation,
// one by one, by keyboard or in bulk; rejection with a reason from the list;
// the focus and the scroll kept across decisions and the 5-second refresh.

import { test, expect, snap } from "../support/fixtures.js";
import { queueAmount, queuePhone, withQueue, withdrawalOn } from "../support/queue-scenario.js";

const rows = (page) => page.getByTestId("queue-item");
/** The data-key of what has the focus. */
const focused = (page) => page.evaluate(() => document.activeElement?.dataset.key ?? document.activeElement?.tagName);
const idOfRow = (page, at) => rows(page).nth(at).getAttribute("data-withdrawal-id");

test("console queue: 100 waiting withdrawals are a table of pages, searched, filtered and sorted", async ({
  opsPage,
}) => {
  test.setTimeout(120_000);
  await withQueue(opsPage, 100, async (server) => {
    await expect(opsPage.getByTestId("queue-count")).toHaveText("100 waiting");
    await expect(rows(opsPage)).toHaveCount(50);
    await expect(opsPage.getByTestId("queue-range")).toHaveText("1–50 of 100");
    // A table, not a wall of cards: 50 rows fit in a few screens.
    expect(await opsPage.evaluate(() => document.documentElement.scrollHeight)).toBeLessThan(4000);
    const first = rows(opsPage).first();
    await expect(first).toContainText(`${queuePhone(0).slice(0, 3)}****${queuePhone(0).slice(7)}`);
    await expect(first).toContainText("First withdrawal to this WeChat");
    await snap(opsPage, "ops-queue-table");

    await opsPage.getByRole("button", { name: "Next page" }).click();
    await expect(opsPage.getByTestId("queue-range")).toHaveText("51–100 of 100");
    await expect(rows(opsPage).first()).toContainText(`****${queuePhone(50).slice(7)}`);
    await expect(opsPage.getByRole("button", { name: "Next page" })).toBeDisabled();
    await opsPage.getByRole("button", { name: "Previous page" }).click();
    await expect(opsPage.getByTestId("queue-range")).toHaveText("1–50 of 100");

    // Search by phone, then by withdrawal id.
    await opsPage.getByLabel("Phone, account ID or withdrawal ID").fill(queuePhone(77));
    await opsPage.getByRole("button", { name: "Apply" }).click();
    await expect(rows(opsPage)).toHaveCount(1);
    await expect(opsPage.getByTestId("queue-count")).toHaveText("1 waiting");
    await expect(rows(opsPage)).toContainText(`¥${queueAmount(77)}`);
    const id = await idOfRow(opsPage, 0);
    await opsPage.getByLabel("Phone, account ID or withdrawal ID").fill(id);
    await opsPage.getByRole("button", { name: "Apply" }).click();
    await expect(opsPage.getByTestId("queue-count")).toHaveText("1 waiting");
    await opsPage.getByRole("button", { name: "Clear" }).click();
    await expect(opsPage.getByTestId("queue-count")).toHaveText("100 waiting");

    // An amount range over the whole queue, not over the page shown.
    const inRange = Array.from({ length: 100 }, (_, n) => Number(queueAmount(n))).filter((a) => a >= 100 && a <= 150);
    await opsPage.getByLabel("Amount from (yuan)").fill("100");
    await opsPage.getByLabel("Amount to (yuan)").fill("150");
    await opsPage.getByRole("button", { name: "Apply" }).click();
    await expect(opsPage.getByTestId("queue-count")).toHaveText(`${inRange.length} waiting`);
    await expect(rows(opsPage)).toHaveCount(inRange.length);
    await opsPage.getByLabel("Reason").selectOption("large_amount");
    await expect(opsPage.getByTestId("queue-empty")).toHaveText(
      "No waiting withdrawal matches the search and filters.",
    );
    await opsPage.getByRole("button", { name: "Clear" }).click();

    // Sorted by amount, largest first, across all 100.
    await opsPage.getByRole("button", { name: "Amount" }).click();
    const largest = Math.max(...Array.from({ length: 100 }, (_, n) => Number(queueAmount(n))));
    await expect(rows(opsPage).first()).toContainText(`¥${largest.toFixed(2)}`);
    await expect(opsPage.getByRole("columnheader", { name: "Amount" })).toHaveAttribute("aria-sort", "descending");
    await opsPage.getByLabel("Per page").selectOption("100");
    await expect(rows(opsPage)).toHaveCount(100);
  });
});

test("console queue: approving asks first; the focus stays on the next row after it and after a refresh", async ({
  opsPage,
}) => {
  await withQueue(opsPage, 6, async (server) => {
    await expect(rows(opsPage)).toHaveCount(6);
    const second = await idOfRow(opsPage, 1);
    const third = await idOfRow(opsPage, 2);

    await rows(opsPage).nth(1).getByRole("button", { name: "Approve" }).click();
    const dialog = opsPage.getByRole("dialog", { name: "Approve this withdrawal?" });
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText(`¥${queueAmount(1)}`);
    // Cancel approves nothing.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toBeHidden();
    expect((await withdrawalOn(server.base, second)).status).toBe("in_review");
    expect(await focused(opsPage)).toBe(`approve:${second}`);

    await rows(opsPage).nth(1).getByRole("button", { name: "Approve" }).click();
    await dialog.getByRole("button", { name: "Approve" }).click();
    await expect(rows(opsPage)).toHaveCount(5);
    expect((await withdrawalOn(server.base, second)).status).not.toBe("in_review");
    await expect.poll(() => focused(opsPage)).toBe(`row:${third}`);

    // The 5-second refresh redraws the table and keeps the focus and the scroll.
    await opsPage.setViewportSize({ width: 1280, height: 300 });
    await opsPage.evaluate(() => window.scrollTo(0, 200));
    const scrolled = await opsPage.evaluate(() => window.scrollY);
    await opsPage.waitForResponse((response) => response.url().includes("/v1/ops/review-queue"), {
      timeout: 10_000,
    });
    await opsPage.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
    expect(await focused(opsPage)).toBe(`row:${third}`);
    expect(await opsPage.evaluate(() => window.scrollY)).toBe(scrolled);
  });
});

test("console queue: j/k move, a approves after a confirmation, r rejects with a reason from the list; ? shows the keys", async ({
  opsPage,
}) => {
  await withQueue(opsPage, 4, async (server) => {
    await expect(opsPage.getByText("Keys: j / k move · a approve · r reject")).toBeVisible();
    await opsPage.keyboard.press("?");
    await expect(opsPage.getByTestId("queue-help")).toContainText("Next withdrawal");
    await opsPage.keyboard.press("?");
    await expect(opsPage.getByTestId("queue-help")).toBeHidden();

    const ids = [];
    for (let at = 0; at < 4; at += 1) ids.push(await idOfRow(opsPage, at));
    await opsPage.keyboard.press("j");
    await opsPage.keyboard.press("j");
    await opsPage.keyboard.press("k");
    expect(await focused(opsPage)).toBe(`row:${ids[1]}`);
    await expect(rows(opsPage).nth(1).getByTestId("queue-detail")).toBeVisible();

    await opsPage.keyboard.press("a");
    const approve = opsPage.getByRole("dialog", { name: "Approve this withdrawal?" });
    await expect(approve).toBeVisible();
    await opsPage.keyboard.press("Enter");
    await expect(rows(opsPage)).toHaveCount(3);
    await expect.poll(() => focused(opsPage)).toBe(`row:${ids[2]}`);

    await opsPage.keyboard.press("r");
    const reject = opsPage.getByRole("dialog", { name: "Reject this withdrawal?" });
    await reject.getByRole("button", { name: "Reject withdrawal" }).click();
    await expect(reject.getByRole("alert")).toHaveText("Choose a reason from the list.");
    await reject.getByLabel("Reason (the user sees it)").selectOption("RISK_POLICY");
    await reject.getByLabel("Note for operators (not shown to the user)").fill("three in an hour");
    await reject.getByRole("button", { name: "Reject withdrawal" }).click();
    await expect(rows(opsPage)).toHaveCount(2);
    const rejected = await withdrawalOn(server.base, ids[2]);
    expect([rejected.status, rejected.failure_reason]).toEqual(["rejected", "RISK_POLICY"]);
    await expect.poll(() => focused(opsPage)).toBe(`row:${ids[3]}`);
  });
});

test("console queue: bulk approval says how many and how much, and approves every selected one", async ({
  opsPage,
}) => {
  await withQueue(opsPage, 5, async (server) => {
    const ids = [];
    for (let at = 0; at < 5; at += 1) ids.push(await idOfRow(opsPage, at));
    for (const at of [0, 2, 3]) await rows(opsPage).nth(at).getByRole("checkbox").check();
    const bulk = opsPage.getByRole("button", { name: "Approve selected (3)" });
    await bulk.click();
    const dialog = opsPage.getByRole("dialog", { name: "Approve 3 withdrawals?" });
    const fen = [0, 2, 3].reduce((sum, n) => sum + Math.round(Number(queueAmount(n)) * 100), 0);
    await expect(dialog).toContainText(`¥${(fen / 100).toFixed(2)}`);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect((await withdrawalOn(server.base, ids[0])).status).toBe("in_review");

    await bulk.click();
    await dialog.getByRole("button", { name: "Approve 3" }).click();
    await expect(opsPage.getByRole("status").filter({ hasText: "Approved 3 withdrawals." })).toBeVisible();
    await expect(rows(opsPage)).toHaveCount(2);
    await expect(opsPage.getByTestId("queue-count")).toHaveText("2 waiting");
    for (const at of [0, 2, 3]) expect((await withdrawalOn(server.base, ids[at])).status).not.toBe("in_review");
    for (const at of [1, 4]) expect((await withdrawalOn(server.base, ids[at])).status).toBe("in_review");
    await expect(opsPage.getByRole("button", { name: "Approve selected (0)" })).toBeDisabled();
  });
});
