import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { ErrorBox } from "../components/common";
import { navigate } from "../router";
import { signIn, useSession } from "../session";

/** Sign-in with a user's password or a robot token (`berth_…`, with its owner or its name as the user). */
export function SignInPage({ next }: { next: string }) {
  const { refresh } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(username, password);
      await refresh();
      navigate(next.startsWith("/") && !next.startsWith("//") ? next : "/", true);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "UNKNOWN", String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      <form onSubmit={submit}>
        <label for="username">User</label>
        <input id="username" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="password">Password or robot token</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {error ? <ErrorBox error={error.status === 401 ? new ApiError(401, error.code, "Wrong user name or password.") : error} /> : null}
      <p class="muted">The same users and robot tokens as <code>docker login</code>.</p>
    </section>
  );
}
