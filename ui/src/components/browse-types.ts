/** The browse API's answers, as docs/web-ui.md "API" describes them (helpers A1 and A2 build them). */

/** A cursor-paged list. */
export interface Paged<T> {
  items: T[];
  next?: string;
  total?: number;
}

/** GET /api/v1/browse/repositories items. */
export interface RepositoryItem {
  name: string;
  namespace: string;
  tags: number;
  manifests: number;
  size: number;
  pushedAt: number | null;
  visibility?: string;
}

export interface Quota {
  limit: number;
  used: number;
}

/** GET /api/v1/browse/namespaces items. */
export interface NamespaceItem {
  name: string;
  repositories: number;
  size: number;
  quota?: Quota;
  visibility: string;
  owner?: string;
  role?: string;
}

/** GET /api/v1/browse/repositories/<name>/info */
export interface RepositoryInfo {
  name: string;
  namespace: string;
  visibility: string;
  tags: number;
  manifests: number;
  size: number;
  pushedAt: number | null;
  permissions: { pull: boolean; push: boolean; delete: boolean };
  immutableTags: string[];
  quota?: Quota;
}

export type Severity = "critical" | "high" | "medium" | "low";

/** The supply-chain summary of a tag, when Berth knows it. */
export interface TagSupply {
  signature?: string;
  vulnerabilities?: Partial<Record<Severity, number>> | null;
  sbom?: boolean;
}

/** GET …/tags items. */
export interface TagItem {
  tag: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  size: number;
  platforms: string[];
  pushedAt: number | null;
  pulledAt: number | null;
  pulls: number;
  immutable: boolean;
  supply?: TagSupply;
}

/** GET …/tags?untagged=true items. */
export interface UntaggedItem {
  digest: string;
  mediaType: string;
  artifactType?: string;
  size: number;
  platforms: string[];
  pushedAt: number | null;
}

/** A descriptor as the artifact page lists it (layers, index children, subject, referrers). */
export interface DescriptorView {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** `os/architecture[/variant]` */
  platform?: string;
}

export interface HistoryEntry {
  created?: string;
  createdBy?: string;
  emptyLayer: boolean;
  comment?: string;
}

export interface ConfigView extends DescriptorView {
  created?: string;
  author?: string;
  labels?: Record<string, string>;
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  history?: HistoryEntry[];
  content?: string;
}

export interface Verification {
  format: string;
  valid: boolean;
  signer?: string;
  reason?: string;
}

export interface Finding {
  id: string;
  aliases?: string[];
  summary?: string;
  severity: string;
  score?: number;
  package: string;
  installed: string;
  fixed?: string;
  ecosystem?: string;
}

/** An image's SBOM and vulnerabilities in the supply report (src/supply/supply-chain.ts). */
export interface ImageSupply {
  sbom: { status: string; packages?: number; ecosystems?: Record<string, number>; os?: string; error?: string };
  vulnerabilities: { status: string; database?: { generation: number; importedAt?: string }; counts: Record<string, number>; findings: Finding[] };
}

/** The /api/v1/scan report. */
export interface SupplyReport {
  signatures?: { policy: string | null; mode?: string; verified: boolean; state: string; checks: (Verification & { artifact: string })[] };
  secrets?: { status: string; findings: unknown[] };
  image?: ImageSupply;
  platforms?: ({ digest: string; platform: string } & ImageSupply)[];
}

/** GET …/manifests/<digest|tag> */
export interface ArtifactView {
  digest: string;
  mediaType: string;
  artifactType?: string;
  size: number;
  content: string;
  tags: string[];
  subject?: DescriptorView;
  annotations: Record<string, string>;
  totalSize: number;
  layers: DescriptorView[];
  config?: ConfigView;
  manifests?: DescriptorView[];
  referrers: (DescriptorView & { verification?: Verification })[];
  supply?: SupplyReport;
}
