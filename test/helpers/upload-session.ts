/**
 * Raw steps of an upload session over fetch, for tests of the sessions themselves (chunks through
 * different nodes, across a restart, under a sweep, expiring): they send exactly these requests.
 * To get content into a registry, use push.ts (the registry client).
 */

/** A Buffer as a fetch body (the DOM typings do not accept Node's Buffer as is). */
export function asBody(data: Buffer): BodyInit {
  return data as unknown as BodyInit;
}

/** Starts an upload session; returns its absolute location. */
export async function startUpload(url: string, repo: string): Promise<string> {
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  if (res.status !== 202) throw new Error(`upload start ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get("location")!, url).toString();
}

/** One PATCH with Content-Range, answered as is. */
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
