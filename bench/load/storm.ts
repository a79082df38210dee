/**
 * One storm against one running registry: pre-push an image, open the idle and slow connections,
 * run pullers and chunked pushers until the deadline, then measure what the server kept and how
 * its SIGTERM went with the slow senders still attached.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createAgent, imageManifest, MANIFEST_TYPE, pushChunked, pushMonolithic, RequestFailure, send, sha256 } from "./http-client.js";
import { createRawClients, type RawOutcome } from "./misbehaving.js";
import { createMemorySampler, openFds, procMemory } from "./proc.js";
import type { StormShape } from "./shape.js";
import type { LoadTarget, ShutdownResult } from "./targets.js";

/** What slow senders of one kind saw. */
export interface SlowSummary {
  count: number;
  /** Closed by the server before the storm's end + settle time. */
  closedByServer: number;
  /** Statuses the server answered with (`none` when it closed silently or never answered). */
  statuses: Record<string, number>;
  /** Seconds the server-closed ones stayed connected: min, median, max. */
  heldSeconds: [number, number, number] | undefined;
}

/** Everything one storm measured. */
export interface StormResult {
  server: string;
  manifestGets: number;
  blobGets: number;
  /** Manifest GET latency, milliseconds. */
  p50: number;
  p95: number;
  p99: number;
  /** Well-behaved clients' errors by `operation: kind`. */
  errors: Record<string, number>;
  errorSamples: string[];
  /** Seconds into the storm of the first well-behaved error. */
  firstErrorAtS?: number;
  pushesStarted: number;
  pushesCompleted: number;
  rssStart: number;
  rssPeak: number;
  rssAfter: number;
  fdsStart: number;
  fdsAfter: number;
  /** Slow-sender sockets still open (client side) when `fdsAfter` was read; a slow body also holds its upload file. */
  slowStillOpen: number;
  idleClosedByServer: number;
  slowHeaders: SlowSummary;
  slowBodies: SlowSummary;
  slowReaders: SlowSummary;
  /** Slow bodies we hung up on mid-request before SIGTERM, and the error-level log lines that followed (with stack). */
  hungUp: number;
  hangUpErrorLines: number;
  hangUpErrorWithStack: number;
  /** Upload sessions left after the storm: well-behaved pushers' and the slow bodies'. */
  sessionsWellBehaved: number;
  sessionsSlow: number;
  errorLogLines: number;
  errorLogWithStack: number;
  errorLogSample: string[];
  shutdown: ShutdownResult;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summarize(outcomes: RawOutcome[], kind: RawOutcome["kind"], until: number): SlowSummary {
  const mine = outcomes.filter((o) => o.kind === kind);
  const closed = mine.filter((o) => o.closedAt !== undefined && o.closedAt <= until);
  const statuses: Record<string, number> = {};
  for (const o of closed) {
    const k = o.status === undefined ? "none" : String(o.status);
    statuses[k] = (statuses[k] ?? 0) + 1;
  }
  const held = closed.map((o) => (o.closedAt! - o.openedAt) / 1000).sort((a, b) => a - b);
  return { count: mine.length, closedByServer: closed.length, statuses, heldSeconds: held.length ? [held[0]!, percentile(held, 50), held[held.length - 1]!] : undefined };
}

function configBlob(nonce: string): Buffer {
  return Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: { Labels: { nonce } } }));
}

export async function runStorm(target: LoadTarget, shape: StormShape, log: (line: string) => void = () => {}): Promise<StormResult> {
  const base = target.url;
  const t = shape.requestTimeoutMs;
  const setup = createAgent(8);
  const layer = randomBytes(shape.layerBytes);
  const config = configBlob("base");
  const layerDigest = await pushMonolithic(setup, base, "load/base", layer, t);
  const configDigest = await pushMonolithic(setup, base, "load/base", config, t);
  const manifest = imageManifest({ digest: configDigest, size: config.length }, { digest: layerDigest, size: layer.length });
  await send(setup, "PUT", `${base}/v2/load/base/manifests/latest`, { body: manifest, headers: { "content-type": MANIFEST_TYPE }, timeoutMs: t, expect: [201] });

  const readerBlob = randomBytes(shape.readerBlobBytes);
  const readerDigest = shape.slowReaders > 0 ? await pushMonolithic(setup, base, "load/base", readerBlob, t) : "";
  const slowPaths: string[] = [];
  for (let i = 0; i < shape.slowBodies; i++) {
    const res = await send(setup, "POST", `${base}/v2/load/slow-${i}/blobs/uploads/`, { timeoutMs: t, expect: [202] });
    const loc = new URL(String(res.headers.location), base);
    slowPaths.push(`${loc.pathname}${loc.search}`);
  }
  setup.destroy();
  await sleep(500);
  const fdsStart = openFds(target.pid);
  const rssStart = procMemory(target.pid).rss;
  const sampler = createMemorySampler(target.pid);

  const raw = await createRawClients(base, { idle: shape.idle, slowHeaders: shape.slowHeaders, slowReaders: shape.slowReaders }, slowPaths, `/v2/load/base/blobs/${readerDigest}`);
  log(`${target.name}: ${raw.open()} idle/slow connections open; pullers and pushers start`);

  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const errorSamples: string[] = [];
  let firstErrorAt: number | undefined;
  const fail = (op: string, e: unknown) => {
    firstErrorAt ??= Date.now();
    const kind = e instanceof RequestFailure ? e.kind : String(e);
    errors[`${op}: ${kind}`] = (errors[`${op}: ${kind}`] ?? 0) + 1;
    if (errorSamples.length < 12) errorSamples.push(`${op}: ${e instanceof Error ? e.message : String(e)}`);
  };
  let blobGets = 0;
  let pushesStarted = 0;
  let pushesCompleted = 0;
  const deadline = Date.now() + shape.durationMs;
  const pullAgent = createAgent(shape.pullers);
  const pushAgent = createAgent(shape.pushers);

  const puller = async () => {
    while (Date.now() < deadline) {
      const start = performance.now();
      try {
        const res = await send(pullAgent, "GET", `${base}/v2/load/base/manifests/latest`, { headers: { accept: MANIFEST_TYPE }, timeoutMs: t, expect: [200] });
        latencies.push(performance.now() - start);
        if (!res.body.equals(manifest)) fail("manifest GET", "wrong body");
      } catch (e) {
        fail("manifest GET", e);
        continue;
      }
      try {
        const res = await send(pullAgent, "GET", `${base}/v2/load/base/blobs/${layerDigest}`, { timeoutMs: t, expect: [200] });
        blobGets++;
        if (sha256(res.body) !== layerDigest) fail("blob GET", "digest mismatch");
      } catch (e) {
        fail("blob GET", e);
      }
    }
  };
  const pusher = async (i: number) => {
    const repo = `load/push-${i}`;
    for (let n = 0; Date.now() < deadline; n++) {
      pushesStarted++;
      let stage = "";
      try {
        const chunks = Array.from({ length: shape.chunks }, () => randomBytes(shape.chunkBytes));
        const total = shape.chunks * shape.chunkBytes;
        const layer = await pushChunked(pushAgent, base, repo, chunks, t, (s) => (stage = `push ${s}`));
        const cfg = configBlob(`${i}-${n}-${Date.now()}`);
        stage = "push config";
        const cfgDigest = await pushMonolithic(pushAgent, base, repo, cfg, t);
        stage = "manifest PUT";
        const body = imageManifest({ digest: cfgDigest, size: cfg.length }, { digest: layer, size: total });
        await send(pushAgent, "PUT", `${base}/v2/${repo}/manifests/t${n}`, { body, headers: { "content-type": MANIFEST_TYPE }, timeoutMs: t, expect: [201] });
        pushesCompleted++;
      } catch (e) {
        fail(stage, e);
      }
    }
  };
  await Promise.all([...Array.from({ length: shape.pullers }, () => puller()), ...Array.from({ length: shape.pushers }, (_, i) => pusher(i))]);
  pullAgent.destroy();
  pushAgent.destroy();
  log(`${target.name}: storm over (${latencies.length} manifest GETs, ${pushesCompleted}/${pushesStarted} pushes); settling`);

  raw.close(["idle"]);
  await sleep(5000);
  const settledAt = Date.now();
  const rssAfter = procMemory(target.pid).rss;
  const fdsAfter = openFds(target.pid);
  const slowStillOpen = raw.open();
  const rssPeak = Math.max(sampler.stop().hwm, rssAfter);
  const sessions = await target.uploadSessions();
  let sessionsWellBehaved = 0;
  let sessionsSlow = 0;
  for (const [repo, n] of sessions) {
    if (repo.startsWith("load/slow-")) sessionsSlow += n;
    else if (!repo.startsWith("(")) sessionsWellBehaved += n;
  }
  const summaries = { slowHeaders: summarize(raw.outcomes, "slow-headers", settledAt), slowBodies: summarize(raw.outcomes, "slow-body", settledAt), slowReaders: summarize(raw.outcomes, "slow-reader", settledAt) };
  const idleClosedByServer = raw.outcomes.filter((o) => o.kind === "idle" && o.closedAt !== undefined && o.closedAt < deadline).length;
  const logsBefore = target.errorLogs();
  const hungUp = raw.hangUp("slow-body", Math.ceil(shape.slowBodies / 2));
  await sleep(2000);
  const logsHangUp = target.errorLogs();
  log(`${target.name}: hung up ${hungUp} slow bodies; SIGTERM with ${raw.open()} slow senders attached`);
  const shutdown = await target.shutdown();
  raw.close();
  const logs = target.errorLogs();

  const sorted = latencies.sort((a, b) => a - b);
  return {
    server: target.name,
    manifestGets: latencies.length,
    blobGets,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    errors,
    errorSamples,
    firstErrorAtS: firstErrorAt === undefined ? undefined : (firstErrorAt - (deadline - shape.durationMs)) / 1000,
    pushesStarted,
    pushesCompleted,
    rssStart,
    rssPeak,
    rssAfter,
    fdsStart,
    fdsAfter,
    slowStillOpen,
    idleClosedByServer,
    ...summaries,
    sessionsWellBehaved,
    sessionsSlow,
    hungUp,
    hangUpErrorLines: logsHangUp.lines - logsBefore.lines,
    hangUpErrorWithStack: logsHangUp.withStack - logsBefore.withStack,
    errorLogLines: logs.lines,
    errorLogWithStack: logs.withStack,
    errorLogSample: logs.sample,
    shutdown,
  };
}
