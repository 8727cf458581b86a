import type { AttentionReason, ErrorInfo, FailurePolicy, Json, NewEvent } from '../core/types.js';
import type { PendingAction, RunUpdate } from '../store/types.js';
import { cancelledError, expiredError } from './waits.js';

/** What stops a workflow at its frontier (the first operation its history cannot answer). */
export type Takeover =
  | { kind: 'compensate' }
  | { kind: 'action'; action: PendingAction }
  | { kind: 'expire' }
  | { kind: 'pause' };

/** What a takeover needs from the executor. */
export interface TakeoverPort {
  readonly runId: string;
  readonly expiresAt: number | undefined;
  readonly onExpire: FailurePolicy;
  record(event: NewEvent): void;
  /** Commits what was recorded with a final update; the run is over. */
  end(update: RunUpdate): Promise<void>;
  park(reason: AttentionReason, message: string, details: { [key: string]: Json }): Promise<unknown>;
  /** Moves the run to compensating (committing first unless resuming) and unwinds the saga. */
  compensate(error: ErrorInfo | undefined, commitFirst: boolean): Promise<void>;
  /** Stops executing and hands the run back unfinished (its version is quarantined). */
  pause(): Promise<void>;
}

/** Carries out a takeover: resume an unwinding, apply an operator's cancel or compensate, or expire the run. */
export async function runTakeover(port: TakeoverPort, takeover: Takeover): Promise<void> {
  if (takeover.kind === 'compensate') return port.compensate(undefined, false);
  if (takeover.kind === 'expire') return expire(port);
  if (takeover.kind === 'pause') return port.pause();
  const { action, actor, reason } = takeover.action;
  port.record({ type: 'operator_action', data: { action, actor, reason } });
  if (action === 'pause') return port.end({ status: 'paused', clearPendingAction: true });
  if (action === 'cancel') {
    port.record({ type: 'run_cancelled', data: { actor, reason } });
    return port.end({
      status: 'cancelled',
      waitingFor: null,
      clearPendingAction: true,
      error: cancelledError(actor, reason),
    });
  }
  port.record({ type: 'compensation_started', data: { reason: 'operator', actor, why: reason } });
  return port.compensate(
    { name: 'WaymarkError', code: 'E_RUN_CANCELLED', message: `compensated by ${actor}: ${reason}` },
    true,
  );
}

/** Applies the workflow's onExpire policy to a run that outlived its lifetime. */
async function expire(port: TakeoverPort): Promise<void> {
  const expiresAt = port.expiresAt!;
  const error = expiredError(port.runId, expiresAt);
  port.record({ type: 'run_expired', data: { policy: port.onExpire, expiresAt } });
  if (port.onExpire === 'compensate') {
    port.record({ type: 'compensation_started', data: { reason: 'expired' } });
    return port.compensate(error, true);
  }
  if (port.onExpire === 'escalate')
    return void (await port.park('expired', error.message, { reason: 'expired', expiresAt }));
  port.record({ type: 'run_failed', data: { error } });
  return port.end({ status: 'failed', error, waitingFor: null });
}
