/** Rollouts: each rollout's share, health against the current version, its transitions, and its controls. */
import { api, seg } from '../api';
import { duration, when } from '../format';
import { useLive } from '../live';
import { useCan } from '../session';
import type { Rollout, VersionSummary } from '../types';
import { Action, Badge, Loading, Problem } from '../widgets';

interface Data {
  rollouts: Rollout[];
  versions: VersionSummary[];
}

async function load(): Promise<Data> {
  const [rollouts, versions] = await Promise.all([
    api<{ rollouts: Rollout[] }>('GET', '/v1/rollouts'),
    api<{ versions: VersionSummary[] }>('GET', '/v1/versions'),
  ]);
  return { rollouts: rollouts.rollouts, versions: versions.versions };
}

/** Failed runs over finished ones of a version, as text. */
function health(v: VersionSummary | undefined): string {
  if (!v) return '—';
  const failed = v.runs.failed ?? 0;
  const finished = failed + (v.runs.completed ?? 0);
  return finished === 0 ? 'no finished runs' : `${((100 * failed) / finished).toFixed(1)}% failed of ${finished}`;
}

/** Every rollout, running ones first. */
export function RolloutsPage() {
  const { data, error, reload } = useLive(load, []);
  if (!data) return error ? <Problem error={error} /> : <Loading />;
  const order = (r: Rollout) => (r.status === 'running' ? 0 : r.status === 'paused' ? 1 : 2);
  const rollouts = [...data.rollouts].sort((a, b) => order(a) - order(b) || (b.startedAt ?? 0) - (a.startedAt ?? 0));
  return (
    <>
      <h1>Rollouts</h1>
      {error !== undefined && <Problem error={error} />}
      {rollouts.length === 0 && <p class="muted">No rollout has been started (waymark rollout start).</p>}
      {rollouts.map((r) => (
        <RolloutCard key={`${r.workflow}/${r.kind}/${r.startedAt}`} r={r} versions={data.versions} reload={reload} />
      ))}
    </>
  );
}

function RolloutCard({ r, versions, reload }: { r: Rollout; versions: VersionSummary[]; reload: () => void }) {
  const operate = useCan('operator');
  const of = (n: number) => versions.find((v) => v.workflow === r.workflow && v.version === n);
  const open = r.status === 'running' || r.status === 'paused';
  const change = (action: string) => async (values: { reason: string }) => {
    await api('POST', `/v1/rollouts/${seg(r.workflow)}/${action}`, { reason: values.reason, kind: r.kind });
    return `${action}: done.`;
  };
  return (
    <section class="card" data-rollout={r.workflow} aria-label={`rollout of ${r.workflow}`}>
      <h2>
        {r.workflow}: v{r.from} → v{r.to} <Badge status={r.status} />{' '}
        <span class="muted">{r.kind === 'upgrade' ? 'upgrade rollout' : 'route rollout'}</span>
      </h2>
      <label class="share-bar">
        {r.kind === 'upgrade' ? 'Runs upgraded' : 'Routed starts on the candidate'}: {r.percent}%
        <progress max={100} value={r.percent} />
      </label>
      <table>
        <tbody>
          <tr>
            <th scope="row">Health of v{r.from} (current)</th>
            <td>{health(of(r.from))}</td>
          </tr>
          <tr>
            <th scope="row">Health of v{r.to} (candidate)</th>
            <td>{health(of(r.to))}</td>
          </tr>
          <tr>
            <th scope="row">Gate</th>
            <td>
              roll back above {r.maxFailureRatio ?? '?'}× the current version's failure rate (judged after{' '}
              {r.minSample ?? 0} finished candidate runs); step {r.step}% every {duration(r.everyMs)}
            </td>
          </tr>
        </tbody>
      </table>
      <h3>Transitions</h3>
      <ol class="transitions">
        <li>started {when(r.startedAt)}</li>
        {r.lastStepAt !== undefined && r.lastStepAt !== r.startedAt && (
          <li>
            last step {when(r.lastStepAt)} (to {r.percent}%)
          </li>
        )}
        {r.eligible !== undefined && (
          <li>
            {r.upgraded?.length ?? 0} of {r.eligible} runs upgraded, {r.incompatible?.length ?? 0} incompatible
          </li>
        )}
        {r.outcome && <li>{r.outcome}</li>}
        {(r.movedBack?.length ?? 0) > 0 && <li>{r.movedBack!.length} runs moved back</li>}
        {(r.keptOnCandidate?.length ?? 0) > 0 && <li>{r.keptOnCandidate!.length} runs kept on the candidate</li>}
      </ol>
      {operate && open && (
        <div class="run-actions">
          <Action label="Promote" run={change('promote')} done={reload} />
          {r.status === 'running' && <Action label="Pause" run={change('pause')} done={reload} />}
          {r.status === 'paused' && <Action label="Resume" run={change('resume')} done={reload} />}
          <Action label="Abort" danger run={change('abort')} done={reload} />
        </div>
      )}
    </section>
  );
}
