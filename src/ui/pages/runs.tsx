/** Runs: filters (kept in the hash), cursor paging, and bulk actions on the filter with a preview and progress. */
import { useEffect, useState } from 'preact/hooks';
import { api, withQuery } from '../api';
import { fromNow, waitText, when } from '../format';
import { useLive } from '../live';
import { hrefOf } from '../router';
import { useCan } from '../session';
import type { RunSummary } from '../types';
import { Action, type ActionValues, Badge, Loading, Problem } from '../widgets';

const STATUSES = [
  'pending',
  'running',
  'waiting',
  'paused',
  'needs_attention',
  'compensating',
  'completed',
  'failed',
  'cancelled',
  'compensated',
];
const STUCK = [
  ['', 'any'],
  ['300000', '5 minutes'],
  ['3600000', '1 hour'],
  ['86400000', '1 day'],
] as const;
const FILTERS = [
  'workflow',
  'version',
  'status',
  'attention',
  'stuckForMs',
  'correlationId',
  'startedAfter',
  'startedBefore',
] as const;
const PAGE_SIZE = 50;

type Filter = Partial<Record<(typeof FILTERS)[number], string>>;

function filterOf(query: URLSearchParams): Filter {
  const filter: Filter = {};
  for (const key of FILTERS) {
    const value = query.get(key);
    if (value) filter[key] = value;
  }
  return filter;
}

/** A datetime-local value as ISO-8601 (the server takes ISO or epoch ms). */
const iso = (local: string | undefined) => (local ? new Date(local).toISOString() : undefined);

/** The list query of a filter (cursor aside). */
function listQuery(filter: Filter) {
  return {
    ...filter,
    startedAfter: iso(filter.startedAfter),
    startedBefore: iso(filter.startedBefore),
  };
}

/** The runs of the hash's filter, a page at a time. */
export function RunsPage({ query }: { query: URLSearchParams }) {
  const filter = filterOf(query);
  const key = JSON.stringify(filter);
  // The cursors of the pages before this one, for this filter (a new filter starts again at the first page).
  const [paging, setPaging] = useState<{ key: string; cursors: string[] }>({ key, cursors: [] });
  const cursors = paging.key === key ? paging.cursors : [];
  const setCursors = (next: string[]) => setPaging({ key, cursors: next });
  const cursor = cursors[cursors.length - 1];
  const { data, error, reload } = useLive(
    () =>
      api<{ runs: RunSummary[]; next?: string }>(
        'GET',
        withQuery('/v1/runs', { ...listQuery(filter), limit: PAGE_SIZE, cursor }),
      ),
    [key, cursor],
  );
  return (
    <>
      <h1>Runs</h1>
      <Filters key={key} filter={filter} />
      <Bulk filter={filter} finished={reload} />
      {error !== undefined && <Problem error={error} />}
      {!data && !error && <Loading />}
      {data && (
        <>
          <RunTable runs={data.runs} />
          <nav class="pager" aria-label="Pages of runs">
            <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous page
            </button>
            <span class="muted">
              page {cursors.length + 1} · {data.runs.length} runs
            </span>
            <button
              type="button"
              disabled={!data.next}
              onClick={() => data.next && setCursors([...cursors, data.next])}
            >
              Next page
            </button>
          </nav>
        </>
      )}
    </>
  );
}

/** The filter form: uncontrolled (a live reload keeps what was typed), remounted when the hash's filter changes. */
function Filters({ filter }: { filter: Filter }) {
  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const key of FILTERS) {
      const value = form.get(key);
      if (typeof value === 'string' && value !== '') next[key] = value;
    }
    if (form.get('attention') === 'on') next.attention = 'true';
    location.hash = hrefOf('runs', next);
  };
  return (
    <form class="filters" onSubmit={submit} aria-label="Filter runs">
      <label>
        Workflow
        <input name="workflow" defaultValue={filter.workflow ?? ''} />
      </label>
      <label>
        Version
        <input name="version" type="number" min={1} defaultValue={filter.version ?? ''} class="narrow" />
      </label>
      <label>
        Status
        <select name="status">
          <option value="">any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s} selected={s === filter.status}>
              {s.replace(/_/g, ' ')}
            </option>
          ))}
        </select>
      </label>
      <label class="check">
        <input name="attention" type="checkbox" defaultChecked={filter.attention === 'true'} />
        Needs attention
      </label>
      <label>
        Stuck for
        <select name="stuckForMs">
          {STUCK.map(([ms, text]) => (
            <option key={ms} value={ms} selected={ms === (filter.stuckForMs ?? '')}>
              {text}
            </option>
          ))}
        </select>
      </label>
      <label>
        Correlation id
        <input name="correlationId" defaultValue={filter.correlationId ?? ''} />
      </label>
      <label>
        Started after
        <input name="startedAfter" type="datetime-local" defaultValue={filter.startedAfter ?? ''} />
      </label>
      <label>
        Started before
        <input name="startedBefore" type="datetime-local" defaultValue={filter.startedBefore ?? ''} />
      </label>
      <div class="buttons">
        <button type="submit" class="primary">
          Apply filters
        </button>
        <a href="#/runs">Clear</a>
      </div>
    </form>
  );
}

function RunTable({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) return <p class="muted">No run matches.</p>;
  return (
    <div class="scroll">
      <table class="runs">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Workflow</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Where</th>
            <th scope="col">Correlation id</th>
            <th scope="col">Started</th>
            <th scope="col">Last progress</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-run={run.id} data-status={run.status}>
              <td>
                <a href={`#/run/${encodeURIComponent(run.id)}`}>
                  <code>{run.id}</code>
                </a>
              </td>
              <td>{run.workflow}</td>
              <td class="num">{run.version}</td>
              <td>
                <Badge status={run.status} />
              </td>
              <td>{run.attention ? <span class="warn">{run.attention.message}</span> : waitText(run.waitingFor)}</td>
              <td>{run.correlationId ?? ''}</td>
              <td title={when(run.createdAt)}>{fromNow(run.createdAt)}</td>
              <td title={when(run.updatedAt)}>{fromNow(run.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface BulkJob {
  id: string;
  action: string;
  total: number;
  done: number;
  failed: number;
  skipped: number;
  state: 'running' | 'finished';
  errors?: { runId: string; code: string; message: string }[];
}

/** The bulk body of a filter and an action form's values. */
function bulkBody(filter: Filter, values: ActionValues, dryRun: boolean) {
  const query = listQuery(filter);
  const body: Record<string, unknown> = {
    filter: {
      ...query,
      version: query.version ? Number(query.version) : undefined,
      stuckForMs: query.stuckForMs ? Number(query.stuckForMs) : undefined,
      attention: query.attention === 'true' ? true : undefined,
      status: query.status ? [query.status] : undefined,
    },
    action: values.action,
    dryRun,
    reason: values.reason,
  };
  if (values.action === 'upgrade') body.to = Number(values.to);
  return body;
}

function Bulk({ filter, finished }: { filter: Filter; finished: () => void }) {
  const operate = useCan('operator');
  const [preview, setPreview] = useState<{ matched: number; values: ActionValues } | undefined>(undefined);
  const [job, setJob] = useState<BulkJob | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (job?.state === 'finished') finished();
    if (!job || job.state === 'finished') return;
    const timer = setTimeout(() => {
      api<BulkJob>('GET', `/v1/runs/bulk/${encodeURIComponent(job.id)}`).then(setJob, setError);
    }, 1000);
    return () => clearTimeout(timer);
  }, [job]);
  if (!operate) return null;
  const apply = async () => {
    if (!preview) return;
    setError(undefined);
    try {
      setJob(await api<BulkJob>('POST', '/v1/runs/bulk', bulkBody(filter, preview.values, false)));
      setPreview(undefined);
    } catch (problem) {
      setError(problem);
    }
  };
  return (
    <details class="bulk">
      <summary>Bulk action on this filter</summary>
      <Action
        label="Preview bulk action"
        confirm="Preview (changes nothing)"
        keepOpen
        fields={[
          { name: 'action', label: 'Action', kind: 'select', options: ['cancel', 'retry-step', 'upgrade'] },
          { name: 'to', label: 'Upgrade to version (upgrade only)' },
        ]}
        run={async (values) => {
          const answer = await api<{ matched: number }>('POST', '/v1/runs/bulk', bulkBody(filter, values, true));
          setPreview({ matched: answer.matched, values });
          return null;
        }}
      />
      {preview && (
        <div class="preview" role="status">
          <p>
            <b data-field="matched">{preview.matched}</b> runs match: {preview.values.action}
            {preview.values.action === 'upgrade' ? ` to v${preview.values.to}` : ''}.
          </p>
          <button type="button" class="danger" disabled={preview.matched === 0} onClick={apply}>
            Apply to {preview.matched} runs
          </button>
        </div>
      )}
      {job && <BulkProgress job={job} />}
      {error !== undefined && <Problem error={error} what="Bulk actions" />}
    </details>
  );
}

function BulkProgress({ job }: { job: BulkJob }) {
  const finished = job.done + job.failed + job.skipped;
  return (
    <div class="progress-box" role="status" data-state={job.state}>
      <label>
        {job.action}: {finished} of {job.total} ({job.state})
        <progress max={Math.max(job.total, 1)} value={finished} />
      </label>
      <p>
        done {job.done} · failed {job.failed} · skipped {job.skipped}
      </p>
      {(job.errors ?? []).map((e) => (
        <p key={e.runId} class="problem">
          {e.runId}: {e.code} {e.message}
        </p>
      ))}
    </div>
  );
}
