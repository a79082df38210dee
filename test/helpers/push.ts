import { sha256 } from "./fixtures.js";

/** Minimal registry client calls over fetch, for tests that drive Berth by hand. */

/** A Buffer as a fetch body (the DOM typings do not accept Node's Buffer as is). */
export function asBody(data: Buffer): BodyInit {
  return data as unknown as BodyInit;
}

export async function pushBlob(url: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: "POST", body: asBody(data) });
  if (res.status !== 201) throw new Error(`blob push ${res.status}: ${await res.text()}`);
  return digest;
}

export async function pushManifest(url: string, repo: string, ref: string, body: Buffer, mediaType: string): Promise<string> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, {
    method: "PUT",
    headers: { "Content-Type": mediaType },
    body: asBody(body),
  });
  if (res.status !== 201) throw new Error(`manifest push ${res.status}: ${await res.text()}`);
  return res.headers.get("docker-content-digest")!;
}

/** Starts an upload session; returns its absolute location. */
export async function startUpload(url: string, repo: string): Promise<string> {
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  if (res.status !== 202) throw new Error(`upload start ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get("location")!, url).toString();
}

export async function patchChunk(location: string, chunk: Buffer, start: number): Promise<Response> {
  return fetch(location, {
    method: "PATCH",
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Range": `${start}-${start + chunk.length - 1}`,
    },
    body: asBody(chunk),
  });
}

export function withQuery(location: string, query: Record<string, string>): string {
  const u = new URL(location);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
}

export async function fetchBytes(url: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}
