import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { renderEvent } from "../../src/notify/formats.js";
import type { Digest } from "../../src/oci/digest.js";
import { makeImage } from "../helpers/fixtures.js";
import { pushImage, withClient } from "../helpers/push.js";
import { freePort, skipUnlessTools } from "../helpers/tools.js";
import { startReceiver, type Receiver } from "./receiver.js";

/** Keys and value types, recursively. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 0 ? [shape(v[0])] : [];
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return typeof v;
}

/**
 * A receiver written for registry:2 parses Berth's deliveries unchanged: the real registry:2
 * (Debian's docker-registry, distribution 2.8) notifies a loopback receiver of a push, and
 * Berth's envelope for the same push has the same content type, keys and value types.
 */
describe("registry:2's own envelope, live", { skip: skipUnlessTools("docker-registry") }, () => {
  let dir: string;
  let child: ChildProcess;
  let receiver: Receiver;
  let url: string;
  let host: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-registry2-"));
    receiver = await startReceiver();
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    url = `http://${host}`;
    await writeFile(
      join(dir, "config.yml"),
      [
        "version: 0.1",
        "log: {level: error, accesslog: {disabled: true}}",
        `storage: {filesystem: {rootdirectory: ${join(dir, "data")}}, delete: {enabled: true}}`,
        `http: {addr: "${host}"}`,
        `notifications: {endpoints: [{name: berth-test, url: "${receiver.url}", timeout: 2s, threshold: 1, backoff: 100ms}]}`,
      ].join("\n"),
    );
    child = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      try {
        await fetch(`${url}/v2/`);
        break;
      } catch (err) {
        if (i > 100 || child.exitCode !== null) throw new Error(`docker-registry did not start: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  after(async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(child.pid, "SIGTERM");
      await exited;
    }
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("has the keys, value types and content type of registry:2's push", async () => {
    const image = makeImage({ mediaType: "docker" });
    await withClient(url, (c) => pushImage(c, "team/app", "v1", image));
    const isManifestPush = (body: string) => body.includes('"push"') && body.includes(image.manifestDigest);
    await receiver.until((r) => r.some((x) => isManifestPush(x.body)), 10_000, "registry:2's manifest push");
    const theirs = receiver.received.find((x) => isManifestPush(x.body))!;
    const [theirEvent] = (JSON.parse(theirs.body) as { events: Record<string, unknown>[] }).events;

    const ours = renderEvent(
      "distribution",
      {
        seq: 1,
        id: randomUUID(),
        type: "manifest.pushed",
        time: Date.now(),
        repository: "team/app",
        target: { digest: image.manifestDigest as Digest, mediaType: image.manifestMediaType, size: image.manifest.length, tags: ["v1"] },
        actor: "anonymous",
        request: { id: randomUUID(), addr: "127.0.0.1:40000", host, method: "PUT", useragent: "node" },
      },
      { scheme: "http", source: { addr: "node:5000", instanceID: randomUUID() } },
    )!;
    assert.equal(ours.contentType, theirs.headers["content-type"]);
    const [ourEvent] = (JSON.parse(ours.body) as { events: Record<string, unknown>[] }).events;
    assert.deepEqual(shape(ourEvent), shape(theirEvent));
    for (const key of ["action", "target", "actor"] as const) {
      const { id: _a, ...a } = { id: 0, ...(ourEvent![key] as object) };
      const { id: _b, ...b } = { id: 0, ...(theirEvent![key] as object) };
      if (key === "action") assert.equal(ourEvent![key], theirEvent![key]);
      else assert.deepEqual(a, b, key);
    }
  });
});
