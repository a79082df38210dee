import type { ComponentChildren } from "preact";
import { href, navigate } from "../router";
import { isOwnerOfSome, signOut, useSession } from "../session";

/** The frame of every page: a skip link, the navigation, who is signed in, and the page in <main>. */
export function Layout({ children, path }: { children: ComponentChildren; path: string }) {
  const { session, refresh } = useSession();
  const current = (prefix: string) => (prefix === "/" ? path === "/" || path.startsWith("/r/") : path.startsWith(prefix)) ? "page" : undefined;
  const out = async () => {
    await signOut().catch(() => undefined);
    await refresh();
    navigate("/sign-in");
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href("/")}>
          Berth
        </a>
        <nav aria-label="Main">
          <a href={href("/")} aria-current={current("/")}>
            Repositories
          </a>
          {session.admin || !session.authEnabled ? (
            <a href={href("/registry")} aria-current={current("/registry")}>
              Registry
            </a>
          ) : null}
          {session.admin || isOwnerOfSome(session) ? (
            <a href={href("/admin")} aria-current={current("/admin")}>
              Admin
            </a>
          ) : null}
          {session.user && session.kind === "user" ? (
            <a href={href("/tokens")} aria-current={current("/tokens")}>
              My tokens
            </a>
          ) : null}
        </nav>
        <div class="who">
          {!session.authEnabled ? (
            <span class="muted">Access control is off</span>
          ) : session.user ? (
            <>
              <span>
                Signed in as <strong>{session.user}</strong>
                {session.admin ? " (admin)" : ""}
              </span>
              <button type="button" class="small" onClick={out}>
                Sign out
              </button>
            </>
          ) : (
            <a href={href("/sign-in")}>Sign in</a>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
