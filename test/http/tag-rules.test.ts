import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, assertError, makeImage, uniqueName, type Image } from "./client.js";

/** The rules every test here runs under, as an operator would write them (YAML, single-quoted regex). */
const RULES = `
tagRules:
  - name: releases
    repositories: "prod/*"
    immutable: ["v*", '/^\\d+\\.\\d+\\.\\d+$/']
    forbid: [latest]
  - repositories: "strict/*"
    require: [semver, git-sha]
`;

describe("tag rules over HTTP", () => {
  let dir: string;
  let b: TestBerth;
  let c: Client;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-tag-rules-"));
    await writeFile(join(dir, "berth.yaml"), RULES);
    b = await startBerth({ BERTH_CONFIG: join(dir, "berth.yaml") });
    c = new Client(b.url);
  });
  after(async () => {
    await b.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh image whose blobs are already in `name`; its manifest is not pushed. */
  async function image(name: string): Promise<Image> {
    const img = makeImage();
    for (const blob of img.blobs) await c.pushBlob(name, blob);
    return img;
  }
  const put = (name: string, ref: string, img: Image, query = "") => c.putManifest(name, ref, img.manifest, img.mediaType, query);
  const pushed = async (name: string, ref: string, img: Image, query = "") => {
    const res = await put(name, ref, img, query);
    assert.equal(res.status, 201, `${name}:${ref}${query}: ${res.text()}`);
  };
  /** The digest `ref` resolves to in `name`, or the status when it does not resolve. */
  const resolve = async (name: string, ref: string) => {
    const res = await c.head(`/v2/${name}/manifests/${ref}`);
    return res.status === 200 ? res.headers.get("docker-content-digest") : res.status;
  };

  it("PUT /v2/<name>/manifests/<tag> refuses to move an immutable tag: 403 DENIED naming the rule and the tag", async () => {
    const name = `prod/${uniqueName("move")}`;
    const [one, two] = [await image(name), await image(name)];
    await pushed(name, "v1", one);
    await pushed(name, "1.2.3", one);
    for (const tag of ["v1", "1.2.3"]) {
      const err = assertError(await put(name, tag, two), 403, "DENIED", tag);
      assert.match(err.message, new RegExp(`tag "${tag.replace(/\./g, "\\.")}" is immutable under tag rule "releases"`));
      assert.deepEqual(err.detail, { tag, rule: "releases" });
      assert.equal(await resolve(name, tag), one.digest, `${tag} still points at the first manifest`);
    }
    assert.equal(await resolve(name, two.digest), 404, "the refused manifest was not stored");
    await pushed(name, "1.2", two); // neither v* nor x.y.z: mutable
    await pushed(name, "1.2", one);
  });

  it("PUT of the identical manifest to an immutable tag again is allowed", async () => {
    const name = `prod/${uniqueName("same")}`;
    const one = await image(name);
    for (let i = 0; i < 3; i++) {
      const res = await put(name, "v2.0", one);
      assert.equal(res.status, 201, res.text());
      assert.equal(res.headers.get("docker-content-digest"), one.digest);
    }
    await pushed(name, one.digest, one, "?tag=v2.0");
  });

  it("DELETE /v2/<name>/manifests/<tag> and /<digest> are refused with 403 DENIED while an immutable tag points at it", async () => {
    const name = `prod/${uniqueName("delete")}`;
    const [one, two] = [await image(name), await image(name)];
    await pushed(name, "v1", one);
    await pushed(name, "dev", one);
    await pushed(name, "scratch", two);
    const byTag = assertError(await c.delete(`/v2/${name}/manifests/v1`), 403, "DENIED");
    assert.match(byTag.message, /tag "v1" is immutable under tag rule "releases": it cannot be deleted/);
    assert.deepEqual(byTag.detail, { tag: "v1", rule: "releases" });
    const byDigest = assertError(await c.delete(`/v2/${name}/manifests/${one.digest}`), 403, "DENIED");
    assert.match(byDigest.message, new RegExp(`manifest ${one.digest} is tagged "v1", which is immutable under tag rule "releases"`));
    assert.deepEqual(byDigest.detail, { tag: "v1", rule: "releases" });
    assert.equal(await resolve(name, "v1"), one.digest);
    assert.equal(await resolve(name, one.digest), one.digest);
    // Mutable tags and manifests no immutable tag points at delete as usual.
    assert.equal((await c.delete(`/v2/${name}/manifests/dev`)).status, 202);
    assert.equal((await c.delete(`/v2/${name}/manifests/${two.digest}`)).status, 202);
    assert.equal(await resolve(name, "scratch"), 404);
    // An immutable pattern with no such tag: nothing to protect, so the usual 404.
    assertError(await c.delete(`/v2/${name}/manifests/v9`), 404, "MANIFEST_UNKNOWN");
  });

  it("PUT refuses a forbidden tag (latest) with 400 TAG_INVALID naming the rule, storing nothing", async () => {
    const name = `prod/${uniqueName("latest")}`;
    const one = await image(name);
    const err = assertError(await put(name, "latest", one), 400, "TAG_INVALID");
    assert.match(err.message, /tag "latest" is forbidden by tag rule "releases"/);
    assert.deepEqual(err.detail, { tag: "latest", rule: "releases" });
    assert.equal(await resolve(name, "latest"), 404);
    assert.equal(await resolve(name, one.digest), 404);
  });

  it("PUT enforces a required pattern (semver or git-sha) under the default rule name", async () => {
    const name = `strict/${uniqueName("req")}`;
    const one = await image(name);
    for (const tag of ["latest", "feature-x", "v1", "1.2", "git-xyz"]) {
      const err = assertError(await put(name, tag, one), 400, "TAG_INVALID", tag);
      assert.match(err.message, /does not match tag rule "tagRules\[1\]", which requires semver or git-sha/, tag);
      assert.deepEqual(err.detail, { tag, rule: "tagRules[1]" });
    }
    for (const tag of ["1.2.3", "v1.2.3", "v2.0.0-rc.1", "git-0123abc"]) await pushed(name, tag, one);
    assert.deepEqual((await c.tags(name)).sort(), ["1.2.3", "git-0123abc", "v1.2.3", "v2.0.0-rc.1"]);
    await pushed(name, one.digest, one); // by digest, no tag: nothing to check
  });

  it("applies ?tag= on PUT by digest like tags in the path", async () => {
    const name = `prod/${uniqueName("query")}`;
    const [one, two] = [await image(name), await image(name)];
    await pushed(name, one.digest, one, "?tag=v1&tag=dev");
    const forbidden = assertError(await put(name, two.digest, two, "?tag=ok&tag=latest"), 400, "TAG_INVALID");
    assert.deepEqual(forbidden.detail, { tag: "latest", rule: "releases" });
    assert.equal(await resolve(name, "ok"), 404, "no tag of a refused push is written");
    const moved = assertError(await put(name, two.digest, two, "?tag=dev&tag=v1"), 403, "DENIED");
    assert.deepEqual(moved.detail, { tag: "v1", rule: "releases" });
    assert.equal(await resolve(name, "dev"), one.digest, "no tag of a refused push moves");
    assert.equal(await resolve(name, two.digest), 404);
    const strict = `strict/${uniqueName("query")}`;
    const three = await image(strict);
    assertError(await put(strict, three.digest, three, "?tag=1.0.0&tag=nightly"), 400, "TAG_INVALID");
    await pushed(strict, three.digest, three, "?tag=1.0.0&tag=git-abcdef1");
  });

  it("leaves repositories no rule covers alone: latest, moves and deletes all work", async () => {
    const name = `dev/${uniqueName("free")}`;
    const [one, two] = [await image(name), await image(name)];
    await pushed(name, "latest", one);
    await pushed(name, "v1", one);
    await pushed(name, "v1", two);
    assert.equal(await resolve(name, "v1"), two.digest);
    assert.equal((await c.delete(`/v2/${name}/manifests/v1`)).status, 202);
    assert.equal((await c.delete(`/v2/${name}/manifests/${one.digest}`)).status, 202);
    // `prod/*` covers prod's sub-repositories, not a repository merely named like it.
    const lookalike = `production/${uniqueName("app")}`;
    await pushed(lookalike, "latest", await image(lookalike));
  });
});
