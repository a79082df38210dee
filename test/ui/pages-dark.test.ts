import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { launchBrowser, skipUnlessBrowser } from "../helpers/browser.js";
import { LOOKS, tourPages } from "./page-tour.js";
import { startSeededBerth, type Seeded } from "./ui-seed.js";

/** Every page in dark colours (the system's preference), on a desktop and on a phone. Light: pages.test.ts. */
describe("web UI: every page, dark, desktop and phone", { skip: skipUnlessBrowser() }, () => {
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

  it("dark, 1280 px: every page passes axe-core (colour contrast included)", async () => {
    await tourPages(browser, seeded, LOOKS.dark, { repository: "repository-dark" });
  });

  it("dark, 375 px: every page passes axe-core and is no wider than the phone", async () => {
    await tourPages(browser, seeded, LOOKS.darkPhone);
  });
});
