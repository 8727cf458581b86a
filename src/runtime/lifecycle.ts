import { WaymarkError } from '../core/errors.js';
import { isTerminal, RUN_STATUSES, type HistoryEvent, type Json, type Run } from '../core/types.js';
import type { Store, VersionStatus } from '../store/types.js';
import { defaultActor } from './operator.js';
import type { WorkflowRegistry } from './registry.js';
import { verifyReplay, type ReplayVerdict } from './verify.js';

/** Moves a registered version to `status`; retiring refuses while any of its runs is not finished. */
export async function setVersionStatus(store: Store, registry: WorkflowRegistry, workflow: string, version: number, status: VersionStatus): Promise<void> {
  const known = (await store.listWorkflowVersions()).find((v) => v.workflow === workflow && v.version === version);
  if (!known) throw new WaymarkError('E_UNKNOWN_VERSION', `${workflow} v${version} is not registered`, { details: { workflow, version } });
  if (status === 'retired') {
    const live = RUN_STATUSES.filter((s) => !isTerminal(s));
    const open = await store.listRuns({ workflow, version, status: live, limit: 10 });
    if (open.length > 0) {
      const counts = (await store.countRuns()).filter((c) => c.workflow === workflow && c.version === version && !isTerminal(c.status));
      const total = counts.reduce((n, c) => n + c.count, 0);
      throw new WaymarkError(
        'E_RUN_STATE',
        `cannot retire ${workflow} v${version}: ${total} run${total === 1 ? ' is' : 's are'} not finished (${open.map((r) => `${r.id} ${r.status}`).join(', ')}${total > open.length ? ', ...' : ''}); drain it and let them finish`,
        { details: { workflow, version, unfinished: total, runs: open.map((r) => r.id) } },
      );
    }
  }
  await store.setVersionStatus(workflow, version, status);
  registry.setStatus(workflow, version, status);
}

export interface UpgradeOptions {
  /** Target version; its code must be registered in this engine. */
  to: number;
  /** Verify and report only: nothing changes. (Default: false) */
  dryRun?: boolean;
  /** Who upgrades. (Default: the OS user name) */
  actor?: string;
  /** Why. (Default: '(no reason given)') */
  reason?: string;
}

export interface UpgradeResult {
  run: Run;
  applied: boolean;
  verdict: ReplayVerdict;
  /** The history the target version was replayed over. */
  history: HistoryEvent[];
}

/**
 * Moves an in-flight run to another version after replaying the target's code over the run's history
 * without executing anything. A divergence (or code that throws) refuses the upgrade and changes nothing.
 */
export async function upgradeRun(store: Store, registry: WorkflowRegistry, runId: string, options: UpgradeOptions): Promise<UpgradeResult> {
  const run = await store.getRun(runId);
  if (!run) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
  if (isTerminal(run.status)) throw new WaymarkError('E_RUN_STATE', `cannot upgrade run '${runId}': it is ${run.status}`);
  if (!Number.isInteger(options.to) || options.to === run.version) {
    throw new WaymarkError('E_INVALID_INPUT', `upgrade target must be another version than the run's v${run.version}, got ${String(options.to)}`);
  }
  const target = registry.get(run.workflow, options.to);
  if (!target) {
    throw new WaymarkError('E_UNKNOWN_VERSION', `${run.workflow} v${options.to} is not registered in this engine: open it with that version's code to upgrade`, {
      details: { workflow: run.workflow, version: options.to },
    });
  }
  const history = await store.history(runId);
  const verdict = await verifyReplay(target, run.input, history);
  if (!verdict.ok) {
    const code = verdict.reason === 'divergence' ? 'E_NONDETERMINISM' : 'E_RUN_STATE';
    throw new WaymarkError(code, `upgrade of run '${runId}' to v${options.to} refused: ${verdict.message}`, { details: verdict as unknown as Json });
  }
  if (options.dryRun) return { run, applied: false, verdict, history };
  const actor = options.actor ?? defaultActor();
  const reason = options.reason ?? '(no reason given)';
  const [outcome] = await store.commit(
    [
      {
        runId,
        workerId: actor,
        fromPos: history.length,
        asOperator: true,
        events: [{ type: 'run_upgraded', data: { from: run.version, to: options.to, actor, reason } }],
        update: { status: run.status, version: options.to },
      },
    ],
    0,
  );
  if (!outcome!.ok) {
    throw new WaymarkError('E_RUN_BUSY', `run '${runId}' changed or is executing on a worker; upgrade it while it waits (nothing was changed)`, {
      details: { reason: outcome!.reason },
    });
  }
  return { run: (await store.getRun(runId))!, applied: true, verdict, history };
}
