import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { Client, MT, assertError, descriptor, digestOf, makeImage, makeIndex, randomBlob, uniqueName, type Image } from "./client.js";

interface ReferrerEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const SIG = "application/vnd.example.signature.v1";
const SBOM = "application/vnd.example.sbom.v1+json";

describe("referrers", () => {
  let b: TestBerth;
  let c: Client;
  before(async () => {
    b = await startBerth();
    c = new Client(b.url);
  });
  after(() => b.stop());

  async function referrers(name: string, digest: string, query = ""): Promise<ReferrerEntry[]> {
    const res = await c.get(`/v2/${name}/referrers/${digest}${query}`);
    assert.equal(res.status, 200, res.text());
    assert.equal(res.headers.get("content-type"), MT.ociIndex);
    const index = res.json();
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MT.ociIndex);
    assert.ok(Array.isArray(index.manifests), "manifests is an array");
    return index.manifests;
  }

  /** Pushes an artifact whose subject is `subject`, by digest. */
  async function attach(name: string, subject: Image, options: Parameters<typeof makeImage>[0] = {}): Promise<Image> {
    const image = makeImage({ subject: descriptor(subject.mediaType, subject.manifest), ...options });
    return c.pushImage(name, image);
  }

  const byDigest = (entries: ReferrerEntry[]) => [...entries].sort((x, y) => (x.digest < y.digest ? -1 : 1));

  it("GET /v2/<name>/referrers/<digest> lists every manifest whose subject is the digest, with descriptors", async () => {
    const name = uniqueName("refs");
    const subject = await c.pushImage(name, makeImage(), "v1");
    const sig = await attach(name, subject, {
      emptyConfig: true,
      artifactType: SIG,
      annotations: { "org.example.signer": "alice" },
    });
    const sbom = await attach(name, subject, { emptyConfig: true, artifactType: SBOM });
    await c.pushImage(name, makeImage(), "unrelated");
    const entries = await referrers(name, subject.digest);
    assert.deepEqual(byDigest(entries), byDigest([
      {
        mediaType: MT.ociManifest,
        digest: sig.digest,
        size: sig.manifest.length,
        artifactType: SIG,
        annotations: { "org.example.signer": "alice" },
      },
      { mediaType: MT.ociManifest, digest: sbom.digest, size: sbom.manifest.length, artifactType: SBOM },
    ]));
  });

  it("GET /v2/<name>/referrers/<digest> reports the config media type as artifactType when the manifest has none", async () => {
    const name = uniqueName("cfgtype");
    const subject = await c.pushImage(name, makeImage(), "v1");
    const configType = "application/vnd.example.legacy.config.v1+json";
    const legacy = await attach(name, subject, { configMediaType: configType });
    const entries = await referrers(name, subject.digest);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.digest, legacy.digest);
    assert.equal(entries[0]!.artifactType, configType);
  });

  it("GET /v2/<name>/referrers/<digest> lists an index that has a subject", async () => {
    const name = uniqueName("idxref");
    const subject = await c.pushImage(name, makeImage(), "v1");
    const child = await c.pushImage(name, makeImage());
    const index = makeIndex([child], {
      subject: descriptor(subject.mediaType, subject.manifest),
      artifactType: "application/vnd.example.bundle",
    });
    await c.pushManifest(name, index.digest, index.manifest, MT.ociIndex);
    const entries = await referrers(name, subject.digest);
    assert.deepEqual(entries.map((e) => [e.mediaType, e.digest, e.size, e.artifactType]), [
      [MT.ociIndex, index.digest, index.manifest.length, "application/vnd.example.bundle"],
    ]);
  });

  it("GET /v2/<name>/referrers/<digest>?artifactType= filters and answers OCI-Filters-Applied", async () => {
    const name = uniqueName("filter");
    const subject = await c.pushImage(name, makeImage(), "v1");
    const sig1 = await attach(name, subject, { emptyConfig: true, artifactType: SIG });
    const sig2 = await attach(name, subject, { emptyConfig: true, artifactType: SIG, annotations: { n: "2" } });
    await attach(name, subject, { emptyConfig: true, artifactType: SBOM });
    const res = await c.get(`/v2/${name}/referrers/${subject.digest}?artifactType=${encodeURIComponent(SIG)}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("oci-filters-applied"), "artifactType");
    const entries: ReferrerEntry[] = res.json().manifests;
    assert.deepEqual(entries.map((e) => e.digest).sort(), [sig1.digest, sig2.digest].sort());
    assert.ok(entries.every((e) => e.artifactType === SIG));
    const none = await c.get(`/v2/${name}/referrers/${subject.digest}?artifactType=application/vnd.example.none`);
    assert.equal(none.headers.get("oci-filters-applied"), "artifactType");
    assert.deepEqual(none.json().manifests, []);
    const unfiltered = await c.get(`/v2/${name}/referrers/${subject.digest}`);
    assert.equal(unfiltered.headers.get("oci-filters-applied"), null);
    assert.equal(unfiltered.json().manifests.length, 3);
  });

  it("GET /v2/<name>/referrers/<digest> answers 200 with an empty list when nothing refers to the digest", async () => {
    const name = uniqueName("lonely");
    const subject = await c.pushImage(name, makeImage(), "v1");
    assert.deepEqual(await referrers(name, subject.digest), []);
    assert.deepEqual(await referrers(name, digestOf(randomBlob())), []);
    assert.deepEqual(await referrers(uniqueName("never-pushed"), digestOf(randomBlob())), []);
  });

  it("GET /v2/<name>/referrers/<digest> answers 400 DIGEST_INVALID for a malformed digest", async () => {
    const name = uniqueName("malformed");
    for (const d of ["sha256:zz", "md5:abc", `sha256:${"a".repeat(63)}`, `sha256:${"A".repeat(64)}`, "latest"]) {
      assertError(await c.get(`/v2/${name}/referrers/${d}`), 400, "DIGEST_INVALID", d);
    }
  });

  it("GET /v2/<name>/referrers/<digest> lists referrers pushed before their subject, before and after it arrives", async () => {
    const name = uniqueName("early");
    const subject = makeImage();
    const early = await attach(name, subject, { emptyConfig: true, artifactType: SIG });
    const before = await referrers(name, subject.digest);
    assert.deepEqual(before.map((e) => e.digest), [early.digest]);
    await c.pushImage(name, subject, "v1");
    const after = await referrers(name, subject.digest);
    assert.deepEqual(after.map((e) => e.digest), [early.digest]);
    assert.equal(after[0]!.artifactType, SIG);
  });

  it("GET /v2/<name>/referrers/<digest> only lists referrers of that repository", async () => {
    const subject = makeImage();
    const one = uniqueName("one");
    const two = uniqueName("two");
    await c.pushImage(one, subject, "v1");
    await c.pushImage(two, subject, "v1");
    const inOne = await attach(one, subject, { emptyConfig: true, artifactType: SIG });
    assert.deepEqual((await referrers(one, subject.digest)).map((e) => e.digest), [inOne.digest]);
    assert.deepEqual(await referrers(two, subject.digest), []);
  });

  it("GET /v2/<name>/referrers/<digest> stops listing a referrer once it is deleted", async () => {
    const name = uniqueName("deleted");
    const subject = await c.pushImage(name, makeImage(), "v1");
    const gone = await attach(name, subject, { emptyConfig: true, artifactType: SIG });
    const kept = await attach(name, subject, { emptyConfig: true, artifactType: SBOM });
    assert.equal((await c.delete(`/v2/${name}/manifests/${gone.digest}`)).status, 202);
    assert.deepEqual((await referrers(name, subject.digest)).map((e) => e.digest), [kept.digest]);
  });

  it("GET /v2/<name>/referrers/<digest> is not confused by a subject that is itself a referrer", async () => {
    const name = uniqueName("chain");
    const subject = await c.pushImage(name, makeImage(), "v1");
    const sig = await attach(name, subject, { emptyConfig: true, artifactType: SIG });
    const countersig = await attach(name, sig, { emptyConfig: true, artifactType: SIG });
    assert.deepEqual((await referrers(name, subject.digest)).map((e) => e.digest), [sig.digest]);
    assert.deepEqual((await referrers(name, sig.digest)).map((e) => e.digest), [countersig.digest]);
  });
});
