import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a test receiver got. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether the receiver answered it (false while it hangs, and for ever if the sender gave up). */
  answered: boolean;
  /** Whether the sender closed the connection before an answer (a timeout or a stop). */
  abandoned: boolean;
}

/** What to do with the n-th request (0-based): answer with a status, after a delay, or never. */
export type Behaviour = (n: number, body: string) => { status: number; delayMs?: number } | "hang";

/**
 * A webhook receiver on 127.0.0.1 (port 0) that records every request and answers as `behave`
 * says; `close()` also cuts the connections it leaves hanging.
 */
export async function startReceiver(behave: Behaviour = () => ({ status: 200 })) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const entry: Received = { headers: req.headers, body, answered: false, abandoned: false };
      const n = received.push(entry) - 1;
      res.on("close", () => {
        if (!entry.answered) entry.abandoned = true;
        hanging.delete(res);
      });
      for (const w of waiters.splice(0)) w();
      const how = behave(n, body);
      if (how === "hang") return void hanging.add(res);
      const answer = () => {
        entry.answered = true;
        res.writeHead(how.status, { "content-type": "text/plain" }).end("ok");
      };
      if (how.delayMs) setTimeout(answer, how.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    /** Resolves once `predicate` holds over what was received, checked on each request; rejects after `timeoutMs`. */
    async until(predicate: (r: Received[]) => boolean, timeoutMs = 10_000, what = "the expected requests"): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`receiver: timed out waiting for ${what}; got ${received.length} requests`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 50));
          waiters.push(() => (clearTimeout(t), resolve()));
        });
      }
    },
    async close(): Promise<void> {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
