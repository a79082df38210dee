// Deleting from the repository page in a real chromium: a writer untags (with confirmation), the
// manifest then shows among the untagged ones, an immutable tag's refusal reaches the page, a
// reader gets no delete button and the API refuses them too, and an admin deletes by digest. Then
// hostile content: markup and script URLs pushed in a config and annotations stay inert text.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { checkAxe, launchBrowser, openPage, signIn, skipUnlessBrowser } from "../helpers/browser.js";
import { writeImageLayout, type ImageLayout } from "../helpers/oci-layout.js";
import { skipUnlessTools } from "../helpers/tools.js";
import { ADMIN_PASSWORD, HOSTILE, startBrowseBerth, writeHostileLayout, type BrowseBerth } from "./browse-support.js";

const WRITER = { name: "wendy", password: "wendy-password-1" };
const READER = { name: "rita", password: "rita-password-1" };

/** The tags the page's table lists, newest first. */
const tagsOnPage = (page: Page) => page.getByRole("table", { name: "Tags of team/app" }).locator("tbody th").allTextContents();

describe("web UI: deleting tags and manifests; hostile pushed content", { skip: skipUnlessBrowser() || skipUnlessTools("skopeo") }, () => {
  let b: BrowseBerth;
  let browser: Browser;
  let current: ImageLayout;
  let old: ImageLayout;

  before(async () => {
    b = await startBrowseBerth("berth-ui-delete");
    browser = await launchBrowser();
    await b.admin("PUT", "/api/v1/namespaces/team", { visibility: "private" });
    await b.addMember("team", WRITER.name, WRITER.password, "writer");
    await b.addMember("team", READER.name, READER.password, "reader");
    old = await writeImageLayout(join(b.root, "old"), { ref: "old", layers: [{ files: { "etc/version": "old\n" } }] });
    current = await writeImageLayout(join(b.root, "current"), { ref: "2.0", layers: [{ files: { "etc/version": "2.0\n" } }] });
    await b.push(old.dir, "old", "team/app:old");
    await b.push(current.dir, "2.0", "team/app:2.0");
    await b.push(current.dir, "2.0", "team/app:v2");
  });
  after(async () => {
    await browser?.close();
    await b?.stop();
  });

  it("a writer deletes a tag after confirming; its manifest is then listed as untagged, with no delete for a writer", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, WRITER.name, WRITER.password);
    await page.goto(`${b.berth.url}/ui/r/team/app`);
    await page.getByRole("button", { name: "Delete tag old" }).waitFor();
    assert.deepEqual(await tagsOnPage(page), ["v2", "2.0", "old"]);

    await page.getByRole("button", { name: "Delete tag old" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Delete tag old?" });
    await dialog.waitFor();
    await checkAxe(page, "delete confirmation");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Delete tag old" }).click();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.deepEqual(await tagsOnPage(page), ["v2", "2.0", "old"], "cancelling deletes nothing");

    await page.getByRole("button", { name: "Delete tag old" }).click();
    await dialog.getByRole("button", { name: "Delete tag" }).click();
    await page.getByRole("status").getByText("Tag old deleted").waitFor();
    await page.getByRole("button", { name: "Delete tag old" }).waitFor({ state: "detached" });
    assert.deepEqual(await tagsOnPage(page), ["v2", "2.0"]);
    assert.equal((await fetch(`${b.berth.url}/v2/team/app/manifests/old`, { headers: { Authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64")}` } })).status, 404);

    await page.getByRole("link", { name: "Show untagged manifests" }).click();
    const untagged = page.getByRole("table", { name: "Untagged manifests of team/app" });
    await untagged.waitFor();
    assert.deepEqual(await untagged.locator("tbody th a").evaluateAll((links) => links.map((a) => a.getAttribute("title"))), [old.manifestDigest]);
    assert.equal(await untagged.getByRole("button").count(), 0, "a writer may not delete manifests");
    await checkAxe(page, "repository page with untagged manifests");
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("deleting an immutable tag is refused, and the page says why", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, WRITER.name, WRITER.password);
    await page.goto(`${b.berth.url}/ui/r/team/app`);
    await page.getByRole("button", { name: "Delete tag v2" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete tag" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? "", /Not allowed\..*immutable under tag rule "releases"/);
    assert.deepEqual(await tagsOnPage(page), ["v2", "2.0"]);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("a reader sees no delete button, and the API refuses the delete the page would send", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, READER.name, READER.password);
    await page.goto(`${b.berth.url}/ui/r/team/app`);
    await page.getByRole("table", { name: "Tags of team/app" }).waitFor();
    assert.deepEqual(await tagsOnPage(page), ["v2", "2.0"]);
    assert.equal(await page.getByRole("button", { name: /^Delete/ }).count(), 0);
    await page.getByText("You may").waitFor();
    assert.equal(await page.locator("dl.facts dd").last().textContent(), "pull");
    const status = await page.evaluate(async () => {
      const session = (await (await fetch("/api/v1/session")).json()) as { csrf: string };
      const res = await fetch("/v2/team/app/manifests/2.0", { method: "DELETE", headers: { "X-Berth-CSRF": session.csrf } });
      return res.status;
    });
    assert.equal(status, 403);
    assert.deepEqual(await tagsOnPage(page), ["v2", "2.0"]);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("signed out, a private repository's page offers to sign in and shows nothing of it", async () => {
    const { context, page, problems } = await openPage(browser);
    await page.goto(`${b.berth.url}/ui/r/team/app`);
    await page.getByRole("alert").getByText("Sign in to see this.").first().waitFor();
    assert.equal(await page.getByRole("table").count(), 0);
    assert.equal(await page.getByText("2.0").count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("an admin deletes an untagged manifest by digest", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, "admin", ADMIN_PASSWORD);
    await page.goto(`${b.berth.url}/ui/r/team/app?untagged=true`);
    const button = page.getByRole("button", { name: `Delete manifest ${old.manifestDigest}` });
    await button.click();
    const dialog = page.getByRole("dialog", { name: "Delete this manifest?" });
    await dialog.getByRole("button", { name: "Delete manifest" }).click();
    await page.getByRole("status").getByText(`Manifest ${old.manifestDigest} deleted`).waitFor();
    await page.getByText("No untagged manifest.").waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("markup and javascript: URLs pushed in labels, history, environment and annotations show as inert text", async () => {
    const evil = await writeHostileLayout(join(b.root, "evil"));
    await b.push(join(b.root, "evil"), "evil", "team/evil:evil");
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, "admin", ADMIN_PASSWORD);
    await page.goto(`${b.berth.url}/ui/r/team/evil`);
    await page.getByRole("table", { name: "Tags of team/evil" }).getByRole("link", { name: "evil" }).click();
    await page.getByRole("heading", { name: /^Image sha256:/ }).waitFor();
    assert.ok(decodeURIComponent(page.url()).endsWith(evil.manifestDigest));
    const main = page.locator("main");
    for (const text of [HOSTILE.script, HOSTILE.img, HOSTILE.js]) assert.ok((await main.getByText(text, { exact: false }).count()) > 0, `${text} is shown as text`);
    assert.equal(await page.getByRole("table", { name: "Labels" }).getByText(HOSTILE.script, { exact: true }).count(), 1, "a label's key is text");
    assert.equal(await page.getByRole("table", { name: "Image history" }).getByText(HOSTILE.img, { exact: true }).count(), 1, "a history comment is text");
    assert.equal(await main.locator("script, img, iframe, object, embed").count(), 0, "no pushed element reached the page");
    const hrefs = await main.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href") ?? ""));
    assert.deepEqual(hrefs.filter((h) => !/^(\/ui\/|https?:)/.test(h)), [], "links are the UI's own or http(s)");
    await page.getByRole("link", { name: "https://example.com/evil" }).waitFor();
    await checkAxe(page, "artifact page with hostile content");
    assert.deepEqual(problems, [], "no script ran: no dialog, no page error");
    await context.close();
  });
});
