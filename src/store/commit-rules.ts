import { isAtRest, isTerminal, type RunStatus } from '../core/types.js';
import type { RunUpdate } from './types.js';

/**
 * Rules every store applies when a commit changes a run, stated once. SQLite calls these functions; where
 * PostgreSQL must apply a rule inside SQL (its fast commit path is one statement), the SQL names the rule it
 * implements here. The conformance suite (test/store/conformance.test.ts) checks each rule on every store.
 */

/** What the store reads about a committing run, in the commit's own transaction. */
export interface CommitFacts {
  /** An operator's action is pending on the run (setPendingAction), from before this commit. */
  actionPending: boolean;
  /** An unconsumed signal the run now waits for is in its inbox (see signalsThatWake). */
  signalWaiting: boolean;
  /** A task report the run has not recorded yet is stored (see reportsWake). */
  taskReported: boolean;
}

/**
 * Rule "due after a commit": the due time a commit leaves its run with (undefined: unchanged).
 * 1. A run at rest (ended, needs attention, paused) is never due: null.
 * 2. Rule "pending action": a run that gives up its lease while an operator's action is pending on it (and the
 *    commit does not clear it) is due now, so whoever claims it next applies the action.
 * 3. A run that suspends waiting for a signal already in its inbox, or for tasks one of whose reports already
 *    came, is due now: what it waits for arrived while it was still executing.
 * 4. Otherwise the commit's own `dueAt`.
 */
export function dueAfterCommit(
  update: RunUpdate | undefined,
  facts: CommitFacts,
  now: number,
): number | null | undefined {
  if (!update) return undefined;
  if (isAtRest(update.status)) return null;
  if (leavesActionToNextClaim(update) && facts.actionPending) return now;
  if (signalsThatWake(update) && facts.signalWaiting) return now;
  if (reportsWake(update) && facts.taskReported) return now;
  return update.dueAt;
}

/** Rule 2's commit side: the run gives up its lease without coming to rest and leaves a pending action as it is. */
export function leavesActionToNextClaim(update: RunUpdate): boolean {
  return Boolean(update.releaseLease) && !isAtRest(update.status) && !update.clearPendingAction;
}

/** Rule 3: the signal names whose pending arrival makes this suspension due at once; undefined when none does. */
export function signalsThatWake(update: RunUpdate | undefined): string[] | undefined {
  const signals = update?.status === 'waiting' ? update.waitingFor?.signals : undefined;
  return signals?.length ? signals : undefined;
}

/** Rule 3: whether a stored, unrecorded task report makes this suspension due at once. */
export function reportsWake(update: RunUpdate | undefined): boolean {
  return update?.status === 'waiting' && Boolean(update.waitingFor?.tasks?.length);
}

/**
 * Rule "lock hand-over": a run that ends (a terminal status) frees its target locks, and each key goes at once to
 * the oldest run queued for it (status 'waiting', waiting for kind 'lock'; oldest by creation time, then id).
 * That run takes the lock and becomes due now with its wait cleared; the others stay queued. A run that only
 * suspends, parks or pauses keeps its lock. (SQLite: SqliteLocks.releaseOf; PostgreSQL: releaseLocks.)
 */
export function handsLocksOn(update: RunUpdate | undefined): boolean {
  return update !== undefined && isTerminal(update.status);
}

/** A run that needs a target lock, as an operator's commit leaves it. */
export interface LockedRunState {
  id: string;
  status: RunStatus;
  /** The run holding its lock key now, if any. */
  holder: string | null;
  /** It waits for the lock (waiting for kind 'lock'). */
  queued: boolean;
}

/**
 * Rule "no run executes without its lock", after an operator's change: what happens to a run that needs a lock.
 * 'none': it holds its lock, or it is at rest (it executes nothing); 'take': the lock is free and it takes it;
 * 'take-and-grant': it also was queued for it, and becomes due now with its wait cleared; 'requeue': another
 * run holds the lock, so it waits for it again, not due.
 */
export function lockAfterOperatorChange(run: LockedRunState): 'none' | 'take' | 'take-and-grant' | 'requeue' {
  if (isAtRest(run.status) || run.holder === run.id) return 'none';
  if (run.holder === null) return run.queued ? 'take-and-grant' : 'take';
  return 'requeue';
}
