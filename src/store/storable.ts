import { findUnstorable, unstorableReason } from '../core/text.js';
import type { CreateRunRequest, RunCommit } from './types.js';

/**
 * What every store refuses before writing anything, so that both dialects refuse the same values and one
 * bad commit (or start) is left out of its batch instead of failing it. JSON values (inputs, outputs,
 * payloads, event data, task inputs) are stored as JSON text and need no check; what is stored as plain
 * text (names, ids, keys), as queried JSON (errors, attention, waits) or as an integer is checked here.
 */

const BIGGEST_TIME = 8.64e15; // the latest time a Date can hold, in epoch ms

function text(value: string | undefined | null, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const reason = unstorableReason(value);
  return reason && `${what} ${reason}`;
}

function integer(value: number | undefined | null, what: string, max = Number.MAX_SAFE_INTEGER): string | undefined {
  if (value === undefined || value === null) return undefined;
  return Number.isSafeInteger(value) && Math.abs(value) <= max
    ? undefined
    : `${what} is ${value}, not a whole number of ms up to ${max}`;
}

const first = (...problems: (string | undefined)[]): string | undefined => problems.find((p) => p !== undefined);

/** Why the store cannot keep this commit, or undefined when it can. */
export function commitProblem(commit: RunCommit): string | undefined {
  const u = commit.update;
  return first(
    text(commit.runId, 'run id'),
    text(commit.workerId, 'worker id'),
    integer(commit.fromPos, 'history position'),
    ...commit.events.map((e, i) =>
      first(
        text(e.name, `event ${i} (${e.type}) name`),
        integer(e.seq, `event ${i} (${e.type}) seq`),
        integer(e.at, `event ${i} (${e.type}) time`, BIGGEST_TIME),
      ),
    ),
    u && findUnstorable(u.error, 'run error'),
    u && findUnstorable(u.attention, 'attention'),
    u && findUnstorable(u.waitingFor, 'waitingFor'),
    integer(u?.dueAt, 'due time', BIGGEST_TIME),
    integer(u?.waitingFor?.until, 'wait deadline', BIGGEST_TIME),
    ...(commit.newTasks ?? []).map((t, i) =>
      first(
        findUnstorable(
          { taskId: t.taskId, taskType: t.taskType, refName: t.refName, workflow: t.workflow },
          `task ${i}`,
        ),
        integer(t.visibleAt, `task ${i} visibleAt`, BIGGEST_TIME),
        integer(t.responseTimeoutMs, `task ${i} responseTimeoutMs`, BIGGEST_TIME),
        integer(t.timeoutMs, `task ${i} timeoutMs`, BIGGEST_TIME),
      ),
    ),
    findUnstorable(commit.consumedTasks ?? [], 'consumed task ids'),
  );
}

/** Why the store cannot keep this start, or undefined when it can. */
export function startProblem(request: CreateRunRequest): string | undefined {
  return first(
    text(request.id, 'run id'),
    text(request.workflow, 'workflow'),
    text(request.correlationId, 'correlationId'),
    text(request.lock?.key, 'lock key'),
    text(request.leaseOwner, 'worker id'),
    integer(request.expiresAt, 'expiresAt', BIGGEST_TIME),
  );
}
