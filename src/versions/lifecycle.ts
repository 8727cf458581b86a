import { isRetryable, WaymarkError } from '../core/errors.js';
import { unservedWarnings } from './unserved.js';
import {
  currentEpoch,
  isTerminal,
  RUN_STATUSES,
  toNewEvent,
  type HistoryEvent,
  type Json,
  type Run,
  type WaitInfo,
} from '../core/types.js';
import {
  transformHistory,
  validateMigration,
  type MigrationDefinition,
  type TransformedHistory,
} from '../core/migration.js';
import type { Route, RunCommit, Store, VersionStatus } from '../store/types.js';
import { defaultActor } from '../runtime/operator.js';
import { assertStorable } from '../runtime/refused-commits.js';
import type { WorkflowRegistry } from '../runtime/registry.js';
import { faultPoint } from '../runtime/faults.js';
import { verifyReplay, type ReplayVerdict } from '../runtime/verify.js';

/** Moves a registered version to `status`; retiring refuses while any of its runs is not finished. */
export async function setVersionStatus(
  store: Store,
  registry: WorkflowRegistry,
  workflow: string,
  version: number,
  status: VersionStatus,
): Promise<void> {
  const known = (await store.listWorkflowVersions()).find((v) => v.workflow === workflow && v.version === version);
  if (!known)
    throw new WaymarkError('E_UNKNOWN_VERSION', `${workflow} v${version} is not registered`, {
      details: { workflow, version },
    });
  if (status === 'retired') {
    const live = RUN_STATUSES.filter((s) => !isTerminal(s));
    const open = await store.listRuns({ workflow, version, status: live, limit: 10 });
    if (open.length > 0) {
      const counts = (await store.countRuns()).filter(
        (c) => c.workflow === workflow && c.version === version && !isTerminal(c.status),
      );
      const total = counts.reduce((n, c) => n + c.count, 0);
      throw new WaymarkError(
        'E_RUN_STATE',
        `cannot retire ${workflow} v${version}: ${total} run${total === 1 ? ' is' : 's are'} not finished ` +
          `(${open.map((r) => `${r.id} ${r.status}`).join(', ')}${total > open.length ? ', ...' : ''}); drain it and ` +
          `let them finish`,
        { details: { workflow, version, unfinished: total, runs: open.map((r) => r.id) } },
      );
    }
  }
  await store.setVersionStatus(workflow, version, status);
  registry.setStatus(workflow, version, status);
}

/**
 * Routes unpinned starts of a workflow: `candidate` gets `percent` of them (a canary), `current` the rest;
 * null removes the route (starts go to the highest active version). Both versions must be registered and active.
 */
export async function setRoute(
  store: Store,
  registry: WorkflowRegistry,
  workflow: string,
  route: Omit<Route, 'workflow'> | null,
): Promise<void> {
  if (route) {
    const versions = (await store.listWorkflowVersions()).filter((v) => v.workflow === workflow);
    for (const version of [route.current, route.candidate]) {
      const known = versions.find((v) => v.version === version);
      if (!known)
        throw new WaymarkError('E_UNKNOWN_VERSION', `${workflow} v${version} is not registered`, {
          details: { workflow, version },
        });
      if (known.status !== 'active')
        throw new WaymarkError(
          'E_VERSION_UNAVAILABLE',
          `${workflow} v${version} is ${known.status}: a route needs active versions`,
        );
    }
    if (!(route.percent >= 0 && route.percent <= 100))
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `route percent must be between 0 and 100, got ${String(route.percent)}`,
      );
  }
  const full = route ? { workflow, ...route } : null;
  await store.setRoute(workflow, full);
  registry.setRoute(workflow, full);
}

export interface UpgradeOptions {
  /** Target version; its code must be registered in this engine. */
  to: number;
  /** Rewrites the history for the target first; the run continues in a new history epoch (rollback-able). */
  migration?: MigrationDefinition;
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
  /** What the operator should know, e.g. that no live worker serves the target version (the run is stranded). */
  warnings: string[];
}

/**
 * Moves an in-flight run to another version after replaying the target's code over the run's history
 * without executing anything. A divergence (or code that throws) refuses the upgrade and changes nothing.
 */
export async function upgradeRun(
  store: Store,
  registry: WorkflowRegistry,
  runId: string,
  options: UpgradeOptions,
): Promise<UpgradeResult> {
  const result = await changeVersion(store, registry, runId, options);
  const move = options.dryRun ? 'dry-run' : 'moved';
  const warnings = await unservedWarnings(store, result.run.workflow, options.to, 1, move);
  return { ...result, warnings };
}

/** upgradeRun without its warnings, for callers that move many runs (and warn once). */
export async function changeVersion(
  store: Store,
  registry: WorkflowRegistry,
  runId: string,
  options: UpgradeOptions,
): Promise<Omit<UpgradeResult, 'warnings'>> {
  const run = await store.getRun(runId);
  if (!run) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
  if (isTerminal(run.status))
    throw new WaymarkError('E_RUN_STATE', `cannot upgrade run '${runId}': it is ${run.status}`);
  if (!Number.isInteger(options.to) || options.to === run.version) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `upgrade target must be another version than the run's v${run.version}, got ${String(options.to)}`,
    );
  }
  const target = registry.get(run.workflow, options.to);
  if (!target) {
    throw new WaymarkError(
      'E_UNKNOWN_VERSION',
      `${run.workflow} v${options.to} is not registered in this engine: open it with that version's code to upgrade`,
      {
        details: { workflow: run.workflow, version: options.to },
      },
    );
  }
  const all = await store.history(runId);
  const migration = options.migration;
  if (
    migration &&
    (migration.workflow !== run.workflow || migration.from !== run.version || migration.to !== options.to)
  ) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `migration '${migration.name}' does not take ${run.workflow} v${run.version} to v${options.to}`,
    );
  }
  if (migration && run.status === 'compensating')
    throw new WaymarkError('E_RUN_STATE', `cannot migrate run '${runId}' while it is compensating`);
  let transformed: TransformedHistory | undefined;
  try {
    transformed = migration ? transformHistory(migration, currentEpoch(all, run.epoch), run.input) : undefined;
  } catch (error) {
    throw new WaymarkError(
      'E_MIGRATION_REFUSED',
      `migration '${migration!.name}' threw on run '${runId}': ${(error as Error).message}`,
      { cause: error },
    );
  }
  const history = transformed?.events ?? currentEpoch(all, run.epoch);
  const verdict = await verifyReplay(target, transformed?.input ?? run.input, history);
  if (!verdict.ok) {
    const code = verdict.reason === 'divergence' ? 'E_NONDETERMINISM' : 'E_RUN_STATE';
    throw new WaymarkError(code, `upgrade of run '${runId}' to v${options.to} refused: ${verdict.message}`, {
      details: verdict as unknown as Json,
    });
  }
  if (migration && transformed && !validateMigration(migration, transformed)) {
    throw new WaymarkError(
      'E_MIGRATION_REFUSED',
      `migration '${migration.name}' refused for run '${runId}': validate returned false on the transformed history`,
      {
        details: { migration: migration.name, reason: 'validate' },
      },
    );
  }
  if (options.dryRun) return { run, applied: false, verdict, history };
  const actor = options.actor ?? defaultActor();
  const reason = options.reason ?? '(no reason given)';
  const facts = { from: run.version, to: options.to, actor, reason };
  const commit: RunCommit = transformed
    ? {
        runId,
        workerId: actor,
        fromPos: all.length,
        asOperator: true,
        events: [
          ...transformed.events.map(toNewEvent),
          {
            type: 'run_migrated',
            data: {
              ...facts,
              migration: migration!.name,
              fromEpoch: run.epoch,
              ...(run.waitingFor?.seq !== undefined ? { fromWaitSeq: run.waitingFor.seq } : {}),
            },
          },
        ],
        update: {
          status: run.status,
          version: options.to,
          epoch: Math.max(...all.map((e) => e.epoch ?? 0)) + 1,
          input: transformed.input,
          ...renumberedWait(run, verdict),
        },
      }
    : {
        runId,
        workerId: actor,
        fromPos: all.length,
        asOperator: true,
        events: [{ type: 'run_upgraded', data: facts }],
        update: { status: run.status, version: options.to },
      };
  faultPoint('upgrade-commit');
  const [outcome] = await store.commit([commit], 0);
  assertStorable(outcome!, `upgrade of run '${runId}'`);
  if (!outcome!.ok) {
    throw new WaymarkError(
      'E_RUN_BUSY',
      `run '${runId}' changed or is executing on a worker; upgrade it while it waits (nothing was changed)`,
      {
        details: { reason: outcome!.reason },
      },
    );
  }
  return { run: (await store.getRun(runId))!, applied: true, verdict, history };
}

/**
 * Takes a migrated run back to the epoch and version it had before its last migration, while it has
 * completed no step since; refused (with the reason) after that.
 */
export async function rollbackMigration(
  store: Store,
  runId: string,
  options: { actor?: string; reason?: string } = {},
): Promise<Run> {
  const run = await store.getRun(runId);
  if (!run) throw new WaymarkError('E_RUN_NOT_FOUND', `run '${runId}' does not exist`);
  const all = await store.history(runId);
  const epoch = currentEpoch(all, run.epoch);
  const migrated = [...epoch].reverse().find((e) => e.type === 'run_migrated');
  const facts = migrated?.data;
  if (!migrated || !facts)
    throw new WaymarkError('E_RUN_STATE', `run '${runId}' has no migration to roll back in its current epoch`);
  if (isTerminal(run.status))
    throw new WaymarkError('E_RUN_STATE', `cannot roll back run '${runId}': it is ${run.status}`);
  const since = epoch.find((e) => e.pos > migrated.pos && e.type === 'step_completed');
  if (since) {
    throw new WaymarkError(
      'E_RUN_STATE',
      `cannot roll back the migration of run '${runId}': step '${since.name}' completed after it`,
      {
        details: { step: since.name ?? null, seq: since.seq ?? null },
      },
    );
  }
  const previous = currentEpoch(all, facts.fromEpoch).find((e) => e.type === 'run_started');
  const input = previous?.data?.input ?? null;
  const actor = options.actor ?? defaultActor();
  const [outcome] = await store.commit(
    [
      {
        runId,
        workerId: actor,
        fromPos: all.length,
        asOperator: true,
        events: [
          {
            type: 'migration_rolled_back',
            data: {
              migration: facts.migration,
              from: facts.to,
              to: facts.from,
              actor,
              reason: options.reason ?? '(no reason given)',
            },
          },
        ],
        update: {
          status: run.status,
          version: facts.from,
          epoch: facts.fromEpoch,
          input,
          ...(run.waitingFor && facts.fromWaitSeq !== undefined
            ? { waitingFor: { ...run.waitingFor, seq: facts.fromWaitSeq } }
            : {}),
        },
      },
    ],
    0,
  );
  assertStorable(outcome!, `rollback of run '${runId}'`);
  if (!outcome!.ok)
    throw new WaymarkError(
      'E_RUN_BUSY',
      `run '${runId}' changed or is executing; roll back while it waits (nothing was changed)`,
    );
  return (await store.getRun(runId))!;
}

export interface MigrateAllOptions {
  migration: MigrationDefinition;
  /** Most runs migrated in this batch. (Default: all) */
  limit?: number;
  /** Share of the in-flight runs to migrate, 1..100. (Default: 100) */
  percent?: number;
  /** Verify each run only: `migrated` lists the runs that would be migrated; nothing changes. (Default: false) */
  dryRun?: boolean;
  actor?: string;
  reason?: string;
}

export interface MigrateAllReport {
  migrated: string[];
  /** Runs the migration does not fit (divergence, validate), with why: they stay as they were. */
  refused: { runId: string; code: string; reason: string }[];
  /** Runs that could not be migrated now (executing, changed meanwhile: a retryable code): try again. */
  failed: { runId: string; code: string; reason: string }[];
  /** What the operator should know, e.g. that no live worker serves the target version (its runs are stranded). */
  warnings: string[];
}

/** Migrates the in-flight runs of `from` to `to`, each on its own; re-running skips runs already migrated. */
export async function migrateAll(
  store: Store,
  registry: WorkflowRegistry,
  options: MigrateAllOptions,
): Promise<MigrateAllReport> {
  const { workflow, from, to } = options.migration;
  const live = RUN_STATUSES.filter((s) => !isTerminal(s) && s !== 'compensating');
  const runs = await store.listRuns({ workflow, version: from, status: live, limit: 100_000 });
  const share = Math.ceil((runs.length * Math.min(100, Math.max(1, options.percent ?? 100))) / 100);
  const chosen = runs.reverse().slice(0, Math.min(share, options.limit ?? Infinity));
  const report: MigrateAllReport = { migrated: [], refused: [], failed: [], warnings: [] };
  for (const run of chosen) {
    try {
      await changeVersion(store, registry, run.id, {
        to,
        migration: options.migration,
        actor: options.actor,
        reason: options.reason,
        dryRun: options.dryRun,
      });
      report.migrated.push(run.id);
    } catch (error) {
      const code = error instanceof WaymarkError ? error.code : 'E_STORE';
      const entry = { runId: run.id, code, reason: (error as Error).message };
      if (isRetryable(code)) report.failed.push(entry);
      else report.refused.push(entry);
    }
  }
  const move = options.dryRun ? 'dry-run' : 'moved';
  report.warnings = await unservedWarnings(store, workflow, to, report.migrated.length, move);
  return report;
}

/**
 * A migrated run's wait, at its seq in the new epoch (the verdict's frontier): seqs are renumbered by the migration.
 */
function renumberedWait(run: Run, verdict: ReplayVerdict): { waitingFor?: WaitInfo } {
  if (!run.waitingFor || run.waitingFor.seq === undefined || !verdict.ok || verdict.frontier === 'end') return {};
  return { waitingFor: { ...run.waitingFor, seq: verdict.frontier.seq } };
}
