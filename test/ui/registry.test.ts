import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { checkAxe, launchBrowser, openPage, screenshot, signIn, skipUnlessBrowser } from "../helpers/browser.js";
import { AuthClient, basic, createUser } from "../http/auth-client.js";
import { makeImage } from "../helpers/fixtures.js";
import { pushImage, withClient } from "../helpers/push.js";

const ADMIN_PASSWORD = "admin-password-1";

const confirmWith = async (page: Page, label: string) => {
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await dialog.getByRole("button", { name: label }).click();
  await dialog.waitFor({ state: "detached" });
};

/** The registry page in a real browser: storage and deduplication, retention and GC (dry run first, then the real run), recent runs, webhook health. */
describe("web UI: the registry page", { skip: skipUnlessBrowser() }, () => {
  let dir: string;
  let hooks: Server;
  let berth: TestBerth;
  let browser: Browser;
  let admin: AuthClient;
  before(async () => {
    // ci-hooks takes every delivery; audit-sink is down.
    hooks = createServer((req, res) => req.resume().on("end", () => res.writeHead(req.url === "/down" ? 503 : 204).end()));
    await new Promise<void>((resolve) => hooks.listen(0, "127.0.0.1", resolve));
    dir = await mkdtemp(join(tmpdir(), "berth-ui-registry-"));
    const config = {
      retention: { rules: [{ name: "ci-builds", repositories: "ci/*", keepLast: 2 }] },
      gc: { grace: "0s", schedule: "off" },
      notifications: {
        endpoints: [
          { name: "ci-hooks", url: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook` },
          { name: "audit-sink", url: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/down` },
        ],
      },
    };
    await writeFile(join(dir, "berth.yaml"), JSON.stringify(config));
    berth = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml"), BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
    browser = await launchBrowser();
    admin = new AuthClient(berth.url, basic("admin", ADMIN_PASSWORD));
    // One base image in two repositories (stored once: deduplication), and four CI builds on its
    // first layer (retention keeps two). Random bytes, so the sizes are real ones.
    const baseLayers = [randomBytes(4 << 20), randomBytes(1536 << 10), randomBytes(600 << 10)];
    const base = makeImage({ layers: baseLayers });
    await withClient(berth.url, async (client) => {
      await pushImage(client, "team/app", "v1", base);
      await pushImage(client, "team/web", "v1", base);
      for (let i = 1; i <= 4; i++) {
        await pushImage(client, "ci/app", `build-${i}`, makeImage({ layers: [baseLayers[0]!, randomBytes(1200 << 10)] }));
        await new Promise((r) => setTimeout(r, 5));
      }
    }, { username: "admin", password: ADMIN_PASSWORD });
    await createUser(admin, "pat", "pat-password-1");
    for (let i = 0; ; i++) {
      const health = (await admin.api("GET", "webhooks")).json<{ endpoint: string; lastSuccessAt?: string; lastFailureAt?: string }[]>();
      if (health.find((h) => h.endpoint === "ci-hooks")?.lastSuccessAt && health.find((h) => h.endpoint === "audit-sink")?.lastFailureAt) break;
      assert.ok(i < 100, "the webhooks were tried within 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
    await new Promise((resolve) => hooks?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const tags = async (repo: string) => (await admin.request("GET", `/v2/${repo}/tags/list`)).json<{ tags: string[] }>().tags.sort();

  it("shows storage and deduplication; retention and GC run dry first, then for real, each with its report, and appear in recent runs", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, berth.url, "admin", ADMIN_PASSWORD);
    await page.getByRole("link", { name: "Registry" }).click();
    await page.getByRole("heading", { name: "Registry" }).waitFor();
    const saved = page.locator(".card", { hasText: "Saved by deduplication" });
    await saved.waitFor();
    assert.doesNotMatch(await saved.locator(".figure").textContent() ?? "", /^0 B$/, "the shared base image is stored once");
    const namespaces = page.getByRole("table", { name: "Namespaces" });
    assert.deepEqual(await namespaces.locator("tbody tr td:first-child").allTextContents(), ["ci", "team"]);
    await page.getByRole("row", { name: /ci-hooks/ }).getByText("healthy").waitFor();
    await page.getByRole("row", { name: /audit-sink/ }).getByText("failing").waitFor();
    await page.getByRole("row", { name: /audit-sink/ }).getByText("HTTP 503").waitFor();

    await page.getByRole("button", { name: "Dry run retention" }).click();
    const retentionDry = page.getByRole("region", { name: "Retention dry run report" });
    await retentionDry.getByRole("cell", { name: "ci/app" }).waitFor();
    assert.deepEqual(await retentionDry.getByRole("row", { name: /ci\/app/ }).locator("td").nth(2).locator("code").allTextContents(), ["build-2", "build-1"]);
    assert.deepEqual(await tags("ci/app"), ["build-1", "build-2", "build-3", "build-4"], "a dry run deletes nothing");
    await page.getByRole("button", { name: "Run retention", exact: true }).click();
    await confirmWith(page, "Delete expired tags");
    await page.getByRole("region", { name: "Retention report" }).getByText("Tags deleted").waitFor();
    assert.deepEqual(await tags("ci/app"), ["build-3", "build-4"]);

    assert.equal(await page.getByRole("button", { name: "Run garbage collection", exact: true }).isDisabled(), true, "a dry run comes first");
    await page.getByLabel("Untagged manifests").selectOption("true");
    await page.getByRole("button", { name: "Dry run garbage collection" }).click();
    const gcDry = page.getByRole("region", { name: "Garbage collection dry run report" });
    await gcDry.getByText("Would free").waitFor();
    assert.match((await gcDry.locator("dl").textContent()) ?? "", /2 manifests, [1-9]\d* blobs/);
    await gcDry.getByText(/Manifests that would be deleted \(2\)/).waitFor();
    assert.equal((await admin.request("GET", "/v2/ci/app/tags/list")).status, 200);
    await page.getByRole("button", { name: "Run garbage collection", exact: true }).click();
    await confirmWith(page, "Delete unused data");
    const gc = page.getByRole("region", { name: "Garbage collection report" });
    await gc.getByText("Freed", { exact: true }).waitFor();
    assert.match((await gc.locator("dl").textContent()) ?? "", /2 manifests/);

    const runs = page.getByRole("table", { name: "Recent runs" });
    await runs.getByRole("cell", { name: "Garbage collection" }).waitFor();
    await runs.getByRole("cell", { name: "Retention" }).waitFor();
    assert.match((await runs.getByRole("row", { name: /Garbage collection/ }).textContent()) ?? "", /completed.*2 manifests and \d+ blobs deleted/);
    assert.match((await runs.getByRole("row", { name: /Retention/ }).textContent()) ?? "", /2 tags deleted, 2 kept/);
    await page.getByLabel("Show").selectOption("retention");
    await runs.getByRole("cell", { name: "Garbage collection" }).waitFor({ state: "detached" });
    await checkAxe(page, "registry page with reports");
    await page.getByRole("heading", { name: "Garbage collection and retention" }).scrollIntoViewIfNeeded();
    await screenshot(page, "registry");
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("a plain user sees no Registry link and is refused the page", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, berth.url, "pat", "pat-password-1");
    assert.equal(await page.getByRole("link", { name: "Registry" }).count(), 0);
    await page.goto(`${berth.url}/ui/registry`);
    await page.getByRole("alert").getByText("The registry page is for administrators.").waitFor();
    assert.equal(await page.getByRole("button", { name: /garbage collection/ }).count(), 0);
    assert.equal(await page.evaluate(async () => (await fetch("/api/v1/usage")).status), 403, "the API refuses too");
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe("web UI: the registry page without access control", { skip: skipUnlessBrowser() }, () => {
  let berth: TestBerth;
  let browser: Browser;
  before(async () => {
    berth = await startBerth();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  it("is anyone's, at phone width in the dark; the run history says why it is absent", async () => {
    const { context, page, problems } = await openPage(browser, { width: 375, colorScheme: "dark" });
    await page.goto(`${berth.url}/ui/`);
    await page.getByRole("link", { name: "Registry" }).click();
    await page.getByText("Nothing is stored yet.").waitFor();
    await page.getByText("No webhook endpoints are configured.").waitFor();
    await page.getByText(/run history is kept in the audit log/).waitFor();
    await page.getByRole("button", { name: "Dry run garbage collection" }).click();
    await page.getByText("Nothing to delete: every manifest and blob is still in use.").waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page does not scroll sideways at 375 px (${overflow} px too wide)`);
    await checkAxe(page, "registry page, dark, phone width");
    assert.deepEqual(problems, []);
    await context.close();
  });
});
