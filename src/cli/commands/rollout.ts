import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import type { Rollout, RolloutAction } from '../../index.js';
import { DB_HELP, parsePositiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { printJson, table } from '../format.js';
import { loadWorkflows } from '../load-workflows.js';
import { withEngine } from '../open-engine.js';

interface RolloutFlags {
  to?: string;
  from?: string;
  percent?: string;
  step?: string;
  every?: string;
  maxFailureRate?: string;
  minSample?: string;
  workflows?: string;
  reason?: string;
  db?: string;
  json?: boolean;
}

/**
 * `waymark rollout start|upgrade|status|evaluate|promote|pause|resume|abort`:
 * progressive, health-gated rollouts of starts and of in-flight runs.
 */
export function rolloutCommand(program: Command): void {
  const rollout = program.command('rollout').description('progressive, health-gated rollouts of new versions');
  const progressive = (verb: 'start' | 'upgrade', description: string, kind: 'starts' | 'upgrade') =>
    rollout
      .command(verb)
      .description(description)
      .argument('<workflow>', 'workflow name')
      .requiredOption('--to <n>', 'candidate version')
      .option('--from <n>', 'current version (default: the highest active one)')
      .option(
        '--percent <p>',
        `first share of ${kind === 'starts' ? 'starts' : 'in-flight runs'} for the candidate, 0..100 (default: 5)`,
      )
      .option('--step <p>', 'added at each healthy promotion (default: 25)')
      .option('--every <duration>', "least time between promotions, e.g. '10m' (default: 10m)")
      .option(
        '--max-failure-rate <ratio>',
        "roll back above this multiple of the current version's failure rate, e.g. '2x' (default: 2x)",
      )
      .option('--min-sample <n>', 'finished candidate runs needed to judge health (default: 20)')
      .option('--workflows <module>', "module with the versions involved (upgrading runs needs both versions' code)")
      .option('--db <store>', DB_HELP)
      .option('--json', 'print the rollout as JSON')
      .action(async (workflow: string, flags: RolloutFlags) => {
        const options = {
          kind,
          to: parsePositiveInt(flags.to, '--to')!,
          from: parsePositiveInt(flags.from, '--from'),
          percent: parsePercent(flags.percent, '--percent'),
          step: parsePercent(flags.step, '--step'),
          everyMs: flags.every === undefined ? undefined : parseEvery(flags.every),
          maxFailureRatio: parseRatio(flags.maxFailureRate),
          minSample: parsePositiveInt(flags.minSample, '--min-sample'),
        };
        const workflows = flags.workflows ? await loadWorkflows(flags.workflows) : [];
        if (kind === 'upgrade') requireTargetCode(workflow, options.to, flags.workflows, workflows);
        const [started, warnings] = await withEngine(flags, { workflows }, async (engine) => {
          const rollout = await engine.startRollout(workflow, options);
          if (kind !== 'upgrade') return [rollout, []] as const;
          // the first share moves now
          const moved = (await engine.evaluateRollouts({ workflow, kind }))[0] ?? rollout;
          return [moved, await engine.unservedWarnings(workflow, moved.to, moved.eligible ?? 0, 'rollout')] as const;
        });
        show([started], flags.json === true);
        // JSON output stays the rollouts alone: warnings go to stderr there
        for (const w of warnings) (flags.json ? process.stderr : process.stdout).write(`warning: ${w}\n`);
      });
  progressive(
    'start',
    'route a share of new starts to a candidate version, to be promoted or rolled back by its health',
    'starts',
  );
  progressive(
    'upgrade',
    'upgrade (verified) a growing share of compatible in-flight runs to a candidate version, ' +
      'health-gated; the others stay and drain',
    'upgrade',
  );
  rollout
    .command('status')
    .description('list rollouts with their share, status and outcome')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print JSON')
    .action(async (flags: RolloutFlags) =>
      show(await withEngine(flags, {}, (engine) => engine.rollouts()), flags.json === true),
    );
  rollout
    .command('evaluate')
    .description(
      'look at every running rollout once: promote the healthy, roll back the unhealthy (run it on a schedule)',
    )
    .option(
      '--workflows <module>',
      "module with the versions involved (moving runs back needs the previous version's code)",
    )
    .option('--db <store>', DB_HELP)
    .option('--json', 'print JSON')
    .action(async (flags: RolloutFlags) => {
      const workflows = flags.workflows ? await loadWorkflows(flags.workflows) : [];
      show(await withEngine(flags, { workflows }, (engine) => engine.evaluateRollouts()), flags.json === true);
    });
  const decisions: [RolloutAction, string][] = [
    ['promote', 'finish a rollout now: all routed starts (the old version drains), or every compatible run upgraded'],
    ['pause', 'hold promotions (the health gate still rolls back)'],
    ['resume', 'let a paused rollout promote again'],
    ['abort', 'stop a rollout now: starts route back, replay-compatible candidate runs move back'],
  ];
  for (const [action, description] of decisions) {
    rollout
      .command(action)
      .description(description)
      .argument('<workflow>', 'workflow name')
      .option('--kind <kind>', "'starts' or 'upgrade', when the workflow has both rollouts in progress")
      .option('--workflows <module>', 'module with the versions involved (moving runs needs their code)')
      .option('--reason <text>', 'why (recorded in the outcome)')
      .option('--db <store>', DB_HELP)
      .option('--json', 'print JSON')
      .action(async (workflow: string, flags: RolloutFlags & { kind?: string }) => {
        if (flags.kind !== undefined && flags.kind !== 'starts' && flags.kind !== 'upgrade')
          throw new UsageError(`--kind must be 'starts' or 'upgrade', got '${flags.kind}'`);
        const workflows = flags.workflows ? await loadWorkflows(flags.workflows) : [];
        const kind = flags.kind as 'starts' | 'upgrade' | undefined;
        show(
          [
            await withEngine(flags, { workflows }, (engine) =>
              engine.changeRollout(workflow, action, { kind, reason: flags.reason }),
            ),
          ],
          flags.json === true,
        );
      });
  }
}

function show(rollouts: Rollout[], json: boolean): void {
  if (json) {
    printJson(rollouts);
    return;
  }
  if (rollouts.length === 0) return void process.stdout.write('(no rollouts)\n');
  const rows = rollouts.map((r) => [
    r.workflow,
    r.kind,
    `v${r.from} -> v${r.to}`,
    `${r.percent}%`,
    r.status,
    r.outcome ?? '',
    r.movedBack
      ? `moved back ${r.movedBack.length}, kept ${r.keptOnCandidate?.length ?? 0}`
      : r.upgraded
        ? `upgraded ${r.upgraded.length}/${r.eligible}, ${r.incompatible?.length ?? 0} stay`
        : '',
  ]);
  process.stdout.write(`${table(['workflow', 'kind', 'versions', 'share', 'status', 'outcome', 'runs'], rows)}\n`);
}

function parsePercent(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100)
    throw new UsageError(`${flag} must be a number between 0 and 100, got '${value}'`);
  return n;
}

function parseRatio(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/x$/i, ''));
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--max-failure-rate must look like '2x', got '${value}'`);
  return n;
}

function parseEvery(value: string): number {
  try {
    return parseDuration(value, '--every');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * `rollout upgrade` verifies each run by replaying the target version's code over its history: without that code
 * every run would be judged incompatible, so the command refuses (exit 2) instead.
 */
function requireTargetCode(
  workflow: string,
  to: number,
  module: string | undefined,
  workflows: { name: string; version: number }[],
): void {
  if (workflows.some((w) => w.name === workflow && w.version === to)) return;
  const need = `the code of ${workflow} v${to} to verify each run against it`;
  if (module === undefined)
    throw new UsageError(`rollout upgrade needs ${need}: give --workflows <module> with that version`);
  const has = workflows.map((w) => `${w.name} v${w.version}`).join(', ') || 'no workflows';
  throw new UsageError(`rollout upgrade needs ${need}, but '${module}' has ${has}`);
}
