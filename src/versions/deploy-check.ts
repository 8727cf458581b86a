import { mapConcurrently } from './concurrently.js';
import { transformHistory, validateMigration, type MigrationDefinition } from '../core/migration.js';
import { currentEpoch, isTerminal, RUN_STATUSES, type Json, type Run } from '../core/types.js';
import type { Store, WorkflowSource } from '../store/types.js';
import { verifyReplay, type ReplayVerdict } from '../runtime/verify.js';
import type { WorkflowDefinition } from '../runtime/workflow.js';

/** What a candidate version means for one run. */
export type RunVerdict = 'compatible' | 'compatible_with_migration' | 'incompatible' | 'schema_mismatch';

/** How a whole change is classified, from every run observed. */
export type ChangeClass = 'unchanged' | 'config_only' | 'additive' | 'breaking';

export interface RunCheck {
  runId: string;
  version: number;
  status: Run['status'];
  verdict: RunVerdict;
  /** The replay of the candidate over the run's history (after the migration, when one made it fit). */
  replay: ReplayVerdict;
  /** The registered migration that makes the run replay. */
  migration?: string;
}

export interface WorkflowCheck {
  workflow: string;
  candidate: { version: number; fingerprint: string; registered: 'new' | 'same' | 'changed' };
  classification: ChangeClass;
  reasons: string[];
  /** Safe for every in-flight run: each replays (in place or through a registered migration). */
  safe: boolean;
  inFlight: RunCheck[];
  /** Recently completed runs replayed to learn the candidate's paths (they are not at risk). */
  sampled: RunCheck[];
  counts: Record<RunVerdict, number>;
  /** In-flight runs of the candidate's own version (also when its code is unchanged and nothing is replayed). */
  versionInFlight: number;
  /** Declarative candidates: how the graph differs from the registered one it replaces (see compareSources). */
  structure?: { from: number; diff: Json };
}

export interface DeployCheckReport {
  safe: boolean;
  workflows: WorkflowCheck[];
  checkedRuns: number;
  durationMs: number;
}

export interface DeployCheckOptions {
  /** Only this workflow's candidates. (Default: all) */
  workflow?: string;
  /** Recently completed runs per workflow also replayed. (Default: 20) */
  sampleCompleted?: number;
  /** Migrations that may make a run replay the candidate. (Default: none) */
  migrations?: MigrationDefinition[];
  /**
   * Compares two declarative sources (tasks added, removed, reordered, inputs changed). (Default: no structural diff)
   */
  compareSources?: (from: Json, to: Json) => Json;
}

const IN_FLIGHT = RUN_STATUSES.filter((s) => !isTerminal(s));

/** Runs replayed at once by a deploy check. */
const REPLAYS_AT_ONCE = 64;

/**
 * Replays every in-flight run (and a sample of completed ones) of each changed workflow against its
 * candidate code in a sandbox where nothing executes, and says per run and per change whether it is safe.
 */
export async function deployCheck(
  store: Store,
  candidates: WorkflowDefinition[],
  options: DeployCheckOptions = {},
): Promise<DeployCheckReport> {
  const started = Date.now();
  const registered = await store.listWorkflowVersions();
  const sources =
    options.compareSources && candidates.some((c) => c.source !== undefined)
      ? await store.definitions.listSources()
      : [];
  const workflows: WorkflowCheck[] = [];
  const runCounts = await store.countRuns();
  const versionInFlight = (name: string, version: number) =>
    runCounts
      .filter((c) => c.workflow === name && c.version === version && !isTerminal(c.status))
      .reduce((n, c) => n + c.count, 0);
  let checkedRuns = 0;
  for (const candidate of candidates.filter((c) => !options.workflow || c.name === options.workflow)) {
    const known = registered.find((r) => r.workflow === candidate.name && r.version === candidate.version);
    const state = !known ? 'new' : known.fingerprint === candidate.fingerprint ? 'same' : 'changed';
    const info = { version: candidate.version, fingerprint: candidate.fingerprint, registered: state } as const;
    if (state === 'same') {
      workflows.push({
        workflow: candidate.name,
        candidate: info,
        classification: 'unchanged',
        reasons: ['the registered code is the same'],
        safe: true,
        inFlight: [],
        sampled: [],
        counts: emptyCounts(),
        versionInFlight: versionInFlight(candidate.name, candidate.version),
      });
      continue;
    }
    const inFlightRuns = await store.listRuns({ workflow: candidate.name, status: IN_FLIGHT, limit: 1_000_000 });
    const completed = await store.listRuns({
      workflow: candidate.name,
      status: 'completed',
      limit: options.sampleCompleted ?? 20,
    });
    const inFlight = await mapConcurrently(inFlightRuns, REPLAYS_AT_ONCE, (run) =>
      checkRun(store, candidate, run, options.migrations ?? []),
    );
    const sampled = await mapConcurrently(completed, REPLAYS_AT_ONCE, (run) => checkRun(store, candidate, run, []));
    checkedRuns += inFlight.length + sampled.length;
    const check = {
      ...classify(candidate.name, info, inFlight, sampled),
      versionInFlight: versionInFlight(candidate.name, candidate.version),
    };
    const base = baseSource(sources, candidate);
    if (base && options.compareSources) {
      check.structure = { from: base.version, diff: options.compareSources(base.source, candidate.source!) };
      raiseToStructure(check);
    }
    workflows.push(check);
  }
  return { safe: workflows.every((w) => w.safe), workflows, checkedRuns, durationMs: Date.now() - started };
}

async function checkRun(
  store: Store,
  candidate: WorkflowDefinition,
  run: Run,
  migrations: MigrationDefinition[],
): Promise<RunCheck> {
  const history = currentEpoch(await store.history(run.id), run.epoch);
  const base = { runId: run.id, version: run.version, status: run.status };
  const replay = await verifyReplay(candidate, run.input, history);
  if (replay.ok) return { ...base, verdict: 'compatible', replay };
  for (const migration of migrations.filter(
    (m) => m.workflow === run.workflow && m.from === run.version && m.to === candidate.version,
  )) {
    try {
      const transformed = transformHistory(migration, history, run.input);
      const migrated = await verifyReplay(candidate, transformed.input, transformed.events);
      if (migrated.ok && validateMigration(migration, transformed))
        return { ...base, verdict: 'compatible_with_migration', replay: migrated, migration: migration.name };
    } catch {
      // a migration that throws on this run does not make it fit
    }
  }
  return { ...base, verdict: replay.reason === 'schema_mismatch' ? 'schema_mismatch' : 'incompatible', replay };
}

function classify(
  workflow: string,
  candidate: WorkflowCheck['candidate'],
  inFlight: RunCheck[],
  sampled: RunCheck[],
): Omit<WorkflowCheck, 'versionInFlight'> {
  const counts = emptyCounts();
  for (const run of inFlight) counts[run.verdict]++;
  const reasons: string[] = [];
  const safe = counts.incompatible === 0 && counts.schema_mismatch === 0;
  const all = [...inFlight, ...sampled];
  for (const run of all.filter((r) => !r.replay.ok)) {
    const scope = isTerminal(run.status) ? 'completed run' : 'in-flight run';
    if (run.verdict === 'compatible_with_migration')
      reasons.push(`${scope} ${run.runId} replays only through migration '${run.migration}'`);
    else reasons.push(`${scope} ${run.runId} (v${run.version}): ${(run.replay as { message: string }).message}`);
  }
  let classification: ChangeClass;
  if (all.some((r) => r.verdict !== 'compatible')) classification = 'breaking';
  else {
    const grown = sampled.filter((r) => r.replay.ok && r.replay.frontier !== 'end');
    const gated = all.filter((r) => r.replay.ok && r.replay.oldBranches?.length);
    for (const r of grown)
      reasons.push(`completed run ${r.runId} would go on past its recorded end: new steps after every recorded one`);
    for (const r of gated)
      reasons.push(
        `run ${r.runId} keeps the old branch of patch gate(s) ` +
          `${(r.replay.ok && r.replay.oldBranches?.join(', ')) || ''}`,
      );
    classification = grown.length || gated.length ? 'additive' : 'config_only';
    if (classification === 'config_only')
      reasons.push(`every observed run (${all.length}) replays the same steps: only step internals changed`);
  }
  return { workflow, candidate, classification, reasons, safe, inFlight, sampled, counts };
}

const SEVERITY: ChangeClass[] = ['unchanged', 'config_only', 'additive', 'breaking'];

/**
 * A graph change no observed run reaches yet still classifies the change (runs decide `safe`; the graph, what kind of
 * change it is).
 */
function raiseToStructure(check: WorkflowCheck): void {
  const diff = check.structure!.diff as { kind?: string; reasons?: string[] };
  const kind = (diff.kind === 'identical' ? 'unchanged' : diff.kind) as ChangeClass;
  if (!SEVERITY.includes(kind) || SEVERITY.indexOf(kind) <= SEVERITY.indexOf(check.classification)) return;
  check.classification = kind;
  check.reasons.push(
    `the graph changed against v${check.structure!.from} (${kind}): ${(diff.reasons ?? []).slice(0, 3).join('; ')}`,
  );
}

/** The registered source a declarative candidate replaces: its own version's, else the highest below it. */
function baseSource(sources: WorkflowSource[], candidate: WorkflowDefinition): WorkflowSource | undefined {
  if (candidate.source === undefined) return undefined;
  const own = sources.filter((s) => s.workflow === candidate.name && s.version <= candidate.version);
  return own.find((s) => s.version === candidate.version) ?? own.sort((a, b) => b.version - a.version)[0];
}

function emptyCounts(): Record<RunVerdict, number> {
  return { compatible: 0, compatible_with_migration: 0, incompatible: 0, schema_mismatch: 0 };
}
