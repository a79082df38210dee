import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { makeImage as makeTestImage, makeLayer } from "../helpers/fixtures.js";
import { pushImage, withClient } from "../helpers/push.js";
import { AuthClient, basic } from "./auth-client.js";
import { Client, assertError, descriptor, makeImage, makeIndex, uniqueName, type Image } from "./client.js";

const RULES = `
tagRules:
  - name: releases
    repositories: "*"
    immutable: ["v*"]
`;

const ADMIN = basic("admin", "admin-password");

const bytesOf = (image: Image) => image.manifest.length + image.blobs.reduce((n, b) => n + b.length, 0);

interface Page<T> {
  items: T[];
  next?: string;
  total?: number;
}
interface RepoItem {
  name: string;
  namespace: string;
  tags: number;
  manifests: number;
  size: number;
  pushedAt: number | null;
  visibility: string;
}
interface TagItem {
  tag: string;
  digest: string;
  mediaType: string;
  size: number;
  platforms: string[];
  pushedAt: number;
  pulledAt: number | null;
  pulls: number;
  immutable: boolean;
  supply?: unknown;
}

async function getJson<T>(c: Client, path: string): Promise<T> {
  const res = await c.get(path);
  assert.equal(res.status, 200, `${path}: ${res.body.toString()}`);
  assert.match(String(res.headers.get("content-type")), /json/);
  return JSON.parse(res.body.toString()) as T;
}

describe("/api/v1/browse: repositories and tags, access control off", () => {
  let dir: string;
  let b: TestBerth;
  let c: Client;
  const ns = uniqueName("browse");
  const [small, big, multi] = [`${ns}/small`, `${ns}/big`, `${ns}/multi`];
  const images: Record<string, Image> = {};
  let index: { manifest: Buffer; digest: string; mediaType: string };
  let children: Image[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-browse-api-"));
    await writeFile(join(dir, "berth.yaml"), RULES);
    b = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml") });
    c = new Client(b.url);
    images.small = await c.pushImage(small, makeImage(), "latest");
    images.big = await c.pushImage(big, makeImage({ layers: 3 }), "v1");
    await c.pushManifest(big, "latest", images.big.manifest, images.big.mediaType);
    children = [await c.pushImage(multi, makeImage()), await c.pushImage(multi, makeImage())];
    index = makeIndex(children);
    await c.pushManifest(multi, "latest", index.manifest, index.mediaType);
  });
  after(async () => {
    await b?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const list = (query: string) => getJson<Page<RepoItem>>(c, `/api/v1/browse/repositories?q=${ns}&${query}`);

  it("lists repositories with exact sizes, counts and push times, sorted by name, size or last push", async () => {
    const byName = await list("sort=name");
    assert.deepEqual(byName.items.map((r) => r.name), [big, multi, small]);
    assert.equal(byName.total, 3);
    assert.equal(byName.next, undefined);
    const bigItem = byName.items[0]!;
    assert.deepEqual({ ...bigItem, pushedAt: typeof bigItem.pushedAt }, {
      name: big, namespace: ns, tags: 2, manifests: 1, size: bytesOf(images.big!), pushedAt: "number", visibility: "public",
    });
    const multiItem = byName.items[1]!;
    assert.equal(multiItem.size, index.manifest.length + bytesOf(children[0]!) + bytesOf(children[1]!));
    assert.deepEqual([multiItem.tags, multiItem.manifests], [1, 3]);
    const bySize = [...byName.items].sort((x, y) => y.size - x.size).map((r) => r.name);
    assert.deepEqual((await list("sort=size&order=desc")).items.map((r) => r.name), bySize);
    assert.deepEqual((await list("sort=size&order=asc")).items.map((r) => r.name), bySize.reverse());
    assert.deepEqual((await list("sort=pushed")).items.map((r) => r.name)[0], multi, "last pushed first by default");
    assert.deepEqual((await list("sort=name&order=desc")).items.map((r) => r.name), [small, multi, big]);
  });

  it("searches names case-insensitively and pages with an opaque cursor", async () => {
    const upper = await getJson<Page<RepoItem>>(c, `/api/v1/browse/repositories?q=${ns.toUpperCase()}/S`);
    assert.deepEqual(upper.items.map((r) => r.name), [small]);
    assert.equal(upper.total, 1);
    const first = await list("sort=name&n=2");
    assert.deepEqual(first.items.map((r) => r.name), [big, multi]);
    assert.ok(first.next);
    const second = await list(`sort=name&n=2&cursor=${encodeURIComponent(first.next!)}`);
    assert.deepEqual(second.items.map((r) => r.name), [small]);
    assert.equal(second.next, undefined);
    assertError(await c.get(`/api/v1/browse/repositories?sort=size&cursor=${encodeURIComponent(first.next!)}`), 400, "INVALID", "a cursor of another sort");
    assertError(await c.get("/api/v1/browse/repositories?cursor=bm9wZQ"), 400, "INVALID");
  });

  it("lists tags newest first with size, platforms, immutability and pull counts", async () => {
    const tags = await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${big}/tags`);
    assert.deepEqual(tags.items.map((t) => t.tag), ["latest", "v1"]);
    assert.equal(tags.total, 2);
    const [latest, v1] = tags.items as [TagItem, TagItem];
    assert.deepEqual([latest.digest, latest.mediaType, latest.size, latest.platforms], [images.big!.digest, images.big!.mediaType, bytesOf(images.big!), ["linux/amd64"]]);
    assert.deepEqual([latest.immutable, v1.immutable], [false, true]);
    assert.deepEqual([latest.pulls, latest.pulledAt], [0, null]);
    // No signature policy, no SBOMs (test servers generate none), no vulnerability database: said so, not guessed.
    for (const t of tags.items) if (t.supply) assert.deepEqual(t.supply, { signature: "unchecked", vulnerabilities: null, sbom: false });
    assert.ok(latest.pushedAt >= v1.pushedAt);
    const byName = await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${big}/tags?sort=name&n=1`);
    assert.deepEqual(byName.items.map((t) => t.tag), ["latest"]);
    const rest = await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${big}/tags?sort=name&n=1&cursor=${encodeURIComponent(byName.next!)}`);
    assert.deepEqual(rest.items.map((t) => t.tag), ["v1"]);
    assert.deepEqual((await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${big}/tags?q=V`)).items.map((t) => t.tag), ["v1"]);

    const [multiTag] = (await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${multi}/tags`)).items;
    assert.deepEqual(multiTag!.platforms, ["linux/amd64", "linux/arm64"]);
    assert.equal(multiTag!.size, index.manifest.length + bytesOf(children[0]!) + bytesOf(children[1]!));
  });

  it("counts every GET of a manifest as a pull of its tags (by tag, or by digest for each tag on it), not HEADs", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await c.get(`/v2/${big}/manifests/v1`, { Accept: images.big!.mediaType })).status, 200);
    assert.equal((await c.head(`/v2/${big}/manifests/v1`, { Accept: images.big!.mediaType })).status, 200);
    assert.equal((await c.get(`/v2/${big}/manifests/${images.big!.digest}`, { Accept: images.big!.mediaType })).status, 200);
    await b.berth.registry.pulls.settled();
    const tags = await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${big}/tags?sort=name`);
    const pulls = Object.fromEntries(tags.items.map((t) => [t.tag, t.pulls]));
    assert.deepEqual(pulls, { latest: 1, v1: 4 });
    assert.ok(tags.items.every((t) => typeof t.pulledAt === "number"));
    // Many at once: each one counted, none lost between the batched writes.
    await Promise.all(Array.from({ length: 60 }, () => c.get(`/v2/${small}/manifests/latest`, { Accept: images.small!.mediaType })));
    await b.berth.registry.pulls.settled();
    const [latest] = (await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${small}/tags`)).items;
    assert.equal(latest!.pulls, 60);
  });

  it("lists untagged manifests on request: not the index's children, not referrers", async () => {
    const loose = await c.pushImage(multi, makeImage());
    const signature = makeImage({ artifactType: "application/vnd.example.sig", subject: descriptor(index.mediaType, index.manifest) });
    await c.pushImage(multi, signature);
    const untagged = await getJson<Page<{ digest: string; size: number; platforms: string[]; pushedAt: number; mediaType: string }>>(
      c,
      `/api/v1/browse/repositories/${multi}/tags?untagged=true`,
    );
    assert.deepEqual(untagged.items.map((m) => m.digest), [loose.digest]);
    assert.deepEqual([untagged.items[0]!.size, untagged.items[0]!.platforms, untagged.items[0]!.mediaType], [bytesOf(loose), ["linux/amd64"], loose.mediaType]);
  });

  it("describes a repository with what the caller may do and its immutable tags", async () => {
    const info = await getJson<Record<string, unknown>>(c, `/api/v1/browse/repositories/${big}/info`);
    assert.equal(info.name, big);
    assert.equal(info.namespace, ns);
    assert.equal(info.visibility, "public");
    assert.deepEqual([info.tags, info.manifests, info.size], [2, 1, bytesOf(images.big!)]);
    assert.equal(typeof info.pushedAt, "number");
    assert.deepEqual(info.permissions, { pull: true, push: true, delete: true });
    assert.deepEqual(info.immutableTags, ["v*"]);
  });

  it("answers bad parameters with 400 INVALID and unknown repositories with 404 NAME_UNKNOWN", async () => {
    assertError(await c.get("/api/v1/browse/repositories?n=0"), 400, "INVALID");
    assertError(await c.get("/api/v1/browse/repositories?n=501"), 400, "INVALID");
    assertError(await c.get("/api/v1/browse/repositories?sort=stars"), 400, "INVALID");
    assertError(await c.get(`/api/v1/browse/repositories/${big}/tags?order=up`), 400, "INVALID");
    assertError(await c.get(`/api/v1/browse/repositories/${big}/tags?untagged=maybe`), 400, "INVALID");
    assertError(await c.get(`/api/v1/browse/repositories/${ns}/absent/info`), 404, "NAME_UNKNOWN");
    assertError(await c.get(`/api/v1/browse/repositories/${ns}/absent/tags`), 404, "NAME_UNKNOWN");
    assertError(await c.get("/api/v1/browse/repositories/Bad..Name/tags"), 400, "NAME_INVALID");
    assert.equal((await c.request("POST", "/api/v1/browse/repositories")).status, 405);
  });
});

describe("/api/v1/browse: access control on", () => {
  let b: TestBerth;
  let admin: AuthClient;
  let anonymous: Client;
  const ns = uniqueName("browseauth");
  const [priv, pub] = [`${ns}/private`, `${ns}/public`];

  before(async () => {
    b = await startBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
    admin = new AuthClient(b.url, ADMIN);
    anonymous = new Client(b.url);
    await admin.pushImage(priv, makeImage(), "latest");
    await admin.pushImage(pub, makeImage(), "latest");
    const res = await admin.request("PUT", `/api/v1/repositories/${pub}/visibility`, {
      body: Buffer.from(JSON.stringify({ visibility: "public" })),
      headers: { "Content-Type": "application/json" },
    });
    assert.ok(res.status < 300, res.body.toString());
  });
  after(async () => {
    await b?.stop();
  });

  it("lists only what the caller may pull, and the total only for those who see everything", async () => {
    const open = await getJson<Page<RepoItem>>(anonymous, `/api/v1/browse/repositories?q=${ns}`);
    assert.deepEqual(open.items.map((r) => [r.name, r.visibility]), [[pub, "public"]]);
    assert.equal(open.total, undefined);
    const all = await getJson<Page<RepoItem>>(admin, `/api/v1/browse/repositories?q=${ns}`);
    assert.deepEqual(all.items.map((r) => [r.name, r.visibility]), [[priv, "private"], [pub, "public"]]);
    assert.equal(all.total, 2);
    const wrong = new AuthClient(b.url, basic("admin", "wrong"));
    assert.equal((await wrong.get("/api/v1/browse/repositories")).status, 401);
  });

  it("guards a repository's routes like a pull, and reports the caller's rights", async () => {
    assert.equal((await anonymous.get(`/api/v1/browse/repositories/${priv}/info`)).status, 401);
    assert.equal((await anonymous.get(`/api/v1/browse/repositories/${priv}/tags`)).status, 401);
    const open = await getJson<Record<string, unknown>>(anonymous, `/api/v1/browse/repositories/${pub}/info`);
    assert.deepEqual([open.visibility, open.permissions], ["public", { pull: true, push: false, delete: false }]);
    const mine = await getJson<Record<string, unknown>>(admin, `/api/v1/browse/repositories/${priv}/info`);
    assert.deepEqual([mine.visibility, mine.permissions], ["private", { pull: true, push: true, delete: true }]);
    assert.equal((await getJson<Page<TagItem>>(admin, `/api/v1/browse/repositories/${priv}/tags`)).items.length, 1);
  });
});

describe("/api/v1/browse: supply-chain state of tags", () => {
  let b: TestBerth;
  const repo = `${uniqueName("browsesupply")}/app`;
  const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/sbom/${name}`, import.meta.url));

  before(async () => {
    b = await startBerth({ BERTH_SBOMS: "true" });
  });
  after(async () => {
    await b?.stop();
  });

  it("says an image has an SBOM once one is generated, and keeps the SBOM out of the untagged manifests", async () => {
    const image = makeTestImage({ layers: [makeLayer({ "etc/os-release": fixture("os-release-debian"), "var/lib/dpkg/status": fixture("dpkg-status") })] });
    await withClient(b.url, (client) => pushImage(client, repo, "1.0", image));
    await b.berth.supply.sboms.settled();
    const c = new Client(b.url);
    // A page waits at most 250 ms for supply states; on a busy machine a later load has them.
    let tag: TagItem | undefined;
    for (let i = 0; i < 5 && !tag?.supply; i++) [tag] = (await getJson<Page<TagItem>>(c, `/api/v1/browse/repositories/${repo}/tags`)).items;
    assert.deepEqual(tag!.supply, { signature: "unchecked", vulnerabilities: null, sbom: true });
    assert.deepEqual(tag!.platforms, ["linux/amd64"]);
    assert.deepEqual((await getJson<Page<unknown>>(c, `/api/v1/browse/repositories/${repo}/tags?untagged=true`)).items, [], "the SBOM is a referrer");
    const info = await getJson<{ manifests: number }>(c, `/api/v1/browse/repositories/${repo}/info`);
    assert.equal(info.manifests, 2, "the image and its SBOM referrer");
  });
});
