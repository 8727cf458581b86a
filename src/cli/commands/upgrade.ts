import type { Command } from 'commander';
import { WaymarkError, type MigrationDefinition, type ReplayVerdict, type UpgradeResult } from '../../index.js';
import { DB_HELP, parsePositiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { historyLines, historyTable, runDetails } from '../format.js';
import { findMigration, loadWorkflowModule } from '../load-workflows.js';
import { withEngine } from '../open-engine.js';

interface UpgradeFlags {
  to?: string;
  migration?: string;
  dryRun?: boolean;
  workflows?: string;
  examples?: boolean;
  reason?: string;
  actor?: string;
  db?: string;
  json?: boolean;
}

type Divergence = { seq: number; expected: { kind: string; name: string }; got: { kind: string; name: string } };

/**
 * `waymark runs upgrade <run> --to <n> [--migration <name>] [--dry-run]`: moves an
 * in-flight run to another version once that version's code replays its history
 * (transformed first by the named migration, the run then continuing in a new epoch).
 */
export function upgradeCommand(runs: Command): void {
  runs
    .command('upgrade')
    .description(
      "move an in-flight run to another version, after replaying that version's " +
        "code over the run's history; a divergence refuses it and changes nothing",
    )
    .argument('<run>', 'run id')
    .requiredOption('--to <n>', 'the target version (its code must be in --workflows)')
    .option(
      '--migration <name>',
      'transform the history with this migration (exported by --workflows) first; ' +
        'the run continues in a new history epoch',
    )
    .option(
      '--dry-run',
      'verify only: print the verdict and the (transformed) history it was replayed over; nothing changes',
    )
    .option(
      '--workflows <module>',
      "module exporting the workflows (the target version's code included) and migrations",
    )
    .option('--examples', 'with the built-in example workflows (order, onboarding, report, rollout) as well')
    .option('--reason <text>', "why: recorded in the run's history (default: '(no reason given)')")
    .option('--actor <name>', 'who upgrades: recorded in the history (default: the OS user name)')
    .option('--db <store>', DB_HELP)
    .option(
      '--json',
      'print JSON lines: the outcome { applied, dryRun, from, to, ' +
        'verdict, run }, then (with --dry-run) one history event per line',
    )
    .action(async (runId: string, flags: UpgradeFlags) => {
      // Everything the user typed is checked before the store is touched.
      const to = parsePositiveInt(flags.to, '--to')!;
      if (flags.actor !== undefined && flags.actor.trim() === '') throw new UsageError('--actor needs a name');
      if (flags.migration !== undefined && flags.migration.trim() === '')
        throw new UsageError('--migration needs a migration name');
      const module = await loadWorkflowModule(flags.workflows, { examples: flags.examples });
      const migration =
        flags.migration === undefined ? undefined : findMigration(module, flags.migration, flags.workflows);
      if (migration && migration.to !== to) {
        throw new UsageError(
          `migration '${migration.name}' takes ${migration.workflow} v${migration.from} to v${migration.to}, ` +
            `not to v${to}: give --to ${migration.to}`,
        );
      }
      const dryRun = flags.dryRun === true;
      await withEngine(flags, { workflows: module.workflows }, async (engine) => {
        const from = (await engine.getRun(runId)).version;
        let result: UpgradeResult;
        try {
          result = await engine.upgrade(runId, { to, migration, dryRun, actor: flags.actor, reason: flags.reason });
        } catch (error) {
          printRefusal(error, runId, from, to, migration, flags.json === true);
          throw error;
        }
        print(result, from, to, dryRun, migration, flags.json === true);
      });
    });
}

function print(
  result: UpgradeResult,
  from: number,
  to: number,
  dryRun: boolean,
  migration: MigrationDefinition | undefined,
  json: boolean,
): void {
  const { run, applied, verdict, history } = result;
  if (json) {
    const outcome = JSON.stringify({
      applied,
      dryRun,
      from,
      to,
      ...(migration ? { migration: migration.name } : {}),
      verdict,
      run,
      warnings: result.warnings,
    });
    process.stdout.write(`${outcome}\n${dryRun && history.length > 0 ? `${historyLines(history)}\n` : ''}`);
    return;
  }
  const via = migration ? ` with migration '${migration.name}'` : '';
  const lines = [
    dryRun
      ? `dry run: run '${run.id}' (${run.workflow} v${from}) can be upgraded to v${to}${via}; nothing was changed`
      : `upgraded run '${run.id}' (${run.workflow}) from v${from} to v${to}${via}${applied ? '' : ' (not applied)'}`,
    `verdict: ${verdictText(verdict, to)}`,
  ];
  lines.push(...result.warnings.map((w) => `warning: ${w}`));
  if (migration && !dryRun)
    lines.push(
      `the run continues in history epoch ${run.epoch}; ` +
        `the previous history is kept (roll back with runs rollback-migration until a step completes)`,
    );
  const what = migration ? `transformed history v${to} was replayed over` : `history v${to} was replayed over`;
  if (dryRun)
    lines.push('', `${what} (${history.length} event${history.length === 1 ? '' : 's'}):`, historyTable(history));
  else lines.push('', runDetails(run));
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `v2 replayed 2 recorded operations; frontier at seq 1 signal 'go'` (where it takes over) or `... frontier: end`. */
export function verdictText(verdict: ReplayVerdict, to: number): string {
  if (!verdict.ok) return verdict.message;
  const ops = `${verdict.replayed} recorded operation${verdict.replayed === 1 ? '' : 's'}`;
  const frontier =
    verdict.frontier === 'end'
      ? 'frontier: end (the workflow returns)'
      : `frontier at seq ${verdict.frontier.seq} ${operation(verdict.frontier)}`;
  return `v${to} replayed ${ops}; ${frontier}`;
}

/** On a refused upgrade: the divergence (seq, expected, got) on stdout; the error line follows on stderr. */
function printRefusal(
  error: unknown,
  runId: string,
  from: number,
  to: number,
  migration: MigrationDefinition | undefined,
  json: boolean,
): void {
  if (error instanceof WaymarkError && error.code === 'E_MIGRATION_REFUSED' && migration) {
    if (json) {
      const refusal = { applied: false, refused: true, from, to, migration: migration.name, reason: error.message };
      process.stdout.write(`${JSON.stringify(refusal)}\n`);
    } else
      process.stdout.write(`refused: migration '${migration.name}' does not fit run '${runId}'; nothing was changed\n`);
    return;
  }
  if (!(error instanceof WaymarkError) || (error.code !== 'E_NONDETERMINISM' && error.code !== 'E_RUN_STATE')) return;
  const verdict = error.details as { ok?: boolean; reason?: string; divergence?: Divergence } | undefined;
  if (verdict?.ok !== false) return; // a refusal for another reason (e.g. a finished run): the error line says it all
  if (json) {
    const refusal = {
      applied: false,
      refused: true,
      from,
      to,
      ...(migration ? { migration: migration.name } : {}),
      verdict,
    };
    process.stdout.write(`${JSON.stringify(refusal)}\n`);
    return;
  }
  const via = migration ? `, transformed by migration '${migration.name}'` : '';
  const lines = [`refused: v${to} does not replay run '${runId}''s history (v${from}${via}); nothing was changed`];
  const d = verdict.divergence;
  if (d) {
    const expected = 'expected (recorded in the history):';
    const got = `got (v${to}'s code):`.padEnd(expected.length);
    lines.push(`divergence at seq ${d.seq}:`, `  ${expected} ${operation(d.expected)}`, `  ${got} ${operation(d.got)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function operation(op: { kind: string; name: string }): string {
  return op.name ? `${op.kind} '${op.name}'` : op.kind;
}
