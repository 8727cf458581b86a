/**
 * The checks behind parseWorkflowDef / parseTaskDef: each reader records every problem it finds (with its path,
 * like `tasks[2].decisionCases.big[0].taskReferenceName`) and goes on, so one error lists them all.
 */
import type { RetryLogic, TaskDef, TaskTimeoutPolicy, TaskType, WorkflowTask } from './definitions.js';
import {
  type Problems,
  checkEnum,
  isNonEmptyString,
  isPresent,
  isRecord,
  isZeroValue,
  join,
  keyPath,
  NAME_PATTERN,
  optionalEnum,
  readBoolean,
  readInteger,
  readJsonObject,
  readStringList,
  withoutNulls,
  type Raw,
} from './problems.js';
import {
  checkDecision,
  checkHttp,
  checkSubWorkflow,
  checkSystemTask,
  checkTerminate,
  checkWait,
} from './task-type-checks.js';

export { NAME_PATTERN };

/** Refs must be addressable in expressions: no spaces, dots, brackets, braces or `$` (max 128). */
const REF_PATTERN = /^[^\s.[\]{}$]{1,128}$/;

export const TASK_TYPES: readonly TaskType[] = [
  'SIMPLE',
  'SWITCH',
  'FORK_JOIN',
  'JOIN',
  'DO_WHILE',
  'WAIT',
  'HUMAN',
  'SUB_WORKFLOW',
  'TERMINATE',
  'SET_VARIABLE',
  'INLINE',
  'HTTP',
  'JSON_JQ_TRANSFORM',
  'DECISION',
  'DYNAMIC',
  'FORK_JOIN_DYNAMIC',
  'EXCLUSIVE_JOIN',
  'START_WORKFLOW',
  'NOOP',
  'LAMBDA',
  'EVENT',
];

/** Conductor task types a definition may name that this server refuses, with why. */
const REFUSED_TYPES: Record<string, (task: Raw) => string> = {
  KAFKA_PUBLISH: () =>
    'a KAFKA_PUBLISH task publishes to Kafka, and no Kafka is configured on this server: KAFKA_PUBLISH tasks ' +
    'are not supported',
};

/** Every TaskDef default (all but `name`). */
export const DEFAULT_TASK_DEF: Readonly<Omit<TaskDef, 'name'>> = Object.freeze({
  retryCount: 3,
  retryLogic: 'FIXED',
  retryDelaySeconds: 60,
  backoffScaleFactor: 1,
  timeoutSeconds: 0,
  timeoutPolicy: 'TIME_OUT_WF',
  responseTimeoutSeconds: 3600,
});

/** State shared while one WorkflowDef is checked. */
export interface ParseContext {
  problems: Problems;
  /** Every ref seen so far, with the path of the task that holds it. */
  refs: Map<string, string>;
  /** JOINs to check once every ref is known; `forkRefs` 'dynamic' after a FORK_JOIN_DYNAMIC (refs known later). */
  joins: Array<{ path: string; joinOn: unknown; forkRefs: Set<string> | 'dynamic' | undefined }>;
  /** The raw task after the one being parsed (for the last task of a switch case: the one after the switch). */
  follower?: unknown;
}

/**
 * Parses a list of tasks (recording problems) and checks that forks and JOINs come in pairs. `follower` is the raw
 * task after the list's owner when the list is a switch case: as in Conductor, a FORK_JOIN that ends a case may be
 * joined by a JOIN that follows the switch.
 */
export function parseTaskList(
  list: unknown[],
  path: string,
  context: ParseContext,
  follower?: unknown,
): WorkflowTask[] {
  const tasks: WorkflowTask[] = [];
  const next = (index: number) => (index + 1 < list.length ? list[index + 1] : follower);
  list.forEach((item, index) => {
    context.follower = next(index);
    const task = parseTask(item, `${path}[${index}]`, context);
    if (task) tasks.push(task);
  });
  list.forEach((item, index) => {
    const type = rawType(item);
    if ((type === 'FORK_JOIN' || type === 'FORK_JOIN_DYNAMIC') && rawType(next(index)) !== 'JOIN') {
      const where = index + 1 < list.length || follower === undefined ? '' : ' (after the switch whose case it ends)';
      context.problems.add(
        `${path}[${index}]`,
        `a ${type} must be followed by a JOIN${where}`,
        (item as Raw).taskReferenceName,
      );
    }
    if (type === 'JOIN') {
      const forkRefs = forkRefsBefore(list[index - 1]);
      if (!forkRefs)
        context.problems.add(
          `${path}[${index}]`,
          'a JOIN must follow a FORK_JOIN, a FORK_JOIN_DYNAMIC, or a SWITCH whose case ends with a FORK_JOIN',
          (item as Raw).taskReferenceName,
        );
      context.joins.push({ path: `${path}[${index}].joinOn`, joinOn: (item as Raw).joinOn, forkRefs });
    }
  });
  return tasks;
}

/** The refs a JOIN after `before` may join on: a fork's, or those of the forks ending a switch's cases. */
function forkRefsBefore(before: unknown): Set<string> | 'dynamic' | undefined {
  const type = rawType(before);
  if (type === 'FORK_JOIN') return new Set(rawRefs((before as Raw).forkTasks));
  if (type === 'FORK_JOIN_DYNAMIC') return 'dynamic';
  if (type !== 'SWITCH' && type !== 'DECISION') return undefined;
  const raw = before as Raw;
  const cases = [...(isRecord(raw.decisionCases) ? Object.values(raw.decisionCases) : []), raw.defaultCase];
  const refs = new Set<string>();
  for (const list of cases) {
    if (!Array.isArray(list) || list.length === 0) continue;
    const found = forkRefsBefore(list[list.length - 1]);
    if (found instanceof Set) for (const ref of found) refs.add(ref);
  }
  return refs.size ? refs : undefined;
}

/** Checks each JOIN's joinOn against the refs of the whole graph and of the fork before it. */
export function checkJoins(context: ParseContext): void {
  for (const join of context.joins) {
    if (!Array.isArray(join.joinOn) || join.forkRefs === 'dynamic') continue;
    join.joinOn.forEach((ref, index) => {
      if (typeof ref !== 'string') return;
      if (!context.refs.has(ref))
        context.problems.add(`${join.path}[${index}]`, `joinOn names unknown taskReferenceName '${ref}'`, ref);
      else if (join.forkRefs instanceof Set && !join.forkRefs.has(ref)) {
        context.problems.add(
          `${join.path}[${index}]`,
          `joinOn names '${ref}', which is not a task of the FORK_JOIN ` +
            '(or of the forks ending the SWITCH) before this JOIN',
          ref,
        );
      }
    });
  }
}

/** Fields that only some task types use, with the types that use them. */
const TYPE_FIELDS: Record<string, TaskType[]> = {
  evaluatorType: ['SWITCH'],
  expression: ['SWITCH'],
  decisionCases: ['SWITCH', 'DECISION'],
  defaultCase: ['SWITCH', 'DECISION'],
  caseValueParam: ['DECISION'],
  caseExpression: ['DECISION'],
  forkTasks: ['FORK_JOIN'],
  joinOn: ['JOIN', 'EXCLUSIVE_JOIN'],
  defaultExclusiveJoinTask: ['EXCLUSIVE_JOIN'],
  dynamicTaskNameParam: ['DYNAMIC'],
  dynamicForkTasksParam: ['FORK_JOIN_DYNAMIC'],
  dynamicForkTasksInputParamName: ['FORK_JOIN_DYNAMIC'],
  loopCondition: ['DO_WHILE'],
  loopOver: ['DO_WHILE'],
  subWorkflowParam: ['SUB_WORKFLOW'],
  sink: ['EVENT'],
};
const TASK_LIST_FIELDS = ['decisionCases', 'defaultCase', 'forkTasks', 'loopOver'];

function parseTask(value: unknown, path: string, context: ParseContext): WorkflowTask | undefined {
  const { problems } = context;
  const follower = context.follower;
  context.follower = undefined;
  if (!isRecord(value)) {
    problems.add(path, 'a task must be a JSON object', value);
    return undefined;
  }
  const at = (key: string) => join(path, key);
  const rawTypeValue = value.type === '' || value.type === null || value.type === undefined ? 'SIMPLE' : value.type;
  const type = TASK_TYPES.includes(rawTypeValue as TaskType) ? (rawTypeValue as TaskType) : undefined;
  const refused = typeof rawTypeValue === 'string' && Object.hasOwn(REFUSED_TYPES, rawTypeValue);
  if (refused) problems.add(at('type'), REFUSED_TYPES[rawTypeValue as string]!(value), value.type);
  else if (!type)
    problems.add(
      at('type'),
      `unknown task type '${String(rawTypeValue)}': use one of ${TASK_TYPES.join(', ')}`,
      value.type,
    );

  const name = value.name;
  if (typeof name !== 'string' || name === '') problems.add(at('name'), 'name is required', name);
  else if (type === 'SIMPLE' && !NAME_PATTERN.test(name)) {
    problems.add(
      at('name'),
      'the name of a SIMPLE task is the task type workers poll for: use letters, digits and . _ - : only (max 128)',
      name,
    );
  }
  const ref = value.taskReferenceName;
  if (typeof ref !== 'string' || ref === '')
    problems.add(at('taskReferenceName'), 'taskReferenceName is required', ref);
  else if (!REF_PATTERN.test(ref)) {
    problems.add(
      at('taskReferenceName'),
      'taskReferenceName must be at most 128 characters without spaces or . [ ] { } $',
      ref,
    );
  } else if (context.refs.has(ref)) {
    problems.add(
      at('taskReferenceName'),
      `taskReferenceName '${ref}' is already used at ${context.refs.get(ref)}`,
      ref,
    );
  } else context.refs.set(ref, path);

  const task: Raw = {
    ...withoutNulls(value),
    type: type ?? rawTypeValue,
    inputParameters: readJsonObject(value, 'inputParameters', path, problems) ?? {},
    optional: readBoolean(value, 'optional', path, problems, false),
    startDelay: readInteger(value, 'startDelay', path, problems, { min: 0, fallback: 0 }),
  };
  const retryCount = readInteger(value, 'retryCount', path, problems, { min: 0, fallback: undefined });
  if (retryCount !== undefined) task.retryCount = retryCount;
  if (isPresent(value.taskDefinition)) {
    const inline =
      isRecord(value.taskDefinition) && !isPresent(value.taskDefinition.name)
        ? { ...value.taskDefinition, name }
        : value.taskDefinition;
    task.taskDefinition = parseTaskDefFields(inline, at('taskDefinition'), problems);
  }

  for (const [field, owners] of Object.entries(TYPE_FIELDS)) {
    if ((type && owners.includes(type)) || !(field in task)) continue;
    if (isZeroValue(task[field])) delete task[field];
    else if (TASK_LIST_FIELDS.includes(field)) {
      if (type) problems.add(at(field), `${field} is only used by ${owners.join(' and ')} tasks`, null);
      walkNestedLists(task[field], at(field), context);
    }
  }
  const input = task.inputParameters as Raw;
  switch (type) {
    case 'SWITCH':
    case 'DECISION':
      checkSwitch(value, task, path, context, follower);
      break;
    case 'FORK_JOIN':
      checkFork(value, task, path, context);
      break;
    case 'JOIN':
      task.joinOn = readStringList(value, 'joinOn', path, problems) ?? [];
      break;
    case 'DO_WHILE':
      if (!isNonEmptyString(value.loopCondition))
        problems.add(at('loopCondition'), 'a DO_WHILE needs a loopCondition', value.loopCondition);
      task.loopOver = readTaskList(value, 'loopOver', path, context, 'a DO_WHILE needs a non-empty loopOver list');
      break;
    case 'SUB_WORKFLOW':
      checkSubWorkflow(value, task, path, problems);
      break;
    case 'WAIT':
      checkWait(input, at('inputParameters'), problems);
      break;
    case 'TERMINATE':
      checkTerminate(input, at('inputParameters'), problems);
      break;
    case 'INLINE':
      checkEnum(
        input.evaluatorType,
        join(at('inputParameters'), 'evaluatorType'),
        problems,
        ['javascript', 'graaljs', 'value-param'],
        'an INLINE task needs inputParameters.evaluatorType',
      );
      if (!isNonEmptyString(input.expression))
        problems.add(
          join(at('inputParameters'), 'expression'),
          'an INLINE task needs inputParameters.expression',
          input.expression,
        );
      break;
    case 'HTTP':
      checkHttp(input, at('inputParameters'), problems);
      break;
    default:
      if (type) checkSystemTask(type, value, task, path, context);
      break;
  }
  return task as unknown as WorkflowTask;
}

function checkSwitch(value: Raw, task: Raw, path: string, context: ParseContext, follower: unknown): void {
  const { problems } = context;
  const evaluatorType = value.evaluatorType;
  if (task.type === 'DECISION') {
    checkDecision(value, task, path, problems);
  } else if (
    checkEnum(
      evaluatorType,
      join(path, 'evaluatorType'),
      problems,
      ['value-param', 'javascript', 'graaljs'],
      'a SWITCH needs an evaluatorType',
    )
  ) {
    task.evaluatorType = evaluatorType;
  }
  if (task.type === 'SWITCH' && !isNonEmptyString(value.expression))
    problems.add(join(path, 'expression'), 'a SWITCH needs an expression', value.expression);
  const cases = value.decisionCases;
  const casesPath = join(path, 'decisionCases');
  const parsed: Record<string, WorkflowTask[]> = {};
  if (!isRecord(cases) || Object.keys(cases).length === 0) {
    problems.add(casesPath, `a ${String(task.type)} needs at least one entry in decisionCases`, cases);
  } else {
    for (const [key, list] of Object.entries(cases)) {
      const listPath = casesPath + keyPath(key);
      if (!Array.isArray(list)) problems.add(listPath, 'a decision case must be a list of tasks', list);
      else parsed[key] = parseTaskList(list, listPath, context, follower);
    }
  }
  task.decisionCases = parsed;
  task.defaultCase = isPresent(value.defaultCase)
    ? readTaskList(value, 'defaultCase', path, context, undefined, follower)
    : [];
}

function checkFork(value: Raw, task: Raw, path: string, context: ParseContext): void {
  const branches = value.forkTasks;
  const branchesPath = join(path, 'forkTasks');
  if (!Array.isArray(branches) || branches.length === 0) {
    context.problems.add(branchesPath, 'a FORK_JOIN needs a non-empty forkTasks list of branches', branches);
    task.forkTasks = [];
    return;
  }
  task.forkTasks = branches.map((branch, index) => {
    if (!Array.isArray(branch) || branch.length === 0) {
      context.problems.add(`${branchesPath}[${index}]`, 'a fork branch must be a non-empty list of tasks', branch);
      return [];
    }
    return parseTaskList(branch, `${branchesPath}[${index}]`, context);
  });
}

/** Parses the fields of one TaskDef, filling defaults; records problems and returns undefined if it is no object. */
export function parseTaskDefFields(json: unknown, path: string, problems: Problems): TaskDef | undefined {
  if (!isRecord(json)) {
    problems.add(path, 'a task definition must be a JSON object', json);
    return undefined;
  }
  const name = json.name;
  if (!isNonEmptyString(name)) problems.add(join(path, 'name'), 'name is required', name);
  else if (!NAME_PATTERN.test(name))
    problems.add(join(path, 'name'), 'name must use letters, digits and . _ - : only (max 128)', name);
  const int = (key: string, min: number, fallback: number) => readInteger(json, key, path, problems, { min, fallback });
  const def: Raw = {
    ...withoutNulls(json),
    retryCount: int('retryCount', 0, DEFAULT_TASK_DEF.retryCount),
    retryLogic: optionalEnum<RetryLogic>(
      json,
      'retryLogic',
      path,
      problems,
      ['FIXED', 'LINEAR_BACKOFF', 'EXPONENTIAL_BACKOFF'],
      DEFAULT_TASK_DEF.retryLogic,
    ),
    retryDelaySeconds: int('retryDelaySeconds', 0, DEFAULT_TASK_DEF.retryDelaySeconds),
    backoffScaleFactor: int('backoffScaleFactor', 1, DEFAULT_TASK_DEF.backoffScaleFactor),
    timeoutSeconds: int('timeoutSeconds', 0, DEFAULT_TASK_DEF.timeoutSeconds),
    timeoutPolicy: optionalEnum<TaskTimeoutPolicy>(
      json,
      'timeoutPolicy',
      path,
      problems,
      ['RETRY', 'TIME_OUT_WF', 'ALERT_ONLY'],
      DEFAULT_TASK_DEF.timeoutPolicy,
    ),
  };
  const timeoutSeconds = def.timeoutSeconds as number;
  const responseFallback =
    timeoutSeconds > 0
      ? Math.min(DEFAULT_TASK_DEF.responseTimeoutSeconds, timeoutSeconds)
      : DEFAULT_TASK_DEF.responseTimeoutSeconds;
  def.responseTimeoutSeconds = int('responseTimeoutSeconds', 1, responseFallback);
  if (timeoutSeconds > 0 && (def.responseTimeoutSeconds as number) > timeoutSeconds) {
    problems.add(
      join(path, 'responseTimeoutSeconds'),
      `responseTimeoutSeconds must not exceed timeoutSeconds (${timeoutSeconds})`,
      def.responseTimeoutSeconds,
    );
  }
  for (const key of ['pollTimeoutSeconds', 'totalTimeoutSeconds', 'concurrentExecLimit', 'rateLimitPerFrequency']) {
    readInteger(json, key, path, problems, { min: 0, fallback: undefined });
  }
  readInteger(json, 'rateLimitFrequencyInSeconds', path, problems, { min: 1, fallback: undefined });
  readStringList(json, 'inputKeys', path, problems);
  readStringList(json, 'outputKeys', path, problems);
  readJsonObject(json, 'inputTemplate', path, problems);
  return def as unknown as TaskDef;
}

function readTaskList(
  raw: Raw,
  key: string,
  path: string,
  context: ParseContext,
  emptyMessage: string | undefined,
  follower?: unknown,
): WorkflowTask[] {
  const value = raw[key];
  if (!Array.isArray(value)) {
    context.problems.add(join(path, key), emptyMessage ?? `${key} must be a list of tasks`, value);
    return [];
  }
  if (value.length === 0 && emptyMessage) context.problems.add(join(path, key), emptyMessage, value);
  return parseTaskList(value, join(path, key), context, follower);
}

/** Walks task lists a task carries but does not use, so their refs and problems are still seen. */
function walkNestedLists(value: unknown, path: string, context: ParseContext): void {
  if (Array.isArray(value)) {
    if (value.every(Array.isArray)) {
      for (const [index, branch] of value.entries()) walkNestedLists(branch, `${path}[${index}]`, context);
    } else parseTaskList(value, path, context);
  } else if (isRecord(value)) {
    for (const [key, list] of Object.entries(value)) walkNestedLists(list, path + keyPath(key), context);
  }
}

/** The type a raw task will get (SIMPLE when absent or ''), or undefined for a non-object. */
function rawType(value: unknown): unknown {
  if (!isRecord(value)) return undefined;
  return value.type === '' || value.type === null || value.type === undefined ? 'SIMPLE' : value.type;
}

/** Every ref inside raw task lists (any nesting). */
function rawRefs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(rawRefs);
  if (!isRecord(value)) return [];
  const own = typeof value.taskReferenceName === 'string' ? [value.taskReferenceName] : [];
  const cases = isRecord(value.decisionCases) ? Object.values(value.decisionCases) : [];
  return own.concat(rawRefs(cases), rawRefs(value.defaultCase), rawRefs(value.forkTasks), rawRefs(value.loopOver));
}
