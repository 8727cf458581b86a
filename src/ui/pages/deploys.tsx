/** Deploys: check or plan declarative candidates (pasted or uploaded), and the reports kept by the server. */
import { useState } from 'preact/hooks';
import { api, seg } from '../api';
import { countsText, duration, reportSummaryText, when } from '../format';
import { useLive } from '../live';
import { hrefOf } from '../router';
import { useCan } from '../session';
import { Badge, Loading, Problem, Section } from '../widgets';

interface StoredReport {
  id: string;
  kind: 'check' | 'plan';
  createdAt: string;
  source: string;
  actor: string | null;
  summary: unknown;
  report?: Report;
}

interface RunCheck {
  runId: string;
  version: number;
  status: string;
  verdict: string;
  replay?: { ok: boolean; reason?: string; message?: string };
}

interface WorkflowResult {
  workflow: string;
  candidate: number | { version: number; registered?: string };
  classification?: string;
  verdict?: string;
  reasons?: string[];
  safe?: boolean;
  counts?: Record<string, number>;
  inFlight?: RunCheck[] | { version: number; inFlight: number; upgrade: number; migrate: number; drain: number }[];
  check?: { classification: string; reasons: string[]; safe: boolean; counts: Record<string, number> };
  steps?: string[];
  rollback?: string[];
}

interface Report {
  safe: boolean;
  workflows: WorkflowResult[];
  checkedRuns?: number;
  durationMs?: number;
}

/** The definitions of pasted text: one WorkflowDef, an array of them, or { definitions: [...] }. */
function definitionsOf(text: string): unknown[] {
  const parsed = JSON.parse(text) as unknown;
  if (Array.isArray(parsed)) return parsed;
  const wrapped = (parsed as { definitions?: unknown }).definitions;
  return Array.isArray(wrapped) ? wrapped : [parsed];
}

/** The candidates form, the result, and the stored reports (one opened by `?report=<id>`). */
export function DeploysPage({ query }: { query: URLSearchParams }) {
  const operate = useCan('operator');
  const opened = query.get('report') ?? undefined;
  // Each check or plan run here is kept by the server: the list loads again after one.
  const [ran, setRan] = useState(0);
  return (
    <>
      <h1>Deploys</h1>
      {operate && <Candidates ran={() => setRan((n) => n + 1)} />}
      <StoredReports opened={opened} ran={ran} />
    </>
  );
}

function Candidates({ ran }: { ran: () => void }) {
  const [text, setText] = useState('');
  const [result, setResult] = useState<{ kind: string; report: Report } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const send = async (kind: 'check' | 'plan') => {
    setError(undefined);
    setBusy(true);
    try {
      const report = await api<Report>('POST', `/v1/deploy/${kind}`, { definitions: definitionsOf(text) });
      setResult({ kind, report });
      ran();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  const upload = async (event: Event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file) setText(await file.text());
  };
  return (
    <Section title="Check candidates" id="candidates">
      <form class="candidates" onSubmit={(e) => e.preventDefault()} aria-label="Candidates">
        <label>
          Candidate definitions (Conductor WorkflowDef JSON: one, an array, or {'{ "definitions": [...] }'})
          <textarea
            name="definitions"
            rows={8}
            spellcheck={false}
            value={text}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <label>
          Or upload a file
          <input type="file" accept=".json,application/json" onChange={upload} />
        </label>
        <div class="buttons">
          <button type="button" class="primary" disabled={busy || text.trim() === ''} onClick={() => send('check')}>
            Deploy check
          </button>
          <button type="button" disabled={busy || text.trim() === ''} onClick={() => send('plan')}>
            Deploy plan
          </button>
        </div>
      </form>
      {error !== undefined && <Problem error={error} />}
      {result && <ReportView kind={result.kind} report={result.report} />}
    </Section>
  );
}

function StoredReports({ opened, ran }: { opened: string | undefined; ran: number }) {
  const list = useLive(
    () => api<{ reports: StoredReport[] }>('GET', '/v1/deploy/reports'),
    [ran],
    () => false,
  );
  return (
    <Section title="Reports kept by the server" id="reports">
      {list.error !== undefined && <Problem error={list.error} what="Stored deploy reports" />}
      {!list.data && !list.error && <Loading />}
      {list.data && list.data.reports.length === 0 && <p class="muted">No deploy check or plan has been kept yet.</p>}
      {list.data && list.data.reports.length > 0 && (
        <table aria-label="Stored reports">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Kind</th>
              <th scope="col">From</th>
              <th scope="col">By</th>
              <th scope="col">Summary</th>
            </tr>
          </thead>
          <tbody>
            {list.data.reports.map((r) => (
              <tr key={r.id} aria-current={r.id === opened ? 'true' : undefined}>
                <td>
                  <a href={hrefOf('deploys', { report: r.id })}>{when(r.createdAt)}</a>
                </td>
                <td>{r.kind}</td>
                <td>{r.source}</td>
                <td>{r.actor ?? '—'}</td>
                <td>{reportSummaryText(r.summary)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {opened && <OpenedReport id={opened} />}
    </Section>
  );
}

function OpenedReport({ id }: { id: string }) {
  const { data, error } = useLive(
    () => api<StoredReport>('GET', `/v1/deploy/reports/${seg(id)}`),
    [id],
    () => false,
  );
  if (error) return <Problem error={error} />;
  if (!data?.report) return <Loading />;
  return <ReportView kind={data.kind} report={data.report} />;
}

/** A check or plan: whether it is safe, then per workflow its class, verdicts and (plan) runbook. */
function ReportView({ kind, report }: { kind: string; report: Report }) {
  return (
    <div class="report" data-report={kind}>
      <h3>
        Deploy {kind}: <Badge status={report.safe ? 'safe' : 'unsafe'} />
        {report.checkedRuns !== undefined && (
          <span class="muted">
            {' '}
            {report.checkedRuns} runs replayed in {duration(report.durationMs)}
          </span>
        )}
      </h3>
      {report.workflows.map((w) => (
        <WorkflowView key={w.workflow} w={w} />
      ))}
    </div>
  );
}

function WorkflowView({ w }: { w: WorkflowResult }) {
  const check = w.check ?? w;
  const candidate = typeof w.candidate === 'number' ? w.candidate : w.candidate.version;
  const runChecks = (w.inFlight ?? []).filter((r): r is RunCheck => 'runId' in r);
  const handling = (w.inFlight ?? []).filter((r) => !('runId' in r)) as Exclude<
    WorkflowResult['inFlight'],
    RunCheck[] | undefined
  >;
  return (
    <div class="card">
      <h4>
        {w.workflow} → v{candidate}: <Badge status={check.classification ?? 'unknown'} />
        {w.verdict && <span> {w.verdict}</span>}
      </h4>
      {(check.reasons ?? []).length > 0 && (
        <ul>
          {check.reasons!.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
      {check.counts && <p>Run verdicts: {countsText(check.counts)}</p>}
      {runChecks.length > 0 && (
        <table aria-label={`verdicts of ${w.workflow}`}>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Verdict</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {runChecks.map((r) => (
              <tr key={r.runId}>
                <td>
                  <a href={`#/run/${encodeURIComponent(r.runId)}`}>{r.runId}</a>
                </td>
                <td>v{r.version}</td>
                <td>{r.status}</td>
                <td>
                  <Badge status={r.verdict} />
                </td>
                <td>{r.replay?.ok ? '' : (r.replay?.message ?? r.replay?.reason ?? '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {handling.length > 0 && (
        <p>
          In flight:{' '}
          {handling
            .map((h) => `v${h.version}: ${h.upgrade} upgrade, ${h.migrate} migrate, ${h.drain} drain`)
            .join('; ')}
        </p>
      )}
      {w.steps && (
        <>
          <h5>Runbook</h5>
          <ol>
            {w.steps.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ol>
        </>
      )}
      {w.rollback && (
        <>
          <h5>Rollback</h5>
          <ol>
            {w.rollback.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
