import { z } from "zod";
import { bool, size } from "./primitives.js";

/**
 * The supply-chain sections of the configuration: `signatures`, `sboms`, `vulnerabilities`,
 * `secrets` (docs/supply-chain.md). In every policy list the first policy whose globs match the
 * repository applies; unnamed policies are called `<section>.policies[i]` in messages.
 */

/** One glob or a list of them (`prod/*`, `["prod/*", "release/**"]`), as a list. */
const repositories = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === "string" ? [v] : v));

const named = <T extends { name?: string | undefined }>(section: string) => (policies: T[]) =>
  policies.map((p, i) => ({ ...p, name: p.name ?? `${section}.policies[${i}]` }));

const signaturePolicy = z
  .object({
    name: z.string().min(1).optional(),
    repositories,
    mode: z.enum(["off", "report", "enforce"]),
    /** PEM public keys cosign signatures (and key-based sigstore bundles) are verified with. */
    cosignKeys: z.array(z.string().min(1)).default([]),
    /** PEM certificates notation signatures must chain to. */
    notationCertificates: z.array(z.string().min(1)).default([]),
    /** A sigstore trusted_root.json: keyless signatures are verified offline against it. */
    sigstoreTrustedRoot: z.string().min(1).optional(),
    /** Who keyless signatures must come from (with sigstoreTrustedRoot): OIDC issuer and subject glob. */
    identities: z.array(z.object({ issuer: z.string().min(1), subject: z.string().min(1) }).strict()).default([]),
  })
  .strict()
  .refine((p) => p.mode === "off" || p.cosignKeys.length + p.notationCertificates.length > 0 || p.sigstoreTrustedRoot !== undefined, {
    message: "a signature policy that is not off needs cosignKeys, notationCertificates or sigstoreTrustedRoot (with none, no signature could ever be trusted)",
  });

export const SEVERITIES = ["low", "medium", "high", "critical"] as const;

const vulnerabilityPolicy = z
  .object({
    name: z.string().min(1).optional(),
    repositories,
    /** Refuse pulls of images with a finding at or above this severity (`none`: report only). */
    refuseAt: z.enum(["none", ...SEVERITIES]),
    /** Advisory ids or aliases (CVE-…, GHSA-…) never counted against the image. */
    allow: z.array(z.string().min(1)).default([]),
  })
  .strict();

const secretPolicy = z
  .object({
    name: z.string().min(1).optional(),
    repositories,
    mode: z.enum(["off", "warn", "block"]),
  })
  .strict();

export const supplySchema = {
  signatures: z
    .object({ policies: z.array(signaturePolicy).default([]).transform(named("signatures")) })
    .strict()
    .default({}),
  sboms: z
    .object({
      /** Generate an SBOM for every image pushed to a matching repository. */
      enabled: bool.default(true),
      repositories: repositories.default(["**"]),
    })
    .strict()
    .default({}),
  vulnerabilities: z
    .object({ policies: z.array(vulnerabilityPolicy).default([]).transform(named("vulnerabilities")) })
    .strict()
    .default({}),
  secrets: z
    .object({
      /** A YAML file of rules that extends (or, by id, replaces) the built-in ones. */
      rulesFile: z.string().min(1).optional(),
      /** Files larger than this are not read for content (path rules still apply). */
      maxFileSize: size.default("10MiB"),
      policies: z.array(secretPolicy).default([]).transform(named("secrets")),
    })
    .strict()
    .default({}),
};
