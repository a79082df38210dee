// Start-up safety, with the real `berth` command (bin/berth.js): start-up failures are one line and
// exit 2 and leave nothing behind; a registry holding users never opens up by omission; the
// generated admin password is never in the output; only `serve` creates a registry.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BERTH_BIN, scaleOutEnv } from "../helpers/berth.js";
import { createTestDatabase, s3Settings, s3TestClient, skipUnlessPostgres, skipUnlessS3, uniqueBucket } from "../helpers/services.js";
import { missingTools, run } from "../helpers/tools.js";

/** Settings of the machine running the tests must not leak into the commands under test. */
const CLEAN_ENV: Record<string, string | undefined> = Object.fromEntries(
  Object.keys(process.env)
    .filter((k) => k.startsWith("BERTH_") && !k.startsWith("BERTH_TEST_"))
    .map((k) => [k, undefined]),
);
// The AWS SDK's notice about Node 20 is a process warning, not part of any start-up failure.
const QUIET_SDK = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };

function berth(args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string }) {
  return run(process.execPath, [BERTH_BIN, ...args], {
    cwd: opts.cwd,
    env: { ...CLEAN_ENV, ...QUIET_SDK, ...opts.env },
    allowFail: true,
    timeoutMs: 60_000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

/**
 * Every path under `dir` (recursively), sorted: "nothing left behind" compares two of these.
 * SQLite's -wal/-shm files come and go with its own housekeeping and are left out.
 */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).filter((p) => !/-(wal|shm)$/.test(p)).sort();
}

/** The operator's one line: exactly one line on stderr, no stack frames. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  assert.match(lines[0]!, pattern);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Served {
  url: string;
  output: string[];
  stop(): Promise<void>;
}

/** `berth serve ARGS` as a real process on a free port; resolves once it logged where it listens. */
async function serve(args: string[], env: Record<string, string>, cwd: string): Promise<Served> {
  const child = spawn(process.execPath, [BERTH_BIN, "serve", "--listen", "127.0.0.1:0", ...args], {
    cwd,
    env: { ...process.env, ...CLEAN_ENV, ...QUIET_SDK, ...env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        output.push(line);
        const m = /"listen":"(http:\/\/[^"]+)"/.exec(line);
        if (m) resolve(m[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then(() => reject(new Error(`berth serve exited:\n${output.join("\n")}`)));
  });
  return {
    url,
    output,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

describe("start-up failures: one line naming cause and fix, exit 2, nothing left behind", () => {
  let root: string;
  let busy: Server;
  let busyPort: number;
  let immutable = false;
  const openssl = missingTools("openssl").length === 0;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-startup-"));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    busyPort = (busy.address() as { port: number }).port;
    await writeFile(join(root, "a-file"), "not a directory\n");
    await mkdir(join(root, "read-only"), { mode: 0o555 });
    // root writes through mode bits; an immutable directory (ext2/3/4) refuses even root.
    if (process.getuid?.() === 0) immutable = await run("chattr", ["+i", join(root, "read-only")]).then(() => true, () => false);
    await writeFile(join(root, "garbage.pem"), "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
    if (openssl) {
      for (const name of ["one", "two"]) {
        await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
          "-subj", "/CN=berth-test", "-keyout", join(root, `${name}-key.pem`), "-out", join(root, `${name}-cert.pem`)]);
      }
    } else if (process.env.CI === "true") {
      throw new Error("CI=true and openssl is missing (apt-get install openssl)");
    }
  });
  after(async () => {
    await new Promise((resolve) => busy.close(resolve));
    if (immutable) await run("chattr", ["-i", join(root, "read-only")]);
    await rm(root, { recursive: true, force: true });
  });

  const cases: {
    name: string;
    args: () => string[] | Promise<string[]>;
    env?: () => Promise<Record<string, string>>;
    stderr: RegExp;
    secret?: string;
    skip?: () => string | false;
  }[] = [
    {
      name: "port in use",
      args: () => ["--listen", `127.0.0.1:${busyPort}`],
      stderr: /^berth: cannot listen on 127\.0\.0\.1:\d+: the address is already in use.*--listen/,
    },
    {
      name: "data directory below a file",
      args: () => ["--data", join(root, "a-file", "data")],
      stderr: /^berth: cannot use .*a-file\/data: a part of the path is not a directory; check --data/,
    },
    {
      name: "data directory not writable",
      args: () => ["--data", join(root, "read-only", "data")],
      stderr: /^berth: parent of the data directory .*read-only is not writable by this user/,
      // root writes through mode bits: as root the directory is made immutable (chattr +i) instead.
      skip: () => (process.getuid?.() === 0 && !immutable ? "runs as root on a filesystem without chattr +i, so nothing is read-only to it" : false),
    },
    {
      name: "data directory whose parent is missing",
      args: () => ["--data", join(root, "not-mounted", "registry", "data")],
      stderr: /^berth: the data directory .*not-mounted\/registry\/data is missing and so is its parent .*; create the parent/,
    },
    {
      name: "unreachable PostgreSQL",
      args: () => [],
      env: async () => ({ BERTH_DATABASE_URL: `postgres://berth:pg-s3cret@127.0.0.1:${await closedPort()}/registry?password=pg-s3cret` }),
      stderr: /^berth: cannot open PostgreSQL at postgres:\/\/berth@127\.0\.0\.1:\d+\/registry: .*ECONNREFUSED.*database\.url/,
      secret: "pg-s3cret",
    },
    {
      name: "unreachable S3 endpoint",
      args: () => [],
      env: async () => ({
        BERTH_STORAGE_DRIVER: "s3",
        BERTH_S3_BUCKET: "berth-startup",
        BERTH_S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
        BERTH_S3_ACCESS_KEY: "access",
        BERTH_S3_SECRET_KEY: "s3-s3cret",
        BERTH_S3_FORCE_PATH_STYLE: "true",
      }),
      stderr: /^berth: cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:\d+\/ \(bucket berth-startup\): .*storage\.s3\.endpoint/,
      secret: "s3-s3cret",
    },
    {
      name: "unreadable TLS file",
      args: () => ["--tls-cert", join(root, "absent-cert.pem"), "--tls-key", join(root, "absent-key.pem")],
      stderr: /^berth: cannot read tls\.cert .*absent-cert\.pem: no such file; check the path/,
    },
    {
      name: "TLS certificate that does not parse",
      args: () => ["--tls-cert", join(root, "garbage.pem"), "--tls-key", join(root, "one-key.pem")],
      stderr: /^berth: tls\.cert .*garbage\.pem is not a PEM certificate/,
      skip: () => (openssl ? false : "needs openssl"),
    },
    {
      name: "TLS key of another certificate",
      args: () => ["--tls-cert", join(root, "one-cert.pem"), "--tls-key", join(root, "two-key.pem")],
      stderr: /^berth: tls\.key .*two-key\.pem does not belong to the certificate/,
      skip: () => (openssl ? false : "needs openssl"),
    },
  ];

  for (const c of cases) {
    it(c.name, async (t) => {
      const skip = c.skip?.();
      if (skip) return t.skip(skip);
      const before = await tree(root);
      const env = (await c.env?.()) ?? {};
      // The default ./data lives in the working directory: nothing may appear there either.
      const { code, stdout, stderr } = await berth(["serve", ...(await c.args())], { cwd: root, env });
      assert.equal(code, 2, `exit 2, got ${code}: ${stderr}`);
      assertOneLine(stderr, c.stderr);
      assert.equal(stdout, "");
      if (c.secret) assert.ok(!stderr.includes(c.secret), "no secret in the message");
      assert.deepEqual(await tree(root), before, "nothing created");
    });
  }
});

describe("a registry holding users never opens up by omission", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "berth-startup-auth-"))));
  after(async () => rm(dir, { recursive: true, force: true }));

  async function refusesThenWarns(args: string[], env: Record<string, string>): Promise<void> {
    const first = await serve(args, { ...env, BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" }, dir);
    await first.stop();
    const before = await tree(dir);
    const refused = await berth(["serve", "--listen", "127.0.0.1:0", ...args], { cwd: dir, env });
    assert.equal(refused.code, 2, refused.stderr);
    assertOneLine(refused.stderr, /^berth: this registry holds access-control data \(1 user\) but access control is not turned on; start with BERTH_AUTH=on .*--auth off/);
    assert.deepEqual(await tree(dir), before, "nothing changed");

    const config = join(dir, "open.yaml");
    await writeFile(config, "auth:\n  enabled: false\n");
    const ways: [string, string[], Record<string, string>][] = [
      ["BERTH_AUTH=off", args, { ...env, BERTH_AUTH: "off" }],
      ["--auth off", [...args, "--auth", "off"], env],
      ["auth.enabled: false in the config file", [...args, "--config", config], env],
    ];
    for (const [how, moreArgs, moreEnv] of ways) {
      const open = await serve(moreArgs, moreEnv, dir);
      try {
        const ready = (await (await fetch(`${open.url}/readyz`)).json()) as { status: string; warnings?: string[] };
        assert.equal(ready.status, "ready", how);
        assert.match(ready.warnings?.[0] ?? "", /ACCESS CONTROL IS OFF although this registry holds 1 user/, `${how}: /readyz shows the warning`);
        const logged = open.output.map((l) => JSON.parse(l) as { level: string; msg: string }).find((l) => /ACCESS CONTROL IS OFF/.test(l.msg));
        assert.equal(logged?.level, "warn", `${how}: logged as a warning at start`);
      } finally {
        await open.stop();
      }
    }
  }

  it("embedded: refuses to start without BERTH_AUTH; explicitly off starts with a loud warning", async () => {
    await refusesThenWarns(["--data", join(dir, "data")], {});
  });

  it("S3 + PostgreSQL: the same, for the auth tables in PostgreSQL", { skip: skipUnlessS3() || skipUnlessPostgres() }, async () => {
    const scale = await scaleOutEnv();
    try {
      await refusesThenWarns(["--data", join(dir, "node")], scale.env);
    } finally {
      await scale.cleanup();
    }
  });
});

describe("the generated first admin password", () => {
  it("is written to a file only the owner can read, and never to stdout or stderr", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-startup-pw-"));
    try {
      const server = await serve(["--data", join(dir, "data")], { BERTH_AUTH: "on" }, dir);
      let password: string;
      try {
        const file = join(dir, "data", "initial-admin-password");
        assert.equal((await stat(file)).mode & 0o777, 0o600);
        password = (await readFile(file, "utf8")).trim();
        assert.ok(password.length >= 16);
        const token = await fetch(`${server.url}/token?service=berth`, {
          headers: { Authorization: `Basic ${Buffer.from(`admin:${password}`).toString("base64")}` },
        });
        assert.equal(token.status, 200, "the password in the file logs in as admin");
        assert.ok(server.output.some((l) => l.includes(file)), "the log names the file");
      } finally {
        await server.stop();
      }
      assert.ok(!server.output.some((l) => l.includes(password)), "the password is in no output line");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const ADMIN_COMMANDS: { args: string[]; input?: string }[] = [
  { args: ["user", "add", "zed", "--password-stdin"], input: "zed-password\n" },
  { args: ["user", "list"] },
  { args: ["token", "list"] },
  { args: ["ns", "add", "team"] },
  { args: ["repo", "visibility", "team/app", "public"] },
  { args: ["audit"] },
  { args: ["key", "rotate"] },
  { args: ["gc", "--dry-run"] },
  { args: ["usage"] },
];

describe("administrative commands never create a registry", () => {
  it("embedded: from another directory each command refuses, names the path and --data, creates nothing", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "berth-elsewhere-"));
    try {
      for (const { args, input } of ADMIN_COMMANDS) {
        for (const where of [[], ["--data", join(elsewhere, "typo")]]) {
          const { code, stderr } = await berth([...args, ...where], { cwd: elsewhere, ...(input ? { input } : {}) });
          assert.equal(code, 2, `${args.join(" ")} ${where.join(" ")}: ${stderr}`);
          assertOneLine(stderr, new RegExp(`^berth: no registry at ${elsewhere}/${where.length ? "typo" : "data"}/\\S+ .*--data DIR, --config FILE or BERTH_DATA`));
          assert.deepEqual(await tree(elsewhere), [], `${args.join(" ")} created nothing`);
        }
      }
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("S3 + PostgreSQL: each command refuses on an empty database, creates no tables and no bucket", { skip: skipUnlessS3() || skipUnlessPostgres() }, async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "berth-elsewhere-"));
    const db = await createTestDatabase();
    const s3 = s3Settings()!;
    const bucket = uniqueBucket("berth-absent");
    const config = join(elsewhere, "scale.yaml");
    await writeFile(config, JSON.stringify({
      storage: { driver: "s3", s3: { bucket, endpoint: s3.endpoint, region: s3.region, accessKey: s3.accessKey, secretKey: s3.secretKey, forcePathStyle: true } },
      database: { url: db.url },
    }));
    try {
      for (const { args, input } of ADMIN_COMMANDS) {
        const { code, stderr } = await berth([...args, "--config", config], { cwd: elsewhere, ...(input ? { input } : {}) });
        assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
        assertOneLine(stderr, /^berth: no registry at PostgreSQL postgres:\/\/[^ ]+ \(table schema_migrations is absent\) .*--config FILE/);
        assert.ok(!stderr.includes(`:${new URL(db.url).password}@`), "no password in the message");
      }
      assert.deepEqual(await tree(elsewhere), ["scale.yaml"], "nothing created in the working directory");
      const { default: pg } = await import("pg");
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
      await client.end();
      assert.deepEqual(rows, [], "no tables created");
      const { HeadBucketCommand } = await import("@aws-sdk/client-s3");
      const s3Client = await s3TestClient();
      await assert.rejects(s3Client.send(new HeadBucketCommand({ Bucket: bucket })), "no bucket created");
      s3Client.destroy();
    } finally {
      await db.drop();
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
