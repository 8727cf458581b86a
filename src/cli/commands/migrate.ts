import type { Command } from 'commander';
import { WaymarkError, type ErrorCode, type MigrateAllReport, type MigrationDefinition } from '../../index.js';
import { DB_HELP, parsePositiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { printJson, runDetails, table } from '../format.js';
import { findMigration, loadWorkflowModule } from '../load-workflows.js';
import { withEngine } from '../open-engine.js';

interface MigrateFlags {
  workflows?: string;
  migration?: string;
  limit?: string;
  percent?: string;
  dryRun?: boolean;
  reason?: string;
  actor?: string;
  db?: string;
  json?: boolean;
}

interface RollbackFlags {
  reason?: string;
  actor?: string;
  db?: string;
  json?: boolean;
}

/**
 * `waymark migrate --workflows <module> --migration <name>`:
 * migrates the in-flight runs of the migration's source version.
 */
export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description(
      "migrate the in-flight runs of a migration's source version to its target, " +
        'each on its own; runs already migrated are skipped, so it is safe to run again',
    )
    .requiredOption(
      '--workflows <module>',
      'module exporting the workflows (the target version included) and `migrations`',
    )
    .requiredOption('--migration <name>', 'the migration to apply (its name in the module)')
    .option('--limit <n>', 'migrate at most this many runs (default: all)')
    .option('--percent <p>', 'migrate this share of the in-flight runs, 1..100, oldest first (default: 100)')
    .option(
      '--dry-run',
      'verify each run only (replay and validate): print what would be migrated and refused; nothing changes',
    )
    .option('--reason <text>', "why: recorded in each migrated run's history (default: '(no reason given)')")
    .option('--actor <name>', 'who migrates: recorded in the history (default: the OS user name)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print { migration, workflow, from, to, dryRun, counts, migrated, refused, failed } as JSON')
    .action(async (flags: MigrateFlags) => {
      // Everything the user typed is checked before the store is touched.
      const limit = parsePositiveInt(flags.limit, '--limit');
      const percent = parsePercent(flags.percent);
      if (flags.actor !== undefined && flags.actor.trim() === '') throw new UsageError('--actor needs a name');
      const module = await loadWorkflowModule(flags.workflows);
      const migration = findMigration(module, flags.migration!, flags.workflows);
      const dryRun = flags.dryRun === true;
      const report = await withEngine(flags, { workflows: module.workflows }, (engine) =>
        engine.migrateAll({ migration, limit, percent, dryRun, actor: flags.actor, reason: flags.reason }),
      );
      print(report, migration, dryRun, flags.json === true);
      if (report.failed.length > 0) {
        const codes = [...new Set(report.failed.map((f) => f.code))];
        throw new WaymarkError(
          (codes.length === 1 ? codes[0]! : 'E_RUN_BUSY') as ErrorCode,
          `${report.failed.length} run${report.failed.length === 1 ? '' : 's'} could not be migrated ` +
            `now (${report.failed.map((f) => f.runId).join(', ')}); run the command again to retry them`,
        );
      }
    });
}

/** `waymark runs rollback-migration <run>`: back to the epoch and version before the run's last migration. */
export function rollbackMigrationCommand(runs: Command): void {
  runs
    .command('rollback-migration')
    .description(
      'take a migrated run back to the version and history it had before its last migration; ' +
        'refused once a step has completed since',
    )
    .argument('<run>', 'run id')
    .option('--reason <text>', "why: recorded in the run's history (default: '(no reason given)')")
    .option('--actor <name>', 'who rolls back: recorded in the history (default: the OS user name)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print { action, applied, migration, run } as JSON')
    .action(async (runId: string, flags: RollbackFlags) => {
      if (flags.actor !== undefined && flags.actor.trim() === '') throw new UsageError('--actor needs a name');
      const { run, migration } = await withEngine(flags, {}, async (engine) => {
        const rolledBack = await engine.rollbackMigration(runId, { actor: flags.actor, reason: flags.reason });
        const event = [...(await engine.history(runId))].reverse().find((e) => e.type === 'migration_rolled_back');
        return { run: rolledBack, migration: event?.data?.migration };
      });
      if (flags.json) {
        printJson({ action: 'rollback_migration', applied: true, migration: migration ?? null, run });
        return;
      }
      const which = migration === undefined ? 'the migration' : `migration '${migration}'`;
      process.stdout.write(
        `rolled back ${which} of run '${run.id}': it is back on ${run.workflow} v${run.version} in history ` +
          `epoch ${run.epoch} (the migrated epoch is kept); it is now ${run.status}\n${runDetails(run)}\n`,
      );
    });
}

function parsePercent(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 100)
    throw new UsageError(`--percent must be a number from 1 to 100, got '${value}'`);
  return n;
}

function print(report: MigrateAllReport, migration: MigrationDefinition, dryRun: boolean, json: boolean): void {
  const { migrated, refused, failed } = report;
  const counts = { migrated: migrated.length, refused: refused.length, failed: failed.length };
  if (json) {
    printJson({
      migration: migration.name,
      workflow: migration.workflow,
      from: migration.from,
      to: migration.to,
      dryRun,
      counts,
      migrated,
      refused,
      failed,
      warnings: report.warnings,
    });
    return;
  }
  const verb = dryRun ? 'would migrate' : 'migrated';
  const lines = [
    `${dryRun ? 'dry run: ' : ''}migration '${migration.name}' ` +
      `(${migration.workflow} v${migration.from} -> v${migration.to}): ` +
      `${counts.migrated} ${verb}, ${counts.refused} refused, ` +
      `${counts.failed} failed${dryRun ? '; nothing was changed' : ''}`,
  ];
  lines.push(...report.warnings.map((w) => `warning: ${w}`));
  if (migrated.length > 0) lines.push('', `${verb}:`, ...migrated.map((id) => `  ${id}`));
  if (refused.length > 0) {
    lines.push('', 'refused (the migration does not fit them; they stay as they were):');
    lines.push(
      indent(
        table(
          ['run', 'code', 'reason'],
          refused.map((r) => [r.runId, r.code, r.reason]),
          Infinity,
        ),
      ),
    );
  }
  if (failed.length > 0) {
    lines.push('', 'failed (busy or changed meanwhile; run the command again):');
    lines.push(
      indent(
        table(
          ['run', 'code', 'reason'],
          failed.map((r) => [r.runId, r.code, r.reason]),
          Infinity,
        ),
      ),
    );
  }
  if (counts.migrated + counts.refused + counts.failed === 0)
    lines.push(`(no in-flight runs of ${migration.workflow} v${migration.from} to migrate)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
