// The browse pages in a real chromium: images pushed by skopeo, found from the repository list,
// their layers, history, annotations, referrers and an index's platforms read on the page, and a
// pull command copied from the page and run with podman.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { checkAxe, launchBrowser, openPage, screenshot, signIn, skipUnlessBrowser } from "../helpers/browser.js";
import { MediaTypes } from "../helpers/fixtures.js";
import { writeArtifactLayout, writeImageLayout, writeMultiArchLayout, type ImageLayout, type MultiArchLayout } from "../helpers/oci-layout.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import { containersEnv, layoutBlob } from "../e2e/support.js";
import { ADMIN_PASSWORD, startBrowseBerth, type BrowseBerth } from "./browse-support.js";

/** Whether anything on the page is wider than the viewport (tables scroll inside .table-wrap). */
const overflows = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

describe("web UI: browsing repositories and artifacts", { skip: skipUnlessBrowser() || skipUnlessTools("skopeo", "podman") }, () => {
  let b: BrowseBerth;
  let browser: Browser;
  let app: ImageLayout;
  let multi: MultiArchLayout;
  let sbomDigest: string;

  before(async () => {
    // SBOMs on: the pages show what the supply chain knows (an SBOM per image, listed among its referrers).
    b = await startBrowseBerth("berth-ui-browse", { BERTH_SBOMS: "true" });
    browser = await launchBrowser();
    await b.admin("PUT", "/api/v1/namespaces/team", { visibility: "private" });
    app = await writeImageLayout(join(b.root, "app"), {
      ref: "1.0",
      layers: [{ files: { "etc/motd": "welcome to berth\n", "app/run.sh": "#!/bin/sh\necho hi\n" } }, { randomBytes: 300_000, seed: 3, path: "/data/blob.bin" }],
      annotations: {
        "org.opencontainers.image.source": "https://example.com/team/app",
        "org.opencontainers.image.url": "javascript:alert(document.domain)",
        "org.opencontainers.image.description": "<img src=x onerror=alert(1)>",
      },
    });
    await b.push(app.dir, "1.0", "team/app:1.0");
    await b.push(app.dir, "1.0", "team/app:latest");
    const subject = await layoutBlob(app.dir, app.manifestDigest);
    const sbom = await writeArtifactLayout(join(b.root, "sbom"), {
      ref: "sbom",
      artifactType: "application/spdx+json",
      blobs: [{ content: JSON.stringify({ spdxVersion: "SPDX-2.3", packages: [] }), mediaType: "application/spdx+json" }],
      subject: { mediaType: MediaTypes.ociManifest, digest: app.manifestDigest, size: subject.length },
    });
    sbomDigest = sbom.manifestDigest;
    await b.push(sbom.dir, "sbom", "team/app:sbom-1.0");
    multi = await writeMultiArchLayout(join(b.root, "multi"), {
      ref: "v1",
      platforms: [
        { arch: "amd64", layers: [{ files: { "arch.txt": "amd64\n" } }] },
        { arch: "arm64", variant: "v8", layers: [{ files: { "arch.txt": "arm64\n" } }] },
      ],
    });
    await b.push(multi.dir, "v1", "team/multi:v1", true);
    await b.push(app.dir, "1.0", "tools/cli:2024.1");
  });
  after(async () => {
    await browser?.close();
    await b?.stop();
  });

  it("the repository list shows every repository with its tags, size and last push, searches and sorts, and lists namespaces with their quota", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, "admin", ADMIN_PASSWORD);
    await page.goto(`${b.berth.url}/ui/`);
    const table = page.getByRole("table", { name: "Repositories" });
    await table.getByRole("link", { name: "team/app" }).waitFor();
    assert.deepEqual(await table.locator("tbody th a").allTextContents(), ["team/app", "team/multi", "tools/cli"]);
    const appRow = table.getByRole("row", { name: /team\/app/ });
    assert.equal(await appRow.locator("td").first().textContent(), "3", "team/app has three tags");
    assert.match((await appRow.locator("td").nth(1).textContent()) ?? "", /KiB/);
    await page.getByText("3 repositories").waitFor();

    const namespaces = page.getByRole("table", { name: "Namespaces" });
    const team = namespaces.getByRole("row", { name: /^team/ });
    await team.waitFor();
    assert.match((await team.textContent()) ?? "", /of 1\.0 GiB/);
    await checkAxe(page, "repositories page");
    await screenshot(page, "repositories");

    await page.getByLabel("Search").fill("MULTI");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByText("1 repository matching “MULTI”").waitFor();
    assert.deepEqual(await table.locator("tbody th a").allTextContents(), ["team/multi"]);
    await page.getByRole("button", { name: "Clear" }).click();
    await page.getByLabel("Sort by").selectOption("size");
    await page.waitForURL(/sort=size/);
    await page.getByText("3 repositories").waitFor();
    const sizes = await table.locator("tbody tr td:nth-child(3) span").evaluateAll((spans) => spans.map((s) => Number((s.getAttribute("title") ?? "").split(" ")[0])));
    assert.deepEqual(sizes, [...sizes].sort((x, y) => y - x), "largest first");

    await namespaces.getByRole("link", { name: "tools" }).click();
    await page.waitForURL(/q=tools%2F/);
    await page.getByText("1 repository matching “tools/”").waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("from the list to an image: its tags newest first, pull commands, then its layers, history, annotations (inert) and referrers", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, "admin", ADMIN_PASSWORD);
    await page.getByRole("link", { name: "team/app" }).click();
    await page.getByRole("heading", { name: "team/app", level: 1 }).waitFor();
    const tags = page.getByRole("table", { name: "Tags of team/app" });
    await tags.getByRole("link", { name: "1.0", exact: true }).waitFor();
    assert.deepEqual(await tags.locator("tbody th").allTextContents(), ["sbom-1.0", "latest", "1.0"], "newest push first");
    await page.getByText("3 tags, newest push first").waitFor();
    const row = tags.getByRole("row", { name: /^1\.0/ });
    assert.match((await row.textContent()) ?? "", /linux\/amd64/);
    assert.equal(await row.locator("code").getAttribute("title"), app.manifestDigest, "the full digest is in the title");
    await page.getByText("of 1.0 GiB").waitFor();
    assert.equal(await page.getByRole("button", { name: /^Delete tag/ }).count(), 3, "an admin may untag");
    await checkAxe(page, "repository page");
    await screenshot(page, "repository");

    await page.getByRole("searchbox", { name: "Filter tags" }).fill("1.");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/q=1\./);
    await tags.getByRole("link", { name: "sbom-1.0" }).waitFor();
    assert.deepEqual(await tags.locator("tbody th").allTextContents(), ["sbom-1.0", "1.0"]);
    await page.getByText("2 tags matching “1.”, newest push first").waitFor();
    await b.berth.berth.supply.settled();
    await page.reload();
    await row.getByText("SBOM", { exact: true }).waitFor();
    await row.getByRole("link", { name: "1.0", exact: true }).click();
    await page.waitForURL(new RegExp(`/ui/r/team/app/@${app.manifestDigest.replace(":", "(:|%3A)")}$`));
    await page.getByRole("heading", { name: /^Image sha256:/ }).waitFor();
    const layers = page.getByRole("table", { name: "Layers" });
    await layers.locator("tbody tr").nth(1).waitFor();
    const layerRows = await layers.locator("tbody tr").allTextContents();
    assert.equal(layerRows.length, 2);
    for (const [i, digest] of app.layerDigests.entries()) {
      assert.equal(await layers.locator("tbody tr").nth(i).locator("code").getAttribute("title"), digest);
      assert.match(layerRows[i]!, /application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip/);
    }
    assert.match(layerRows[1]!, /KiB/);
    const history = page.getByRole("table", { name: "Image history" });
    assert.match((await history.textContent()) ?? "", /berth test fixture layer 1/);
    await page.getByText("linux/amd64").first().waitFor();

    const annotations = page.getByRole("table", { name: "Annotations" });
    await annotations.getByRole("link", { name: "https://example.com/team/app" }).waitFor();
    assert.equal(await annotations.getByText("javascript:alert(document.domain)").count(), 1);
    assert.equal(await annotations.locator('a[href^="javascript"]').count(), 0, "a javascript: URL is never a link");
    assert.equal(await annotations.getByText("<img src=x onerror=alert(1)>").count(), 1, "markup shows as text");
    assert.equal(await page.locator("main img").count(), 0);

    const referrers = page.getByRole("table", { name: "Referrers" });
    const spdx = referrers.getByRole("row", { name: /application\/spdx\+json/ });
    assert.match((await spdx.textContent()) ?? "", /^SBOM/);
    assert.equal(await spdx.getByRole("link").getAttribute("title"), sbomDigest);
    await page.getByText(/^\d+ packages/).waitFor();
    assert.match((await page.getByRole("region", { name: "Manifest JSON" }).textContent()) ?? "", /\n {2}"schemaVersion": 2/);
    await checkAxe(page, "artifact page");
    await screenshot(page, "artifact");
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("an index lists its platforms, each linking to its own manifest and config", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, "admin", ADMIN_PASSWORD);
    await page.goto(`${b.berth.url}/ui/r/team/multi`);
    const row = page.getByRole("table", { name: "Tags of team/multi" }).getByRole("row", { name: /^v1/ });
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /linux\/amd64.*linux\/arm64\/v8/);
    assert.match((await row.textContent()) ?? "", /immutable/, "v* is immutable under the tag rule");
    await row.getByRole("link", { name: "v1" }).click();
    await page.getByRole("heading", { name: /^Image index/ }).waitFor();
    const platforms = page.getByRole("table", { name: "Platforms" });
    assert.deepEqual(await platforms.locator("tbody th").allTextContents(), ["linux/amd64", "linux/arm64/v8"]);
    await checkAxe(page, "index page");
    await platforms.getByRole("row", { name: /linux\/arm64/ }).getByRole("link").click();
    await page.getByRole("heading", { name: /^Image sha256:/ }).waitFor();
    assert.ok(decodeURIComponent(page.url()).endsWith(`/ui/r/team/multi/@${multi.manifestDigests[1]}`), page.url());
    const config = page.locator("dl.facts").nth(1);
    assert.match((await config.textContent()) ?? "", /Platformlinux\/arm64\/v8/);

    // An address naming a tag is replaced by the digest it resolves to, so the page can be shared as it is.
    await page.goto(`${b.berth.url}/ui/r/team/multi/@v1`);
    await page.waitForURL((url) => decodeURIComponent(url.pathname) === `/ui/r/team/multi/@${multi.indexDigest}`);
    await page.getByRole("heading", { name: /^Image index/ }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("the podman pull command copied from the page pulls the image, and the tag's row then counts the pull", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, b.berth.url, "admin", ADMIN_PASSWORD);
    await page.goto(`${b.berth.url}/ui/r/team/app`);
    await page.getByLabel("Tag", { exact: true }).selectOption("1.0");
    const command = `podman pull --tls-verify=false ${b.berth.host}/team/app:1.0`;
    await page.getByRole("button", { name: `Copy ${command}`, exact: true }).click();
    await page.getByRole("button", { name: `Copied ${command}`, exact: true }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, command);
    assert.equal(await page.getByText("insecure-registries").count(), 0, "Docker needs no insecure-registries entry for 127.0.0.1");

    const env = await containersEnv(join(b.root, "podman"));
    await writeFile(env.REGISTRY_AUTH_FILE!, JSON.stringify({ auths: { [b.berth.host]: { auth: Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64") } } }));
    const [cmd, ...args] = copied.split(" ");
    await run(cmd!, args, { env, timeoutMs: 60_000 });
    const pulled = (await run("podman", ["image", "inspect", "--format", "{{.Digest}}", `${b.berth.host}/team/app:1.0`], { env })).stdout.trim();
    assert.equal(pulled, app.manifestDigest);

    // Pull counts are written within a second of the pull: the tag's row shows it.
    const row = page.getByRole("table", { name: "Tags of team/app" }).getByRole("row", { name: /^1\.0/ });
    let cells: string[] = [];
    for (let attempt = 0; attempt < 20; attempt += 1) {
      await page.reload();
      await row.waitFor();
      cells = await row.locator("td").allTextContents();
      if (Number(cells[5]) >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(Number(cells[5]) >= 1, `the pull is counted: ${cells.join(" | ")}`);
    assert.equal(cells[4], "just now", "last pull");
    await run("podman", ["rmi", "-a", "-f"], { env, allowFail: true });
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("at phone width in dark mode the pages fit: tables scroll inside their frame", async () => {
    const { context, page, problems } = await openPage(browser, { width: 375, colorScheme: "dark" });
    await signIn(page, b.berth.url, "admin", ADMIN_PASSWORD);
    for (const [path, ready] of [
      ["/ui/", "Repositories"],
      ["/ui/r/team/app", "Tags"],
      [`/ui/r/team/app/@${app.manifestDigest}`, "Layers"],
    ] as const) {
      await page.goto(`${b.berth.url}${path}`);
      await page.getByRole("heading", { name: ready, exact: true }).waitFor();
      await page.locator("tbody tr").first().waitFor();
      assert.equal(await overflows(page), false, `${path} is wider than 375 px`);
      await checkAxe(page, `${path} at phone width, dark`);
    }
    assert.deepEqual(problems, []);
    await context.close();
  });
});
