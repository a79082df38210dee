import { useEffect } from "preact/hooks";
import { api, encodeName } from "../api";
import { ErrorBox, Loading } from "../components/common";
import { ConfigFacts, HistoryTable, JsonText, LayersTable, PlatformsTable, ReferrersTable } from "../components/browse-artifact-parts";
import { artifactHref, KeyValueTable, notableArtifactType, PullCommands, Size } from "../components/browse-common";
import { SupplySection } from "../components/browse-supply";
import type { ArtifactView } from "../components/browse-types";
import { shortDigest } from "../format";
import { href, navigate } from "../router";
import { useKeyedData } from "../components/browse-data";

const kindOf = (a: ArtifactView): string => {
  if (a.manifests) return "Image index";
  if (notableArtifactType(a.artifactType)) return "Artifact";
  if (a.config) return "Image";
  return "Manifest";
};

/**
 * An artifact (GET …/manifests/<digest|tag>): its facts, pull commands by digest, an index's
 * platforms, the image config, layers, history, labels and annotations, referrers, the supply-chain
 * report, and the manifest's exact bytes. A tag in the address is replaced by the digest it resolves to.
 */
export function ArtifactPage({ name, reference }: { name: string; reference: string }) {
  const path = `/api/v1/browse/repositories/${encodeName(name)}/manifests/${encodeURIComponent(reference)}`;
  const key = `${name}@${reference}`;
  const view = useKeyedData(() => api<ArtifactView>(path), key);
  const a = view.data;
  useEffect(() => {
    if (a && a.digest !== reference) navigate(`/r/${encodeName(name)}/@${encodeURIComponent(a.digest)}`, true);
  }, [a?.digest, reference]);

  const repoLink = (
    <p class="crumbs">
      <a href={href("/")}>Repositories</a> / <a href={href(`/r/${encodeName(name)}`)}>{name}</a> /
    </p>
  );
  if (view.error) {
    return (
      <section>
        {repoLink}
        <h1>
          {name}@{reference}
        </h1>
        {view.error.status === 404 && view.error.code !== "MANIFEST_UNKNOWN" && view.error.code !== "NAME_UNKNOWN" ? (
          <p class="error" role="alert">
            This server cannot describe artifacts yet (GET …/manifests/&lt;reference&gt; answered 404).
          </p>
        ) : (
          <ErrorBox error={view.error} />
        )}
      </section>
    );
  }
  if (!a) return <Loading what="Loading the manifest" />;
  const config = a.config;
  const labels = config?.labels ?? {};
  return (
    <section>
      {repoLink}
      <h1>
        {kindOf(a)}{" "}
        <span class="mono digest-title" title={a.digest}>
          {shortDigest(a.digest)}
        </span>
      </h1>
      <div class="overview">
        <dl class="facts">
          <dt>Repository</dt>
          <dd>
            <a href={href(`/r/${encodeName(name)}`)}>{name}</a>
          </dd>
          <dt>Digest</dt>
          <dd class="mono">{a.digest}</dd>
          <dt>Media type</dt>
          <dd class="mono">{a.mediaType}</dd>
          {a.artifactType ? (
            <>
              <dt>Artifact type</dt>
              <dd class="mono">{a.artifactType}</dd>
            </>
          ) : null}
          <dt>Manifest size</dt>
          <dd>
            <Size bytes={a.size} />
          </dd>
          <dt>Total size</dt>
          <dd>
            <Size bytes={a.totalSize} />
          </dd>
          <dt>Tags</dt>
          <dd class="mono">{a.tags.length > 0 ? a.tags.join(", ") : <span class="muted">untagged</span>}</dd>
          {a.subject ? (
            <>
              <dt>Subject</dt>
              <dd>
                <a class="mono" href={artifactHref(name, a.subject.digest)}>
                  {a.subject.digest}
                </a>
              </dd>
            </>
          ) : null}
        </dl>
        <div>
          <h2 class="pull-heading">Pull</h2>
          <PullCommands name={name} tag={a.tags[0]} digest={a.digest} />
        </div>
      </div>

      {a.manifests ? (
        <>
          <h2>Platforms</h2>
          {a.manifests.length > 0 ? <PlatformsTable name={name} manifests={a.manifests} /> : <p class="muted">The index lists no manifest.</p>}
        </>
      ) : null}

      {config && (config.created || config.platform || config.history) ? (
        <>
          <h2>Config</h2>
          <ConfigFacts config={config} />
        </>
      ) : null}

      {!a.manifests ? (
        <>
          <h2>{notableArtifactType(a.artifactType) ? "Blobs" : "Layers"}</h2>
          <LayersTable layers={a.layers} caption={notableArtifactType(a.artifactType) ? "Blobs" : "Layers"} />
        </>
      ) : null}

      {config?.history ? (
        <>
          <h2>History</h2>
          <HistoryTable history={config.history} />
        </>
      ) : null}

      {config ? (
        <>
          <h2>Labels</h2>
          <KeyValueTable caption="Labels" entries={labels} />
        </>
      ) : null}
      <h2>Annotations</h2>
      <KeyValueTable caption="Annotations" entries={a.annotations} />

      <h2>Referrers</h2>
      <ReferrersTable name={name} referrers={a.referrers} />

      <h2>Supply chain</h2>
      {a.supply ? <SupplySection supply={a.supply} /> : <p class="muted">No supply-chain report: this server checks no signatures, SBOMs or vulnerabilities.</p>}

      <h2>Manifest</h2>
      <JsonText text={a.content} label="Manifest JSON" />
      {config?.content ? (
        <details>
          <summary>Config JSON</summary>
          <JsonText text={config.content} label="Config JSON" />
        </details>
      ) : null}
    </section>
  );
}
