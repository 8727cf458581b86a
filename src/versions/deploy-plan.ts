import type { Divergence } from '../core/replay.js';
import { isTerminal, RUN_STATUSES, type Run } from '../core/types.js';
import type { Store } from '../store/types.js';
import {
  deployCheck,
  type DeployCheckOptions,
  type DeployCheckReport,
  type RunCheck,
  type WorkflowCheck,
} from './deploy-check.js';
import type { WorkflowRegistry } from '../runtime/registry.js';
import type { RolloutOptions } from './rollout.js';
import type { WorkflowDefinition } from '../runtime/workflow.js';

/** Where a patch gate keeps old runs replaying: the candidate's step that diverges, and the gate to put around it. */
export interface PatchSuggestion {
  seq: number;
  /** What the runs' histories recorded at that point. */
  recorded: string;
  /** What the candidate code asks for there. */
  candidate: string;
  /** In-flight runs that diverge here, and their versions. */
  runs: number;
  versions: number[];
  /** The step (by name) where the gate goes, and the code to put there. */
  at: string;
  gate: string;
}

/** What to do with one version's in-flight runs. */
export interface VersionHandling {
  version: number;
  inFlight: number;
  /** Replay the candidate as they are: upgrade them in place. */
  upgrade: number;
  /** Replay the candidate through a registered migration (named). */
  migrate: number;
  migrations: string[];
  /** Neither: they finish on their version, whose workers must stay. */
  drain: number;
  /** When the last of them is due to wake if every wait runs to its deadline; null when some wait has none. */
  drainEta: Date | null;
  /** Drain runs waiting with no deadline (a signal without timeout, an operator). */
  waitingWithoutDeadline: number;
}

export interface WorkflowPlan {
  workflow: string;
  candidate: number;
  verdict: string;
  check: Pick<WorkflowCheck, 'classification' | 'reasons' | 'safe' | 'counts'>;
  divergences: PatchSuggestion[];
  inFlight: VersionHandling[];
  /** The rollout, in order: commands an operator runs. */
  steps: string[];
  canary: Required<Omit<RolloutOptions, 'from'>> & { from: number | null; fullAfterMs: number };
  rollback: string[];
}

export interface DeployPlan {
  safe: boolean;
  workflows: WorkflowPlan[];
  generatedAt: Date;
}

/**
 * The canary the plan proposes. (Default: 5% first, +25% every 10 minutes, roll back above 2x failures over 20 runs)
 */
export const PLAN_CANARY = { percent: 5, step: 25, everyMs: 600_000, maxFailureRatio: 2, minSample: 20 };

/** Runs the deploy check and plans from it, with the runs' waits (for drain ETAs) and the routed versions. */
export async function deployPlan(
  store: Store,
  registry: WorkflowRegistry,
  candidates: WorkflowDefinition[],
  options?: DeployCheckOptions,
): Promise<DeployPlan> {
  const report = await deployCheck(store, candidates, options);
  const runs = new Map<string, Run>();
  const routedFrom = new Map<string, number>();
  const live = RUN_STATUSES.filter((s) => !isTerminal(s));
  for (const w of report.workflows) {
    for (const run of await store.listRuns({ workflow: w.workflow, status: live, limit: 1_000_000 }))
      runs.set(run.id, run);
    await registry.refresh(store, w.workflow, 0);
    const from = currentVersion(registry, w.workflow, w.candidate.version);
    if (from !== undefined && from !== w.candidate.version) routedFrom.set(w.workflow, from);
  }
  return planDeploy(report, runs, routedFrom);
}

/** The version routed starts go to now (a route's current one, else the highest active one below the candidate). */
function currentVersion(registry: WorkflowRegistry, workflow: string, candidate: number): number | undefined {
  const route = registry.routeOf(workflow);
  if (route) return route.current;
  for (let v = candidate - 1; v >= 1; v--) if (registry.statusOf(workflow, v) === 'active') return v;
  return undefined;
}

/**
 * Turns a deploy check into the runbook: the verdict; for each divergence, where a `ctx.patched()` gate
 * keeps old runs replaying; per version, how many runs upgrade, migrate or drain (with an ETA); the
 * rollout steps in order; the canary; the rollback.
 */
export function planDeploy(
  report: DeployCheckReport,
  inFlightRuns: Map<string, Run>,
  routedFrom: Map<string, number>,
): DeployPlan {
  const workflows = report.workflows
    .filter((w) => w.classification !== 'unchanged')
    .map((w) => planWorkflow(w, inFlightRuns, routedFrom.get(w.workflow)));
  return { safe: report.safe, workflows, generatedAt: new Date() };
}

function planWorkflow(check: WorkflowCheck, runs: Map<string, Run>, from: number | undefined): WorkflowPlan {
  const to = check.candidate.version;
  const name = check.workflow;
  const inFlight = handling(check.inFlight, runs);
  const divergences = suggestGates(name, to, check.inFlight);
  const canary = {
    ...PLAN_CANARY,
    to,
    from: from ?? null,
    fullAfterMs: Math.ceil((100 - PLAN_CANARY.percent) / PLAN_CANARY.step) * PLAN_CANARY.everyMs,
  };
  const steps: string[] = [];
  if (check.candidate.registered === 'changed') {
    steps.push(
      `STOP: v${to} is already registered with other code; give the change a new version number (a registered ` +
        `version is immutable)`,
    );
  }
  if (divergences.length)
    steps.push(
      `optional: add the ${divergences.length} patch gate(s) below so diverging runs can be upgraded instead of ` +
        `drained, then run this plan again`,
    );
  steps.push(
    `deploy workers that serve v${to} and every version with runs in flight ` +
      `(${inFlight.map((v) => `v${v.version}`).join(', ') || 'none'}); \`waymark versions\` shows each served and ` +
      `none stranded`,
  );
  if (from === undefined)
    steps.push(`a new workflow: v${to} takes every start once registered (no earlier version to canary against)`);
  else
    steps.push(
      `waymark rollout start ${name} --to ${to} --from ${from} --percent ${canary.percent} --step ` +
        `${canary.step} --every 10m --max-failure-rate ${canary.maxFailureRatio}x --min-sample ${canary.minSample}`,
    );
  for (const v of inFlight.filter((h) => h.version !== to)) {
    if (v.upgrade)
      steps.push(
        `after the rollout promotes: waymark rollout upgrade ${name} --from ${v.version} --to ${to} --percent 10 ` +
          `--workflows <module>   # ` +
          `${v.upgrade} compatible run(s)`,
      );
    for (const migration of v.migrations)
      steps.push(
        `waymark migrate --workflows <module> --migration '${migration}' --dry-run, then without --dry-run   # ` +
          `${v.migrate} v${v.version} run(s) replay v${to} through migrations`,
      );
    if (v.drain)
      steps.push(
        `keep v${v.version} workers until its ${v.drain} diverging run(s) finish (${eta(v)}), then waymark versions ` +
          `retire ${name} ${v.version}`,
      );
  }
  const rollback =
    from === undefined
      ? [
          `waymark versions drain ${name} ${to}   # no new starts; its runs go on`,
          `to stop its runs too: waymark versions quarantine ${name} ${to} (they pause for a decision; activate ` +
            `resumes them)`,
        ]
      : [
          `waymark rollout abort ${name} --reason '...'   # also automatic when v${to} fails over ` +
            `${canary.maxFailureRatio}x as often as v${from} over ${canary.minSample} finished runs`,
          `starts route back to v${from} at once and v${to} drains; v${to} runs that replay on ` +
            `v${from} move back (recorded), the others stay on v${to} and finish there: keep its workers until ` +
            `\`waymark versions\` shows none in flight`,
          `to stop v${to}'s runs instead: waymark versions quarantine ${name} ${to} (they pause for a decision; ` +
            `activate resumes them)`,
        ];
  return {
    workflow: name,
    candidate: to,
    verdict: verdictLine(check),
    check: { classification: check.classification, reasons: check.reasons, safe: check.safe, counts: check.counts },
    divergences,
    inFlight,
    steps,
    canary,
    rollback,
  };
}

function verdictLine(check: WorkflowCheck): string {
  const { compatible, compatible_with_migration: migrate, incompatible, schema_mismatch: schema } = check.counts;
  const total = compatible + migrate + incompatible + schema;
  if (check.safe)
    return (
      `SAFE (${check.classification}): all ${total} in-flight runs replay ` +
      `v${check.candidate.version}${migrate ? ` (${migrate} through a migration)` : ''}`
    );
  return (
    `NOT SAFE (${check.classification}): ${incompatible + schema} of ${total} in-flight runs would break on ` +
    `v${check.candidate.version} (${incompatible} diverge, ${schema} fail an output schema); they must drain on ` +
    `their version or be gated`
  );
}

function handling(checks: RunCheck[], runs: Map<string, Run>): VersionHandling[] {
  const byVersion = new Map<number, VersionHandling>();
  for (const check of checks) {
    let v = byVersion.get(check.version);
    if (!v) {
      v = {
        version: check.version,
        inFlight: 0,
        upgrade: 0,
        migrate: 0,
        migrations: [],
        drain: 0,
        drainEta: null,
        waitingWithoutDeadline: 0,
      };
      byVersion.set(check.version, v);
    }
    v.inFlight++;
    if (check.verdict === 'compatible') v.upgrade++;
    else if (check.verdict === 'compatible_with_migration') {
      v.migrate++;
      if (check.migration && !v.migrations.includes(check.migration)) v.migrations.push(check.migration);
    } else v.drain++;
  }
  for (const v of byVersion.values()) {
    const draining = checks
      .filter((c) => c.version === v.version && (c.verdict === 'incompatible' || c.verdict === 'schema_mismatch'))
      .map((c) => runs.get(c.runId));
    let latest = Date.now();
    for (const run of draining) {
      const until = run?.status === 'running' ? Date.now() : run?.waitingFor?.until;
      if (until === undefined) v.waitingWithoutDeadline++;
      else latest = Math.max(latest, until);
    }
    v.drainEta = v.drain && !v.waitingWithoutDeadline ? new Date(latest) : null;
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/** One suggestion per distinct divergence point: the gate goes where the candidate asks for something new. */
function suggestGates(workflow: string, to: number, checks: RunCheck[]): PatchSuggestion[] {
  const points = new Map<string, PatchSuggestion>();
  for (const check of checks) {
    if (check.replay.ok || check.replay.reason !== 'divergence') continue;
    const d = check.replay.divergence;
    const key = `${d.seq}|${show(d.expected)}|${show(d.got)}`;
    const existing = points.get(key);
    if (existing) {
      existing.runs++;
      if (!existing.versions.includes(check.version)) existing.versions.push(check.version);
      continue;
    }
    points.set(key, {
      seq: d.seq,
      recorded: show(d.expected),
      candidate: show(d.got),
      runs: 1,
      versions: [check.version],
      ...gateFor(workflow, to, d),
    });
  }
  return [...points.values()].sort((a, b) => a.seq - b.seq);
}

function gateFor(workflow: string, to: number, d: Divergence): { at: string; gate: string } {
  const returned = d.got.name === '(workflow returned)';
  const at = returned
    ? `the end of the workflow (after the step before seq ${d.seq})`
    : `${d.got.kind} '${d.got.name}'`;
  const id = `${workflow}-v${to}-${slug(returned ? `keep-${d.expected.name}` : d.got.name || d.got.kind)}`;
  const newCode = returned
    ? `// v${to} code: it no longer has ${show(d.expected)}`
    : `${call(d.got)}  // the v${to} code`;
  const oldCode =
    `// the old code: histories made before v${to} go on with ${call(d.expected)} here (leave this ` +
    `branch empty if v${to} still does that next)`;
  const gate = [`if (ctx.patched('${id}')) {`, `  ${newCode}`, '} else {', `  ${oldCode}`, '}'].join('\n');
  return { at, gate };
}

const call = (op: Divergence['got']) =>
  op.kind === 'step'
    ? `await ctx.step('${op.name}', ...);`
    : op.kind === 'signal'
      ? `await ctx.waitForSignal('${op.name}');`
      : op.kind === 'sleep'
        ? 'await ctx.sleep(...);'
        : `ctx.${op.kind}();`;
const show = (op: Divergence['got']) => (op.name ? `${op.kind} '${op.name}'` : op.kind);
const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
const eta = (v: VersionHandling) =>
  v.drainEta ? `due by ${v.drainEta.toISOString()}` : `${v.waitingWithoutDeadline} wait with no deadline: ETA unknown`;

/** The plan as text for people. */
export function planText(plan: DeployPlan): string {
  const blocks = plan.workflows.map((w) => {
    const lines = [
      `${w.workflow} -> v${w.candidate}: ${w.verdict}`,
      ...w.check.reasons.slice(0, 5).map((r) => `  - ${r}`),
    ];
    if (w.divergences.length) {
      lines.push('', '  Divergences and the patch gate that keeps old runs replaying:');
      for (const d of w.divergences) {
        lines.push(
          `  * seq ${d.seq}: history has ${d.recorded}, v${w.candidate} asks for ${d.candidate} (${d.runs} run(s) on ` +
            `v${d.versions.join(', v')}); gate at ${d.at}:`,
        );
        lines.push(...d.gate.split('\n').map((l) => `      ${l}`));
      }
    }
    lines.push('', '  In-flight runs by version:');
    for (const v of w.inFlight)
      lines.push(
        `    v${v.version}: ${v.inFlight} in flight: upgrade ${v.upgrade}, migrate ` +
          `${v.migrate}${v.migrations.length ? ` (${v.migrations.join(', ')})` : ''}, drain ` +
          `${v.drain}${v.drain ? ` (${eta(v)})` : ''}`,
      );
    if (w.inFlight.length === 0) lines.push('    none');
    lines.push('', '  Rollout steps:', ...w.steps.map((s, i) => `    ${i + 1}. ${s}`));
    const c = w.canary;
    lines.push(
      '',
      `  Canary: ${c.percent}% of starts, +${c.step}% every ${c.everyMs / 60_000} min while healthy (100% after ` +
        `~${Math.round(c.fullAfterMs / 60_000)} min), automatic rollback above ${c.maxFailureRatio}x the current ` +
        `failure rate over ${c.minSample} finished runs`,
    );
    lines.push('', '  Rollback:', ...w.rollback.map((r) => `    - ${r}`));
    return lines.join('\n');
  });
  if (blocks.length === 0) blocks.push('no workflow changed: nothing to deploy');
  return [
    ...blocks,
    plan.safe ? 'VERDICT: SAFE for every in-flight run' : 'VERDICT: NOT SAFE for some in-flight runs (see above)',
  ].join('\n\n');
}
