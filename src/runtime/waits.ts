import type { AttentionReason, ErrorInfo, Json, WaitInfo } from '../core/types.js';
import type { ErrorCode } from '../core/errors.js';
import { storableValue } from '../core/text.js';
import type { PendingSignal } from '../store/types.js';

/** A wait the run cannot get past in memory: it suspends once nothing else is executing. */
export interface PendingWait {
  kind: 'sleep' | 'signal' | 'retry' | 'task';
  seq: number;
  name?: string;
  until?: number;
  /** Signal waits resolve in memory if the signal arrives while the run is hot. */
  deliver?: (signal: PendingSignal) => void;
  /** The task attempt a task wait is for. */
  taskId?: string;
  /** Task waits go on in memory when the worker's report reaches this process while the run is hot. */
  resume?: () => void;
}

/** When a suspending run is next due (its earliest wait deadline or its expiry) and what it waits for. */
export function suspensionOf(
  waits: PendingWait[],
  expiresAt: number | undefined,
): { dueAt: number | undefined; waitingFor: WaitInfo } {
  const dues = waits.map((w) => w.until).filter((u): u is number => u !== undefined);
  if (expiresAt !== undefined) dues.push(expiresAt);
  const dueAt = dues.length ? Math.min(...dues) : undefined;
  const first = waits.find((w) => w.until === dueAt) ?? waits[0]!;
  const signals = [...new Set(waits.filter((w) => w.kind === 'signal').map((w) => w.name!))];
  const tasks = [...new Set(waits.filter((w) => w.kind === 'task').map((w) => w.name!))];
  const waitingFor: WaitInfo = { kind: first.kind, seq: first.seq };
  if (first.name !== undefined) waitingFor.name = first.name;
  if (first.until !== undefined) waitingFor.until = first.until;
  if (signals.length) waitingFor.signals = signals;
  if (tasks.length) waitingFor.tasks = tasks;
  return { dueAt, waitingFor };
}

const ATTENTION_CODES: Record<AttentionReason, ErrorCode> = {
  nondeterminism: 'E_NONDETERMINISM',
  unknown_outcome: 'E_UNKNOWN_OUTCOME',
  step_failed: 'E_STEP_FAILED',
  compensation_failed: 'E_STEP_FAILED',
  expired: 'E_RUN_EXPIRED',
  invalid_value: 'E_NOT_SERIALIZABLE',
};

/** What a parked run shows an operator: a coded message and the facts, reason included (made storable text). */
export function attentionFor(reason: AttentionReason, message: string, details: { [key: string]: Json }): ErrorInfo {
  return storableValue({
    name: 'WaymarkError',
    code: ATTENTION_CODES[reason],
    message,
    details: { ...details, reason },
  });
}

export function cancelledError(actor: string, reason: string): ErrorInfo {
  return { name: 'WaymarkError', code: 'E_RUN_CANCELLED', message: `cancelled by ${actor}: ${reason}` };
}

export function expiredError(runId: string, expiresAt: number): ErrorInfo {
  return {
    name: 'WaymarkError',
    code: 'E_RUN_EXPIRED',
    message: `run '${runId}' outlived its lifetime (expired at ${new Date(expiresAt).toISOString()})`,
  };
}

/**
 * A promise that never settles, made fresh each time: a shared one would keep every suspended run's
 * continuation reachable (and so in memory) forever.
 */
export const never = () => new Promise<never>(() => {});
