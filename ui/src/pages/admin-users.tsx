import { useState } from "preact/hooks";
import { api, encodeName } from "../api";
import { Badge, ErrorBox, Loading, TableFrame, Notice } from "../components/common";
import { MaybeError, useAction, useConfirm } from "../components/admin-kit";
import { formatAgo, formatTime } from "../format";
import { useSession } from "../session";
import { useData } from "../use-data";

interface UserView {
  name: string;
  admin: boolean;
  createdAt: number;
}

/** Users: list, add (optionally as administrator), set a password, delete (GET/POST/PUT/DELETE /api/v1/users). */
export function AdminUsers() {
  const { session } = useSession();
  const list = useData(() => api<UserView[]>("/api/v1/users"), "users");
  const action = useAction();
  const confirm = useConfirm();
  const [passwordFor, setPasswordFor] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const add = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const name = String(data.get("name")).trim();
    void action
      .run(() => api("/api/v1/users", { method: "POST", body: { name, password: String(data.get("password")), admin: data.get("admin") === "on" } }))
      .then((ok) => {
        if (!ok) return;
        form.reset();
        setDone(`User ${name} added.`);
        list.reload();
      });
  };
  const setPassword = (event: Event) => {
    event.preventDefault();
    const user = passwordFor!;
    const password = String(new FormData(event.currentTarget as HTMLFormElement).get("new-password"));
    void action.run(() => api(`/api/v1/users/${encodeName(user)}/password`, { method: "PUT", body: { password } })).then((ok) => {
      if (!ok) return;
      setPasswordFor(undefined);
      setDone(`Password of ${user} changed; their other sign-ins must use it from now on.`);
    });
  };
  const askDelete = (u: UserView) =>
    confirm.ask({
      title: `Delete user ${u.name}?`,
      body: <p>{u.name} can no longer sign in, and their robot tokens stop working. Their pushed images stay.</p>,
      confirmLabel: "Delete user",
      onConfirm: () =>
        void action.run(() => api(`/api/v1/users/${encodeName(u.name)}`, { method: "DELETE" })).then((ok) => {
          if (ok) setDone(`User ${u.name} deleted.`);
          list.reload();
        }),
    });
  return (
    <>
      <Notice text={done} />
      <MaybeError error={action.error} />
      {list.error ? <ErrorBox error={list.error} /> : null}
      {list.loading && !list.data ? <Loading what="Loading users" /> : null}
      {list.data ? (
        <TableFrame label="Users" className="wide" columns={["User", "Role", "Created", { label: "Actions", hidden: true }]}>
          {list.data.map((u) => (
            <tr key={u.name}>
              <td>{u.name}</td>
              <td>{u.admin ? <Badge kind="warn">admin</Badge> : <span class="muted">user</span>}</td>
              <td title={formatTime(u.createdAt)}>{formatAgo(u.createdAt)}</td>
              <td>
                <div class="row">
                <button type="button" class="small" onClick={() => setPasswordFor(u.name)} aria-label={`Set password for ${u.name}`}>
                  Set password
                </button>
                {u.name !== session.user ? (
                  <button type="button" class="small danger" onClick={() => askDelete(u)} aria-label={`Delete user ${u.name}`}>
                    Delete
                  </button>
                ) : null}
                </div>
              </td>
            </tr>
          ))}
        </TableFrame>
      ) : null}
      {passwordFor ? (
        <form class="panel-form" onSubmit={setPassword} aria-label={`New password for ${passwordFor}`}>
          <h2>New password for {passwordFor}</h2>
          <label for="new-password">New password</label>
          <input id="new-password" name="new-password" type="password" autocomplete="new-password" required minLength={8} />
          <div class="row">
            <button type="submit" class="primary" disabled={action.busy}>
              Set password
            </button>
            <button type="button" onClick={() => setPasswordFor(undefined)}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
      <h2>Add a user</h2>
      <form class="panel-form" onSubmit={add} aria-label="Add a user">
        <label for="user-name">User name</label>
        <input id="user-name" name="name" required autocomplete="off" placeholder="lowercase letters, digits, . _ -" />
        <label for="user-password">Password</label>
        <input id="user-password" name="password" type="password" autocomplete="new-password" required minLength={8} />
        <label class="check">
          <input type="checkbox" name="admin" /> Administrator (may do everything, here and through the API)
        </label>
        <div>
          <button type="submit" class="primary" disabled={action.busy}>
            Add user
          </button>
        </div>
      </form>
      {confirm.dialog}
    </>
  );
}
