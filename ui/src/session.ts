import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { api, setCsrf } from "./api";

/** Who is signed in, as GET /api/v1/session tells. */
export interface SessionInfo {
  /** False when the registry runs without access control: no sign-in, everyone is anonymous. */
  authEnabled: boolean;
  user: string | null;
  admin: boolean;
  kind: "user" | "token" | null;
  roles: { namespace: string; role: string }[];
}

export const SIGNED_OUT: SessionInfo = { authEnabled: true, user: null, admin: false, kind: null, roles: [] };

export async function loadSession(): Promise<SessionInfo> {
  const s = await api<SessionInfo & { csrf: string | null }>("/api/v1/session");
  setCsrf(s.csrf);
  return { authEnabled: s.authEnabled, user: s.user, admin: s.admin, kind: s.kind, roles: s.roles ?? [] };
}

export async function signIn(username: string, password: string): Promise<SessionInfo> {
  await api("/api/v1/session", { method: "POST", body: { username, password } });
  return loadSession();
}

export async function signOut(): Promise<void> {
  await api("/api/v1/session", { method: "DELETE" });
  setCsrf(null);
}

export interface SessionContextValue {
  session: SessionInfo;
  /** Re-reads the session (after sign-in or sign-out). */
  refresh(): Promise<void>;
}

export const SessionContext = createContext<SessionContextValue>({ session: SIGNED_OUT, refresh: async () => {} });

export const useSession = (): SessionContextValue => useContext(SessionContext);

/** Whether the session may use the admin pages (admins), or the members pages of some namespace (owners). */
export const isOwnerOfSome = (s: SessionInfo): boolean => s.roles.some((r) => r.role === "owner");
