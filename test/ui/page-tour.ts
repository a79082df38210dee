/**
 * A visit of every page of the web UI as an administrator, in one look (light or dark, a width):
 * each page checked with axe-core, at phone width also for sideways overflow, and the main pages
 * photographed for the docs. pages.test.ts and pages-dark.test.ts run it.
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { checkAxe, openPage, screenshot, type PageOptions } from "../helpers/browser.js";
import { assertFits, settle } from "./ui-checks.js";
import { ADMIN, type Seeded } from "./ui-seed.js";

/** One way of looking: light or dark, desktop (1280 px) or phone (375 px). */
export type Look = Required<PageOptions> & { name: string };

export const LOOKS = {
  light: { name: "light, 1280 px", width: 1280, colorScheme: "light" },
  dark: { name: "dark, 1280 px", width: 1280, colorScheme: "dark" },
  lightPhone: { name: "light, 375 px", width: 375, colorScheme: "light" },
  darkPhone: { name: "dark, 375 px", width: 375, colorScheme: "dark" },
} satisfies Record<string, Look>;

/** Every page an administrator can open, by screenshot name. */
export function pagesOf(seeded: Seeded): { name: string; path: string }[] {
  const { repo } = seeded;
  return [
    { name: "repositories", path: "/ui/" },
    { name: "repository", path: `/ui/r/${repo}` },
    { name: "artifact", path: `/ui/r/${repo}/@${seeded.imageDigest}` },
    { name: "index", path: `/ui/r/${repo}/@${seeded.indexDigest}` },
    { name: "signature", path: `/ui/r/${repo}/@${seeded.signatureDigest}` },
    { name: "registry", path: "/ui/registry" },
    { name: "admin-users", path: "/ui/admin/users" },
    { name: "admin-tokens", path: "/ui/admin/tokens" },
    { name: "admin-namespaces", path: "/ui/admin/namespaces" },
    { name: "audit", path: "/ui/admin/audit" },
    { name: "my-tokens", path: "/ui/tokens" },
    { name: "not-found", path: "/ui/no/such/page" },
  ];
}

/**
 * Signs in on the sign-in page (checked too) and visits every page in `look`: no serious axe
 * violation, no page or console error, and at phone width nothing wider than the window.
 * `shots` names the pages to photograph, each as the file name to use.
 */
export async function tourPages(browser: Browser, seeded: Seeded, look: Look, shots: Record<string, string> = {}): Promise<void> {
  const phone = look.width < 500;
  const { context, page, problems } = await openPage(browser, look);
  try {
    await page.goto(`${seeded.berth.url}/ui/sign-in`);
    await page.getByLabel("User").waitFor();
    await checkAxe(page, `sign-in, ${look.name}`);
    if (phone) await assertFits(page, `sign-in, ${look.name}`);
    await page.getByLabel("User").fill(ADMIN.username);
    await page.getByLabel("Password or robot token").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText(`Signed in as ${ADMIN.username}`).waitFor();
    for (const { name, path } of pagesOf(seeded)) {
      await page.goto(`${seeded.berth.url}${path}`);
      await settle(page);
      await checkAxe(page, `${name}, ${look.name}`);
      if (phone) await assertFits(page, `${name}, ${look.name}`);
      if (shots[name]) await screenshot(page, shots[name]);
    }
    assert.deepEqual(problems, [], look.name);
  } finally {
    await context.close();
  }
}
