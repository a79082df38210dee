/**
 * The token server of the upstream fixture: a Docker-style `/token` endpoint (as auth.docker.io) whose
 * ES256 JWTs CNCF distribution 2.8 accepts. The signing key's self-signed certificate is both the
 * registry's `rootcertbundle` and the token's `x5c` header, which is how distribution 2.8 finds the key.
 */
import { randomUUID } from "node:crypto";
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { SignJWT } from "jose";
import { run } from "./tools.js";

/** One request the token server answered. */
export interface TokenRequest {
  method: string;
  /** The Basic (or password grant) user name; undefined for anonymous requests. */
  account?: string;
  /** Scopes as requested, e.g. `repository:library/x:pull`. */
  scopes: string[];
  status: number;
  /** Access the token granted; empty when no token was issued. */
  granted: TokenAccess[];
}

/** One entry of a token's `access` claim. */
export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/** Options for {@link createTokenServer}. */
export interface TokenServerOptions {
  /** Directory the key and certificate are written to. */
  dir: string;
  service: string;
  issuer: string;
  /** name → password; these users get every action they ask for. */
  users: Record<string, string>;
  /** Users whose requests are left out of the log and never failed by failWith (the fixture's own seeding account). */
  internal?: string[];
  /** Anonymous requests get pull tokens (default true); false answers them 401, like a private upstream. */
  anonymousPull?: boolean;
  /** Token lifetime in seconds (default 300; distribution adds 60 s of leeway to `exp`). */
  ttlSeconds?: number;
}

/** A running token server. */
export interface TokenServer {
  /** `http://127.0.0.1:PORT/token`, the realm of distribution's challenges. */
  realm: string;
  /** PEM file of the self-signed certificate that verifies the tokens. */
  certPath: string;
  log(): TokenRequest[];
  clearLog(): void;
  /** Answer every token request with `status` (an OCI-style error body) until called with undefined. */
  failWith(status: number | undefined): void;
  stop(): Promise<void>;
}

async function makeSigningKey(dir: string): Promise<{ key: KeyObject; certPath: string; x5c: string }> {
  const keyPath = join(dir, "token-key.pem");
  const certPath = join(dir, "token-cert.pem");
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyPath, "-out", certPath, "-days", "7", "-subj", "/CN=berth-upstream-token-issuer",
  ]);
  const pem = await readFile(certPath, "utf8");
  const x5c = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return { key: createPrivateKey(await readFile(keyPath)), certPath, x5c };
}

function parseScope(scope: string): TokenAccess | undefined {
  // names may hold a colon (a registry host with a port), so the type is the first field and the actions the last
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",").filter(Boolean) };
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = text.indexOf(":");
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Starts the token server on a free loopback port, with a fresh key pair under `options.dir`. */
export async function createTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const { key, certPath, x5c } = await makeSigningKey(options.dir);
  const ttl = options.ttlSeconds ?? 300;
  const internal = new Set(options.internal ?? []);
  let entries: TokenRequest[] = [];
  let failure: number | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://token");
    if (url.pathname !== "/token") return sendJson(res, 404, { details: "not found" });
    let params = url.searchParams;
    let creds = basicCredentials(req.headers.authorization);
    if (req.method === "POST") {
      // the OAuth2 password grant docker uses when it has no identity token yet
      params = new URLSearchParams(await readBody(req));
      if (params.get("grant_type") === "password") creds = { user: params.get("username") ?? "", password: params.get("password") ?? "" };
    } else if (req.method !== "GET") {
      return sendJson(res, 405, { details: "method not allowed" });
    }
    const scopes = params.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    const entry: TokenRequest = { method: req.method, account: creds?.user, scopes, status: 0, granted: [] };
    const isInternal = creds !== undefined && internal.has(creds.user);
    if (!isInternal) entries.push(entry);
    const answer = (status: number, body: unknown, headers?: Record<string, string>) => {
      entry.status = status;
      sendJson(res, status, body, headers);
    };
    if (failure !== undefined && !isInternal) return answer(failure, { errors: [{ code: "UNAVAILABLE", message: "token service failure switched on" }] });
    if (creds && options.users[creds.user] !== creds.password) {
      return answer(401, { details: "incorrect username or password" }, { "www-authenticate": 'Basic realm="berth-upstream-token"' });
    }
    if (!creds && options.anonymousPull === false) return answer(401, { details: "anonymous access disabled" });
    const granted: TokenAccess[] = [];
    for (const scope of scopes) {
      const access = parseScope(scope);
      if (!access) continue;
      const actions = creds ? access.actions : access.type === "repository" ? access.actions.filter((a) => a === "pull") : [];
      if (actions.length > 0) granted.push({ ...access, actions });
    }
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ access: granted })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c: [x5c] })
      .setIssuer(options.issuer)
      .setAudience(params.get("service") ?? options.service)
      .setIssuedAt(now)
      .setNotBefore(now - 1)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID());
    if (creds) jwt.setSubject(creds.user);
    const token = await jwt.sign(key);
    entry.granted = granted;
    answer(200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { details: err.message });
      else res.destroy(err);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certPath,
    log: () => [...entries],
    clearLog() {
      entries = [];
    },
    failWith(status) {
      failure = status;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
