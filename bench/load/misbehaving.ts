/**
 * The storm's connections that do not behave: idle keep-alives, slow senders (headers or an
 * upload body trickled one byte a second) and slow readers (a large blob GET, then nothing read:
 * the receive window closes), each a raw socket so the tool controls every byte.
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";

/** What happened to one raw connection. */
export interface RawOutcome {
  kind: "idle" | "slow-headers" | "slow-body" | "slow-reader";
  openedAt: number;
  /** When the server closed it (undefined while open or when we closed it). */
  closedAt?: number;
  /** Status of the first response the server wrote, if any. */
  status?: number;
  /** Socket error code, if the connection failed. */
  error?: string;
}

/** A set of raw connections, ticking once a second. */
export interface RawClients {
  outcomes: RawOutcome[];
  open(): number;
  /** Hangs up `count` still-open connections of `kind` from our side; returns how many. */
  hangUp(kind: RawOutcome["kind"], count: number): number;
  /** Closes our side of connections of the given kinds (all when omitted). */
  close(kinds?: RawOutcome["kind"][]): void;
}

function rawConnection(host: string, port: number, kind: RawOutcome["kind"], first: string, onOpen: (o: RawOutcome, s: Socket) => void): Promise<void> {
  return new Promise((resolve) => {
    const outcome: RawOutcome = { kind, openedAt: Date.now() };
    const socket = connect({ host, port });
    let head = "";
    socket.setNoDelay(true);
    socket.on("connect", () => {
      socket.write(first);
      onOpen(outcome, socket);
      resolve();
    });
    socket.on("data", (b: Buffer) => {
      if (outcome.status === undefined) {
        head += b.toString("latin1");
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (m) outcome.status = Number(m[1]);
      }
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      outcome.error = e.code ?? e.message;
      resolve();
    });
    socket.on("close", () => {
      if (!(socket as Socket & { byUs?: boolean }).byUs) outcome.closedAt ??= Date.now();
      resolve();
    });
  });
}

/**
 * Client ports whose connection the server at `port` no longer holds open: its side is gone or
 * past ESTABLISHED (closed with data still queued for a reader that never reads, the client sees
 * nothing until it reads again).
 */
function closedByServer(port: number, clientPorts: Set<number>): Set<number> {
  const open = new Set<number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || parseInt(f[1]!.split(":")[1]!, 16) !== port) continue;
      const peer = parseInt(f[2]!.split(":")[1]!, 16);
      if (clientPorts.has(peer) && f[3] === "01") open.add(peer);
    }
  }
  return new Set([...clientPorts].filter((p) => !open.has(p)));
}

/**
 * Opens `idle` keep-alive connections (one GET /v2/ each), `slowHeaders` connections trickling an
 * endless header, and one trickling PATCH body per `uploadPaths` entry; in batches so the listen
 * backlog never overflows.
 */
export async function createRawClients(
  base: string,
  counts: { idle: number; slowHeaders: number; slowReaders?: number },
  uploadPaths: string[],
  readerPath = "/v2/",
): Promise<RawClients> {
  const u = new URL(base);
  const host = u.hostname;
  const port = Number(u.port);
  const outcomes: RawOutcome[] = [];
  const sockets: { outcome: RawOutcome; socket: Socket }[] = [];
  const trickling: Socket[] = [];
  const track = (o: RawOutcome, s: Socket) => {
    outcomes.push(o);
    sockets.push({ outcome: o, socket: s });
  };
  const jobs: (() => Promise<void>)[] = [];
  for (let i = 0; i < counts.idle; i++) {
    jobs.push(() => rawConnection(host, port, "idle", `GET /v2/ HTTP/1.1\r\nHost: ${u.host}\r\nConnection: keep-alive\r\n\r\n`, track));
  }
  for (let i = 0; i < counts.slowHeaders; i++) {
    jobs.push(() =>
      rawConnection(host, port, "slow-headers", `GET /v2/ HTTP/1.1\r\nHost: ${u.host}\r\nX-Trickle: `, (o, s) => {
        track(o, s);
        trickling.push(s);
      }),
    );
  }
  for (const path of uploadPaths) {
    const head = `PATCH ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n`;
    jobs.push(() =>
      rawConnection(host, port, "slow-body", head, (o, s) => {
        track(o, s);
        trickling.push(s);
      }),
    );
  }
  const readers: { outcome: RawOutcome; socket: Socket; port: number }[] = [];
  for (let i = 0; i < (counts.slowReaders ?? 0); i++) {
    jobs.push(() =>
      rawConnection(host, port, "slow-reader", `GET ${readerPath} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`, (o, s) => {
        track(o, s);
        s.once("data", () => s.pause());
        readers.push({ outcome: o, socket: s, port: s.localPort! });
      }),
    );
  }
  for (let i = 0; i < jobs.length; i += 100) {
    await Promise.all(jobs.slice(i, i + 100).map((j) => j()));
    await new Promise((r) => setTimeout(r, 20));
  }
  const ticker = setInterval(() => {
    for (const s of trickling) if (!s.destroyed && s.writable) s.write("a");
    const watching = readers.filter((r) => r.outcome.closedAt === undefined && !r.socket.destroyed);
    if (watching.length === 0) return;
    const gone = closedByServer(port, new Set(watching.map((r) => r.port)));
    for (const r of watching) if (gone.has(r.port)) r.outcome.closedAt = Date.now();
  }, 1000);
  ticker.unref();
  return {
    outcomes,
    open: () => sockets.filter((s) => !s.socket.destroyed && s.outcome.closedAt === undefined).length,
    hangUp(kind, count) {
      let n = 0;
      for (const { outcome, socket } of sockets) {
        if (n >= count) break;
        if (outcome.kind !== kind || socket.destroyed || outcome.closedAt !== undefined) continue;
        (socket as Socket & { byUs?: boolean }).byUs = true;
        socket.destroy();
        n++;
      }
      return n;
    },
    close(kinds) {
      for (const { outcome, socket } of sockets) {
        if (kinds && !kinds.includes(outcome.kind)) continue;
        if (!socket.destroyed) {
          (socket as Socket & { byUs?: boolean }).byUs = true;
          socket.destroy();
        }
      }
      if (!kinds) clearInterval(ticker);
    },
  };
}
