import { useState } from "preact/hooks";
import { api, encodeName } from "../api";
import { ErrorBox, Loading } from "../components/common";
import { MaybeError, SecretOnce, useAction, useConfirm } from "../components/admin-kit";
import { TokenForm, TokenTable, type TokenRequest, type TokenView } from "../components/token-table";
import { useSession } from "../session";
import { useData } from "../use-data";

/** Robot tokens of every user: list (by user), create for a user (the secret shown once), revoke (/api/v1/tokens). */
export function AdminTokens() {
  const { session } = useSession();
  const [user, setUser] = useState("");
  const users = useData(() => api<{ name: string }[]>("/api/v1/users"), "users");
  const list = useData(() => api<TokenView[]>("/api/v1/tokens", { query: { user } }), `tokens|${user}`);
  const [created, setCreated] = useState<{ owner: string; name: string; secret: string } | undefined>();
  const revoke = useAction();
  const confirm = useConfirm();
  const names = users.data?.map((u) => u.name) ?? [];
  const create = async (request: TokenRequest) => {
    const { token } = await api<{ token: string }>("/api/v1/tokens", {
      method: "POST",
      body: { user: request.user, name: request.name, scopes: request.scopes, ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}) },
    });
    setCreated({ owner: request.user, name: request.name, secret: token });
    list.reload();
  };
  const askRevoke = (t: TokenView) =>
    confirm.ask({
      title: `Revoke ${t.owner}/${t.name}?`,
      body: <p>Whatever uses this token is refused from now on. This cannot be undone.</p>,
      confirmLabel: "Revoke token",
      onConfirm: () => void revoke.run(() => api(`/api/v1/tokens/${encodeName(t.owner)}/${encodeName(t.name)}`, { method: "DELETE" })).then(list.reload),
    });
  return (
    <>
      {created ? <SecretOnce owner={created.owner} name={created.name} secret={created.secret} onDone={() => setCreated(undefined)} /> : null}
      <div class="toolbar">
        <label for="tokens-of">Tokens of</label>
        <select id="tokens-of" value={user} onChange={(e) => setUser(e.currentTarget.value)}>
          <option value="">every user</option>
          {names.map((n) => (
            <option value={n}>{n}</option>
          ))}
        </select>
      </div>
      <MaybeError error={revoke.error} />
      {list.error ? <ErrorBox error={list.error} /> : null}
      {list.loading && !list.data ? <Loading what="Loading tokens" /> : null}
      {list.data ? <TokenTable tokens={list.data} showOwner onRevoke={askRevoke} /> : null}
      <h2>Create a token for a user</h2>
      {users.error ? <ErrorBox error={users.error} /> : null}
      {users.data ? <TokenForm users={names} defaultUser={user || session.user || names[0] || ""} onCreate={create} /> : null}
      {confirm.dialog}
    </>
  );
}
