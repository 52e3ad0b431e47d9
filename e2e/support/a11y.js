// The wallet app's accessibility checks, shared by the specs that reach its
// screens: axe-core finds no violation, and every control is a touch target
// of at least 44 × 44 px, in Chinese and in English.

import AxeBuilder from "@axe-core/playwright";
import { expect } from "./fixtures.js";

const TOUCH_MIN_PX = 44;

/** axe-core's findings on the page as it is now, as "rule: what, where" lines (none expected). */
async function axeViolations(page) {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.flatMap((violation) =>
    violation.nodes.map((node) => `${violation.id}: ${node.failureSummary} at ${node.target.join(" ")}`),
  );
}

/**
 * Controls smaller than 44 × 44 px that can be seen: buttons, links, form
 * fields, checkboxes. A link inside a sentence is exempt, as WCAG exempts
 * inline targets.
 */
async function smallTargets(page) {
  return page.evaluate((minimum) => {
    const controls = document.querySelectorAll("button, a[href], input, select, textarea, [role='button']");
    const small = [];
    for (const control of controls) {
      const box = control.getBoundingClientRect();
      const style = getComputedStyle(control);
      if (box.width === 0 || box.height === 0 || style.visibility === "hidden") continue;
      if (control.matches("p > a, li > a") && control.parentElement.textContent.trim() !== control.textContent.trim())
        continue;
      // The one real input under the six boxes of an SMS code is as big as the boxes.
      if (box.width < minimum - 0.5 || box.height < minimum - 0.5) {
        small.push(
          `${control.tagName.toLowerCase()} "${control.textContent.trim() || control.getAttribute("aria-label") || control.name}" ${Math.round(box.width)}×${Math.round(box.height)}`,
        );
      }
    }
    return small;
  }, TOUCH_MIN_PX);
}

/** Both checks on the screen as it is now, in Chinese and in English (which it is left in). */
export async function expectAccessible(page, what) {
  for (const language of ["zh", "en"]) {
    await switchTo(page, language);
    await expectAccessibleAsIs(page, `${what} (${language})`);
  }
}

export async function expectAccessibleAsIs(page, what) {
  expect(await axeViolations(page), `${what}: axe`).toEqual([]);
  expect(await smallTargets(page), `${what}: touch targets`).toEqual([]);
}

/** A sheet, opened by `open()` in each language in turn (the language button is behind it while it is up). */
export async function expectSheetAccessible(page, what, open) {
  for (const language of ["zh", "en"]) {
    await switchTo(page, language);
    await open();
    await expectAccessibleAsIs(page, `${what} (${language})`);
    await page.goBack();
    await expect(page.getByRole("dialog")).toHaveCount(0);
  }
}

export async function switchTo(page, language) {
  const isChinese = (await page.locator("html").getAttribute("lang")) === "zh-CN";
  if ((language === "zh") === isChinese) return;
  await page.locator(".lang-switch").click();
  await expect(page.locator("html")).toHaveAttribute("lang", language === "zh" ? "zh-CN" : "en");
}
