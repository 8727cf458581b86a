import { toErrorInfo } from '../core/errors.js';
import { schemaIssues } from '../core/schema.js';
import {
  checkOperation,
  describeDivergence,
  indexHistory,
  missingOperation,
  patchDecision,
  patchMarkers,
  recordedValue,
  signalState,
  sleepState,
  stepState,
  type Divergence,
} from '../core/replay.js';
import type { ErrorInfo, HistoryEvent, Json, OperationKind } from '../core/types.js';
import { taskState } from '../core/tasks.js';
import { taskFailedError } from './task-op.js';
import { stepFailedError } from './attempt.js';
import { resolveStepOptions, type WorkflowContext, type WorkflowDefinition } from './workflow.js';

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

const never = () => new Promise<never>(() => {});

/**
 * Replays `definition` over `history` in a sandbox where nothing executes: recorded outcomes are returned,
 * and replay stops at the run's frontier. Used to verify upgrades, migrations and deploy checks.
 */
export function verifyReplay(definition: WorkflowDefinition, input: Json, history: readonly HistoryEvent[], timeoutMs = 5_000): Promise<ReplayVerdict> {
  const recorded = indexHistory(history);
  const markers = patchMarkers(history);
  const maxSeq = Math.max(-1, ...recorded.keys());
  const visited = new Set<number>();
  const oldBranches = new Set<string>();
  let nextSeq = 0;
  let settle!: (verdict: ReplayVerdict) => void;
  let settled = false;
  const verdict = new Promise<ReplayVerdict>((resolve) => (settle = resolve));
  const done = (v: ReplayVerdict) => {
    if (settled) return;
    settled = true;
    settle(v);
  };
  const diverged = (divergence: Divergence) =>
    done({ ok: false, reason: 'divergence', divergence, message: `v${definition.version} diverges from the history: ${describeDivergence(divergence)}` });
  const withBranches = <T extends object>(v: T) => (oldBranches.size ? { ...v, oldBranches: [...oldBranches] } : v);
  const frontier = (seq: number, kind: OperationKind, name: string) => done(withBranches({ ok: true as const, replayed: visited.size - 1, frontier: { seq, kind, name } }));

  /** Claims the next seq; returns undefined (and settles) when replay ends here. */
  const enter = (kind: OperationKind, name: string) => {
    if (settled) return undefined;
    const seq = nextSeq++;
    const op = recorded.get(seq);
    const divergence = checkOperation(op, seq, kind, name);
    if (divergence) return void diverged(divergence);
    visited.add(seq);
    return { seq, op };
  };

  const ctx: WorkflowContext = {
    runId: '(replay)',
    workflow: definition.name,
    version: definition.version,
    async step(name, _fn, inline) {
      const at = enter('step', name);
      if (!at) return never();
      const state = stepState(at.op);
      const options = resolveStepOptions(definition, name, inline);
      if (state.state === 'completed') {
        const issues = options.output ? await schemaIssues(options.output, state.output) : undefined;
        if (issues) {
          done({ ok: false, reason: 'schema_mismatch', seq: at.seq, step: name, issues, message: `the recorded output of step '${name}' (seq ${at.seq}) fails v${definition.version}'s output schema: ${issues.join('; ')}` });
          return never();
        }
        return state.output as never;
      }
      const onFailure = options.onFailure ?? 'fail';
      if (state.state === 'failed' && onFailure === 'fail') throw stepFailedError(name, at.seq, state.attempts, state.error);
      frontier(at.seq, 'step', name);
      return never();
    },
    async sleep() {
      const at = enter('sleep', '');
      if (!at) return never();
      if (sleepState(at.op)?.fired) return;
      frontier(at.seq, 'sleep', '');
      return never();
    },
    async waitForSignal(name) {
      const at = enter('signal', name);
      if (!at) return never();
      const state = signalState(at.op);
      if (state?.state === 'received') return (state.payload ?? null) as never;
      if (state?.state === 'timed_out') return null;
      frontier(at.seq, 'signal', name);
      return never();
    },
    async task(type, _input, options) {
      const at = enter('task', type);
      if (!at) return never();
      const state = taskState(at.op);
      if (state.state === 'completed') return (state.output ?? null) as never;
      if (state.state === 'failed') throw taskFailedError(type, options?.ref ?? type, state.attempts, state.error);
      frontier(at.seq, 'task', type);
      return never();
    },
    patched: (id) => {
      const decision = patchDecision(markers, id, nextSeq <= maxSeq);
      if (decision === 'unpatched') oldBranches.add(id);
      return decision !== 'unpatched';
    },
    deprecatePatch: () => {},
    now: () => value('now') as number,
    random: () => value('random') as number,
    uuid: () => value('uuid') as string,
  };

  function value(kind: 'now' | 'random' | 'uuid'): Json {
    const at = enter(kind, '');
    if (at?.op) return recordedValue(at.op) ?? null;
    if (at) frontier(at.seq, kind, '');
    throw new Error('replay stopped at the frontier');
  }

  const timer = setTimeout(
    () => done({ ok: false, reason: 'error', error: { name: 'WaymarkError', code: 'E_TIMEOUT', message: 'replay did not settle' }, message: `replay of v${definition.version} did not settle within ${timeoutMs} ms` }),
    timeoutMs,
  );
  Promise.resolve()
    .then(() => definition.run(ctx, input))
    .then(
      () => {
        const unvisited = [...recorded.values()].find((op) => !visited.has(op.seq));
        if (unvisited) diverged(missingOperation(unvisited));
        else done(withBranches({ ok: true as const, replayed: visited.size, frontier: 'end' as const }));
      },
      (error) => {
        const info = toErrorInfo(error);
        delete info.stack;
        done({ ok: false, reason: 'error', error: info, message: `v${definition.version} throws when replaying the history: ${info.message}` });
      },
    );
  return verdict.finally(() => clearTimeout(timer));
}
