import { useState } from "preact/hooks";
import { api, ApiError, encodeName } from "../api";
import { ErrorBox, Loading } from "../components/common";
import { MaybeError, SecretOnce, refusalFor, useAction, useConfirm } from "../components/admin-kit";
import { TokenForm, TokenTable, type TokenRequest, type TokenView } from "../components/token-table";
import { useSession } from "../session";
import { useData } from "../use-data";

/** The signed-in user's robot tokens: list, create (the secret shown once), revoke (/api/v1/me/tokens). */
export function MyTokensPage() {
  const { session } = useSession();
  const refused = !session.authEnabled ? (
    <p class="notice">Access control is off: there are no users and no robot tokens.</p>
  ) : (
    refusalFor(session, "Robot tokens belong to a signed-in user.", session.user !== null && session.kind === "user")
  );
  return (
    <section>
      <h1>My tokens</h1>
      {refused ?? <MyTokens user={session.user!} />}
    </section>
  );
}

function MyTokens({ user }: { user: string }) {
  const list = useData(() => api<{ items: TokenView[] }>("/api/v1/me/tokens"), user);
  const [created, setCreated] = useState<{ name: string; secret: string } | undefined>();
  const revoke = useAction();
  const confirm = useConfirm();
  const create = async (request: TokenRequest) => {
    const { token } = await api<{ token: string }>("/api/v1/me/tokens", {
      method: "POST",
      body: { name: request.name, scopes: request.scopes, ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}) },
    });
    setCreated({ name: request.name, secret: token });
    list.reload();
  };
  const askRevoke = (t: TokenView) =>
    confirm.ask({
      title: `Revoke ${t.name}?`,
      body: <p>Whatever uses this token (CI jobs, scripts, logins) is refused from now on. This cannot be undone.</p>,
      confirmLabel: "Revoke token",
      onConfirm: () => void revoke.run(() => api(`/api/v1/me/tokens/${encodeName(t.name)}`, { method: "DELETE" })).then(list.reload),
    });
  return (
    <>
      <p class="muted">
        Robot tokens let scripts and CI log in as you, limited to their scopes. Use one as the password with <code>docker login -u {user}</code>.
      </p>
      {created ? <SecretOnce owner={user} name={created.name} secret={created.secret} onDone={() => setCreated(undefined)} /> : null}
      <h2>Your tokens</h2>
      <MaybeError error={revoke.error} />
      {list.error ? (
        list.error.status === 404 ? (
          <ErrorBox error={new ApiError(404, list.error.code, "This server has no /api/v1/me/tokens endpoint yet: ask an administrator to create tokens for you.")} />
        ) : (
          <ErrorBox error={list.error} />
        )
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading your tokens" /> : null}
      {list.data ? <TokenTable tokens={list.data.items} showOwner={false} onRevoke={askRevoke} /> : null}
      <h2>Create a token</h2>
      <TokenForm defaultUser={user} onCreate={create} />
      {confirm.dialog}
    </>
  );
}
