import { formatAgo, formatTime } from "../format";
import { Badge, TableFrame } from "./common";
import { tokenState, useAction, MaybeError } from "./admin-kit";

/** A robot token as the API lists it (never its secret). */
export interface TokenView {
  name: string;
  owner: string;
  scopes: string[];
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  lastUsedAt?: number;
}

export interface TokenRequest {
  user: string;
  name: string;
  scopes: string[];
  expiresAt?: number;
}

const EXPIRIES: [string, number | undefined][] = [
  ["Never", undefined],
  ["In 7 days", 7],
  ["In 30 days", 30],
  ["In 90 days", 90],
  ["In a year", 365],
];

/**
 * The form that makes a robot token: its name, scopes (one a line, Docker's grammar with globs)
 * and expiry; with `users`, for which user (the admin page).
 */
export function TokenForm({ users, defaultUser, onCreate }: { users?: string[]; defaultUser: string; onCreate: (request: TokenRequest) => Promise<void> }) {
  const action = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const days = Number(data.get("expires"));
    const request: TokenRequest = {
      user: String(data.get("user") ?? defaultUser),
      name: String(data.get("name") ?? "").trim(),
      scopes: String(data.get("scopes") ?? "")
        .split(/[\n\s]+/)
        .map((s) => s.trim())
        .filter(Boolean),
      ...(days > 0 ? { expiresAt: Date.now() + days * 86_400_000 } : {}),
    };
    void action.run(() => onCreate(request)).then((ok) => {
      // Name and scopes only: a reset would also move the selects off their defaults.
      if (ok) for (const field of ["name", "scopes"]) (form.elements.namedItem(field) as HTMLInputElement).value = "";
    });
  };
  return (
    <form class="panel-form" onSubmit={submit} aria-label="Create a robot token">
      {users ? (
        <>
          <label for="token-user">For user</label>
          <select id="token-user" name="user" required>
            {users.map((u) => (
              <option value={u} selected={u === defaultUser}>
                {u}
              </option>
            ))}
          </select>
        </>
      ) : null}
      <label for="token-name">Token name</label>
      <input id="token-name" name="name" required placeholder="ci-deploy (lowercase, digits, . _ -)" autocomplete="off" />
      <label for="token-scopes">Scopes (one a line)</label>
      <textarea id="token-scopes" name="scopes" rows={3} required placeholder="repository:team/*:pull,push" aria-describedby="token-scopes-help" />
      <p id="token-scopes-help" class="muted small-print">
        <code>repository:&lt;name or glob&gt;:pull,push,delete</code>. A token can never do more than its owner may.
      </p>
      <label for="token-expires">Expires</label>
      <select id="token-expires" name="expires">
        {EXPIRIES.map(([label, days]) => (
          <option value={days === undefined ? "" : String(days)} selected={days === 90}>
            {label}
          </option>
        ))}
      </select>
      <div>
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? "Creating…" : "Create token"}
        </button>
      </div>
      <MaybeError error={action.error} />
    </form>
  );
}

/** Robot tokens with their state; live ones get a Revoke button (the caller confirms). */
export function TokenTable({ tokens, showOwner, onRevoke }: { tokens: TokenView[]; showOwner: boolean; onRevoke: (t: TokenView) => void }) {
  if (tokens.length === 0) return <p>No robot tokens yet.</p>;
  const now = Date.now();
  return (
    <TableFrame label="Robot tokens" className="wide" columns={[showOwner && "Owner", "Name", "Scopes", "State", "Created", "Expires", "Last used", { label: "Actions", hidden: true }]}>
      {tokens.map((t) => {
        const state = tokenState(t, now);
        return (
          <tr key={`${t.owner}/${t.name}/${t.createdAt}`}>
            {showOwner ? <td>{t.owner}</td> : null}
            <td>{t.name}</td>
            <td>
              {t.scopes.map((s) => (
                <code class="scope">{s}</code>
              ))}
            </td>
            <td>
              <Badge kind={state === "active" ? "good" : state === "expired" ? "warn" : "neutral"} title={state === "revoked" ? formatTime(t.revokedAt) : undefined}>
                {state}
              </Badge>
            </td>
            <td title={formatTime(t.createdAt)}>{formatAgo(t.createdAt, now)}</td>
            <td>{t.expiresAt === undefined ? "never" : formatTime(t.expiresAt).slice(0, 10)}</td>
            <td title={formatTime(t.lastUsedAt)}>{formatAgo(t.lastUsedAt, now)}</td>
            <td>
              {state === "active" ? (
                <button type="button" class="small danger" onClick={() => onRevoke(t)} aria-label={`Revoke ${t.owner}/${t.name}`}>
                  Revoke
                </button>
              ) : null}
            </td>
          </tr>
        );
      })}
    </TableFrame>
  );
}
