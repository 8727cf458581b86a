import type { Command } from 'commander';
import type { Engine, VersionStatus, VersionSummary } from '../../index.js';
import { DB_HELP, parsePositiveInt } from '../args.js';
import { shellQuote } from '../describe-text.js';
import { UsageError } from '../errors.js';
import { printJson } from '../format.js';
import { cliName, withEngine } from '../open-engine.js';
import { drainSchedulesText, drainText, patchesTable, versionsTable } from '../versions-text.js';

interface VersionsFlags {
  db?: string;
  json?: boolean;
  patches?: boolean;
}

interface ChangeFlags {
  db?: string;
  json?: boolean;
}

interface StatusChange {
  verb: 'drain' | 'retire' | 'activate' | 'quarantine';
  to: VersionStatus;
  description: string;
  apply(engine: Engine, workflow: string, version: number): Promise<void>;
}

const CHANGES: StatusChange[] = [
  {
    verb: 'drain',
    to: 'draining',
    description: 'stop routed starts to a version; its runs go on (pinned starts to it need --force)',
    apply: (engine, workflow, version) => engine.drain(workflow, version),
  },
  {
    verb: 'retire',
    to: 'retired',
    description: 'retire a version: no starts at all; refused while any of its runs is not finished',
    apply: (engine, workflow, version) => engine.retire(workflow, version),
  },
  {
    verb: 'activate',
    to: 'active',
    description:
      "make a draining, retired or quarantined version take routed starts again (a quarantined one's runs resume)",
    apply: (engine, workflow, version) => engine.activate(workflow, version),
  },
  {
    verb: 'quarantine',
    to: 'quarantined',
    description:
      "stop a version's runs for a decision: none is executed (running ones " +
      'stop at their next step) and it takes no starts; activate resumes them',
    apply: (engine, workflow, version) => engine.quarantine(workflow, version),
  },
];

export function versionsCommand(program: Command): void {
  const versions = program
    .command('versions')
    .description(
      'list workflow versions (status, run counts, where runs are parked, ' +
        'drain progress, workers); drain, retire or activate one',
    )
    .option('--db <store>', DB_HELP)
    .option(
      '--patches',
      'show patch gates instead: per workflow and patch id, in-flight runs patched and on the old branch',
    )
    .option('--json', 'print JSON')
    .action(async (flags: VersionsFlags) => {
      if (flags.patches) {
        const patches = await withEngine(flags, {}, (engine) => engine.patches());
        if (flags.json) printJson(patches);
        else process.stdout.write(`${patchesTable(patches)}\n`);
        return;
      }
      const list = await withEngine(flags, {}, (engine) => engine.versions());
      if (flags.json) printJson(list);
      else process.stdout.write(`${versionsTable(list)}\n`);
    });

  for (const change of CHANGES) {
    versions
      .command(change.verb)
      .description(change.description)
      .argument('<workflow>', 'workflow name')
      .argument('<version>', 'version number')
      .option('--db <store>', DB_HELP)
      .option('--json', 'print { workflow, version, from, to, changed, version summary } as JSON')
      .action(async (workflow: string, versionText: string, flags: ChangeFlags) => {
        // Everything the user typed is checked before the store is touched.
        if (workflow.trim() === '') throw new UsageError('<workflow> needs a workflow name');
        const version = parsePositiveInt(versionText, '<version>')!;
        const { before, after } = await withEngine(flags, {}, async (engine) => {
          const found = (list: VersionSummary[]) => list.find((v) => v.workflow === workflow && v.version === version);
          const before = found(await engine.versions());
          // refuses an unknown version (E_UNKNOWN_VERSION) or unfinished runs (E_RUN_STATE)
          await change.apply(engine, workflow, version);
          return { before, after: found(await engine.versions())! };
        });
        const from = before?.status ?? after.status;
        if (flags.json)
          printJson({ workflow, version, from, to: change.to, changed: from !== change.to, summary: after });
        else process.stdout.write(`${changeText(change, from, after, flags.db)}\n`);
        if (!flags.json && change.to === 'draining') {
          const moved = (before?.schedules ?? []).filter((id) => !after.schedules.includes(id));
          const lines = drainSchedulesText(after.schedules, moved);
          if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
        }
      });
  }
}

function changeText(change: StatusChange, from: VersionStatus, v: VersionSummary, db: string | undefined): string {
  const name = `${v.workflow} v${v.version}`;
  const head =
    from === change.to ? `${name} is already ${change.to}: nothing changed` : `${name}: ${from} -> ${change.to}`;
  const follow = `${cliName()} versions${db === undefined ? '' : ` --db ${shellQuote(db)}`}`;
  switch (change.to) {
    case 'draining': {
      const runs = `${v.inFlight} run${v.inFlight === 1 ? '' : 's'} in flight`;
      return [
        head,
        `No new routed starts go to it; its runs go on (${runs}). Pinned starts to it need --force.`,
        `drain: ${drainText(v)}`,
        `Follow the drain with: ${follow}`,
      ].join('\n');
    }
    case 'retired':
      return `${head}\nIt takes no new starts, pinned or forced. Its finished runs stay readable.`;
    case 'quarantined':
      return (
        `${head}\nIts ${v.inFlight} in-flight run${v.inFlight === 1 ? '' : 's'} are not executed ` +
        `until you decide: upgrade or cancel them, or \`versions activate\` to resume them.`
      );
    default:
      return `${head}\nIt takes starts again; routed starts go to the highest active version.`;
  }
}
