import { TERMINAL_TASK_STATUSES, type Task, type TaskStatus } from '../../core/tasks.js';
import type { Engine } from '../../engine.js';
import { badRequest } from './errors.js';
import { integer, text } from './replies.js';
import {
  freeTextWords,
  matchesWith,
  parseQuery,
  toNumber,
  type Clause,
  type Query,
  type QueryFields,
} from './search.js';
import { asMap } from './task-shape.js';
import { isoTime } from './workflow-shape.js';

type Params = Record<string, unknown>;

/** Newest tasks a task search reads (its totalHits counts among these). */
export const TASK_SCAN_LIMIT = 10_000;

const TASK_STATUSES: readonly TaskStatus[] = ['SCHEDULED', 'IN_PROGRESS', ...TERMINAL_TASK_STATUSES];
const TIMES = ['scheduledTime', 'startTime', 'updateTime', 'endTime'];

/**
 * What a task search's `query` may name: taskId, taskType (or taskDefName), referenceTaskName (or taskRefName),
 * status, workflowId, workflowType, workerId, domain, scheduledTime, startTime, updateTime, endTime.
 */
const TASK_FIELDS: QueryFields = {
  names: [
    'taskId',
    'taskType',
    'referenceTaskName',
    'status',
    'workflowId',
    'workflowType',
    'workerId',
    'domain',
    ...TIMES,
  ],
  aliases: { taskDefName: 'taskType', taskRefName: 'referenceTaskName', workflowName: 'workflowType' },
  check(clause: Clause, fail: (why: string) => never): Clause {
    if (clause.field === 'status')
      for (const v of clause.values)
        if (!TASK_STATUSES.includes(v.toUpperCase() as TaskStatus))
          fail(`unknown task status '${v}' (statuses: ${TASK_STATUSES.join(', ')})`);
    if (TIMES.includes(clause.field))
      for (const v of clause.values)
        if (Number.isNaN(toNumber(clause.field, v))) fail(`${clause.field} needs epoch ms or an ISO date, got '${v}'`);
    return clause;
  },
};

/** A task's value for a query field (undefined: none). */
function fieldValue(task: Task, field: string): string | number | undefined {
  switch (field) {
    case 'taskId':
      return task.taskId;
    case 'taskType':
      return task.taskType;
    case 'referenceTaskName':
      return task.refName;
    case 'status':
      return task.status;
    case 'workflowId':
      return task.runId;
    case 'workflowType':
      return task.workflow;
    case 'workerId':
      return task.workerId;
    case 'domain':
      return task.domain;
    case 'scheduledTime':
      return task.scheduledAt;
    case 'startTime':
      return task.startedAt;
    case 'updateTime':
      return task.updatedAt;
    case 'endTime':
      return task.endedAt;
  }
  return undefined;
}

/**
 * The tasks of the task queue (worker tasks, WAIT/HUMAN, SUB_WORKFLOW) a search finds: `query` over the fields
 * above, `freeText` words each in the task's id, type, ref, run, workflow, input, output or reason, `sort` by
 * a field (default: newest update first); `all` matching, and the page `start`/`size` ask for.
 */
export async function searchTasks(
  engine: Engine,
  q: Params,
): Promise<{ totalHits: number; all: Task[]; page: Task[] }> {
  const start = integer(q, 'start', { min: 0, fallback: 0 });
  const size = integer(q, 'size', { min: 0, max: 1_000, fallback: 100 });
  const query = parseQuery(text(q, 'query'), TASK_FIELDS);
  const words = freeTextWords(text(q, 'freeText')).map((w) => w.toLowerCase());
  const { taskTypes, statuses, runIds } = narrowed(query);
  const scanned = await engine.tasks.search({ taskTypes, statuses, runIds, limit: TASK_SCAN_LIMIT });
  const found = scanned.filter(
    (task) =>
      matchesWith(query, (field) => fieldValue(task, field), ['status']) &&
      words.every((w) => searchable(task).includes(w)),
  );
  found.sort(sorter(text(q, 'sort')));
  return { totalHits: found.length, all: found, page: found.slice(start, start + size) };
}

/** What the top-level AND says for sure about types, statuses and runs: to narrow the tasks read. */
function narrowed(query: Query): { taskTypes?: string[]; statuses?: TaskStatus[]; runIds?: string[] } {
  const clauses = 'all' in query ? query.all : [query];
  const out: { taskTypes?: string[]; statuses?: TaskStatus[]; runIds?: string[] } = {};
  for (const c of clauses) {
    if (!('field' in c) || (c.op !== '=' && c.op !== 'IN')) continue;
    if (c.field === 'taskType') out.taskTypes = c.values;
    if (c.field === 'status') out.statuses = c.values.map((v) => v.toUpperCase() as TaskStatus);
    if (c.field === 'workflowId') out.runIds = c.values;
  }
  return out;
}

const searchable = (task: Task) =>
  [task.taskId, task.taskType, task.refName, task.runId, task.workflow, task.reason ?? '']
    .concat([JSON.stringify(task.input ?? null), JSON.stringify(task.output ?? null)])
    .join('\n')
    .toLowerCase();

function sorter(sort: string | undefined): (a: Task, b: Task) => number {
  if (sort === undefined) return (a, b) => b.updatedAt - a.updatedAt;
  const [field = '', direction = 'ASC'] = sort.split(':');
  if (!TASK_FIELDS.names.includes(field))
    throw badRequest('sort', `cannot sort by '${field}' (fields: ${TASK_FIELDS.names.join(', ')})`, sort);
  const dir = direction.toUpperCase();
  if (dir !== 'ASC' && dir !== 'DESC') throw badRequest('sort', `sort direction must be ASC or DESC`, sort);
  const sign = dir === 'ASC' ? 1 : -1;
  return (a, b) => {
    const x = fieldValue(a, field) ?? '';
    const y = fieldValue(b, field) ?? '';
    return x < y ? -sign : x > y ? sign : 0;
  };
}

/** A task as Conductor's TaskSummary: times as ISO strings, input and output as JSON strings. */
export function taskSummary(task: Task): Record<string, unknown> {
  const started = task.startedAt ?? 0;
  const ended = task.endedAt ?? 0;
  return {
    workflowId: task.runId,
    workflowType: task.workflow,
    scheduledTime: isoTime(task.scheduledAt),
    ...(started ? { startTime: isoTime(started) } : {}),
    updateTime: isoTime(task.updatedAt),
    ...(ended ? { endTime: isoTime(ended) } : {}),
    status: task.status,
    ...(task.reason !== undefined ? { reasonForIncompletion: task.reason } : {}),
    executionTime: started && ended ? ended - started : 0,
    queueWaitTime: started ? Math.max(0, started - task.scheduledAt) : 0,
    taskDefName: task.taskType,
    taskType: task.taskType,
    input: JSON.stringify(asMap(task.input, 'input')),
    output: JSON.stringify(asMap(task.output, 'result')),
    taskId: task.taskId,
    taskReferenceName: task.refName,
    ...(task.workerId !== undefined ? { workerId: task.workerId } : {}),
    workflowPriority: task.priority ?? 0,
    ...(task.domain !== undefined ? { domain: task.domain } : {}),
  };
}
