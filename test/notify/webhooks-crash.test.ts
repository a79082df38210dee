import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { BERTH_BIN, scaleOutEnv, spawnServer, type BerthProcess } from "../helpers/berth.js";
import { makeImage } from "../helpers/fixtures.js";
import { pushBlob, pushManifest } from "../helpers/push.js";
import { skipUnlessPostgres, skipUnlessS3 } from "../helpers/services.js";
import { startReceiver, type Receiver } from "./receiver.js";

/**
 * Real `berth serve` processes killed with SIGKILL in the middle of a burst of pushes: every push
 * a client saw acknowledged (201) reaches the receiver afterwards, signed, with the same event id
 * however often it is delivered, in push order per repository.
 */

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

interface Acked {
  repo: string;
  tag: string;
  digest: string;
}

interface PushEvent {
  id: string;
  action: string;
  target: { repository: string; tag?: string; digest: string; mediaType: string };
}

async function writeConfig(dir: string, receiverUrl: string): Promise<string> {
  const path = join(dir, "berth.json");
  const config = { notifications: { endpoints: [{ name: "deploy", url: receiverUrl, secret: SECRET, timeout: "2s" }] } };
  await writeFile(path, JSON.stringify(config));
  return path;
}

function serve(data: string, configPath: string, env: Record<string, string> = {}): Promise<BerthProcess> {
  return spawnServer([process.execPath, BERTH_BIN, "serve", "--listen", "127.0.0.1:0", "--data", data, "--config", configPath], {
    env: { ...process.env, ...env },
  });
}

/**
 * `workers` clients, each pushing small images to its own repository with tags t0, t1, … through
 * `nodeFor(i)`; stops quietly once requests fail (the node died). Resolves with what was acknowledged.
 */
function burst(workers: number, nodeFor: (worker: number, n: number) => string, stop: () => boolean): { acked: Acked[]; done: Promise<void> } {
  const acked: Acked[] = [];
  const done = Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let n = 0; !stop(); n++) {
        const repo = `crash/w${w}`;
        const image = makeImage({ layers: [randomBytes(2048)] });
        try {
          const url = nodeFor(w, n);
          await pushBlob(url, repo, image.config);
          await pushBlob(url, repo, image.layers[0]!);
          const digest = await pushManifest(url, repo, `t${n}`, image.manifest, image.manifestMediaType);
          acked.push({ repo, tag: `t${n}`, digest });
        } catch {
          if (stop()) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }),
  ).then(() => {});
  return { acked, done };
}

/** The push events of manifests with a tag in what `receiver` got, after checking each delivery's signature. */
function manifestPushes(receiver: Receiver): PushEvent[] {
  const hook = new Webhook(SECRET);
  const events: PushEvent[] = [];
  for (const r of receiver.received) {
    const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));
    hook.verify(r.body, headers); // throws on a bad signature
    const envelope = JSON.parse(r.body) as { events: PushEvent[] };
    for (const e of envelope.events) if (e.action === "push" && e.target.tag !== undefined) events.push(e);
  }
  return events;
}

const key = (repo: string, tag: string, digest: string) => `${repo}:${tag}@${digest}`;

/** Every acknowledged push was delivered; each one always under one id; per repository in push order. */
function assertDelivered(acked: readonly Acked[], events: readonly PushEvent[]): void {
  const idsOf = new Map<string, Set<string>>();
  for (const e of events) {
    const k = key(e.target.repository, e.target.tag!, e.target.digest);
    idsOf.set(k, (idsOf.get(k) ?? new Set()).add(e.id));
  }
  for (const a of acked) {
    const ids = idsOf.get(key(a.repo, a.tag, a.digest));
    assert.ok(ids, `the acknowledged push of ${a.repo}:${a.tag} was delivered`);
    assert.equal(ids.size, 1, `${a.repo}:${a.tag} was delivered under one event id however often (${[...ids].join(", ")})`);
  }
  const firstSeen = new Map<string, number[]>();
  for (const e of events) {
    const n = Number(e.target.tag!.slice(1));
    const seen = firstSeen.get(e.target.repository) ?? [];
    if (!seen.includes(n)) seen.push(n);
    firstSeen.set(e.target.repository, seen);
  }
  for (const [repo, order] of firstSeen) {
    assert.deepEqual(order, [...order].sort((a, b) => a - b), `${repo}'s pushes were delivered in push order`);
  }
}

describe("webhooks survive kill -9", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  after(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("one node killed during a burst of pushes and restarted: every acknowledged push is delivered, signed, under a stable id, in order", async () => {
    // A receiver slower than the pushes, so a backlog (and requests in flight) die with the node.
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 100 }));
    cleanups.push(() => receiver.close());
    const data = await mkdtemp(join(tmpdir(), "berth-hooks-crash-"));
    cleanups.push(() => rm(data, { recursive: true, force: true }));
    const configPath = await writeConfig(data, receiver.url);

    let node = await serve(data, configPath);
    cleanups.push(() => node.stop());
    let killed = false;
    const pushing = burst(6, () => node.url, () => killed);
    const deadline = Date.now() + 60_000;
    while (pushing.acked.length < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await node.kill9();
    killed = true;
    await pushing.done;
    const acked = [...pushing.acked];
    assert.ok(acked.length >= 40, `the burst got going (${acked.length} pushes acknowledged)`);
    const wanted = new Set(acked.map((a) => key(a.repo, a.tag, a.digest)));
    const beforeRestart = new Set(manifestPushes(receiver).map((e) => key(e.target.repository, e.target.tag!, e.target.digest)));
    assert.ok([...wanted].some((k) => !beforeRestart.has(k)), "some acknowledged pushes were not delivered yet when the node died");

    node = await serve(data, configPath);
    await receiver.until(
      () => {
        const got = new Set(manifestPushes(receiver).map((e) => key(e.target.repository, e.target.tag!, e.target.digest)));
        return [...wanted].every((k) => got.has(k));
      },
      30_000,
      `deliveries of all ${acked.length} acknowledged pushes`,
    );
    assertDelivered(acked, manifestPushes(receiver));
  });

  it("two nodes on S3 + PostgreSQL, one killed mid-burst: the other delivers every acknowledged push, none lost", { skip: skipUnlessS3() || skipUnlessPostgres() }, async () => {
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 100 }));
    cleanups.push(() => receiver.close());
    const backend = await scaleOutEnv();
    cleanups.push(() => backend.cleanup());
    const dirs = [await mkdtemp(join(tmpdir(), "berth-hooks-a-")), await mkdtemp(join(tmpdir(), "berth-hooks-b-"))];
    cleanups.push(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
    const configs = await Promise.all(dirs.map((d) => writeConfig(d, receiver.url)));
    const [a, b] = [await serve(dirs[0]!, configs[0]!, backend.env), await serve(dirs[1]!, configs[1]!, backend.env)];
    cleanups.push(() => b.stop(), () => a.stop());

    let aDead = false;
    let stop = false;
    // Half the workers push through A until it dies, then through B; the others through B throughout.
    const pushing = burst(6, (w) => (w % 2 === 0 && !aDead ? a.url : b.url), () => stop);
    const deadline = Date.now() + 60_000;
    while (pushing.acked.length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await a.kill9();
    aDead = true;
    const afterKill = pushing.acked.length;
    while (pushing.acked.length < afterKill + 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await pushing.done;
    const acked = [...pushing.acked];
    assert.ok(acked.length >= afterKill + 20, `pushes went on through B after A died (${acked.length} acknowledged)`);

    const wanted = new Set(acked.map((x) => key(x.repo, x.tag, x.digest)));
    await receiver.until(
      () => {
        const got = new Set(manifestPushes(receiver).map((e) => key(e.target.repository, e.target.tag!, e.target.digest)));
        return [...wanted].every((k) => got.has(k));
      },
      40_000,
      `deliveries of all ${acked.length} acknowledged pushes by the surviving node`,
    );
    assertDelivered(acked, manifestPushes(receiver));
  });
});
