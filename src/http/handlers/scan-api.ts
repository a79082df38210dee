import type { Digest } from "../../oci/digest.js";
import { RegistryError } from "../../oci/errors.js";
import { isValidName, parseReference } from "../../oci/reference.js";
import type { SupplyChain } from "../../supply/supply-chain.js";
import type { RequestContext } from "../context.js";
import { reply } from "../respond.js";

export const SCAN_PREFIX = "/api/v1/scan/";

/**
 * A stored image's supply-chain report (supply/supply-chain.ts), JSON out:
 *
 *   GET /api/v1/scan/<name>:<tag>
 *   GET /api/v1/scan/<name>@<digest>
 *
 * signatures (state, policy, each signature's check), secrets (findings: rule and file or config
 * field, never the secret), and for an image (each platform of an index) its SBOM status and the
 * vulnerabilities matched against the imported database. Read-only: a missing SBOM is reported as
 * such (`berth scan` generates it). Whoever may pull the repository may read it.
 * Errors: 400 NAME_INVALID / TAG_INVALID / DIGEST_INVALID, 404 MANIFEST_UNKNOWN, 401/403 as for a pull.
 */
export async function handleScanApi(ctx: RequestContext, supply: SupplyChain | undefined): Promise<void> {
  const { req, res, url, registry, guard } = ctx;
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new RegistryError("UNSUPPORTED", `method ${req.method} not allowed here`, undefined, { headers: { Allow: "GET, HEAD" } });
  }
  let target: string;
  try {
    target = decodeURIComponent(url.pathname.slice(SCAN_PREFIX.length));
  } catch {
    throw new RegistryError("NAME_INVALID", "the path is not valid percent-encoding", { path: url.pathname });
  }
  const at = target.indexOf("@");
  const colon = target.lastIndexOf(":");
  const split = at >= 0 ? at : colon > target.lastIndexOf("/") ? colon : -1;
  if (split < 0) throw new RegistryError("NAME_INVALID", "give the image as <name>:<tag> or <name>@<digest>", { path: url.pathname });
  const name = target.slice(0, split);
  if (!isValidName(name)) throw new RegistryError("NAME_INVALID", `not a repository name: ${name}`, { name });
  const reference = parseReference(target.slice(split + 1));
  ctx.caller = await guard.check(req, { repository: name, actions: ["pull"] }, ctx.origin);
  if (!supply) throw new RegistryError("UNSUPPORTED", "supply-chain reports are not available on this server", undefined, { status: 404 });
  const manifest = await registry.manifests.get(name, reference);
  reply(res, 200, {}, await supply.report(name, manifest.digest as Digest));
}
