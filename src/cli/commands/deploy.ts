import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { DeployCheckReport, DeployPlan, WorkflowCheck } from '../../index.js';
import { planText } from '../../versions/deploy-plan.js';
import { DB_HELP, parsePositiveInt, readJsonItems } from '../args.js';
import { printJson, table } from '../format.js';
import { loadWorkflowModule } from '../load-workflows.js';
import { UsageError } from '../errors.js';
import { compareConductorSources, compileWorkflowDef, declarativeSupport } from '../../declarative/compile.js';
import { parseWorkflowDef } from '../../declarative/definitions.js';
import type { WorkflowDefinition } from '../../runtime/workflow.js';
import { withEngine } from '../open-engine.js';

interface CheckFlags {
  workflows?: string;
  definitions?: string;
  workflow?: string;
  sampleCompleted?: string;
  db?: string;
  json?: boolean;
}

/**
 * `waymark deploy check|plan`: replays in-flight runs against
 * candidate code; exit 0 only when the change is safe for all of them.
 */
export function deployCommand(program: Command): void {
  const deploy = program
    .command('deploy')
    .description('deploy safety: check candidate code against the runs in flight');
  const candidatesCommand = (
    verb: 'check' | 'plan',
    description: string,
    print: (report: DeployCheckReport | DeployPlan, json: boolean) => void,
  ) =>
    deploy
      .command(verb)
      .description(description)
      .option(
        '--workflows <module>',
        'module exporting the candidate workflows (and `migrations` that may make runs fit)',
      )
      .option(
        '--definitions <file>',
        'JSON file with candidate declarative workflow definitions (one or an array); ' +
          'their structural diff is reported too',
      )
      .option('--workflow <name>', 'only this workflow')
      .option('--sample-completed <n>', 'recently completed runs per workflow replayed too (default: 20)')
      .option('--db <store>', DB_HELP)
      .option('--json', 'print the full report as JSON')
      .action(async (flags: CheckFlags) => {
        const sampleCompleted = parsePositiveInt(flags.sampleCompleted, '--sample-completed');
        if (!flags.workflows && !flags.definitions)
          throw new UsageError('give the candidates: --workflows <module> and/or --definitions <file>');
        const module = flags.workflows ? await loadWorkflowModule(flags.workflows) : { workflows: [], migrations: [] };
        const declared = flags.definitions ? await loadDefinitionsFile(flags.definitions) : [];
        const candidates = [...module.workflows, ...declared];
        const options = {
          workflow: flags.workflow,
          sampleCompleted,
          migrations: module.migrations,
          compareSources: compareConductorSources,
          // Kept in the store as a deploy report (GET /v1/deploy/reports); a failing write only warns.
          keep: { source: 'cli' as const, actor: cliActor() },
        };
        // The candidates are not registered: a changed version must not be recorded by a check.
        const result = await withEngine<DeployCheckReport | DeployPlan>(flags, {}, (engine) =>
          verb === 'check' ? engine.deployCheck(candidates, options) : engine.deployPlan(candidates, options),
        );
        print(result, flags.json === true);
        if (!result.safe) process.exitCode = 1;
      });
  candidatesCommand(
    'check',
    'replay every in-flight run (and a sample of completed ones) against the candidate workflows; ' +
      'nothing executes; exit 1 when some in-flight run would break',
    (report, json) => (json ? printJson(report) : process.stdout.write(`${reportText(report as DeployCheckReport)}\n`)),
  );
  candidatesCommand(
    'plan',
    'the check as a runbook: patch gates for divergences, per-version upgrade/migrate/drain with ETAs, ' +
      'rollout steps, canary and rollback; exit 1 when not safe',
    (plan, json) => (json ? printJson(plan) : process.stdout.write(`${planText(plan as DeployPlan)}\n`)),
  );
}

/** Who runs the CLI, as deploy reports record it: the OS user. */
function cliActor(): string | null {
  try {
    return userInfo().username || null;
  } catch {
    return null;
  }
}

function reportText(report: DeployCheckReport): string {
  const blocks = report.workflows.map(workflowText);
  const verdict = report.safe
    ? 'SAFE: every in-flight run replays the candidate code'
    : 'NOT SAFE: some in-flight runs would break';
  return [...blocks, `${verdict} (${report.checkedRuns} runs checked in ${report.durationMs} ms)`].join('\n\n');
}

function workflowText(w: WorkflowCheck): string {
  const registered =
    w.candidate.registered === 'new'
      ? 'new version'
      : w.candidate.registered === 'changed'
        ? 'CHANGED code under a registered version'
        : 'unchanged';
  const head = `${w.workflow} v${w.candidate.version} (${registered}): ${classText(w)}`;
  const lines = [head, ...inFlightLines(w), ...w.reasons.slice(0, 20).map((r) => `  - ${r}`)];
  const structure = w.structure?.diff as { kind?: string; reasons?: string[] } | undefined;
  if (structure)
    lines.push(
      `  graph vs v${w.structure!.from}: ${structure.kind}`,
      ...(structure.reasons ?? []).slice(0, 20).map((r) => `  * ${r}`),
    );
  if (w.reasons.length > 20) lines.push(`  - ... ${w.reasons.length - 20} more`);
  const risky = w.inFlight.filter((r) => r.verdict !== 'compatible');
  if (risky.length) {
    const rows = risky
      .slice(0, 50)
      .map((r) => [
        r.runId,
        `v${r.version}`,
        r.status,
        r.verdict,
        r.migration ?? (r.replay.ok ? '' : r.replay.message),
      ]);
    lines.push(table(['run', 'version', 'status', 'verdict', 'detail'], rows).replace(/^/gm, '  '));
  }
  return lines.join('\n');
}

/**
 * The change class, and whether it is a risk: "breaking" that only completed runs show is said to be so (no run in
 * flight is at risk, the check is SAFE).
 */
export function classText(w: WorkflowCheck): string {
  if (!w.safe) return `${w.classification}, not safe`;
  const breaking = w.classification === 'breaking';
  const inFlightBreaks = w.inFlight.some((r) => r.verdict !== 'compatible');
  return breaking && !inFlightBreaks
    ? 'breaking for completed runs only (they diverge; no run in flight is at risk: safe)'
    : w.classification;
}

/** The runs in flight: those of the candidate's own version, then the verdicts of every in-flight run replayed. */
export function inFlightLines(w: WorkflowCheck): string[] {
  const own = `  in flight on v${w.candidate.version}: ${w.versionInFlight || 'none'}`;
  if (w.candidate.registered === 'same')
    return [`${own}${w.versionInFlight ? ' (same code: they go on as they are)' : ''}`];
  const counts = Object.entries(w.counts)
    .filter(([, n]) => n > 0)
    .map(([verdict, n]) => `${verdict} ${n}`)
    .join(', ');
  return [own, `  in flight on any version, replayed against v${w.candidate.version}: ${counts || 'none'}`];
}

/** Candidate declarative versions from a JSON file (one definition or an array); bad files are usage errors. */
async function loadDefinitionsFile(path: string): Promise<WorkflowDefinition[]> {
  const items = readJsonItems([path], '--definitions');
  const { env } = await declarativeSupport();
  return items.map((def) => compileWorkflowDef(parseWorkflowDef(def), env));
}
