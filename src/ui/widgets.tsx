/** Small pieces every page uses: problems, counts, status badges and the action form that asks for a reason. */
import type { ComponentChildren } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

/** An error as a page shows it; a route this server lacks says so plainly. */
export function Problem({ error, what }: { error: unknown; what?: string }) {
  if (error instanceof ApiError && error.unavailable)
    return (
      <p class="unavailable" role="status">
        {what ?? 'This view'}: not available on this server (it answered 404; an older Waymark).
      </p>
    );
  const message = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
  return (
    <p class="problem" role="alert">
      {message}
    </p>
  );
}

/** Shown while a page's first data is loading. */
export function Loading() {
  return (
    <p class="muted" aria-busy="true">
      Loading…
    </p>
  );
}

/** A status as a coloured badge. */
export function Badge({ status, title }: { status: string; title?: string }) {
  return (
    <span class={`badge s-${status}`} title={title}>
      {status.replace(/_/g, ' ')}
    </span>
  );
}

/** `name: count` chips, biggest first; '—' when there are none. */
export function Counts({ counts, label }: { counts: Record<string, number> | undefined; label: string }) {
  const entries = Object.entries(counts ?? {})
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="chips" aria-label={label}>
      {entries.map(([name, n]) => (
        <li key={name} data-count={name}>
          {name.replace(/_/g, ' ')} <b>{n}</b>
        </li>
      ))}
    </ul>
  );
}

let formCount = 0;

/** A field of an action form besides the reason (uncontrolled: a live reload keeps what was typed). */
export interface ActionField {
  name: string;
  label: string;
  kind?: 'text' | 'json' | 'select';
  options?: string[];
  initial?: string;
}

/** What an action form submits: the reason and the fields' values. */
export type ActionValues = Record<string, string> & { reason: string };

interface ActionProps {
  label: string;
  /** Calls the API; what it resolves to is shown as the outcome ('Done.' for undefined, nothing for null). */
  run: (values: ActionValues) => Promise<ComponentChildren | undefined>;
  fields?: ActionField[];
  /** Ask for a reason (recorded in the history). (Default: true) */
  reason?: boolean;
  danger?: boolean;
  /** Called after a success (e.g. reload the page's data). */
  done?: () => void;
  /** The confirm button's words. (Default: the label) */
  confirm?: string;
  /** Keep the form open after a success (e.g. a dry run shows its verdict). (Default: false) */
  keepOpen?: boolean;
}

/** A button that opens a small form (reason and fields), calls the API, and shows what happened. */
export function Action(props: ActionProps) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<ComponentChildren | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const id = useRef(`act-${++formCount}`).current;
  const asksReason = props.reason ?? true;

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const values = Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v)])) as ActionValues;
    values.reason ??= '';
    setBusy(true);
    setError(undefined);
    try {
      const result = await props.run(values);
      setOutcome(result === undefined ? 'Done.' : result);
      if (!props.keepOpen) setOpen(false);
      props.done?.();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="action">
      <button
        type="button"
        class={props.danger ? 'danger' : ''}
        aria-expanded={open}
        aria-controls={id}
        onClick={() => {
          setOpen(!open);
          setOutcome(undefined);
          setError(undefined);
        }}
      >
        {props.label}
      </button>
      {open && (
        <form id={id} class="action-form" onSubmit={submit} aria-label={props.label}>
          {(props.fields ?? []).map((field) => (
            <Field key={field.name} field={field} formId={id} />
          ))}
          {asksReason && (
            <label>
              Reason
              <input name="reason" required maxLength={2000} placeholder="why (recorded in the history)" />
            </label>
          )}
          <div class="buttons">
            <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={busy}>
              {busy ? 'Working…' : (props.confirm ?? props.label)}
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Close
            </button>
          </div>
          {error !== undefined && <Problem error={error} />}
        </form>
      )}
      {outcome !== undefined && outcome !== null && (
        <div class="outcome" role="status">
          {outcome}
        </div>
      )}
    </div>
  );
}

function Field({ field, formId }: { field: ActionField; formId: string }) {
  const id = `${formId}-${field.name}`;
  if (field.kind === 'select')
    return (
      <label for={id}>
        {field.label}
        <select id={id} name={field.name}>
          {(field.options ?? []).map((option) => (
            <option key={option} value={option} selected={option === field.initial}>
              {option}
            </option>
          ))}
        </select>
      </label>
    );
  if (field.kind === 'json')
    return (
      <label for={id}>
        {field.label}
        <textarea id={id} name={field.name} rows={3} defaultValue={field.initial ?? ''} spellcheck={false} />
      </label>
    );
  return (
    <label for={id}>
      {field.label}
      <input id={id} name={field.name} defaultValue={field.initial ?? ''} />
    </label>
  );
}

/** Parses a JSON field ('' is undefined); a clear error otherwise. */
export function parseJsonField(text: string | undefined, label: string): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${label} is not JSON: ${(error as Error).message}`);
  }
}

/** A section with a heading. */
export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}
