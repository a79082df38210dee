import { createHash, type KeyObject } from "node:crypto";
import type { Bundle } from "@sigstore/bundle";
import type { TrustedRoot } from "@sigstore/protobuf-specs";
import type { SignedEntity, TrustMaterial as SigstoreTrust } from "@sigstore/verify";
import { lazyRequire } from "../../lazy-require.js";
import type { Digest } from "../../oci/digest.js";
import { fetchLayer, isBundleMediaType, type SignatureManifest } from "./manifest.js";
import { refusalReason } from "./cosign.js";
import { SignatureRefused, type FetchBlob, type SignatureCheck, type TrustMaterial, type VerifyOptions } from "./types.js";

const sigstoreBundle = lazyRequire<typeof import("@sigstore/bundle")>("@sigstore/bundle");
const sigstoreVerify = lazyRequire<typeof import("@sigstore/verify")>("@sigstore/verify");

const MAX_BUNDLE_BYTES = 4 << 20;
const IN_TOTO = "application/vnd.in-toto+json";

function parseBundle(blob: Buffer): Bundle {
  try {
    return sigstoreBundle().bundleFromJSON(JSON.parse(blob.toString("utf8")));
  } catch (err) {
    throw new SignatureRefused(`not a valid sigstore bundle: ${(err as Error).message.split("\n")[0]}`);
  }
}

/** Refuses unless the bundle's signed content names (DSSE in-toto statement) or is (message signature) the subject. */
function checkSubject(bundle: Bundle, subject: Digest, options: VerifyOptions): void {
  const [algorithm, hex] = subject.split(":") as [string, string];
  if (bundle.content.$case === "dsseEnvelope") {
    const env = bundle.content.dsseEnvelope;
    if (env.payloadType !== IN_TOTO) throw new SignatureRefused(`DSSE payload type ${env.payloadType} is not ${IN_TOTO}`);
    let names: string[];
    try {
      const statement = JSON.parse(env.payload.toString("utf8")) as { subject?: { digest?: Record<string, string> }[] };
      names = (statement.subject ?? []).flatMap((s) => (s.digest?.[algorithm] ? [`${algorithm}:${s.digest[algorithm]}`] : []));
    } catch {
      throw new SignatureRefused("DSSE payload is not an in-toto statement");
    }
    if (!names.includes(subject)) throw new SignatureRefused(`statement is for ${names.join(", ") || "no digest"}, not ${subject}`);
    return;
  }
  const { subjectContent } = options;
  if (!subjectContent) throw new SignatureRefused("message-signature bundle: the subject manifest's bytes were not supplied");
  if (createHash(algorithm).update(subjectContent).digest("hex") !== hex) {
    throw new SignatureRefused(`message-signature bundle: the supplied subject bytes are not ${subject}`);
  }
  const digest = Buffer.from(bundle.content.messageSignature.messageDigest.digest);
  if (digest.toString("hex") !== createHash("sha256").update(subjectContent).digest("hex")) {
    throw new SignatureRefused(`message-signature bundle is for sha256:${digest.toString("hex")}, not ${subject}`);
  }
}

function keyTrust(root: TrustedRoot | undefined, key: KeyObject): SigstoreTrust {
  const finder = () => ({ publicKey: key, validFor: () => true });
  if (root) return sigstoreVerify().toTrustMaterial(root, finder);
  return { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: finder };
}

/**
 * Key-based bundles only. Without a trusted root the tlog entries and timestamps the bundle carries are not
 * checked (nothing to check them against, and no look-up is made); with one, every entry must verify offline.
 */
async function checkBundle(
  manifest: SignatureManifest,
  subject: Digest,
  trust: TrustMaterial,
  fetchBlob: FetchBlob,
  options: VerifyOptions,
): Promise<string> {
  const layer = manifest.layers.find((l) => isBundleMediaType(l.mediaType)) ?? manifest.layers[0];
  if (!layer) throw new SignatureRefused("bundle artifact has no layer");
  const bundle = parseBundle(await fetchLayer(fetchBlob, layer, MAX_BUNDLE_BYTES));
  if (bundle.verificationMaterial.content.$case !== "publicKey") {
    throw new SignatureRefused("keyless bundle (signing certificate): keyless sigstore bundles are not supported");
  }
  const root = trust.sigstoreTrustedRoot as TrustedRoot | undefined;
  const full = sigstoreVerify().toSignedEntity(bundle, options.subjectContent);
  const entity: SignedEntity = root ? full : { ...full, tlogEntries: [], timestamps: [] };
  const signer = trust.cosignKeys.find((k) => {
    try {
      return entity.signature.verifySignature(k.key);
    } catch {
      return false;
    }
  });
  if (!signer) {
    if (bundle.content.$case === "messageSignature" && !options.subjectContent) checkSubject(bundle, subject, options);
    if (trust.cosignKeys.length === 0) throw new SignatureRefused("no cosignKeys are configured");
    throw new SignatureRefused(`bundle signature does not verify under any configured cosign key (${trust.cosignKeys.length} tried)`);
  }
  try {
    new (sigstoreVerify().Verifier)(keyTrust(root, signer.key), {
      tlogThreshold: root ? Math.min(1, entity.tlogEntries.length) : 0,
      ctlogThreshold: 0,
      timestampThreshold: 0,
    }).verify(entity);
  } catch (err) {
    throw new SignatureRefused(`bundle refused: ${(err as Error).message.split("\n")[0]}`);
  }
  checkSubject(bundle, subject, options);
  return signer.name;
}

/** One check for a sigstore bundle referrer. */
export async function verifyBundle(
  artifact: Digest,
  manifest: SignatureManifest,
  subject: Digest,
  trust: TrustMaterial,
  fetchBlob: FetchBlob,
  options: VerifyOptions,
): Promise<SignatureCheck> {
  try {
    const signer = await checkBundle(manifest, subject, trust, fetchBlob, options);
    return { artifact, format: "sigstore-bundle", valid: true, signer };
  } catch (err) {
    return { artifact, format: "sigstore-bundle", valid: false, reason: refusalReason(err) };
  }
}
