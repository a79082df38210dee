/**
 * Checks the web UI's browser tests make on any page: that it finished loading, that pushed content
 * stayed text (no element, attribute or link came from it), and that the page fits a phone.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";

/** Waits until the page has a heading in <main>, the network is quiet and no "Loading…" is left. */
export async function settle(page: Page): Promise<void> {
  await page.locator("main h1").first().waitFor({ timeout: 15_000 });
  await page.waitForLoadState("networkidle");
  await page.waitForFunction(() => ![...document.querySelectorAll("main [role=status]")].some((e) => /Loading…$/.test(e.textContent ?? "")), undefined, { timeout: 15_000 });
}

/** What a page holds that only injected markup could have put there. */
export interface Injected {
  /** Elements that run or embed things: script, iframe, object, embed, and img/svg/math from content. */
  elements: string[];
  /** Attributes named on… (Preact adds listeners with addEventListener, never as attributes). */
  handlers: string[];
  /** Links, sources and form actions whose URL is not http(s), relative or a fragment. */
  urls: string[];
}

/** Everything in the document a script injection would have left. */
export function injected(page: Page): Promise<Injected> {
  return page.evaluate(() => {
    const describe = (e: Element) => e.outerHTML.slice(0, 120);
    const all = [...document.querySelectorAll("*")];
    const inBody = [...document.body.querySelectorAll("*")];
    const elements = inBody.filter((e) => ["SCRIPT", "IFRAME", "OBJECT", "EMBED", "IMG", "MATH", "svg", "SVG", "FRAME", "BASE", "META", "LINK", "STYLE"].includes(e.tagName)).map(describe);
    const handlers = all.filter((e) => [...e.attributes].some((a) => a.name.toLowerCase().startsWith("on"))).map(describe);
    const urls: string[] = [];
    for (const e of all) {
      for (const name of ["href", "src", "action", "formaction", "xlink:href", "data"]) {
        const value = e.getAttribute(name);
        if (value === null) continue;
        const scheme = /^\s*([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
        if (scheme !== undefined && scheme !== "http" && scheme !== "https") urls.push(`${e.tagName} ${name}=${value.slice(0, 80)}`);
      }
    }
    return { elements, handlers, urls };
  });
}

/**
 * Asserts that nothing ran and nothing was injected: no dialog, page error or console error
 * (`problems` from openPage), none of the elements, handlers or script URLs `injected` finds, and
 * every string of `texts` shown as literal text in <main>.
 */
export async function assertInert(page: Page, problems: string[], texts: readonly string[], what: string): Promise<void> {
  assert.deepEqual(problems, [], `${what}: something ran or failed on the page`);
  assert.deepEqual(await injected(page), { elements: [], handlers: [], urls: [] }, `${what}: markup from pushed content became elements, handlers or links`);
  const shown = (await page.locator("main").textContent()) ?? "";
  const missing = texts.filter((t) => !shown.includes(t));
  assert.deepEqual(missing, [], `${what}: these strings should be on the page as text`);
}

/** Asserts that the document is no wider than the window (nothing makes a phone scroll sideways). */
export async function assertFits(page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth, widest } = await page.evaluate(() => {
    const innerWidth = window.innerWidth;
    // The element sticking out furthest, to name in the failure.
    let widest = "";
    let right = innerWidth;
    for (const e of document.body.querySelectorAll("*")) {
      const r = e.getBoundingClientRect().right;
      // Inside a scrolling frame only what escapes it counts: absolutely placed elements whose containing block is outside.
      const framed = e.closest(".table-wrap, pre") !== null && !["absolute", "fixed"].includes(getComputedStyle(e).position);
      if (r > right + 0.5 && !framed) {
        right = r;
        widest = `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} (${Math.round(r)} px): ${(e.textContent ?? "").slice(0, 60)}`;
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth, widest };
  });
  assert.ok(scrollWidth <= innerWidth, `${what}: the document is ${scrollWidth} px wide in a ${innerWidth} px window; widest: ${widest}`);
}
