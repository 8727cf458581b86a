import type { Command } from 'commander';
import type { VersionSummary } from '../../index.js';
import { DB_HELP } from '../args.js';
import { printJson, table } from '../format.js';
import { withEngine } from '../open-engine.js';

interface VersionsFlags {
  db?: string;
  json?: boolean;
}

export function versionsCommand(program: Command): void {
  program
    .command('versions')
    .description('list workflow versions: exact run counts by status, live workers serving each, stranded runs')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print JSON')
    .action(async (flags: VersionsFlags) => {
      const versions = await withEngine(flags, {}, (engine) => engine.versions());
      if (flags.json) printJson(versions);
      else process.stdout.write(`${versionsTable(versions)}\n`);
    });
}

function versionsTable(versions: VersionSummary[]): string {
  if (versions.length === 0) return '(no workflow versions registered)';
  return table(
    ['workflow', 'version', 'in flight', 'stranded', 'served by', 'runs by status'],
    versions.map((v) => [
      v.workflow,
      `v${v.version}`,
      String(v.inFlight),
      String(v.stranded),
      v.servedBy.length ? v.servedBy.join(', ') : '(no live worker)',
      Object.entries(v.runs)
        .map(([status, count]) => `${status} ${count}`)
        .join(', '),
    ]),
  );
}
