/**
 * What webhooks cost the registry (issue 12): the same build on both sides, a real `berth serve`
 * on loopback, fsync off, no auth:
 * - A: no `notifications` configured;
 * - B: two endpoints, default actions (every category but pull): `deploy`, a receiver served by
 *   this process (bench/webhook-receiver.ts: 204 at once, counts what it gets), signed
 *   (Standard Webhooks `secret`), format `distribution`; and `down`, a loopback port nothing
 *   listens on (connection refused, so its deliveries are retried with backoff), format
 *   `cloudevents`.
 *
 * Every round starts a fresh server for each side in turn (A then B in odd rounds, B then A in
 * even ones) on a fresh data directory (bench/ab-harness.ts), pushes one image, warms up for 1 s
 * (manifest GET by tag), then measures with the bench's own workloads (bench/workloads.ts):
 * - `--images` small images (config + one 4 KiB layer, 5 requests each) 16 at a time: images/s,
 *   requests/s, server CPU per 1000 requests; then it waits until the receiver has heard nothing
 *   for 1 s (the pushes' deliveries drained; at most 60 s) and charges the server CPU from the
 *   first push to then to the pushes as well (per 1000 push requests);
 * - manifest GET by tag and by digest, 64 connections, `--seconds` each: req/s, p50, p99, and
 *   server CPU per 1000 requests; `down` keeps retrying meanwhile.
 * It reports per round what the live receiver heard (by the end of the pushes, once drained, by
 * the end of the reads, in all) and the server's own attempt counts and backlog (/metrics); prints
 * medians (min–max) and the median of the per-round B/A ratios; writes bench/results/webhooks-ab.md.
 *
 *   npm run bench:webhooks-ab -- [--rounds 6] [--seconds 3] [--images 200]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.js";
import { makeImage } from "../test/helpers/fixtures.js";
import {
  MANIFEST_ACCEPT,
  REQUESTS_PER_IMAGE,
  machineFacts,
  measureManifests,
  measureSmallPushes,
  median,
  parseAbArgs,
  recordPeakRss,
  runAb,
  Samples,
  sh,
  withServer,
  type AbOptions,
  type ManifestRow,
  type Side,
} from "./ab-harness.js";
import { cpuSeconds, startBerthServer } from "./servers.js";
import { closedPort, startWebhookReceiver, type ReceiverCounts } from "./webhook-receiver.js";
import { closeAgent, manifestLoad, pushImage } from "./workloads.js";

const opts = parseAbArgs<AbOptions>(process.argv.slice(2), { rounds: 6, seconds: 3, images: 200 }, "webhooks-ab [--rounds N] [--seconds S] [--images N]");

/** A fixed test secret (Standard Webhooks form, 32 bytes): the cost of signing is what is measured, not the secret. */
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const receiver = await startWebhookReceiver();
const downPort = await closedPort();
const configDir = await mkdtemp(join(tmpdir(), "bench-webhooks-ab-"));
const endpoints = [
  { name: "deploy", url: receiver.url, secret: SECRET, format: "distribution" },
  { name: "down", url: `http://127.0.0.1:${downPort}/hook`, format: "cloudevents" },
];
const configs = { A: join(configDir, "a.yaml"), B: join(configDir, "b.yaml") };
await writeFile(configs.A, "# no notifications\n{}\n");
await writeFile(configs.B, JSON.stringify({ notifications: { endpoints } }, null, 2) + "\n");

async function cleanup(): Promise<void> {
  closeAgent();
  await receiver.close();
  await rm(configDir, { recursive: true, force: true });
}

try {
  loadConfig({ file: configs.B, env: {} });
} catch (err) {
  console.error(
    `webhooks-ab: this build does not accept B's configuration (${configs.B}); does src/config/schema.ts have the ` +
      `notifications section yet?\n${(err as Error).message}`,
  );
  await cleanup();
  process.exit(2);
}

const commit = sh("git", ["rev-parse", "--short", "HEAD"]);
const sides = [
  { key: "A", label: `A: ${commit}, no notifications` },
  { key: "B", label: `B: ${commit}, 2 endpoints (1 down)` },
] as const satisfies readonly [Side, Side];

const ROWS: readonly ManifestRow[] = [
  { name: "manifest GET by tag", method: "GET", byDigest: false },
  { name: "manifest GET by digest", method: "GET", byDigest: true },
];

const samples = new Samples();

interface Heard {
  round: number;
  side: Side["key"];
  afterPushes: number;
  /** Deliveries once the receiver had heard nothing for 1 s after the pushes, and how long that took. */
  afterDrain: number;
  drainSeconds: number;
  afterReads: number;
  total: ReceiverCounts;
  /** The server's own view after settling: attempts by endpoint and outcome, and backlog per endpoint (from /metrics). */
  server: string;
  load: [number, number];
}
const heard: Heard[] = [];

/** `berth_webhook_deliveries_total` and `berth_webhook_backlog` from /metrics, as `deploy delivered 603, down retry 40, backlog deploy 0, down 603`. */
async function serverView(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  const body = await res.text();
  if (res.status !== 200) return `/metrics: HTTP ${res.status}`;
  const attempts: string[] = [];
  const backlog: string[] = [];
  for (const line of body.split("\n")) {
    let m = /^berth_webhook_deliveries_total\{endpoint="([^"]+)",outcome="([^"]+)"\} (\S+)/.exec(line);
    if (m) attempts.push(`${m[1]} ${m[2]} ${m[3]}`);
    m = /^berth_webhook_backlog\{endpoint="([^"]+)"\} (\S+)/.exec(line);
    if (m) backlog.push(`${m[1]} ${m[2]}`);
  }
  return [attempts.length ? `attempts: ${attempts.join(", ")}` : "no attempts", backlog.length ? `backlog: ${backlog.join(", ")}` : ""].filter(Boolean).join("; ");
}

/**
 * Waits until the receiver has heard nothing new for 1 s (at most `max` seconds); returns the
 * seconds from the call to the last delivery it heard meanwhile (0 if none).
 */
async function settle(max: number): Promise<number> {
  const t0 = performance.now();
  let last = receiver.counts().deliveries;
  let lastAt = t0;
  let changed = false;
  while (performance.now() - lastAt < 1000 && performance.now() - t0 < max * 1000) {
    await new Promise((r) => setTimeout(r, 50));
    const n = receiver.counts().deliveries;
    if (n !== last) [last, lastAt, changed] = [n, performance.now(), true];
  }
  return changed ? (lastAt - t0) / 1000 : 0;
}

async function runSide(round: number, side: (typeof sides)[number]): Promise<void> {
  const load0 = loadavg()[0]!;
  receiver.reset();
  await withServer(
    () => startBerthServer(side.label, { BERTH_FSYNC: "false", BERTH_CONFIG: configs[side.key] }),
    async (s) => {
      const app = makeImage({ layers: [Buffer.from("berth bench app layer\n")] });
      await pushImage(s.url, "bench/app", "latest", app);
      await manifestLoad(`${s.url}/v2/bench/app/manifests/latest`, "GET", MANIFEST_ACCEPT, 1, 64);

      const cpu0 = cpuSeconds(s.pid);
      await measureSmallPushes(samples, side, s, { repo: "bench/small", prefix: `r${round}`, images: opts.images });
      const afterPushes = receiver.counts().deliveries;
      const drainSeconds = await settle(60);
      const afterDrain = receiver.counts().deliveries;
      samples.record(
        "small images and delivering their events: server CPU s per 1000 push requests",
        side.key,
        ((cpuSeconds(s.pid) - cpu0) * 1000) / (opts.images * REQUESTS_PER_IMAGE),
      );
      const m = await measureManifests(samples, side, s, { repo: "bench/app", tag: "latest", digest: app.manifestDigest, rows: ROWS, seconds: opts.seconds });
      const afterReads = receiver.counts().deliveries;
      samples.record("manifest GET, both rows (req/s)", side.key, m.requests / m.seconds);
      samples.record("manifest GET: server CPU s per 1000 requests", side.key, (m.cpu * 1000) / m.requests);
      recordPeakRss(samples, side, s);
      await settle(15);
      const total = receiver.counts();
      const server = await serverView(s.url);
      heard.push({ round, side: side.key, afterPushes, afterDrain, drainSeconds, afterReads, total, server, load: [load0, loadavg()[0]!] });
      console.error(
        `  ${side.label}: receiver heard ${afterPushes} deliveries by the end of the pushes, ${afterDrain} once drained ` +
          `(${drainSeconds.toFixed(1)} s later), ${afterReads} by the end of the reads, ` +
          `${total.deliveries} in all (${total.events} events, ${total.signed} signed); server: ${server}`,
      );
    },
  );
}

function deliveryLines(): string[] {
  const lines = [
    "| round | side | deliveries by end of pushes | once drained (last one, s after the pushes) | by end of reads | in all | events in them | signed | content types | the server's /metrics then | load avg (1 min) at start → end |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const h of heard) {
    const types = Object.entries(h.total.contentTypes).map(([t, n]) => `${t} ${n}`).join(", ") || "–";
    lines.push(
      `| ${h.round} | ${h.side} | ${h.afterPushes} | ${h.afterDrain} (${h.drainSeconds.toFixed(1)} s) | ${h.afterReads} | ${h.total.deliveries} | ${h.total.events} | ` +
        `${h.total.signed} | ${types} | ${h.server} | ${h.load[0].toFixed(2)} → ${h.load[1].toFixed(2)} |`,
    );
  }
  return lines;
}

function verdict(): string[] {
  const b = heard.filter((h) => h.side === "B");
  const a = heard.filter((h) => h.side === "A");
  const lines: string[] = [];
  if (b.every((h) => h.total.deliveries === 0)) {
    lines.push(
      "- **The live receiver got 0 deliveries in every B round: this build does not deliver webhooks (is the dispatcher wired " +
        "into `berth serve`?). B measured only the endpoints being configured, not the cost of delivering.**",
    );
  } else {
    const perImage = median(b.map((h) => h.total.events / (opts.images + 1)));
    lines.push(`- the live receiver heard a median of ${median(b.map((h) => h.total.deliveries))} deliveries per B round (${perImage.toFixed(2)} events per pushed image)`);
  }
  if (a.some((h) => h.total.deliveries > 0)) lines.push("- **A (no endpoints) delivered to the receiver: that should not happen.**");
  return lines;
}

function render(started: Date): string {
  return [
    "# Webhooks A/B: two endpoints configured (one down) against none",
    "",
    `- command: \`npm run bench:webhooks-ab -- ${process.argv.slice(2).join(" ")}\``,
    `- date: ${started.toISOString()} to ${new Date().toISOString()}`,
    `- machine: ${machineFacts()}; the receiver runs in the bench process`,
    `- ${sides[0].label} vs ${sides[1].label}; berth serve, fsync off, no auth, fresh data directory per server per round`,
    `- B's endpoints (default actions): \`deploy\` → the bench's receiver (204 at once), secret set, format distribution; ` +
      "`down` → a closed loopback port (connection refused), format cloudevents",
    `- ${opts.rounds} rounds, A then B in odd rounds, B then A in even ones; per side: 1 image pushed, 1 s warm-up, then ${opts.images} small images ` +
      `16 at a time, a wait until the receiver heard nothing for 1 s, then manifest GET by tag and by digest, ${opts.seconds} s each at 64 connections`,
    "- each cell: median over rounds (min–max over rounds); B/A: median of the per-round ratios (min–max)",
    ...verdict(),
    "",
    ...samples.table("A (no notifications)", "B (2 endpoints, 1 down)"),
    "",
    "What the live receiver heard, per round and side:",
    "",
    ...deliveryLines(),
  ].join("\n");
}

await runAb({ name: "webhooks-ab", rounds: opts.rounds, sides, runSide, render, resultFile: "webhooks-ab.md", cleanup });
