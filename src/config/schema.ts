import { z } from "zod";
import { LOG_LEVELS } from "../logger.js";
import { tagPatternProblem } from "../oci/tag-rules.js";
import { bool, duration, size } from "./primitives.js";
import { formatDuration, parseListen } from "./units.js";
import { webhookSecretKey } from "./webhook-secret.js";
import { supplySchema } from "./supply-schema.js";
import { limitsSchema } from "./limits-schema.js";

/**
 * The configuration file's shape (YAML or JSON). Every key is optional; see docs/configuration.md.
 * Durations take `30s`/`10m`/`24h` (a bare number is seconds), sizes `4MiB`/`512k` (a bare number is bytes).
 */

export { duration, size };

/**
 * A duration with a floor. Values below it are refused rather than quietly raised, so what the
 * configuration says is what runs.
 */
const durationAtLeast = (minMs: number, why: string) =>
  duration.refine((ms) => ms >= minMs, (ms) => ({ message: `${formatDuration(ms)} is too short: at least ${formatDuration(minMs)} (${why})` }));

const listen = z.string().refine((v) => parseListen(v) !== undefined, (v) => ({
  message: `not a listen address: ${v} (expected host:port, e.g. 127.0.0.1:5000)`,
}));

/** A tag pattern: a preset (`semver`, `git-sha`), a `/regex/` (checked here) or a `*` glob. */
const tagPattern = z.string().superRefine((v, ctx) => {
  const problem = tagPatternProblem(v);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

/** One entry of `tagRules`; see docs/configuration.md, "Tag rules". */
const tagRule = z
  .object({
    name: z.string().min(1).optional(),
    repositories: z.string().min(1),
    immutable: z.array(tagPattern).default([]),
    forbid: z.array(tagPattern).default([]),
    require: z.array(tagPattern).default([]),
  })
  .strict()
  .refine((r) => r.immutable.length + r.forbid.length + r.require.length > 0, {
    message: "a tag rule needs at least one of immutable, forbid, require",
  });

/** One entry of `retention.rules`; see docs/configuration.md, "Retention". */
const retentionRule = z
  .object({
    name: z.string().min(1).optional(),
    repositories: z.string().min(1),
    keepLast: z.number().int().min(1).optional(),
    keepWithin: duration.optional(),
    keep: z.array(tagPattern).default([]),
    deleteUntagged: bool.default(false),
  })
  .strict()
  .refine((r) => r.keepLast !== undefined || r.keepWithin !== undefined || r.keep.length > 0, {
    message: 'a retention rule needs at least one of keepLast, keepWithin, keep (with none it would delete every tag; keep: ["*"] keeps them all)',
  });

/** A fraction of a quota's limit, above which pushes are warned. */
const warnAt = z.number().gt(0).max(1);

/** One entry of `quotas.rules`: a limit on a namespace glob, or on each repository matching a glob. */
const quotaRule = z
  .object({
    name: z.string().min(1).optional(),
    namespace: z.string().min(1).refine((v) => !v.includes("/"), { message: "a namespace has no '/' (use repositories for deeper names)" }).optional(),
    repositories: z.string().min(1).optional(),
    limit: size,
    warnAt: warnAt.optional(),
  })
  .strict()
  .refine((r) => (r.namespace === undefined) !== (r.repositories === undefined), {
    message: "a quota rule has exactly one of namespace, repositories",
  });

/** An http(s) URL without user or password (fetch refuses those; credentials go in `headers`). */
const httpUrl = z.string().superRefine((v, ctx) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    // Not repeated in the message: a webhook URL may hold a token.
    return ctx.addIssue({ code: z.ZodIssueCode.custom, message: "not a URL" });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") ctx.addIssue({ code: z.ZodIssueCode.custom, message: "an http:// or https:// URL" });
  if (url.username || url.password) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "no user or password in the URL; send credentials in headers (Authorization)" });
});

/** Headers Berth sets itself on every delivery, which an endpoint's `headers` may not replace. */
export const RESERVED_WEBHOOK_HEADERS: ReadonlySet<string> = new Set([
  "content-type", "content-length", "transfer-encoding", "connection", "host", "webhook-id", "webhook-timestamp", "webhook-signature",
]);

const webhookHeaders = z.record(z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: "not a header name" });
    else if (RESERVED_WEBHOOK_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: "Berth sets this header itself" });
    if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: "a header value is one line" });
  }
});

/**
 * What an endpoint's `actions` may name: the event categories of registry/events.ts (config/ sits
 * below registry/, so the list is written here too; test/notify/config.test.ts keeps them equal).
 */
export const WEBHOOK_ACTIONS = ["push", "mount", "delete", "pull", "tag", "gc", "retention", "quota", "auth", "access", "scan"] as const;
export type WebhookAction = (typeof WEBHOOK_ACTIONS)[number];

/** What an endpoint hears when `actions` is not written: every category but pulls and access decisions (see docs/webhooks.md). */
export const DEFAULT_WEBHOOK_ACTIONS: readonly WebhookAction[] = WEBHOOK_ACTIONS.filter((c) => c !== "pull" && c !== "auth");

/** One entry of `notifications.endpoints`; see docs/webhooks.md. */
const webhookEndpoint = z
  .object({
    name: z.string().regex(/^[a-z0-9._-]{1,64}$/, "1 to 64 of a-z 0-9 . _ -"),
    url: httpUrl,
    /** `whsec_<base64>` or a plain string of 24 to 64 bytes; signs every delivery (Standard Webhooks). */
    secret: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
    format: z.enum(["distribution", "cloudevents"]).default("distribution"),
    actions: z.array(z.enum(WEBHOOK_ACTIONS)).min(1).default([...DEFAULT_WEBHOOK_ACTIONS]),
    /** Repository globs; absent: every repository, and registry-wide events (a GC run) too. */
    repositories: z.union([z.string().min(1).transform((g) => [g]), z.array(z.string().min(1)).min(1)]).optional(),
    headers: webhookHeaders.default({}),
    timeout: durationAtLeast(100, "a request needs time to be answered").refine((ms) => ms <= 300_000, { message: "at most 5m" }).default("5s"),
    /** How long after an event deliveries are retried before they are parked as failed. */
    retryFor: duration.default("24h"),
    enabled: bool.default(true),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.secret !== undefined && e.secretFile !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["secretFile"], message: "give secret or secretFile, not both" });
    }
    const checked = e.secret === undefined ? undefined : webhookSecretKey(e.secret);
    if (checked && "problem" in checked) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["secret"], message: checked.problem });
  });

/** A repository path component: what an upstream's `name` must be, since it prefixes the names clients use. */
const UPSTREAM_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** One entry of `proxy.upstreams`; see docs/proxy.md. */
const upstream = z
  .object({
    /** The prefix clients name (`docker.io`, `ghcr.io`); cached content lives under `<name>/`. */
    name: z.string().regex(UPSTREAM_NAME, "a repository path component, such as docker.io or ghcr.io (lowercase, no port)"),
    url: httpUrl,
    /** Names with no upstream prefix that are not local repositories go here (dockerd and podman mirrors). */
    default: bool.default(false),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** How long a cached tag is served without asking the upstream again (a HEAD, which Docker Hub does not count). */
    tagTtl: duration.default("5m"),
    /** Only these remote repositories (globs, after `library/` is added to one-segment Docker Hub names); absent: every one. */
    repositories: z.union([z.string().min(1).transform((g) => [g]), z.array(z.string().min(1)).min(1)]).optional(),
    /** Docker Hub's rule that `nginx` means `library/nginx`; default on for docker.io. */
    libraryPrefix: bool.optional(),
    /** Longest silence allowed from the upstream (connecting, between bytes). */
    timeout: durationAtLeast(100, "an upstream needs time to answer").default("30s"),
  })
  .strict()
  .superRefine((u, ctx) => {
    if (u.password !== undefined && u.passwordFile !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["passwordFile"], message: "give password or passwordFile, not both" });
    if ((u.password !== undefined || u.passwordFile !== undefined) && u.username === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["username"], message: "required with a password" });
  });

export const configSchema = z
  .object({
    listen: listen.default("127.0.0.1:5000"),
    data: z.string().min(1).default("./data"),
    log: z.object({ level: z.enum(LOG_LEVELS).default("info") }).strict().default({}),
    storage: z
      .object({
        /** `filesystem` (default) or `s3`. */
        driver: z.enum(["filesystem", "s3"]).default("filesystem"),
        /** Filesystem: where blobs live; default `<data>`. */
        path: z.string().min(1).optional(),
        fsync: bool.default(true),
        s3: z
          .object({
            bucket: z.string().min(3).optional(),
            region: z.string().min(1).default("us-east-1"),
            /** Omit for AWS itself; e.g. `http://127.0.0.1:7480` for Ceph radosgw or MinIO. */
            endpoint: z.string().url().optional(),
            accessKey: z.string().min(1).optional(),
            secretKey: z.string().min(1).optional(),
            accessKeyFile: z.string().min(1).optional(),
            secretKeyFile: z.string().min(1).optional(),
            forcePathStyle: bool.default(false),
            prefix: z.string().default(""),
            /** Answer blob GETs with a 307 to a presigned URL so bytes bypass Berth. */
            redirect: bool.default(false),
            redirectTtl: durationAtLeast(1000, "presigned URLs are signed in whole seconds").default("15m"),
            createBucket: bool.default(true),
            /** Opening a connection to the endpoint; beyond it the request answers 503. */
            connectTimeout: durationAtLeast(100, "a connection needs time to open").default("5s"),
            /** Longest silence from the store (headers, or the next bytes of a body Berth waits for); never a bound on a whole transfer. */
            timeout: durationAtLeast(100, "a store needs time to answer").default("30s"),
          })
          .strict()
          .default({}),
      })
      .strict()
      .superRefine((storage, ctx) => {
        if (storage.driver === "s3" && !storage.s3.bucket) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["s3", "bucket"], message: "required when storage.driver is s3" });
        }
      })
      .default({}),
    database: z
      .object({
        /** `sqlite` (default) or `postgres`; a `postgres://` url selects postgres. */
        driver: z.enum(["sqlite", "postgres"]).optional(),
        /** SQLite: the database file; default `<data>/berth.db`. */
        path: z.string().min(1).optional(),
        /** PostgreSQL: `postgres://user:password@host:port/database`. */
        url: z.string().optional(),
        urlFile: z.string().min(1).optional(),
        poolSize: z.number().int().min(1).max(1000).default(10),
        /** PostgreSQL: opening a connection, or waiting for a free one of the pool; beyond it the request answers 503. */
        connectTimeout: durationAtLeast(100, "a connection needs time to open").default("5s"),
        /** PostgreSQL: one statement, from sending it to its last row; beyond it the request answers 503. */
        queryTimeout: durationAtLeast(100, "a statement needs time to run").default("30s"),
      })
      .strict()
      .default({}),
    uploads: z
      .object({ expiry: duration.default("24h"), purgeInterval: durationAtLeast(1000, "the shortest interval Berth runs a job at").default("10m") })
      .strict()
      .default({}),
    manifests: z.object({ maxSize: size.default("4MiB") }).strict().default({}),
    ui: z
      .object({
        /** Serve the web UI at /ui/ (a browser's GET / is sent there); off: /ui/ answers 404 like any unknown path. */
        enabled: bool.default(true),
        /** How long a browser sign-in lasts (the session cookie and its server-side record). */
        sessionTtl: durationAtLeast(60_000, "a session lasts at least a minute").default("12h"),
      })
      .strict()
      .default({}),
    metrics: z
      .object({
        /** `/metrics` recounts stored blobs, tags and manifests at most this often (0: on every scrape). */
        storageRefresh: duration.default("30s"),
      })
      .strict()
      .default({}),
    gc: z
      .object({
        /** How often each node tries a garbage collection (one node runs, the others skip); `off` disables. */
        schedule: z.union([z.literal("off"), durationAtLeast(1000, "the shortest interval; off disables it")]).default("24h"),
        /** Unreferenced manifests and blob links younger than this are kept: a push in progress needs them. */
        grace: duration.default("1h"),
        /** Delete manifests no tag, index or subject reaches: everywhere (true) or in repositories matching these globs. */
        deleteUntagged: z.union([bool, z.array(z.string().min(1))]).default(false),
        /** Referrers (signatures, SBOMs) whose subject manifest is gone: `delete` (default) or `keep`. */
        orphanReferrers: z.enum(["keep", "delete"]).default("delete"),
      })
      .strict()
      .default({}),
    delete: z.object({ enabled: bool.default(true) }).strict().default({}),
    mount: z.object({ anonymous: bool.default(true) }).strict().default({}),
    pagination: z.object({ maxEntries: z.number().int().min(1).max(100_000).default(1000) }).strict().default({}),
    shutdown: z.object({ timeout: duration.default("30s") }).strict().default({}),
    limits: limitsSchema,
    auth: z
      .object({
        /**
         * Access control. Unset means off for a new registry; a registry that already holds users
         * refuses to start unless this is written (true, or false to knowingly run open).
         */
        enabled: bool.optional(),
        /** The `service` of the token flow (the JWT audience). */
        service: z.string().min(1).default("berth"),
        issuer: z.string().min(1).default("berth"),
        /** Bearer token lifetime; below 60 s is refused (clients need time to use the token). */
        tokenTtl: durationAtLeast(60_000, "a bearer token lives at least a minute, or slow clients fail halfway").default("5m"),
        /** Absolute URL of the token endpoint for the challenge; default derived from each request's Host. */
        realm: z.string().url().optional(),
        /** Also accept Basic credentials directly on /v2/ (for simple clients). */
        basic: bool.default(true),
        /** Visibility of namespaces with no setting of their own. */
        defaultVisibility: z.enum(["public", "private"]).default("private"),
        /** Password of the `admin` user created at first start; generated into `initialPasswordFile` when absent. */
        adminPassword: z.string().min(8).optional(),
        adminPasswordFile: z.string().min(1).optional(),
        /** Where a generated first admin password is written (mode 0600); default `<data>/initial-admin-password`. */
        initialPasswordFile: z.string().min(1).optional(),
        /** With auth off on a non-loopback address, anonymous users may only pull unless this is set. */
        allowAnonymousPush: bool.default(false),
        policies: z
          .array(
            z
              .object({
                repositories: z.string().min(1),
                users: z.array(z.string()).default([]),
                anonymous: bool.default(false),
                actions: z.array(z.enum(["pull", "push", "delete"])).min(1),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .default({}),
    /** Immutable tags and tag naming rules, per repository glob; unnamed rules are called `tagRules[i]`. */
    tagRules: z
      .array(tagRule)
      .default([])
      .transform((rules) => rules.map((r, i) => ({ ...r, name: r.name ?? `tagRules[${i}]` }))),
    /** Which tags to delete, per repository glob (the first matching rule applies); runs on `schedule` or on demand. */
    retention: z
      .object({
        schedule: z.union([z.literal("off"), durationAtLeast(1000, "the shortest interval; off disables it")]).default("off"),
        rules: z
          .array(retentionRule)
          .default([])
          .transform((rules) => rules.map((r, i) => ({ ...r, name: r.name ?? `retention.rules[${i}]` }))),
      })
      .strict()
      .default({}),
    /** Storage quotas: the first matching namespace rule and the first matching repository rule apply. */
    quotas: z
      .object({
        warnAt: warnAt.default(0.8),
        rules: z
          .array(quotaRule)
          .default([])
          .transform((rules) => rules.map((r, i) => ({ ...r, name: r.name ?? `quotas.rules[${i}]` }))),
      })
      .strict()
      .default({}),
    /** Webhooks: where events are delivered; see docs/webhooks.md. */
    notifications: z
      .object({
        endpoints: z
          .array(webhookEndpoint)
          .default([])
          .superRefine((endpoints, ctx) => {
            const seen = new Set<string>();
            endpoints.forEach((e, i) => {
              if (seen.has(e.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, "name"], message: `another endpoint is named ${e.name}` });
              seen.add(e.name);
            });
          }),
        /** How long events stay in the outbox once no delivery needs them (for listing and replay). */
        eventRetention: durationAtLeast(60_000, "replay needs the events to stay a while").default("7d"),
        /** The registry's address as clients pull from it (`https://registry.example`): the base of `target.url`. */
        publicUrl: httpUrl.optional(),
      })
      .strict()
      .default({}),
    /** Pull-through cache: upstream registries served under their name's prefix; see docs/proxy.md. */
    proxy: z
      .object({
        upstreams: z
          .array(upstream)
          .default([])
          .superRefine((upstreams, ctx) => {
            const seen = new Set<string>();
            upstreams.forEach((u, i) => {
              if (seen.has(u.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, "name"], message: `another upstream is named ${u.name}` });
              seen.add(u.name);
            });
            if (upstreams.filter((u) => u.default).length > 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "at most one upstream is the default" });
          }),
        /** Where blobs being fetched are spooled for the clients waiting on them; default `<data>/proxy-spool`, or the system temp directory with S3. */
        spoolDir: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    ...supplySchema,
    tls: z
      .object({ cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: "tls.cert and tls.key go together" })
      .default({}),
  })
  .strict();

type Parsed = z.output<typeof configSchema>;

/** The configuration after loading: secrets read from their files, the database driver decided. */
export type Config = Omit<Parsed, "database" | "auth"> & {
  database: Parsed["database"] & { driver: "sqlite" | "postgres" };
  auth: Omit<Parsed["auth"], "enabled"> & {
    enabled: boolean;
    /** Whether `auth.enabled` was written (file, BERTH_AUTH or `--auth`) rather than defaulted to off. */
    enabledExplicitly: boolean;
  };
};
export type ConfigInput = z.input<typeof configSchema>;
/** One configured webhook endpoint, its secret read from `secretFile` when it was given so. */
export type WebhookEndpointConfig = Config["notifications"]["endpoints"][number];
/** One configured upstream, its password read from `passwordFile` when it was given so. */
export type UpstreamConfig = Config["proxy"]["upstreams"][number];
