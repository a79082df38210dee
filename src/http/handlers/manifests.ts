import { RegistryError } from "../../oci/errors.js";
import { parseReference, type Reference } from "../../oci/reference.js";
import type { Handler } from "../context.js";
import { readBody, reply } from "../respond.js";
import { routePaths, type Route } from "../routes.js";

/** RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly (a `W/` prefix is ignored). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, "");
    return tag === "*" || tag === etag;
  });
}

type ManifestRoute = Extract<Route, { kind: "manifest" }>;

/**
 * The reference of a manifest request. Reads (GET, HEAD) of something that is neither a tag nor
 * a digest finds nothing: 404 MANIFEST_UNKNOWN, the only failure the spec lists for them (end-3).
 * Writes keep the 400 that says what is wrong with the reference.
 */
function referenceOf(method: string | undefined, value: string): Reference {
  try {
    return parseReference(value);
  } catch (err) {
    if (method !== "GET" && method !== "HEAD") throw err;
    if (!(err instanceof RegistryError)) throw err;
    throw new RegistryError("MANIFEST_UNKNOWN", "no manifest with this reference: it is neither a valid tag nor a valid digest", { reference: value });
  }
}

/**
 * GET / HEAD / PUT / DELETE /v2/<name>/manifests/<tag|digest>
 *
 * Berth serves the bytes exactly as pushed with their own media type, whatever `Accept` says:
 * it never converts between formats. Clients read Content-Type and Docker-Content-Digest, which is
 * what Docker, containerd, podman and skopeo rely on; a client that cannot handle the type fails
 * as it would on a 404, with the type in hand.
 */
export const handleManifest: Handler<ManifestRoute> = async ({ req, res, url, registry, logger, origin, pullGate }, route) => {
  const reference = referenceOf(req.method, route.reference);
  switch (req.method) {
    case "PUT": {
      const content = await readBody(req, registry.options.maxManifestSize);
      const tags = url.searchParams.getAll("tag");
      const outcome = await registry.manifests.put(route.name, {
        reference,
        content,
        origin,
        ...(req.headers["content-type"] ? { contentType: req.headers["content-type"] } : {}),
        tags,
      });
      const headers: Record<string, string | string[]> = {
        Location: routePaths.manifest(route.name, outcome.digest),
        "Docker-Content-Digest": outcome.digest,
      };
      if (outcome.subject) headers["OCI-Subject"] = outcome.subject;
      if (tags.length > 0) headers["OCI-Tag"] = outcome.tags;
      if (outcome.quotaWarning !== undefined) headers["Berth-Quota-Warning"] = outcome.quotaWarning;
      reply(res, 201, headers);
      return;
    }
    case "DELETE":
      await registry.manifests.delete(route.name, reference, origin);
      reply(res, 202);
      return;
    default: {
      const manifest = await registry.manifests.get(route.name, reference);
      // Signature and vulnerability policies: refused here (403 DENIED), before any answer, 304 included.
      const policyHeaders = pullGate?.appliesTo(route.name) ? await pullGate.admit(route.name, manifest) : undefined;
      const etag = `"${manifest.digest}"`;
      const headers = {
        ...policyHeaders,
        "Content-Type": manifest.mediaType,
        "Docker-Content-Digest": manifest.digest,
        ETag: etag,
        "Content-Length": manifest.content.length,
      };
      if (matchesEtag(req.headers["if-none-match"], etag)) reply(res, 304, { ...headers, "Content-Length": 0 });
      else reply(res, 200, headers, manifest.content);
      // GET or HEAD, by tag or by digest: containerd (so Kubernetes and recent Docker) resolves a
      // tag with HEAD, and deployments pinned by digest never name the tag they still rely on.
      const by = reference.kind === "tag" ? { tag: reference.tag } : { digest: manifest.digest };
      const pulled = { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.content.length };
      registry.pulls.record(
        route.name,
        by,
        pulled,
        (err) => logger.warn("recording a pull failed", { repository: route.name, ...by, error: String(err) }),
        origin,
        req.method === "GET",
      );
    }
  }
};
