import { X509Certificate } from "node:crypto";
import { flattenedVerify } from "jose";
import type { Digest } from "../../oci/digest.js";
import { SignatureMediaType, fetchLayer, type SignatureManifest } from "./manifest.js";
import { refusalReason } from "./cosign.js";
import { SignatureRefused, type FetchBlob, type SignatureCheck, type TrustMaterial } from "./types.js";

const MAX_ENVELOPE_BYTES = 4 << 20;
const PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json";
const ALGORITHMS = ["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];
const CODE_SIGNING = "1.3.6.1.5.5.7.3.3";
/** Critical headers Berth understands; a signature needing a verification plugin is refused by name. */
const KNOWN_CRITICAL = ["io.cncf.notary.signingScheme", "io.cncf.notary.expiry", "io.cncf.notary.authenticSigningTime"];

interface JwsEnvelope {
  payload: string;
  protected: string;
  signature: string;
  header?: { x5c?: unknown };
}

function parseEnvelope(blob: Buffer): JwsEnvelope {
  let env: unknown;
  try {
    env = JSON.parse(blob.toString("utf8"));
  } catch {
    throw new SignatureRefused("JWS envelope is not JSON");
  }
  const e = env as Partial<JwsEnvelope> | null;
  if (typeof e?.payload !== "string" || typeof e.protected !== "string" || typeof e.signature !== "string") {
    throw new SignatureRefused("JWS envelope lacks payload, protected header or signature");
  }
  return e as JwsEnvelope;
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    if (typeof value === "object" && value !== null) return value as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw new SignatureRefused(`JWS ${what} is not a JSON object`);
}

/** The notation-specific rules on the protected header (the JOSE ones are jose's). */
function checkProtectedHeader(header: Record<string, unknown>, now: Date): void {
  if (!ALGORITHMS.includes(String(header.alg))) throw new SignatureRefused(`JWS algorithm ${String(header.alg)} is not allowed by notation`);
  if (header.cty !== PAYLOAD_TYPE) throw new SignatureRefused(`JWS content type ${String(header.cty)} is not ${PAYLOAD_TYPE}`);
  const crit = Array.isArray(header.crit) ? header.crit.map(String) : [];
  if (!crit.includes("io.cncf.notary.signingScheme")) throw new SignatureRefused("io.cncf.notary.signingScheme is not marked critical");
  const unknown = crit.find((c) => !KNOWN_CRITICAL.includes(c));
  if (unknown) throw new SignatureRefused(`critical header ${unknown} is not supported (verification plugins are not run)`);
  const scheme = header["io.cncf.notary.signingScheme"];
  const timeField = scheme === "notary.x509" ? "io.cncf.notary.signingTime" : scheme === "notary.x509.signingAuthority" ? "io.cncf.notary.authenticSigningTime" : undefined;
  if (!timeField) throw new SignatureRefused(`signing scheme ${String(scheme)} is not supported`);
  if (Number.isNaN(Date.parse(String(header[timeField])))) throw new SignatureRefused(`${timeField} is missing or not a time`);
  const expiry = header["io.cncf.notary.expiry"];
  if (expiry !== undefined) {
    if (!crit.includes("io.cncf.notary.expiry")) throw new SignatureRefused("io.cncf.notary.expiry is not marked critical");
    const at = Date.parse(String(expiry));
    if (Number.isNaN(at)) throw new SignatureRefused("io.cncf.notary.expiry is not a time");
    if (at <= now.getTime()) throw new SignatureRefused(`signature expired at ${new Date(at).toISOString()}`);
  }
}

function parseChain(x5c: unknown): X509Certificate[] {
  if (!Array.isArray(x5c) || x5c.length === 0) throw new SignatureRefused("JWS carries no x5c certificate chain");
  return x5c.map((c, i) => {
    try {
      return new X509Certificate(Buffer.from(String(c), "base64"));
    } catch {
      throw new SignatureRefused(`x5c certificate ${i + 1} does not parse`);
    }
  });
}

function oneLine(name: string): string {
  return name.split("\n").filter(Boolean).join(", ");
}

function checkValidity(cert: X509Certificate, now: Date): void {
  const what = `certificate "${oneLine(cert.subject)}"`;
  if (now.getTime() > Date.parse(cert.validTo)) throw new SignatureRefused(`${what} expired on ${new Date(cert.validTo).toISOString()}`);
  if (now.getTime() < Date.parse(cert.validFrom)) throw new SignatureRefused(`${what} is not valid before ${new Date(cert.validFrom).toISOString()}`);
}

/**
 * The chain must be issuer-linked from the leaf up to a configured certificate (present in x5c, or issuing its
 * last certificate), with every certificate on the way valid at `now` and every one above the leaf a CA.
 * Returns the name of the anchor reached.
 */
function checkChain(chain: X509Certificate[], trust: TrustMaterial, now: Date): string {
  const leaf = chain[0]!;
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(CODE_SIGNING)) throw new SignatureRefused("signing certificate lacks the codeSigning extended key usage");
  if (trust.notationCertificates.length === 0) throw new SignatureRefused("no notationCertificates are configured");
  const anchorOf = (cert: X509Certificate) => trust.notationCertificates.find((t) => t.certificate.fingerprint256 === cert.fingerprint256);
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    checkValidity(cert, now);
    if (i > 0 && !cert.ca) throw new SignatureRefused(`chain certificate "${oneLine(cert.subject)}" is not a CA`);
    const anchor = anchorOf(cert);
    if (anchor) return anchor.name;
    const issuer = chain[i + 1];
    if (issuer) {
      if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
        throw new SignatureRefused(`x5c certificate ${i + 1} is not issued by certificate ${i + 2}`);
      }
      continue;
    }
    const external = trust.notationCertificates.find((t) => cert.checkIssued(t.certificate) && cert.verify(t.certificate.publicKey));
    if (external) {
      if (!external.certificate.ca) throw new SignatureRefused(`trusted certificate ${external.name} is not a CA`);
      checkValidity(external.certificate, now);
      return external.name;
    }
  }
  throw new SignatureRefused(`certificate chain of "${oneLine(leaf.subject)}" does not lead to a configured notation certificate`);
}

async function checkJws(blob: Buffer, subject: Digest, trust: TrustMaterial, now: Date): Promise<string> {
  const env = parseEnvelope(blob);
  const header = decodeJson(env.protected, "protected header");
  checkProtectedHeader(header, now);
  const chain = parseChain(env.header?.x5c);
  try {
    await flattenedVerify({ payload: env.payload, protected: env.protected, signature: env.signature }, chain[0]!.publicKey, {
      algorithms: ALGORITHMS,
      crit: Object.fromEntries(KNOWN_CRITICAL.map((c) => [c, true])),
    });
  } catch (err) {
    throw new SignatureRefused(`JWS signature does not verify under its signing certificate: ${(err as Error).message}`);
  }
  const payload = decodeJson(env.payload, "payload");
  const target = (payload.targetArtifact as { digest?: unknown } | undefined)?.digest;
  if (target !== subject) throw new SignatureRefused(`signature is for ${String(target)}, not ${subject}`);
  checkChain(chain, trust, now);
  return oneLine(chain[0]!.subject);
}

/** One check per signature envelope layer of a notation signature manifest. */
export async function verifyNotation(
  artifact: Digest,
  manifest: SignatureManifest,
  subject: Digest,
  trust: TrustMaterial,
  fetchBlob: FetchBlob,
  now: Date,
): Promise<SignatureCheck[]> {
  const check = async (mediaType: string, run: () => Promise<string>): Promise<SignatureCheck> => {
    if (mediaType === SignatureMediaType.Cose) return { artifact, format: "notation", valid: false, reason: "COSE envelopes are not supported" };
    try {
      return { artifact, format: "notation", valid: true, signer: await run() };
    } catch (err) {
      return { artifact, format: "notation", valid: false, reason: refusalReason(err) };
    }
  };
  if (manifest.layers.length === 0) return [{ artifact, format: "notation", valid: false, reason: "notation signature has no envelope layer" }];
  return Promise.all(
    manifest.layers.map((layer) =>
      check(layer.mediaType, async () => {
        if (layer.mediaType !== SignatureMediaType.Jws) throw new SignatureRefused(`envelope media type ${layer.mediaType} is not supported`);
        return checkJws(await fetchLayer(fetchBlob, layer, MAX_ENVELOPE_BYTES), subject, trust, now);
      }),
    ),
  );
}
