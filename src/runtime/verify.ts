import { toErrorInfo } from '../core/errors.js';
import { describeDivergence, missingOperation, NOT_ASKED, type Divergence } from '../core/replay.js';
import { schemaIssues } from '../core/schema.js';
import type { ErrorInfo, HistoryEvent, Json, OperationKind } from '../core/types.js';
import { ReplayEngine, type Frontier } from './replay-engine.js';
import { never } from './waits.js';
import type { WorkflowDefinition } from './workflow.js';

/** Whether a version's code replays a run's history. */
export type ReplayVerdict =
  | {
      ok: true;
      /** Recorded operations the code reproduced. */
      replayed: number;
      /** Patch gates that kept this history on their old branch. */
      oldBranches?: string[];
      /** Where replay stopped: the first operation the history cannot answer, or the workflow's end. */
      frontier: { seq: number; kind: OperationKind; name: string } | 'end';
    }
  | { ok: false; reason: 'divergence'; divergence: Divergence; message: string }
  | { ok: false; reason: 'schema_mismatch'; seq: number; step: string; issues: string[]; message: string }
  | { ok: false; reason: 'error'; error: ErrorInfo; message: string };

type FrontierOp = { seq: number; kind: OperationKind; name: string };

/** Thrown into the code by a recorded value the history does not hold: replay ends at that operation. */
class FrontierReached extends Error {}

/**
 * Replays `definition` over `history` with execution switched off: the same replay engine the executor
 * runs, whose frontier records where the history ends instead of running anything. Used to verify upgrades,
 * migrations, deploy checks, rollouts and `waymark/testing`.
 */
export function verifyReplay(
  definition: WorkflowDefinition,
  input: Json,
  history: readonly HistoryEvent[],
  timeoutMs = 5_000,
): Promise<ReplayVerdict> {
  const frontierOps: FrontierOp[] = [];
  let settled = false;
  let settle!: (verdict: ReplayVerdict) => void;
  const verdict = new Promise<ReplayVerdict>((resolve) => (settle = resolve));
  const done = (v: ReplayVerdict) => {
    if (settled) return;
    settled = true;
    engine.halt();
    settle(v);
  };
  const at = (op: FrontierOp) => {
    frontierOps.push(op);
    return never();
  };
  const frontier: Frontier = {
    step: (call) => at({ seq: call.seq, kind: 'step', name: call.name }),
    sleep: (call) => at({ seq: call.seq, kind: 'sleep', name: '' }),
    signal: (call) => at({ seq: call.seq, kind: 'signal', name: call.name }),
    task: (call) => at({ seq: call.seq, kind: 'task', name: call.type }),
    value: (seq, kind) => {
      frontierOps.push({ seq, kind, name: '' });
      throw new FrontierReached('replay stopped at the frontier');
    },
    markPatch: () => {},
    checkRecorded: (seq, name, options, output) => {
      if (!options.output) return undefined;
      return schemaIssues(options.output, output).then((issues) => {
        if (!issues) return true;
        done({
          ok: false,
          reason: 'schema_mismatch',
          seq,
          step: name,
          issues,
          message:
            `the recorded output of step '${name}' (seq ${seq}) fails v${definition.version}'s output schema: ` +
            `${issues.join('; ')}`,
        });
        return false;
      });
    },
    diverged: (divergence) =>
      done({
        ok: false,
        reason: 'divergence',
        divergence,
        message: `v${definition.version} diverges from the history: ${describeDivergence(divergence)}`,
      }),
    stopped: () => settled,
  };
  let outcome: { ok: true } | { ok: false; error: unknown } | undefined;
  const conclude = () => {
    if (settled || !engine.quiet) return;
    const withBranches = <T extends object>(v: T) =>
      engine.oldBranches.size ? { ...v, oldBranches: [...engine.oldBranches] } : v;
    if (outcome && !outcome.ok && !(outcome.error instanceof FrontierReached)) {
      const info = toErrorInfo(outcome.error);
      delete info.stack;
      return done({
        ok: false,
        reason: 'error',
        error: info,
        message: `v${definition.version} throws when replaying the history: ${info.message}`,
      });
    }
    const unvisited = engine.unvisited();
    if (unvisited)
      return frontier.diverged(outcome ? missingOperation(unvisited) : missingOperation(unvisited, NOT_ASKED));
    const first = [...frontierOps].sort((a, b) => a.seq - b.seq)[0];
    if (outcome?.ok || !first) {
      if (outcome?.ok)
        return done(withBranches({ ok: true as const, replayed: engine.asked, frontier: 'end' as const }));
      return done({
        ok: false,
        reason: 'error',
        error: {
          name: 'WaymarkError',
          code: 'E_NONDETERMINISM',
          message: 'the workflow waits for something that is not a ctx operation',
        },
        message: `v${definition.version} stops replaying without asking for an operation`,
      });
    }
    done(withBranches({ ok: true as const, replayed: engine.asked - frontierOps.length, frontier: first }));
  };
  const engine = new ReplayEngine(definition, history, frontier, { onQuiet: () => setImmediate(conclude) });
  const timer = setTimeout(
    () =>
      done({
        ok: false,
        reason: 'error',
        error: { name: 'WaymarkError', code: 'E_TIMEOUT', message: 'replay did not settle' },
        message: `replay of v${definition.version} did not settle within ${timeoutMs} ms`,
      }),
    timeoutMs,
  );
  engine.run(input).then(
    () => {
      outcome = { ok: true };
      setImmediate(conclude);
    },
    (error: unknown) => {
      outcome = { ok: false, error };
      setImmediate(conclude);
    },
  );
  return verdict.finally(() => clearTimeout(timer));
}
