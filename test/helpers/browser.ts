/**
 * A real browser for the web UI's tests: Debian's chromium (scripts/install-test-deps.sh installs
 * it) driven by playwright-core, with axe-core for accessibility and screenshots for the docs.
 */
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { skipUnlessTools, whichSync } from "./tools.js";

export const CHROMIUM = "/usr/bin/chromium";

/** `describe(…, { skip: skipUnlessBrowser() })`: skips without chromium (naming the package), fails under CI=true. */
export function skipUnlessBrowser(): false | string {
  return skipUnlessTools("chromium");
}

/** One headless chromium for a suite; `close()` in `after`. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: whichSync("chromium") ?? CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

export interface PageOptions {
  /** Viewport width in CSS pixels (375: a phone). */
  width?: number;
  colorScheme?: "light" | "dark";
}

/**
 * A fresh browser context (its own cookies) and page. Every console error and uncaught page error
 * is collected in `problems`, and so is any dialog a script opened (an `alert` run by pushed content
 * would be one): tests assert it stays empty.
 */
export async function openPage(browser: Browser, options: PageOptions = {}): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: 900 },
    colorScheme: options.colorScheme ?? "light",
    permissions: ["clipboard-read", "clipboard-write"],
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/status of 40[134]/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });
  page.on("dialog", (dialog) => {
    problems.push(`dialog opened: ${dialog.type()} ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { context, page, problems };
}

/** Signs in through the UI's own form and waits until the page says who is signed in. */
export async function signIn(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/ui/sign-in`);
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password or robot token").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(`Signed in as ${user}`).waitFor();
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

/**
 * Runs axe-core on the page as it is now and fails on any serious or critical violation, naming
 * the rule and the elements.
 */
export async function checkAxe(page: Page, what: string): Promise<void> {
  axeSource ??= await readFile(require.resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol: the UI's CSP refuses inline script tags, as it should.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)) }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `${what}: axe-core found serious or critical accessibility violations`);
}

/** Where screenshots go: BERTH_UI_SCREENSHOTS_DIR (`npm run screenshots` sets docs/images/), else dist/screenshots/. */
const SCREENSHOTS = process.env.BERTH_UI_SCREENSHOTS_DIR ?? fileURLToPath(new URL("../../screenshots/", import.meta.url));

/** Saves a screenshot of the page as `ui-<name>.png`: every test run leaves the main pages' pictures behind. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `ui-${name}.png`), fullPage: false });
}
