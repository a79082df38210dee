import type { VNode } from "preact";
import { AdminPage } from "./pages/admin";
import { ArtifactPage } from "./pages/artifact";
import { MyTokensPage } from "./pages/my-tokens";
import { NotFoundPage } from "./pages/not-found";
import { RegistryPage } from "./pages/registry";
import { RepositoriesPage } from "./pages/repositories";
import { RepositoryPage } from "./pages/repository";
import { SignInPage } from "./pages/sign-in";

const decode = (segments: string[]): string | undefined => {
  try {
    return segments.map(decodeURIComponent).join("/");
  } catch {
    return undefined;
  }
};

/**
 * The page for a client path (below /ui):
 *   /                       repositories       /r/<name…>            a repository
 *   /r/<name…>/@<ref>       an artifact (a digest, or a tag)
 *   /registry               storage, GC and retention, webhooks
 *   /admin[/<section>]      users, tokens, namespaces, audit      /tokens   my robot tokens
 *   /sign-in[?next=]
 */
export function pageFor(path: string, query: URLSearchParams): VNode {
  if (path === "/") return <RepositoriesPage query={query} />;
  if (path === "/sign-in") return <SignInPage next={query.get("next") ?? "/"} />;
  if (path === "/registry") return <RegistryPage />;
  if (path === "/tokens") return <MyTokensPage />;
  if (path === "/admin" || path.startsWith("/admin/")) return <AdminPage section={path.slice("/admin/".length) || "users"} query={query} />;
  if (path.startsWith("/r/")) {
    const segments = path.slice(3).split("/").filter((s) => s !== "");
    const at = segments.findIndex((s) => s.startsWith("@"));
    if (at > 0 && at === segments.length - 1) {
      const name = decode(segments.slice(0, at));
      const reference = decode([segments[at]!.slice(1)]);
      if (name && reference) return <ArtifactPage name={name} reference={reference} />;
    }
    const name = decode(segments);
    if (name && at < 0) return <RepositoryPage name={name} query={query} />;
  }
  return <NotFoundPage />;
}
