import type { CommitOutcome, RunCommit } from '../store/types.js';
import type { Telemetry } from './telemetry.js';

/** How an executor gave its run up (see ExecutorHost.released). */
export type ReleaseHow = 'finished' | 'suspended' | 'parked' | 'lost' | 'abandoned';

/** What an executor needs from the engine that hosts it. */
export interface ExecutorHost {
  readonly workerId: string;
  commit(commit: RunCommit): Promise<CommitOutcome>;
  /**
   * The executor no longer holds the run in memory: it finished, suspended, was parked, lost its lease to
   * another worker ('lost'), or gave up after a failed or refused commit while still holding the lease
   * ('abandoned': the host releases the lease so the run is replayed from its last checkpoint).
   */
  released(runId: string, how: ReleaseHow, dueAt?: number): void;
  /** Whether runs of this version must stop at their next step (it is quarantined). */
  paused(workflow: string, version: number): boolean;
  warn(message: string, facts: Record<string, unknown>): void;
  /** How long a run waiting only on remote tasks stays hot before it suspends, in ms (0: it suspends at once). */
  readonly holdTasksMs: number;
  /** Where step attempts are counted and executions traced. */
  readonly telemetry: Telemetry;
}
