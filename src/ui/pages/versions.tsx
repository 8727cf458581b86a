/** Versions (the home page): per workflow, every version with its in-flight runs, where they are and what serves it. */
import { api, seg } from '../api';
import { fromNow, when } from '../format';
import { useLive } from '../live';
import { hrefOf } from '../router';
import { useCan } from '../session';
import type { PatchUsage, VersionSummary } from '../types';
import { Action, Badge, Counts, Loading, Problem } from '../widgets';

interface Data {
  versions: VersionSummary[];
  patches: PatchUsage[];
}

async function load(): Promise<Data> {
  const [versions, patches] = await Promise.all([
    api<{ versions: VersionSummary[] }>('GET', '/v1/versions'),
    api<{ patches: PatchUsage[] }>('GET', '/v1/patches'),
  ]);
  return { versions: versions.versions, patches: patches.patches };
}

/** Every workflow's versions, newest first. */
export function VersionsPage() {
  const { data, error, reload } = useLive(load, []);
  if (!data) return error ? <Problem error={error} /> : <Loading />;
  const byWorkflow = new Map<string, VersionSummary[]>();
  for (const v of data.versions) byWorkflow.set(v.workflow, [...(byWorkflow.get(v.workflow) ?? []), v]);
  return (
    <>
      <h1>Versions</h1>
      {error !== undefined && <Problem error={error} />}
      {byWorkflow.size === 0 && <p class="muted">No workflow is registered.</p>}
      {[...byWorkflow].map(([workflow, versions]) => (
        <Workflow
          key={workflow}
          workflow={workflow}
          versions={versions.sort((a, b) => b.version - a.version)}
          patches={data.patches.filter((p) => p.workflow === workflow)}
          reload={reload}
        />
      ))}
    </>
  );
}

function Workflow(props: { workflow: string; versions: VersionSummary[]; patches: PatchUsage[]; reload: () => void }) {
  const { workflow, versions, patches } = props;
  const total = versions.reduce((sum, v) => sum + v.inFlight, 0);
  const operate = useCan('operator');
  return (
    <section class="card" data-workflow={workflow} aria-labelledby={`wf-${workflow}`}>
      <h2 id={`wf-${workflow}`}>
        <a href={hrefOf('runs', { workflow })}>{workflow}</a> <span class="muted">{total} in flight</span>
      </h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">In flight</th>
              <th scope="col">By status</th>
              <th scope="col">Parked on</th>
              <th scope="col">Oldest in flight</th>
              <th scope="col">Next wake-up</th>
              <th scope="col">Drain ETA</th>
              <th scope="col">Stranded</th>
              <th scope="col">Workers</th>
              <th scope="col">Schedules</th>
              {operate && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <VersionRow key={v.version} v={v} reload={props.reload} />
            ))}
          </tbody>
        </table>
      </div>
      {patches.length > 0 && (
        <table class="patches" aria-label={`patches of ${workflow}`}>
          <thead>
            <tr>
              <th scope="col">Patch</th>
              <th scope="col">Runs patched</th>
              <th scope="col">Runs on the old branch</th>
            </tr>
          </thead>
          <tbody>
            {patches.map((p) => (
              <tr key={p.patch}>
                <td>
                  <code>{p.patch}</code>
                </td>
                <td>{p.patched}</td>
                <td>{p.onOldBranch}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function VersionRow({ v, reload }: { v: VersionSummary; reload: () => void }) {
  const operate = useCan('operator');
  const runsHref = hrefOf('runs', { workflow: v.workflow, version: String(v.version) });
  return (
    <tr data-version={v.version} data-status={v.status}>
      <th scope="row">
        <a href={runsHref}>v{v.version}</a>{' '}
        <code class="muted" title={v.fingerprint}>
          {v.fingerprint.slice(0, 8)}
        </code>
      </th>
      <td>
        <Badge status={v.status} />
        {v.routeShare !== undefined && v.status === 'active' && (
          <span class="share" title="share of routed starts it takes now">
            {' '}
            {Math.round(v.routeShare)}% of starts
          </span>
        )}
        {v.safeToRetire && <span class="safe"> safe to retire</span>}
      </td>
      <td class="num" data-field="inFlight">
        {v.inFlight}
      </td>
      <td>
        <Counts counts={v.runs} label={`v${v.version} runs by status`} />
      </td>
      <td>
        <Counts counts={v.parkedOn} label={`v${v.version} runs by where they are parked`} />
      </td>
      <td>{v.oldestInFlightAt ? fromNow(v.oldestInFlightAt) : '—'}</td>
      <td>{v.nextWakeAt ? fromNow(v.nextWakeAt) : '—'}</td>
      <td>{v.status === 'draining' ? (v.drainEta ? when(v.drainEta) : v.inFlight ? 'no deadline' : 'empty') : '—'}</td>
      <td class={v.stranded > 0 ? 'num warn' : 'num'}>{v.stranded}</td>
      <td>
        {v.servedBy.length === 0 ? (
          <span class={v.inFlight > 0 ? 'warn' : 'muted'}>none</span>
        ) : (
          <span title={v.servedBy.join('\n')}>{v.servedBy.length}</span>
        )}
      </td>
      <SchedulesCell v={v} />
      {operate && (
        <td class="actions">
          <VersionActions v={v} reload={reload} />
        </td>
      )}
    </tr>
  );
}

function VersionActions({ v, reload }: { v: VersionSummary; reload: () => void }) {
  const operate = useCan('operator');
  const admin = useCan('admin');
  const change = (state: string) => async () => {
    await api('POST', `/v1/workflows/${seg(v.workflow)}/versions/${v.version}/${state}`);
    return `v${v.version}: ${state} done.`;
  };
  const common = { reason: false, done: reload };
  return (
    <>
      {operate && v.status === 'active' && (
        <Action label="Drain" confirm="Drain now" run={change('drain')} {...common} />
      )}
      {admin && (v.status === 'draining' || v.status === 'quarantined') && (
        <Action label="Activate" confirm="Activate now" run={change('activate')} {...common} />
      )}
      {admin && v.status !== 'quarantined' && v.status !== 'retired' && (
        <Action label="Quarantine" confirm="Quarantine now" danger run={change('quarantine')} {...common} />
      )}
      {admin && v.status === 'draining' && v.safeToRetire !== false && (
        <Action label="Retire" confirm="Retire now" danger run={change('retire')} {...common} />
      )}
    </>
  );
}

/** The schedules that start a version; a warning when it takes no starts (pinned firings start no run). */
function SchedulesCell({ v }: { v: VersionSummary }) {
  const ids = v.schedules ?? [];
  if (ids.length === 0) return <td class="muted">—</td>;
  const refused = v.status !== 'active';
  const title = refused ? `${v.status}: these pinned schedules' firings start no run` : ids.join('\n');
  return (
    <td data-field="schedules" class={refused ? 'warn' : undefined} title={title}>
      {ids.join(', ')}
    </td>
  );
}
