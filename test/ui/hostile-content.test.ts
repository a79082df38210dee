import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { checkAxe, launchBrowser, openPage, signIn, skipUnlessBrowser } from "../helpers/browser.js";
import { assertFits, assertInert, injected, settle } from "./ui-checks.js";
import { HOSTILE, LONG_TAG, pushHostileContent, type HostileContent } from "./ui-content.js";

const ADMIN = { username: "admin", password: "admin-password-1" };

/**
 * Pushed content is the attacker's: every annotation, label, history line, platform field, artifact
 * type and name an image carries is shown as text on every page, never as markup or a link to a
 * script URL, and nothing on the page runs because of it.
 */
describe("web UI: hostile pushed content stays text", { skip: skipUnlessBrowser() }, () => {
  let berth: TestBerth;
  let browser: Browser;
  let content: HostileContent;
  let page: Page;
  let problems: string[];

  before(async () => {
    berth = await startBerth({ BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN.password });
    content = await pushHostileContent(berth.url, ADMIN);
    // A failed sign-in records who tried: the audit log shows that name.
    const res = await fetch(`${berth.url}/api/v1/session`, { method: "POST", headers: { "Content-Type": "application/json", Origin: berth.url }, body: JSON.stringify({ username: HOSTILE.script, password: HOSTILE.img }) });
    assert.equal(res.status, 401);
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser));
    await signIn(page, berth.url, ADMIN.username, ADMIN.password);
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  const visit = async (path: string) => {
    await page.goto(`${berth.url}${path}`);
    await settle(page);
  };

  it("the repository list, searched for markup, shows the query and the names as text", async () => {
    await visit("/ui/");
    await assertInert(page, problems, [content.repo, content.longRepo], "repository list");
    await visit(`/ui/?q=${encodeURIComponent(HOSTILE.script)}`);
    await assertInert(page, problems, [], "repository list searched for <script>");
    assert.equal(await page.locator("#repo-search, main input[type=search]").first().inputValue(), HOSTILE.script);
  });

  it("the repository page lists the tags, the longest tag whole, and the index's hostile platforms as text", async () => {
    await visit(`/ui/r/${content.repo}`);
    await assertInert(page, problems, ["v1", "multi", LONG_TAG, HOSTILE.script, HOSTILE.img], "repository page");
  });

  it("the artifact page shows every hostile annotation, label, history line, author and env entry as text, and a javascript: URL is not a link", async () => {
    await visit(`/ui/r/${content.repo}/@${content.image.digest}`);
    await assertInert(page, problems, content.image.texts, "artifact page");
    const links = await page.locator("main a[href]").evaluateAll((as) => as.map((a) => a.getAttribute("href") ?? ""));
    assert.ok(links.every((h) => !/^\s*javascript:/i.test(h)), `no link to a script URL: ${links.join(", ")}`);
    // A tag reaches the same page.
    await visit(`/ui/r/${content.repo}/@v1`);
    await assertInert(page, problems, content.image.texts, "artifact page by tag");
  });

  it("an index with hostile platform fields and its children render inert; the referrer's artifact type is text", async () => {
    await visit(`/ui/r/${content.repo}/@${content.index.digest}`);
    await assertInert(page, problems, content.index.texts, "index page");
    const main = (await page.locator("main").textContent()) ?? "";
    assert.ok(main.includes(HOSTILE.script) || main.includes(HOSTILE.img), "the index child's hostile platform is shown as text");
    for (const child of content.index.children) {
      await visit(`/ui/r/${content.repo}/@${child}`);
      await assertInert(page, problems, [child], "index child page");
    }
    await visit(`/ui/r/${content.repo}/@${content.referrer.digest}`);
    await assertInert(page, problems, content.referrer.texts, "referrer page");
  });

  it("the audit log shows a hostile user name from a failed sign-in as text", async () => {
    await visit("/ui/admin/audit");
    await assertInert(page, problems, [HOSTILE.script], "audit log");
  });

  it("a javascript: URL as the sign-in page's next= stays inside the UI", async () => {
    const other = await openPage(browser);
    await other.page.goto(`${berth.url}/ui/sign-in?next=${encodeURIComponent(HOSTILE.url)}`);
    await other.page.getByLabel("User").fill(ADMIN.username);
    await other.page.getByLabel("Password or robot token").fill(ADMIN.password);
    await other.page.getByRole("button", { name: "Sign in" }).click();
    await other.page.getByText(`Signed in as ${ADMIN.username}`).waitFor();
    assert.match(new URL(other.page.url()).pathname, /^\/ui\//);
    assert.deepEqual(other.problems, []);
    await other.context.close();
  });

  it("every /ui/ response carries a CSP without inline script, and the browser enforces it", async () => {
    for (const path of ["/ui/", `/ui/r/${content.repo}`, "/ui/sign-in"]) {
      const res = await fetch(`${berth.url}${path}`);
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /(^|;)\s*default-src 'self'/, path);
      assert.match(csp, /(^|;)\s*script-src 'self'(;|$)/, `${path}: scripts only from the UI's own files`);
      assert.match(csp, /object-src 'none'/, path);
      assert.match(csp, /base-uri 'none'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    }
    // Were markup ever to reach the DOM, the browser itself would refuse to run it.
    const probe = await openPage(browser);
    await probe.page.goto(`${berth.url}/ui/`);
    await probe.page.locator("main h1").first().waitFor();
    const outcome = await probe.page.evaluate(async () => {
      const w = window as unknown as { inlineRan?: boolean; handlerRan?: boolean };
      const violations: string[] = [];
      document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
      const script = document.createElement("script");
      script.textContent = "window.inlineRan = true";
      document.body.append(script);
      const holder = document.createElement("div");
      holder.innerHTML = `<img src="data:," onerror="window.handlerRan = true">`;
      document.body.append(holder);
      await new Promise((r) => setTimeout(r, 300));
      return { inline: w.inlineRan === true, handler: w.handlerRan === true, violations };
    });
    assert.equal(outcome.inline, false, "an inline <script> does not run");
    assert.equal(outcome.handler, false, "an inline event handler does not run");
    assert.ok(outcome.violations.some((d) => d.startsWith("script-src")), `the browser reported the refusal: ${outcome.violations.join(", ")}`);
    await probe.context.close();
  });

  it("at phone width the longest names and a 4,000-character annotation wrap or scroll in their frame, not widen the page; axe-core passes", async () => {
    const phone = await openPage(browser, { width: 375 });
    await signIn(phone.page, berth.url, ADMIN.username, ADMIN.password);
    for (const path of ["/ui/?q=hostile", `/ui/r/${content.repo}`, `/ui/r/${content.longRepo}`, `/ui/r/${content.repo}/@${content.image.digest}`, `/ui/r/${content.repo}/@${content.index.digest}`]) {
      await phone.page.goto(`${berth.url}${path}`);
      await settle(phone.page);
      await assertFits(phone.page, `${path} at 375 px`);
      await checkAxe(phone.page, `${path} with hostile content at 375 px`);
    }
    assert.deepEqual(phone.problems, []);
    await phone.context.close();
  });

  it("nothing injected survived the whole visit", async () => {
    assert.deepEqual(await injected(page), { elements: [], handlers: [], urls: [] });
    assert.deepEqual(problems, []);
  });
});
