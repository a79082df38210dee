import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, openPage, skipUnlessBrowser } from "../helpers/browser.js";
import { settle } from "./ui-checks.js";
import { LOOKS, pagesOf, tourPages } from "./page-tour.js";
import { ADMIN, startSeededBerth, type Seeded } from "./ui-seed.js";

/** Signs in with the keyboard alone: Tab to the field, type, Tab, type, Enter. */
async function signInByKeyboard(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/ui/sign-in`);
  await page.getByLabel("User").waitFor();
  for (let i = 0; i < 25 && (await page.evaluate(() => document.activeElement?.id)) !== "username"; i++) await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "username", "Tab reaches the user field");
  await page.keyboard.type(ADMIN.username);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "password", "Tab goes on to the password");
  await page.keyboard.type(ADMIN.password);
  await page.keyboard.press("Enter");
  await page.getByText(`Signed in as ${ADMIN.username}`).waitFor();
}

/** Every page in light colours, on a desktop (photographed for the docs) and on a phone; the keyboard. Dark: pages-dark.test.ts. */
describe("web UI: every page, light, desktop and phone; the keyboard", { skip: skipUnlessBrowser() }, () => {
  let seeded: Seeded;
  let browser: Browser;
  before(async () => {
    seeded = await startSeededBerth();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await seeded?.stop();
  });

  it("signs in with the keyboard alone, and the skip link moves focus past the navigation to the page", async () => {
    const { context, page, problems } = await openPage(browser);
    await signInByKeyboard(page, seeded.berth.url);
    await page.goto(`${seeded.berth.url}/ui/?sort=pushed`);
    await settle(page);
    await page.keyboard.press("Tab");
    const skip = await page.evaluate(() => ({ text: document.activeElement?.textContent, left: document.activeElement?.getBoundingClientRect().left ?? -1 }));
    assert.equal(skip.text, "Skip to content", "the first Tab stop is the skip link");
    assert.ok(skip.left >= 0, "the focused skip link is on screen");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.activeElement?.id === "main", undefined, { timeout: 2_000 });
    assert.equal(new URL(page.url()).search, "?sort=pushed", "the skip link stays on the page");
    await page.keyboard.press("Tab");
    assert.ok(await page.evaluate(() => document.activeElement?.closest("main") !== null), "the next Tab stop is inside the page, past the navigation");
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("light, 1280 px: every page passes axe-core; the main pages are photographed", async () => {
    // The audit log and My tokens are photographed by admin.test.ts, mid-action.
    const shots = Object.fromEntries(pagesOf(seeded).filter((p) => !["audit", "my-tokens", "not-found"].includes(p.name)).map((p) => [p.name, p.name]));
    await tourPages(browser, seeded, LOOKS.light, shots);
  });

  it("light, 375 px: every page passes axe-core and is no wider than the phone", async () => {
    await tourPages(browser, seeded, LOOKS.lightPhone, { repository: "repository-phone" });
  });
});
