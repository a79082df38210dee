/**
 * The storm's results as a markdown table, one column per server.
 */
import { cpus, totalmem } from "node:os";
import type { StormShape } from "./shape.js";
import type { SlowSummary, StormResult } from "./storm.js";

const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : "–");

function slow(s: SlowSummary): string {
  if (!s.count) return "–";
  const statuses = Object.entries(s.statuses).map(([k, n]) => `${n}× ${k}`).join(", ");
  const held = s.heldSeconds ? `, held ${s.heldSeconds.map((x) => x.toFixed(0)).join("/")} s (min/median/max)` : "";
  return `${s.closedByServer}/${s.count} cut${statuses ? ` (${statuses})` : ""}${held}`;
}

function errors(r: StormResult): string {
  const entries = Object.entries(r.errors);
  return entries.length ? `${entries.map(([k, n]) => `${n}× ${k}`).join("; ")} (first at ${r.firstErrorAtS?.toFixed(0)} s)` : "0";
}

export function renderReport(shape: StormShape, flags: string, results: StormResult[], backend = "embedded: Berth on the filesystem + SQLite, distribution on the filesystem"): string {
  const rows: [string, (r: StormResult) => string][] = [
    ["manifest GETs (blob GETs)", (r) => `${r.manifestGets} (${r.blobGets})`],
    ["manifest GET p50 / p95 / p99", (r) => `${ms(r.p50)} / ${ms(r.p95)} / ${ms(r.p99)}`],
    ["well-behaved errors", errors],
    ["pushes completed / started", (r) => `${r.pushesCompleted} / ${r.pushesStarted}`],
    ["RSS start → peak → 5 s after", (r) => `${mib(r.rssStart)} → ${mib(r.rssPeak)} → ${mib(r.rssAfter)}`],
    ["open fds before → after (slow senders still attached)", (r) => `${r.fdsStart} → ${r.fdsAfter} (${r.slowStillOpen})`],
    ["idle keep-alives closed by the server during the storm", (r) => `${r.idleClosedByServer} / ${shape.idle}`],
    ["slow headers: cut by the server", (r) => slow(r.slowHeaders)],
    ["slow bodies (1 B/s PATCH): cut by the server", (r) => slow(r.slowBodies)],
    [`slow readers (GET ${shape.readerBlobBytes / 1048576} MiB blob, then read nothing): cut by the server`, (r) => slow(r.slowReaders)],
    ["upload sessions left: well-behaved / slow bodies", (r) => `${r.sessionsWellBehaved} / ${r.sessionsSlow}`],
    ["error-level log lines after hanging up on N slow bodies (with stack)", (r) => `${r.hangUpErrorLines} (${r.hangUpErrorWithStack}) for ${r.hungUp}`],
    ["error-level log lines incl. shutdown (with stack)", (r) => `${r.errorLogLines} (${r.errorLogWithStack})`],
    [
      `SIGTERM with the other slow senders attached → exit (timeout ${shape.shutdownTimeoutMs / 1000} s)`,
      (r) => `${(r.shutdown.ms / 1000).toFixed(1)} s, ${r.shutdown.withinTimeout ? "within" : r.shutdown.exited ? "over" : "SIGKILLed, over"} timeout`,
    ],
  ];
  const lines = [
    "# Storm (`npm run bench:load`)",
    "",
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}; client and servers share the machine.`,
    "",
    `Flags: \`${flags || "(none: full storm)"}\`. Shape: ${shape.idle} idle keep-alives, ${shape.slowHeaders} slow-header + ${shape.slowBodies} slow-body senders, ${shape.slowReaders} slow readers, ` +
      `${shape.pushers} chunked pushers (${shape.chunks} × ${shape.chunkBytes / 1024} KiB + config + manifest), ${shape.pullers} pullers ` +
      `(manifest + ${shape.layerBytes / 1024} KiB blob), ${shape.durationMs / 1000} s; loopback only. Stores: ${backend}.`,
    "",
    `| | ${results.map((r) => r.server).join(" | ")} |`,
    `|---|${results.map(() => "---").join("|")}|`,
    ...rows.map(([label, f]) => `| ${label} | ${results.map(f).join(" | ")} |`),
    "",
  ];
  for (const r of results) {
    if (r.errorSamples.length) lines.push(`${r.server} error samples: ${r.errorSamples.map((s) => `\`${s.replace(/`/g, "'")}\``).join("; ")}`, "");
    if (r.errorLogSample.length) lines.push(`${r.server} error log sample: \`${r.errorLogSample[0]!.slice(0, 300).replace(/`/g, "'")}\``, "");
  }
  return lines.join("\n");
}
