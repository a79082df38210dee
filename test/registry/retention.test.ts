import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type { RetentionRepoReport } from "../../src/registry/retention.js";
import { startBerth } from "../helpers/berth.js";
import { makeImage, makeIndex, makeLayer, MediaTypes, type TestImage } from "../helpers/fixtures.js";
import { clientOf, pushImage } from "../helpers/push.js";
import type { Credentials } from "../../src/client/registry-client.js";

/**
 * Retention over a running server: pushes, pulls and the checks go through HTTP, runs happen in the
 * same process or over the API. Runs on the embedded default, and on S3 + PostgreSQL with
 * BERTH_TEST_BACKEND=s3-postgres.
 */
const CONFIG = `
tagRules:
  - name: frozen
    repositories: "imm/*"
    immutable: ["v*"]
retention:
  rules:
    - name: last2
      repositories: "last/*"
      keepLast: 2
    - name: recent
      repositories: "within/*"
      keepWithin: 2s
    - name: releases
      repositories: "pattern/*"
      keepLast: 1
      keep: [semver, '/^stable-/']
    - name: imm
      repositories: "imm/*"
      keepLast: 1
    - name: untagged
      repositories: "untagged/*"
      keepLast: 1
      deleteUntagged: true
`;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A Berth with CONFIG, and push/pull helpers that authenticate as `credentials` when given. */
async function withBerth(env: Record<string, string>, credentials?: Credentials) {
  const dir = await mkdtemp(join(tmpdir(), "berth-retention-"));
  await writeFile(join(dir, "berth.yaml"), CONFIG);
  const b = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml"), BERTH_GC_GRACE: "0s", ...env });
  const auth = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}` : undefined;
  const headers = (extra: Record<string, string> = {}) => ({ ...(auth ? { Authorization: auth } : {}), ...extra });
  const client = clientOf(b.url, credentials);
  return {
    b,
    async push(repo: string, ref: string, image: TestImage = makeImage({ layers: [makeLayer({ f: randomUUID() })] })) {
      await pushImage(client, repo, ref, image);
      await sleep(5); // distinct push times, so "most recently pushed" is unambiguous
      return image;
    },
    putManifest: (repo: string, ref: string, body: Buffer, type: string) => client.putManifest(repo, ref, body, type),
    status: async (repo: string, ref: string, method = "GET") =>
      (await fetch(`${b.url}/v2/${repo}/manifests/${ref}`, { method, headers: headers() })).status,
    tags: async (repo: string) => ((await (await fetch(`${b.url}/v2/${repo}/tags/list`, { headers: headers() })).json()) as { tags: string[] | null }).tags ?? [],
    async stop() {
      client.close();
      await b.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const entry = (report: { repositories: RetentionRepoReport[] }, repo: string) => {
  const found = report.repositories.find((r) => r.repository === repo);
  assert.ok(found, `${repo} in the report`);
  return found;
};
const reasons = (e: RetentionRepoReport) => Object.fromEntries(e.kept.map((t) => [t.tag, t.reasons]));
const deleted = (e: RetentionRepoReport) => e.deleted.map((t) => t.tag).sort();

describe("retention", () => {
  let t: Awaited<ReturnType<typeof withBerth>>;
  before(async () => (t = await withBerth({})));
  after(() => t.stop());
  const run = (dryRun = false) => t.b.berth.registry.retention.run({ dryRun });
  const repo = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

  it("keepLast keeps the N most recently pushed tags and deletes the rest, manifests staying", async () => {
    const name = repo("last");
    const images = [];
    for (const tag of ["a", "b", "c", "d"]) images.push(await t.push(name, tag));
    const e = entry(await run(), name);
    assert.equal(e.rule, "last2");
    assert.deepEqual(reasons(e), { d: ["keepLast"], c: ["keepLast"] });
    assert.deepEqual(deleted(e), ["a", "b"]);
    assert.deepEqual((await t.tags(name)).sort(), ["c", "d"]);
    assert.equal(await t.status(name, "a"), 404);
    assert.equal(await t.status(name, images[0]!.manifestDigest), 200, "without deleteUntagged the manifest stays");
    assert.equal(await t.status(name, "d"), 200);
  });

  it("keepWithin keeps tags pushed, or pulled by GET or HEAD, within the window", async () => {
    const name = repo("within");
    for (const tag of ["old", "got", "headed"]) await t.push(name, tag);
    await sleep(2_200);
    assert.equal(await t.status(name, "got"), 200);
    assert.equal(await t.status(name, "headed", "HEAD"), 200);
    await t.push(name, "fresh");
    await t.b.berth.registry.pulls.settled();
    const e = entry(await run(), name);
    assert.deepEqual(reasons(e), { fresh: ["keepWithin:pushed"], got: ["keepWithin:pulled"], headed: ["keepWithin:pulled"] });
    assert.deepEqual(deleted(e), ["old"]);
    assert.deepEqual((await t.tags(name)).sort(), ["fresh", "got", "headed"]);
  });

  it("keepWithin counts a pull by digest, GET or HEAD, for every tag pointing at that manifest", async () => {
    const name = repo("within");
    const pinned = await t.push(name, "pinned");
    await t.putManifest(name, "pinned-alias", pinned.manifest, pinned.manifestMediaType);
    const headed = await t.push(name, "headed");
    await t.push(name, "old");
    await sleep(2_200);
    assert.equal(await t.status(name, pinned.manifestDigest), 200);
    assert.equal(await t.status(name, headed.manifestDigest, "HEAD"), 200);
    await t.push(name, "fresh");
    await t.b.berth.registry.pulls.settled();
    const e = entry(await run(), name);
    assert.deepEqual(reasons(e), {
      fresh: ["keepWithin:pushed"],
      pinned: ["keepWithin:pulled"],
      "pinned-alias": ["keepWithin:pulled"],
      headed: ["keepWithin:pulled"],
    });
    assert.deepEqual(deleted(e), ["old"]);
  });

  it("keeps tags matching a keep pattern (semver, /regex/) whatever their age", async () => {
    const name = repo("pattern");
    for (const tag of ["1.0.0", "v2.1.0", "stable-1", "dev-1", "dev-2", "dev-3"]) await t.push(name, tag);
    const e = entry(await run(), name);
    assert.deepEqual(reasons(e), { "dev-3": ["keepLast"], "stable-1": ["pattern:/^stable-/"], "v2.1.0": ["pattern:semver"], "1.0.0": ["pattern:semver"] });
    assert.deepEqual(deleted(e), ["dev-1", "dev-2"]);
  });

  it("never deletes an immutable tag and reports it kept with its tag rule", async () => {
    const name = repo("imm");
    for (const tag of ["v1", "v2", "tmp1", "tmp2"]) await t.push(name, tag);
    const e = entry(await run(), name);
    assert.deepEqual(reasons(e), { tmp2: ["keepLast"], v2: ["immutable:frozen"], v1: ["immutable:frozen"] });
    assert.deepEqual(deleted(e), ["tmp1"]);
    assert.equal(await t.status(name, "v1"), 200);
  });

  it("deleteUntagged removes the manifests nothing reaches any more, keeping a kept index's children", async () => {
    const name = repo("untagged");
    const one = await t.push(name, "one");
    const loose = makeImage({ layers: [makeLayer({ f: randomUUID() })] });
    await t.push(name, loose.manifestDigest, loose);
    const children = [makeImage({ layers: [makeLayer({ f: randomUUID() })] }), makeImage({ layers: [makeLayer({ f: randomUUID() })] })];
    for (const c of children) await t.push(name, c.manifestDigest, c);
    const index = makeIndex(children.map((c) => ({ mediaType: MediaTypes.ociManifest, digest: c.manifestDigest, size: c.manifest.length })));
    await t.putManifest(name, "multi", index.index, index.mediaType);

    const e = entry(await run(), name);
    assert.deepEqual(reasons(e), { multi: ["keepLast"] });
    assert.deepEqual(deleted(e), ["one"]);
    assert.deepEqual([...e.untaggedManifests].sort(), [one.manifestDigest, loose.manifestDigest].sort());
    assert.equal(await t.status(name, one.manifestDigest), 404);
    assert.equal(await t.status(name, loose.manifestDigest), 404);
    for (const c of children) assert.equal(await t.status(name, c.manifestDigest), 200, "reached through the kept index");
    assert.equal(await t.status(name, "multi"), 200);
  });

  it("a dry run changes nothing and reports exactly what the real run then does", async () => {
    const names = [repo("last"), repo("untagged")];
    for (const name of names) for (const tag of ["x1", "x2", "x3"]) await t.push(name, tag);
    const before = await Promise.all(names.map((n) => t.tags(n)));
    const dry = await run(true);
    assert.equal(dry.dryRun, true);
    assert.deepEqual(await Promise.all(names.map((n) => t.tags(n))), before, "nothing deleted");
    // (No GET by tag here: a pull is recorded, and would rightly change what the real run sees.)
    const real = await run();
    for (const name of names) {
      const [d, r] = [entry(dry, name), entry(real, name)];
      assert.ok(d.deleted.length > 0, `${name}: something to delete`);
      assert.deepEqual({ ...d, moved: [] }, r, `${name}: the dry run matches the real one`);
    }
    assert.equal(entry(real, names[1]!).untaggedManifests.length, 2);
  });

  it("skips a run while another holds the retention lock", async () => {
    const lock = await t.b.berth.registry.stores.metadataStore.tryLock("retention");
    assert.ok(lock);
    try {
      const report = await run();
      assert.match(report.skipped ?? "", /another retention run/);
      assert.deepEqual(report.repositories, []);
    } finally {
      await lock.release();
    }
  });
});

describe("retention with access control", () => {
  const ADMIN = basic("admin", "admin-password");
  let t: Awaited<ReturnType<typeof withBerth>>;
  before(async () => (t = await withBerth({ BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" }, { username: "admin", password: "admin-password" })));
  after(() => t.stop());
  const api = (path: string, auth?: string, method = "POST") =>
    fetch(`${t.b.url}/api/v1/${path}`, { method, headers: auth ? { Authorization: auth } : {} });

  it("POST /api/v1/retention is for administrators; dry runs audit nothing; every deletion is audited as retention:<rule>", async () => {
    const name = "untagged/audited";
    const images = [];
    for (const tag of ["a", "b", "c"]) images.push(await t.push(name, tag));
    assert.equal((await api("retention")).status, 401);

    const dry = await api("retention?dryRun=true", ADMIN);
    assert.equal(dry.status, 200);
    assert.deepEqual(deleted(entry((await dry.json()) as { repositories: RetentionRepoReport[] }, name)), ["a", "b"]);
    assert.deepEqual((await t.tags(name)).sort(), ["a", "b", "c"]);
    const audit = async () => {
      const of = async (action: string) => (await (await api(`audit?repo=${encodeURIComponent(name)}&action=${action}`, ADMIN, "GET")).json()) as Record<string, unknown>[];
      return [...(await of("tag.delete")), ...(await of("delete"))];
    };
    assert.deepEqual(await audit(), [], "a dry run writes no audit entry");

    const res = await api("retention", ADMIN);
    assert.equal(res.status, 200);
    const e = entry((await res.json()) as { repositories: RetentionRepoReport[] }, name);
    assert.deepEqual(deleted(e), ["a", "b"]);
    const events = await audit();
    const seen = events.map((ev) => [ev.actor, ev.target, ev.result]).sort();
    assert.deepEqual(seen, [
      ["retention:untagged", "a", "ok"],
      ["retention:untagged", "b", "ok"],
      ["retention:untagged", images[0]!.manifestDigest, "ok"],
      ["retention:untagged", images[1]!.manifestDigest, "ok"],
    ].sort());
    assert.ok(events.every((ev) => (ev.detail as { startedBy?: string }).startedBy === "admin"), "each deletion names who asked for the run");
    assert.ok(events.every((ev) => ev.source === "127.0.0.1" || ev.source === "::1" || String(ev.source).endsWith("127.0.0.1")), "and where the request came from");
    const runs = (await (await api("audit?action=retention", ADMIN, "GET")).json()) as { actor: string }[];
    assert.equal(runs[0]?.actor, "admin");
  });
});
