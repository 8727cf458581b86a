/** Run: header, timeline, describe, and the actions that apply to it now (each asking for a reason). */
import { api, seg } from '../api';
import { short, waitText, when } from '../format';
import { useLive } from '../live';
import { hrefOf } from '../router';
import { useCan } from '../session';
import type { HistoryEvent, ReplayVerdict, RunDescription, RunSummary, VersionSummary } from '../types';
import { Action, type ActionValues, Badge, Loading, parseJsonField, Problem, Section } from '../widgets';
import { Timeline } from './timeline';

interface Data {
  run: RunSummary;
  history: HistoryEvent[];
  describe: RunDescription;
  versions: number[];
}

const TERMINAL = ['completed', 'failed', 'cancelled', 'compensated'];

async function load(id: string): Promise<Data> {
  const path = `/v1/runs/${seg(id)}`;
  const [run, history, describe, versions] = await Promise.all([
    api<RunSummary>('GET', path),
    api<{ events: HistoryEvent[] }>('GET', `${path}/history`),
    api<RunDescription>('GET', `${path}/describe`),
    api<{ versions: VersionSummary[] }>('GET', '/v1/versions'),
  ]);
  const mine = versions.versions.filter((v) => v.workflow === run.workflow).map((v) => v.version);
  return { run, history: history.events, describe, versions: mine.sort((a, b) => a - b) };
}

/** One run, live. */
export function RunPage({ id }: { id: string }) {
  const { data, error, reload } = useLive(
    () => load(id),
    [id],
    (change) => change.runId === id,
  );
  if (!data) return error ? <Problem error={error} /> : <Loading />;
  const { run, describe, history } = data;
  return (
    <>
      <h1>
        Run <code>{run.id}</code>
      </h1>
      {error !== undefined && <Problem error={error} />}
      <dl class="facts" aria-label="Run">
        <dt>Workflow</dt>
        <dd>
          <a href={hrefOf('runs', { workflow: run.workflow })}>{run.workflow}</a>
        </dd>
        <dt>Version</dt>
        <dd data-field="version">v{run.version}</dd>
        <dt>Status</dt>
        <dd data-field="status">
          <Badge status={run.status} />
        </dd>
        <dt>Where</dt>
        <dd>{describe.where || waitText(run.waitingFor)}</dd>
        {run.correlationId && (
          <>
            <dt>Correlation id</dt>
            <dd>{run.correlationId}</dd>
          </>
        )}
        <dt>Epoch</dt>
        <dd>{run.epoch}</dd>
        <dt>Started</dt>
        <dd>{when(run.createdAt)}</dd>
        <dt>Last progress</dt>
        <dd>{when(run.updatedAt)}</dd>
        {(run.attention ?? run.error) && (
          <>
            <dt>{run.attention ? 'Needs' : 'Error'}</dt>
            <dd class="warn">{(run.attention ?? run.error)!.message}</dd>
          </>
        )}
      </dl>
      <RunActions data={data} reload={reload} />
      <div class="columns">
        <Section title="Timeline" id="timeline">
          <Timeline events={history} />
        </Section>
        <Section title="Describe" id="describe">
          <Describe describe={describe} />
        </Section>
      </div>
    </>
  );
}

function Describe({ describe }: { describe: RunDescription }) {
  return (
    <>
      {describe.current && (
        <p>
          Now: {describe.current.kind} <b>{describe.current.name}</b>
          {describe.current.attempt !== undefined && ` (attempt ${describe.current.attempt})`}
        </p>
      )}
      <h3>Effects</h3>
      {describe.effects.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Effect</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {describe.effects.map((e) => (
              <tr key={`${e.seq}-${e.step}`}>
                <td>{e.step}</td>
                <td>{e.effect}</td>
                <td>{e.state}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Pending</h3>
      {describe.pending.length === 0 ? (
        <p class="muted">Nothing.</p>
      ) : (
        <ul>
          {describe.pending.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </>
  );
}

/** The dry run's verdict: whether it fits, how far it replayed, and the frontier. */
function Verdict({ verdict, to }: { verdict: ReplayVerdict; to: number }) {
  return (
    <div class={verdict.ok ? 'verdict ok' : 'verdict bad'} data-verdict={verdict.ok ? 'ok' : 'refused'}>
      <p>
        <b>{verdict.ok ? `v${to} replays this run's history` : `v${to} does not fit: ${verdict.reason ?? ''}`}</b>
        {verdict.replayed !== undefined && ` · ${verdict.replayed} operations replayed`}
      </p>
      <p>
        Frontier: <code data-field="frontier">{short(verdict.frontier ?? 'end')}</code>
      </p>
      {verdict.divergence && (
        <p>
          At #{verdict.divergence.seq}: recorded {short(verdict.divergence.expected)}, v{to} asks{' '}
          {short(verdict.divergence.got)}
        </p>
      )}
      {verdict.message && <p>{verdict.message}</p>}
      {(verdict.oldBranches ?? []).length > 0 && <p>Old patch branches: {verdict.oldBranches!.join(', ')}</p>}
    </div>
  );
}

function RunActions({ data, reload }: { data: Data; reload: () => void }) {
  const operate = useCan('operator');
  if (!operate) return null;
  const { run, describe, history } = data;
  const path = `/v1/runs/${seg(run.id)}`;
  const terminal = TERMINAL.includes(run.status);
  const act = (action: string, extra?: (v: ActionValues) => object) => async (values: ActionValues) => {
    await api('POST', `${path}/actions/${action}`, { reason: values.reason, ...extra?.(values) });
    return `${action}: done.`;
  };
  const common = { done: reload };
  const can = (action: string) => describe.actions.includes(action);
  const others = data.versions.filter((v) => v !== run.version).map(String);
  const migrated = history.some((e) => e.type === 'run_migrated' || e.type === 'run_upgraded');
  return (
    <section class="run-actions" aria-label="Actions">
      {can('retry_step') && <Action label="Retry step" run={act('retry-step')} {...common} />}
      {can('skip_step') && (
        <Action
          label="Skip step"
          fields={[{ name: 'output', label: "The step's output (JSON)", kind: 'json' }]}
          run={act('skip-step', (v) => ({ output: parseJsonField(v.output, 'output') ?? null }))}
          {...common}
        />
      )}
      {can('compensate') && <Action label="Compensate" danger run={act('compensate')} {...common} />}
      {!terminal && <Action label="Cancel" danger run={act('cancel')} {...common} />}
      {(can('resume') || run.status === 'paused') && <Action label="Resume" run={act('resume')} {...common} />}
      {(run.status === 'running' || run.status === 'waiting') && (
        <Action label="Pause" run={act('pause')} {...common} />
      )}
      {!terminal && (
        <Action
          label="Signal"
          fields={[
            { name: 'name', label: 'Signal name', initial: run.waitingFor?.name ?? '' },
            { name: 'payload', label: 'Payload (JSON)', kind: 'json' },
          ]}
          reason={false}
          run={async (v) => {
            await api('POST', `${path}/signals/${seg(v.name)}`, parseJsonField(v.payload, 'payload') ?? {});
            return `signal ${v.name} sent.`;
          }}
          {...common}
        />
      )}
      {!terminal && others.length > 0 && <Upgrade path={path} versions={others} reload={reload} />}
      {!terminal && migrated && (
        <Action
          label="Roll back migration"
          danger
          run={async (v) => {
            await api('POST', `${path}/rollback-migration`, { reason: v.reason });
            return 'rolled back.';
          }}
          {...common}
        />
      )}
      {terminal && (
        <Action
          label="Restart"
          fields={[{ name: 'version', label: 'Version', kind: 'select', options: ['same', 'latest', ...others] }]}
          run={async (v) => {
            const version = /^\d+$/.test(v.version) ? Number(v.version) : v.version;
            await api('POST', `${path}/restart`, { version, reason: v.reason });
            return 'restarted.';
          }}
          {...common}
        />
      )}
      {terminal && describe.completedSteps.length > 0 && (
        <Action
          label="Rerun from step"
          fields={[{ name: 'step', label: 'From step', kind: 'select', options: describe.completedSteps }]}
          run={async (v) => {
            await api('POST', `${path}/rerun`, { step: v.step, reason: v.reason });
            return `rerun from ${v.step}.`;
          }}
          {...common}
        />
      )}
    </section>
  );
}

/** Upgrade: a dry run first (verdict and frontier), then Apply with the same target and reason. */
function Upgrade({ path, versions, reload }: { path: string; versions: string[]; reload: () => void }) {
  return (
    <Action
      label="Upgrade"
      confirm="Dry run"
      keepOpen
      fields={[{ name: 'to', label: 'To version', kind: 'select', options: versions, initial: versions.at(-1) }]}
      run={async (values) => {
        const to = Number(values.to);
        const dry = await api<{ verdict: ReplayVerdict }>('POST', `${path}/upgrade`, {
          to,
          dryRun: true,
          reason: values.reason,
        });
        return (
          <>
            <Verdict verdict={dry.verdict} to={to} />
            {dry.verdict.ok && (
              <Action
                label={`Apply upgrade to v${to}`}
                reason={false}
                confirm={`Upgrade to v${to} now`}
                run={async () => {
                  await api('POST', `${path}/upgrade`, { to, reason: values.reason });
                  return `upgraded to v${to}.`;
                }}
                done={reload}
              />
            )}
          </>
        );
      }}
    />
  );
}
