import type { Command } from 'commander';
import type { DeployCheckReport, DeployPlan, WorkflowCheck } from '../../index.js';
import { planText } from '../../runtime/deploy-plan.js';
import { DB_HELP, parsePositiveInt } from '../args.js';
import { printJson, table } from '../format.js';
import { loadWorkflowModule } from '../load-workflows.js';
import { withEngine } from '../open-engine.js';

interface CheckFlags {
  workflows?: string;
  workflow?: string;
  sampleCompleted?: string;
  db?: string;
  json?: boolean;
}

/** `waymark deploy check|plan`: replays in-flight runs against candidate code; exit 0 only when the change is safe for all of them. */
export function deployCommand(program: Command): void {
  const deploy = program.command('deploy').description('deploy safety: check candidate code against the runs in flight');
  const candidatesCommand = (verb: 'check' | 'plan', description: string, print: (report: DeployCheckReport | DeployPlan, json: boolean) => void) =>
    deploy
      .command(verb)
      .description(description)
      .requiredOption('--workflows <module>', 'module exporting the candidate workflows (and `migrations` that may make runs fit)')
      .option('--workflow <name>', 'only this workflow')
      .option('--sample-completed <n>', 'recently completed runs per workflow replayed too (default: 20)')
      .option('--db <store>', DB_HELP)
      .option('--json', 'print the full report as JSON')
      .action(async (flags: CheckFlags) => {
        const sampleCompleted = parsePositiveInt(flags.sampleCompleted, '--sample-completed');
        const module = await loadWorkflowModule(flags.workflows);
        const options = { workflow: flags.workflow, sampleCompleted, migrations: module.migrations };
        // The candidates are not registered: a changed version must not be recorded by a check.
        const result = await withEngine<DeployCheckReport | DeployPlan>(flags, {}, (engine) => (verb === 'check' ? engine.deployCheck(module.workflows, options) : engine.deployPlan(module.workflows, options)));
        print(result, flags.json === true);
        if (!result.safe) process.exitCode = 1;
      });
  candidatesCommand(
    'check',
    'replay every in-flight run (and a sample of completed ones) against the candidate workflows; nothing executes; exit 1 when some in-flight run would break',
    (report, json) => (json ? printJson(report) : process.stdout.write(`${reportText(report as DeployCheckReport)}\n`)),
  );
  candidatesCommand(
    'plan',
    'the check as a runbook: patch gates for divergences, per-version upgrade/migrate/drain with ETAs, rollout steps, canary and rollback; exit 1 when not safe',
    (plan, json) => (json ? printJson(plan) : process.stdout.write(`${planText(plan as DeployPlan)}\n`)),
  );
}

function reportText(report: DeployCheckReport): string {
  const blocks = report.workflows.map(workflowText);
  const verdict = report.safe ? 'SAFE: every in-flight run replays the candidate code' : 'NOT SAFE: some in-flight runs would break';
  return [...blocks, `${verdict} (${report.checkedRuns} runs checked in ${report.durationMs} ms)`].join('\n\n');
}

function workflowText(w: WorkflowCheck): string {
  const head = `${w.workflow} v${w.candidate.version} (${w.candidate.registered === 'new' ? 'new version' : w.candidate.registered === 'changed' ? 'CHANGED code under a registered version' : 'unchanged'}): ${w.classification}${w.safe ? '' : ', not safe'}`;
  const counts = Object.entries(w.counts)
    .filter(([, n]) => n > 0)
    .map(([verdict, n]) => `${verdict} ${n}`)
    .join(', ');
  const lines = [head, `  in flight: ${counts || 'none'}`, ...w.reasons.slice(0, 20).map((r) => `  - ${r}`)];
  if (w.reasons.length > 20) lines.push(`  - ... ${w.reasons.length - 20} more`);
  const risky = w.inFlight.filter((r) => r.verdict !== 'compatible');
  if (risky.length) {
    const rows = risky.slice(0, 50).map((r) => [r.runId, `v${r.version}`, r.status, r.verdict, r.migration ?? (r.replay.ok ? '' : r.replay.message)]);
    lines.push(table(['run', 'version', 'status', 'verdict', 'detail'], rows).replace(/^/gm, '  '));
  }
  return lines.join('\n');
}
