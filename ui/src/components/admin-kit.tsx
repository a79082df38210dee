import type { ComponentChildren, VNode } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { currentLocation, href } from "../router";
import type { SessionInfo } from "../session";
import { ConfirmDialog, CopyButton, ErrorBox } from "./common";

/** An Error of any kind as an ApiError, so ErrorBox can show it. */
export const asApiError = (err: unknown): ApiError => (err instanceof ApiError ? err : new ApiError(0, "UNKNOWN", String(err)));

export interface Action {
  busy: boolean;
  error: ApiError | undefined;
  /** Runs `work`; its failure lands in `error` (and run resolves false). */
  run(work: () => Promise<unknown>): Promise<boolean>;
  clear(): void;
}

/** One change at a time with its error, for the forms and buttons of the admin pages. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  return {
    busy,
    error,
    clear: () => setError(undefined),
    async run(work) {
      setBusy(true);
      setError(undefined);
      try {
        await work();
        return true;
      } catch (err) {
        setError(asApiError(err));
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}

interface Question {
  title: string;
  body: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
}

/**
 * Confirmation before a destructive action: `ask(…)` opens the dialog, `dialog` is rendered
 * somewhere on the page (only while a question is open, so a page never holds two dialogs).
 */
export function useConfirm(): { ask(q: Question): void; dialog: VNode | null } {
  const [question, setQuestion] = useState<Question | undefined>();
  const dialog = question ? (
    <ConfirmDialog
      open
      title={question.title}
      confirmLabel={question.confirmLabel}
      onCancel={() => setQuestion(undefined)}
      onConfirm={() => {
        setQuestion(undefined);
        question.onConfirm();
      }}
    >
      {question.body}
    </ConfirmDialog>
  ) : null;
  return { ask: setQuestion, dialog };
}

/**
 * The refusal a page shows to someone it is not for (the server refuses the API calls too; this
 * says so before asking it). Undefined when the session may see the page.
 */
export function refusalFor(session: SessionInfo, what: string, allowed: boolean): VNode | undefined {
  if (!session.authEnabled || allowed) return undefined;
  if (!session.user) {
    return (
      <div class="error" role="alert">
        <strong>Sign in to see this.</strong> {what} <a href={href(`/sign-in?next=${encodeURIComponent(currentLocation().path + window.location.search)}`)}>Sign in</a>
      </div>
    );
  }
  return (
    <div class="error" role="alert">
      <strong>Not allowed.</strong> {what} You are signed in as {session.user}.
    </div>
  );
}

/** A robot token's secret, right after it was made: copy it now, it is never shown again. */
export function SecretOnce({ owner, name, secret, onDone }: { owner: string; name: string; secret: string; onDone: () => void }) {
  return (
    <div class="notice secret" role="status">
      <p>
        <strong>
          Token {owner}/{name} created.
        </strong>{" "}
        Copy its secret now: <strong>you will not see it again.</strong>
      </p>
      <div class="command">
        <code data-testid="token-secret">{secret}</code>
        <CopyButton text={secret} label="Copy token" />
      </div>
      <p class="muted">
        Use it as the password with <code>docker login -u {owner}</code>, or as <code>berth_…</code> on the sign-in page.
      </p>
      <button type="button" class="small" onClick={onDone}>
        I have copied it
      </button>
    </div>
  );
}

/** A token's state from its record. */
export function tokenState(t: { revokedAt?: number; expiresAt?: number }, now = Date.now()): "revoked" | "expired" | "active" {
  if (t.revokedAt !== undefined) return "revoked";
  if (t.expiresAt !== undefined && t.expiresAt <= now) return "expired";
  return "active";
}

/** Text inputs' value by name from a form's submit event. */
export function formValues(event: Event): Record<string, string> {
  const form = event.currentTarget as HTMLFormElement;
  const values: Record<string, string> = {};
  for (const [k, v] of new FormData(form).entries()) if (typeof v === "string") values[k] = v;
  return values;
}

/** Shows an error when there is one. */
export const MaybeError = ({ error }: { error: ApiError | undefined }) => (error ? <ErrorBox error={error} /> : null);
