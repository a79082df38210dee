import { refusalFor } from "../components/admin-kit";
import { currentLocation, href } from "../router";
import { isOwnerOfSome, useSession } from "../session";
import { AdminAudit } from "./admin-audit";
import { AdminNamespaces } from "./admin-namespaces";
import { AdminTokens } from "./admin-tokens";
import { AdminUsers } from "./admin-users";

const SECTIONS = { users: "Users", tokens: "Robot tokens", namespaces: "Namespaces", audit: "Audit log" } as const;
type Section = keyof typeof SECTIONS;

/**
 * Administration (`/ui/admin/<section>`): users, robot tokens, namespaces and members with
 * repository visibility, the audit log. Administrators see every section; namespace owners only
 * Namespaces, with the namespaces they own.
 */
export function AdminPage({ section, query }: { section: string; query: URLSearchParams }) {
  const { session } = useSession();
  if (!session.authEnabled) {
    return (
      <section>
        <h1>Admin</h1>
        <p class="notice">Access control is off: there are no users, robot tokens, namespace members or audit log to administer. Set BERTH_AUTH to turn it on.</p>
      </section>
    );
  }
  const admin = session.admin;
  const owner = !admin && isOwnerOfSome(session);
  // An owner following the Admin link lands on the one section that is theirs.
  const chosen = (owner && currentLocation().path === "/admin" ? "namespaces" : section) as Section;
  const refused = refusalFor(session, "Administration is for administrators and namespace owners.", admin || owner);
  if (refused || !(chosen in SECTIONS)) {
    return (
      <section>
        <h1>Admin</h1>
        {refused ?? <p>There is no admin section “{section}”.</p>}
      </section>
    );
  }
  const visible = (admin ? Object.keys(SECTIONS) : ["namespaces"]) as Section[];
  return (
    <section>
      <h1>Admin: {SECTIONS[chosen]}</h1>
      <nav class="tabs" aria-label="Admin sections">
        {visible.map((s) => (
          <a href={href(`/admin/${s}`)} aria-current={s === chosen ? "page" : undefined}>
            {SECTIONS[s]}
          </a>
        ))}
      </nav>
      {!admin && chosen !== "namespaces" ? (
        refusalFor({ ...session, authEnabled: true }, `${SECTIONS[chosen]} are for administrators; as a namespace owner you manage your namespaces' members.`, false)
      ) : chosen === "users" ? (
        <AdminUsers />
      ) : chosen === "tokens" ? (
        <AdminTokens />
      ) : chosen === "namespaces" ? (
        <AdminNamespaces admin={admin} />
      ) : (
        <AdminAudit query={query} />
      )}
    </section>
  );
}
