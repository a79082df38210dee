/**
 * A webhook receiver for the benchmarks: answers every POST at once with 204 and counts what it
 * got, so a run can show that deliveries flowed; and a loopback port nothing listens on, for an
 * endpoint that is down.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";

export interface ReceiverCounts {
  /** POST requests received (one per delivery attempt that reached it). */
  deliveries: number;
  /** Events in them: a `{ "events": [...] }` envelope counts its entries, any other body one. */
  events: number;
  /** Deliveries carrying a `webhook-signature` header. */
  signed: number;
  /** Deliveries per Content-Type. */
  contentTypes: Record<string, number>;
  /** Bodies that were not JSON. */
  unparsable: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:PORT/hook` */
  url: string;
  counts(): ReceiverCounts;
  reset(): void;
  close(): Promise<void>;
}

const empty = (): ReceiverCounts => ({ deliveries: 0, events: 0, signed: 0, contentTypes: {}, unparsable: 0 });

/** Starts the receiver on 127.0.0.1 port 0. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let counts = empty();
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(req.method === "POST" ? 204 : 405).end();
      if (req.method !== "POST") return;
      counts.deliveries++;
      if (req.headers["webhook-signature"]) counts.signed++;
      const type = String(req.headers["content-type"] ?? "none").split(";")[0]!;
      counts.contentTypes[type] = (counts.contentTypes[type] ?? 0) + 1;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { events?: unknown };
        counts.events += Array.isArray(body.events) ? body.events.length : 1;
      } catch {
        counts.unparsable++;
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    counts: () => ({ ...counts, contentTypes: { ...counts.contentTypes } }),
    reset: () => {
      counts = empty();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port that was free a moment ago and is closed again: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
