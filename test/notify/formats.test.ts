import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { HTTP } from "cloudevents";
import type { Digest } from "../../src/oci/digest.js";
import { DISTRIBUTION_MEDIA_TYPE, formatSupports, renderEvent, type RenderContext } from "../../src/notify/formats.js";
import type { StoredEvent } from "../../src/storage/event-store.js";

/** registry:2's own deliveries for a push, pull, mount and deletes (see the file's `note`). */
const registry2 = JSON.parse(readFileSync(new URL("../../../test/notify/fixtures/registry2-events.json", import.meta.url), "utf8")) as Record<string, { events: Record<string, unknown>[] }> & { contentType: string };

const DIGEST = `sha256:${"a".repeat(64)}` as Digest;
const LAYER = `sha256:${"b".repeat(64)}` as Digest;
const ctx: RenderContext = { scheme: "http", source: { addr: "node1:5000", instanceID: "5f0c9f4e-0000-4000-8000-000000000001" } };
const request = { id: "req-1", addr: "10.0.0.9:51234", host: "registry.example:5000", method: "PUT", useragent: "docker/27.0" };

function event(type: string, fields: Partial<StoredEvent> = {}): StoredEvent {
  return { seq: 7, id: "0b9f7c2e-3c1d-4a4e-9a55-1f0f5c1e2d3a", type, time: Date.UTC(2026, 11, 7, 3, 0, 0), repository: "team/app", actor: "alice", request, ...fields };
}

function distribution(e: StoredEvent, c: RenderContext = ctx): Record<string, unknown>[] {
  const rendered = renderEvent("distribution", e, c);
  assert.ok(rendered, `${e.type} has a distribution form`);
  assert.equal(rendered.contentType, DISTRIBUTION_MEDIA_TYPE);
  return (JSON.parse(rendered.body) as { events: Record<string, unknown>[] }).events;
}

/** Keys and value types, recursively: what a receiver decoding into registry:2's structs depends on. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 0 ? [shape(v[0])] : [];
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return typeof v;
}

/** registry:2 adds `references` only with `notifications.events.includereferences`, off by default. */
function withoutReferences(e: Record<string, unknown>): Record<string, unknown> {
  const { references: _, ...target } = e.target as Record<string, unknown>;
  return { ...e, target };
}

describe("distribution format (registry:2's envelope)", () => {
  it("has the same keys and value types as registry:2's deliveries for push, pull, mount and delete", () => {
    const manifest = { digest: DIGEST, mediaType: "application/vnd.docker.distribution.manifest.v2+json", size: 423 };
    const cases: [string, StoredEvent][] = [
      ["blobPush", event("blob.pushed", { target: { digest: LAYER, size: 111, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" } })],
      ["manifestPush", event("manifest.pushed", { target: { ...manifest, tags: ["v1"] } })],
      ["pull", event("manifest.pulled", { target: { ...manifest, tag: "v1" }, request: { ...request, method: "GET" } })],
      ["mount", event("blob.mounted", { repository: "other/app", target: { digest: LAYER, size: 111 }, detail: { from: "team/app" }, request: { ...request, method: "POST" } })],
      ["manifestDelete", event("manifest.deleted", { target: { digest: DIGEST }, request: { ...request, method: "DELETE" } })],
      ["tagDelete", event("tag.deleted", { target: { tag: "v1", digest: DIGEST }, request: { ...request, method: "DELETE" } })],
    ];
    // registry:2 leaves the actor empty without access control; Berth's names who pushed, as registry:2 does with auth.
    const actorOf = (e: Record<string, unknown>) => ({ ...e, actor: { name: "string" } });
    for (const [name, e] of cases) {
      const [theirs] = registry2[name]!.events;
      const ours = distribution(e);
      assert.equal(ours.length, 1, name);
      assert.deepEqual(shape(ours[0]), actorOf(shape(withoutReferences(theirs!)) as Record<string, unknown>), name);
      assert.equal(ours[0]!.action, theirs!.action, name);
      assert.deepEqual(Object.keys(ours[0]!.target as object), Object.keys(withoutReferences(theirs!).target as object), `${name}: key order`);
    }
    assert.equal(registry2.contentType, DISTRIBUTION_MEDIA_TYPE);
  });

  it("carries what a deploy needs: repository, tag, digest, media type, size, who, and the pull URL", () => {
    const [push] = distribution(event("manifest.pushed", { target: { digest: DIGEST, mediaType: "application/vnd.oci.image.manifest.v1+json", size: 500, tags: ["v1"] } }));
    assert.deepEqual(push, {
      id: "0b9f7c2e-3c1d-4a4e-9a55-1f0f5c1e2d3a",
      timestamp: "2026-12-07T03:00:00.000Z",
      action: "push",
      target: {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        size: 500,
        digest: DIGEST,
        length: 500,
        repository: "team/app",
        url: `http://registry.example:5000/v2/team/app/manifests/${DIGEST}`,
        tag: "v1",
      },
      request,
      actor: { name: "alice" },
      source: ctx.source,
    });
  });

  it("sends a manifest pushed with several tags as one push per tag, each with an id stable across renders", () => {
    const e = event("manifest.pushed", { target: { digest: DIGEST, mediaType: "application/vnd.oci.image.manifest.v1+json", size: 500, tags: ["v1", "latest"] } });
    const events = distribution(e);
    assert.deepEqual(events.map((x) => (x.target as { tag: string }).tag), ["v1", "latest"]);
    assert.equal(events[0]!.id, e.id);
    assert.match(String(events[1]!.id), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(events[1]!.id, e.id);
    assert.deepEqual(distribution(e).map((x) => x.id), events.map((x) => x.id));
    const [untagged] = distribution(event("manifest.pushed", { target: { digest: DIGEST, mediaType: "application/vnd.oci.image.manifest.v1+json", size: 500 } }));
    assert.equal("tag" in (untagged!.target as object), false);
  });

  it("gives blobs application/octet-stream and a blob URL, as registry:2 does", () => {
    const [push] = distribution(event("blob.pushed", { target: { digest: LAYER, size: 111, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" } }));
    assert.equal((push!.target as { mediaType: string }).mediaType, "application/octet-stream");
    assert.equal((push!.target as { url: string }).url, `http://registry.example:5000/v2/team/app/blobs/${LAYER}`);
  });

  it("builds target.url from publicUrl, else the request's Host, and leaves it out when neither is known", () => {
    const e = event("manifest.pushed", { target: { digest: DIGEST, size: 1, tags: ["v1"] } });
    const url = (c: RenderContext, x = e) => (distribution(x, c)[0]!.target as { url?: string }).url;
    assert.equal(url({ ...ctx, publicUrl: "https://registry.example/" }), `https://registry.example/v2/team/app/manifests/${DIGEST}`);
    assert.equal(url({ ...ctx, scheme: "https" }), `https://registry.example:5000/v2/team/app/manifests/${DIGEST}`);
    const { request: _, ...fromCli } = e;
    assert.equal(url(ctx, fromCli), undefined);
    assert.deepEqual(distribution(fromCli)[0]!.request, {});
  });

  it("leaves the actor empty for anonymous requests, like registry:2", () => {
    assert.deepEqual(distribution(event("manifest.pulled", { actor: "anonymous", target: { digest: DIGEST, tag: "v1" } }))[0]!.actor, {});
  });

  it("sends a repository deletion as a delete of the repository alone", () => {
    const [del] = distribution(event("repository.deleted", { target: undefined }));
    assert.deepEqual(del!.target, { repository: "team/app" });
    assert.equal(del!.action, "delete");
  });

  it("has no form for the events registry:2 does not send", () => {
    for (const type of ["gc.completed", "retention.completed", "quota.warning", "quota.refused", "auth.denied", "auth.login", "access.changed", "tag.moved", "namespace.deleted"]) {
      assert.equal(formatSupports("distribution", type), false, type);
      assert.equal(renderEvent("distribution", event(type), ctx), undefined, type);
      assert.equal(formatSupports("cloudevents", type), true, type);
    }
  });
});

describe("cloudevents format", () => {
  it("is one structured CloudEvents 1.0 event the SDK parses: type, source, id, time, subject, data", () => {
    const e = event("manifest.pushed", { target: { digest: DIGEST, mediaType: "application/vnd.oci.image.manifest.v1+json", size: 500, tags: ["v1"] } });
    const rendered = renderEvent("cloudevents", e, { ...ctx, publicUrl: "https://registry.example" })!;
    assert.match(rendered.contentType, /^application\/cloudevents\+json/);
    const received = HTTP.toEvent({ headers: { "content-type": rendered.contentType }, body: rendered.body });
    assert.ok(!Array.isArray(received));
    assert.equal(received.specversion, "1.0");
    assert.equal(received.type, "io.berth.manifest.pushed");
    assert.equal(received.source, "https://registry.example");
    assert.equal(received.id, e.id);
    assert.equal(received.time, "2026-12-07T03:00:00.000Z");
    assert.equal(received.subject, "team/app:v1");
    assert.equal(received.datacontenttype, "application/json");
    assert.deepEqual(received.data, {
      id: e.id,
      type: "manifest.pushed",
      time: "2026-12-07T03:00:00.000Z",
      repository: "team/app",
      target: { digest: DIGEST, mediaType: "application/vnd.oci.image.manifest.v1+json", size: 500, tags: ["v1"], url: `https://registry.example/v2/team/app/manifests/${DIGEST}` },
      actor: "alice",
      request,
    });
  });

  it("names the subject by digest when no single tag concerns the event, and the source the same on every node", () => {
    const subject = (e: StoredEvent) => (JSON.parse(renderEvent("cloudevents", e, ctx)!.body) as { subject?: string; source: string });
    assert.equal(subject(event("manifest.deleted", { target: { digest: DIGEST } })).subject, `team/app@${DIGEST}`);
    assert.equal(subject(event("manifest.pushed", { target: { digest: DIGEST, tags: ["a", "b"] } })).subject, `team/app@${DIGEST}`);
    const gc = subject(event("gc.completed", { repository: undefined, detail: { blobs: 3 } }));
    assert.equal(gc.subject, undefined);
    assert.equal(gc.source, "/berth");
  });
});
