import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api";
import { currentLocation, href } from "../router";

/** An API error, worded for people; a 401 suggests signing in. */
export function ErrorBox({ error }: { error: ApiError }) {
  return (
    <div class="error" role="alert">
      {error.status === 401 ? (
        <strong>
          <a href={href(`/sign-in?next=${encodeURIComponent(currentLocation().path + window.location.search)}`)}>Sign in</a> to see this.
        </strong>
      ) : (
        <strong>{error.status === 403 ? "Not allowed." : "Something went wrong."}</strong>
      )}{" "}
      {error.message}
      {error.code !== "UNKNOWN" && error.code !== "NETWORK" ? <span class="muted"> ({error.code})</span> : null}
    </div>
  );
}

/** What the last change did, announced politely to screen readers; nothing when `text` is empty. */
export function Notice({ text }: { text: string | undefined }) {
  return text ? (
    <p class="notice" role="status">
      {text}
    </p>
  ) : null;
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

/**
 * A button that copies `text` to the clipboard and says so. `what` completes its accessible name
 * ("Copy" + what): never the text when it is a secret, which a screen reader would read aloud.
 */
export function CopyButton({ text, label = "Copy", what = "" }: { text: string; label?: string; what?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // The clipboard API needs a secure context; fall back to selecting a temporary field.
      const field = document.createElement("textarea");
      field.value = text;
      document.body.append(field);
      field.select();
      document.execCommand("copy");
      field.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" class="small" onClick={copy}>
      {copied ? "Copied" : label}
      {what ? <span class="visually-hidden"> {what}</span> : null}
    </button>
  );
}

/** A command with its copy button, e.g. `docker pull …`. */
export function CommandLine({ command }: { command: string }) {
  return (
    <div class="command">
      <code>{command}</code>
      <CopyButton text={command} what={command} />
    </div>
  );
}

/**
 * A confirmation dialog (the native <dialog>, so focus and Escape work): `onConfirm` runs only
 * when the user presses the confirming button.
 */
export function ConfirmDialog(props: { open: boolean; title: string; children: ComponentChildren; confirmLabel: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} onCancel={props.onCancel} aria-labelledby="confirm-title">
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export function Badge({ kind = "neutral", children, title }: { kind?: "neutral" | "good" | "warn" | "bad"; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${kind}`} title={title}>
      {children}
    </span>
  );
}

/** "Next page" for cursor-paged lists, plus "first page" once past it. */
export function Pager({ next, onNext, onFirst, atFirst }: { next?: string | undefined; onNext: (cursor: string) => void; onFirst: () => void; atFirst: boolean }) {
  if (!next && atFirst) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {!atFirst ? (
        <button type="button" onClick={onFirst}>
          First page
        </button>
      ) : null}
      {next ? (
        <button type="button" onClick={() => onNext(next)}>
          Next page
        </button>
      ) : null}
    </nav>
  );
}

/** A column header: its text, or an object for a numeric column (`num`, right-aligned) or one named for screen readers only (`hidden`); null, false or undefined leaves the column out. */
export type TableColumn = string | { label: string; num?: boolean; hidden?: boolean } | null | false | undefined;

/** What a {@link TableFrame} shows around its rows. */
export interface TableFrameProps {
  /** The table's visually hidden caption, and with `region` the name of its scroll region. */
  label?: string;
  /** Names the table by a visible heading's id instead of a caption. */
  labelledBy?: string;
  /** Makes the scroll wrapper a named landmark (the browse pages list them). */
  region?: boolean;
  className: string;
  columns: TableColumn[];
  busy?: boolean;
  /** The body rows. */
  children: ComponentChildren;
}

/** A table in its keyboard-scrollable wrapper, with its caption and column headers; `children` are the body rows. */
export function TableFrame({ label, labelledBy, region, className, columns, busy, children }: TableFrameProps) {
  return (
    <div class="table-wrap" tabIndex={0} role={region ? "region" : undefined} aria-label={region ? label : undefined}>
      <table class={className} aria-labelledby={labelledBy} aria-busy={busy ? "true" : undefined}>
        {label !== undefined ? <caption class="visually-hidden">{label}</caption> : null}
        <thead>
          <tr>
            {columns.map((c, i) =>
              !c ? null : typeof c === "string" ? (
                <th key={i} scope="col">
                  {c}
                </th>
              ) : (
                <th key={i} scope="col" class={c.num ? "num" : undefined}>
                  {c.hidden ? <span class="visually-hidden">{c.label}</span> : c.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
