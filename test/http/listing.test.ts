import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, MT, assertError, makeImage, type Reply } from "./client.js";

/** Byte order, which is what JavaScript's default sort gives for ASCII strings. */
const lexical = (values: string[]) => [...values].sort();

/** The target of `Link: <…>; rel="next"`, or undefined when there is none. */
function nextLink(res: Reply): string | undefined {
  const link = res.headers.get("link");
  if (link === null) return undefined;
  const match = /^<([^>]+)>;\s*rel="?next"?$/.exec(link.trim());
  assert.ok(match, `malformed Link header: ${link}`);
  return match[1];
}

/** Follows Link headers from `first`, returning every page's items. */
async function allPages(c: Client, first: string, key: "tags" | "repositories"): Promise<string[][]> {
  const pages: string[][] = [];
  let target: string | undefined = first;
  while (target !== undefined) {
    assert.ok(pages.length < 50, "pagination does not terminate");
    const res = await c.get(target);
    assert.equal(res.status, 200, `${target}: ${res.text()}`);
    pages.push(res.json()[key]);
    target = nextLink(res);
  }
  return pages;
}

const TAGS = ["v1", "V2", "_x", "1.0", "a-b", "a.b", "a_b", "latest", "Z", "v10", "v9"];

describe("tags list", () => {
  let b: TestBerth;
  let c: Client;
  const name = "listing/tags";
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
    const image = await c.pushImage(name, makeImage());
    for (const tag of TAGS) await c.pushManifest(name, tag, image.manifest, MT.ociManifest);
  });
  after(() => b.stop());

  it("GET /v2/<name>/tags/list returns the name and every tag in lexical byte order", async () => {
    const res = await c.get(`/v2/${name}/tags/list`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(res.json(), { name, tags: lexical(TAGS) });
    assert.equal(res.headers.get("link"), null);
  });

  it("GET /v2/<name>/tags/list?n=2 returns the first two tags and a Link to the next page", async () => {
    const expected = lexical(TAGS);
    const res = await c.get(`/v2/${name}/tags/list?n=2`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json().tags, expected.slice(0, 2));
    assert.equal(res.headers.get("link"), `</v2/${name}/tags/list?n=2&last=${expected[1]}>; rel="next"`);
  });

  it("GET /v2/<name>/tags/list?n=2 followed through Link pages visits every tag once and ends without Link", async () => {
    const pages = await allPages(c, `/v2/${name}/tags/list?n=2`, "tags");
    assert.equal(pages.length, Math.ceil(TAGS.length / 2));
    for (const page of pages) assert.ok(page.length <= 2 && page.length > 0);
    assert.deepEqual(pages.flat(), lexical(TAGS));
  });

  it("GET /v2/<name>/tags/list?n=<all> returns everything without a Link", async () => {
    const res = await c.get(`/v2/${name}/tags/list?n=${TAGS.length}`);
    assert.deepEqual(res.json().tags, lexical(TAGS));
    assert.equal(res.headers.get("link"), null);
  });

  it("GET /v2/<name>/tags/list?last= starts strictly after last, whether or not last is a tag", async () => {
    const expected = lexical(TAGS);
    const after3 = await c.get(`/v2/${name}/tags/list?last=${expected[2]}`);
    assert.deepEqual(after3.json().tags, expected.slice(3));
    const between = await c.get(`/v2/${name}/tags/list?last=v0`);
    assert.deepEqual(between.json().tags, expected.filter((t) => t > "v0"));
    const paged = await c.get(`/v2/${name}/tags/list?n=1&last=${expected[0]}`);
    assert.deepEqual(paged.json().tags, [expected[1]]);
    const end = await c.get(`/v2/${name}/tags/list?last=${expected[expected.length - 1]}`);
    assert.deepEqual(end.json().tags, []);
    assert.equal(end.headers.get("link"), null);
  });

  it("GET /v2/<name>/tags/list?n=0 returns an empty list and no Link", async () => {
    const res = await c.get(`/v2/${name}/tags/list?n=0`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { name, tags: [] });
    assert.equal(res.headers.get("link"), null);
  });

  it("GET /v2/<name>/tags/list?n=-1 or n=abc answers 400 PAGINATION_NUMBER_INVALID", async () => {
    for (const n of ["-1", "abc", "1.5"]) {
      assertError(await c.get(`/v2/${name}/tags/list?n=${n}`), 400, "PAGINATION_NUMBER_INVALID", `n=${n}`);
    }
  });

  it("GET /v2/<name>/tags/list answers 404 NAME_UNKNOWN for a repository never pushed", async () => {
    const err = assertError(await c.get("/v2/listing/nothing-here/tags/list"), 404, "NAME_UNKNOWN");
    assert.ok(err.message.length > 0);
  });

  it("GET /v2/<name>/tags/list lists only the tags of that repository, not of a longer or shorter name", async () => {
    await c.pushImage("listing/tags/child", makeImage(), "only-child");
    await c.pushImage("listing", makeImage(), "only-parent");
    assert.deepEqual(await c.tags("listing/tags/child"), ["only-child"]);
    assert.deepEqual(await c.tags("listing"), ["only-parent"]);
    assert.deepEqual(await c.tags(name), lexical(TAGS));
  });
});

describe("tags list and catalog with BERTH_MAX_PAGE_SIZE=3", () => {
  let b: TestBerth;
  let c: Client;
  const name = "capped";
  const repos = ["r1", "r2", "r3", "r4", "r5"];
  before(async () => {
    b = await startBerth({ BERTH_MAX_PAGE_SIZE: "3" });
    c = new Client(b.url);
    const image = makeImage();
    await c.pushImage(name, image);
    for (const tag of TAGS) await c.pushManifest(name, tag, image.manifest, MT.ociManifest);
    for (const repo of repos) await c.pushImage(repo, makeImage(), "v1");
  });
  after(() => b.stop());

  it("GET /v2/<name>/tags/list?n=100 is clamped to 3 tags with a Link", async () => {
    const res = await c.get(`/v2/${name}/tags/list?n=100`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json().tags, lexical(TAGS).slice(0, 3));
    assert.ok(nextLink(res), "a Link to the next page");
  });

  it("GET /v2/<name>/tags/list?n=100 followed through Link pages returns every tag once", async () => {
    const pages = await allPages(c, `/v2/${name}/tags/list?n=100`, "tags");
    for (const page of pages) assert.ok(page.length <= 3);
    assert.deepEqual(pages.flat(), lexical(TAGS));
  });

  it("GET /v2/<name>/tags/list without n pages by 3 through Link", async () => {
    const pages = await allPages(c, `/v2/${name}/tags/list`, "tags");
    assert.equal(pages[0]!.length, 3);
    assert.deepEqual(pages.flat(), lexical(TAGS));
  });

  it("GET /v2/_catalog?n=100 is clamped to 3 repositories with a Link", async () => {
    const all = lexical([name, ...repos]);
    const res = await c.get("/v2/_catalog?n=100");
    assert.deepEqual(res.json().repositories, all.slice(0, 3));
    assert.ok(nextLink(res));
    const pages = await allPages(c, "/v2/_catalog?n=100", "repositories");
    assert.deepEqual(pages.flat(), all);
  });
});

describe("catalog", () => {
  let b: TestBerth;
  let c: Client;
  const REPOS = ["b", "a", "a/b", "a-b", "a.b", "a_b", "c/d/e", "a/blobs/uploads", "z9", "tags/list/z"];
  const expected = lexical(REPOS);
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
    for (const repo of REPOS) await c.pushImage(repo, makeImage(), "latest");
  });
  after(() => b.stop());

  it("GET /v2/_catalog lists every repository in lexical byte order", async () => {
    const res = await c.get("/v2/_catalog");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(res.json(), { repositories: expected });
    assert.equal(res.headers.get("link"), null);
  });

  it("GET /v2/_catalog?n=2 returns two repositories and a Link to the next page", async () => {
    const res = await c.get("/v2/_catalog?n=2");
    assert.deepEqual(res.json().repositories, expected.slice(0, 2));
    const link = nextLink(res);
    assert.ok(link, "a Link to the next page");
    const url = new URL(link, b.url);
    assert.equal(url.pathname, "/v2/_catalog");
    assert.equal(url.searchParams.get("n"), "2");
    assert.equal(url.searchParams.get("last"), expected[1]);
  });

  it("GET /v2/_catalog?n=3 followed through Link pages visits every repository once and ends without Link", async () => {
    const pages = await allPages(c, "/v2/_catalog?n=3", "repositories");
    assert.equal(pages.length, Math.ceil(REPOS.length / 3));
    assert.deepEqual(pages.flat(), expected);
  });

  it("GET /v2/_catalog?last= starts strictly after last", async () => {
    const res = await c.get(`/v2/_catalog?last=${encodeURIComponent(expected[3]!)}`);
    assert.deepEqual(res.json().repositories, expected.slice(4));
    const between = await c.get("/v2/_catalog?last=a0");
    assert.deepEqual(between.json().repositories, expected.filter((r) => r > "a0"));
  });

  it("GET /v2/_catalog?n=0 returns an empty list and no Link", async () => {
    const res = await c.get("/v2/_catalog?n=0");
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { repositories: [] });
    assert.equal(res.headers.get("link"), null);
  });

  it("GET /v2/_catalog?n=-1 or n=abc answers 400 PAGINATION_NUMBER_INVALID", async () => {
    for (const n of ["-1", "abc"]) assertError(await c.get(`/v2/_catalog?n=${n}`), 400, "PAGINATION_NUMBER_INVALID", n);
  });

  it("GET /v2/_catalog does not list repositories that were only read", async () => {
    await c.get("/v2/ghost/tags/list");
    await c.get("/v2/ghost2/manifests/latest");
    await c.get("/v2/ghost3/blobs/sha256:" + "0".repeat(64));
    const res = await c.get("/v2/_catalog");
    assert.deepEqual(res.json().repositories, expected);
  });
});
