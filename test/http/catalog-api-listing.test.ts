import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, assertError, makeImage } from "./client.js";

interface Entry {
  name: string;
  tags: number;
  manifests: number;
}

/**
 * GET /api/v1/repositories (`berth repo list`'s listing over HTTP) on a registry larger than one
 * store page (1,000): streamed whole without `n`, paged with `n` and `last` like /v2/_catalog.
 */
describe("GET /api/v1/repositories on 2,500 repositories", () => {
  let b: TestBerth;
  let c: Client;
  const names: string[] = [];
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
    const store = b.berth.registry.stores.metadataStore;
    for (let i = 0; i < 2_500; i++) names.push(i < 1_200 ? `big/app-${String(i).padStart(4, "0")}` : `team-${i % 7}/svc-${i}`);
    for (const name of names) await store.createRepository(name);
    await c.pushImage("big/app-0007", makeImage(), "1.0");
    names.sort();
  });
  after(() => b.stop());

  const walk = async (path: string) => {
    const pages: Entry[][] = [];
    for (let next: string | undefined = path; next !== undefined; ) {
      const res = await c.get(next);
      assert.equal(res.status, 200, res.text());
      pages.push(res.json<Entry[]>());
      next = /<([^>]+)>; rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
    }
    return pages;
  };

  it("lists every repository once, in order, with its counts, as a stream", async () => {
    const res = await c.get("/api/v1/repositories");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), null, "streamed, not buffered whole");
    const entries = res.json<Entry[]>();
    assert.deepEqual(entries.map((e) => e.name), names);
    assert.deepEqual(entries.find((e) => e.name === "big/app-0007"), { name: "big/app-0007", tags: 1, manifests: 1 });
    assert.deepEqual(entries.find((e) => e.name === "big/app-1000"), { name: "big/app-1000", tags: 0, manifests: 0 });
  });

  it("lists a namespace spanning two store pages, and only it", async () => {
    const res = await c.get("/api/v1/repositories?namespace=big");
    assert.deepEqual(res.json<Entry[]>().map((e) => e.name), names.filter((n) => n.startsWith("big/")));
  });

  it("pages with n and last, the Link keeping the namespace", async () => {
    const pages = await walk("/api/v1/repositories?n=700");
    assert.deepEqual(pages.map((p) => p.length), [700, 700, 700, 400]);
    assert.deepEqual(pages.flat().map((e) => e.name), names);
    const scoped = await walk("/api/v1/repositories?namespace=big&n=500");
    assert.deepEqual(scoped.map((p) => p.length), [500, 500, 200]);
    assert.deepEqual(scoped.flat().map((e) => e.name), names.filter((n) => n.startsWith("big/")));
    assert.deepEqual((await c.get(`/api/v1/repositories?last=${encodeURIComponent(names[2_497]!)}`)).json<Entry[]>().map((e) => e.name), names.slice(2_498));
    assert.deepEqual((await c.get("/api/v1/repositories?n=0")).json(), []);
  });

  it("still refuses a bad namespace or page size with an OCI error, not a cut stream", async () => {
    assertError(await c.get("/api/v1/repositories?namespace=Bad!"), 400, "NAME_INVALID");
    assertError(await c.get("/api/v1/repositories?n=-1"), 400, "PAGINATION_NUMBER_INVALID");
  });
});
