/**
 * Declarative workflows in Conductor's schema: the definition types, their defaults, parsing, retry delays
 * and the graph fingerprint. Pure: no I/O, no clock.
 *
 * - WorkflowDef: a declarative workflow version (`name` + `version`) whose `tasks` form the graph.
 * - WorkflowTask: one node of the graph, addressed by its `taskReferenceName` (the ref).
 * - TaskDef: the registered settings (retries, timeouts, limits) of the worker tasks named `name`.
 *
 * Parsed definitions keep every field they came with; fields this module does not model are carried as they are.
 */
import { createHash } from 'node:crypto';
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import {
  DEFAULT_TASK_DEF,
  NAME_PATTERN,
  checkJoins,
  parseTaskDefFields,
  parseTaskList,
  type ParseContext,
} from './definition-checks.js';
import {
  Problems,
  isZeroValue,
  optionalEnum,
  readBoolean,
  readInteger,
  readJsonObject,
  readStringList,
  withoutNulls,
} from './problems.js';

export { DEFAULT_TASK_DEF, TASK_TYPES } from './definition-checks.js';
export type { ValidationProblem } from './problems.js';

/** The task types a declarative workflow may use. */
export type TaskType =
  | 'SIMPLE'
  | 'SWITCH'
  | 'FORK_JOIN'
  | 'JOIN'
  | 'DO_WHILE'
  | 'WAIT'
  | 'HUMAN'
  | 'SUB_WORKFLOW'
  | 'TERMINATE'
  | 'SET_VARIABLE'
  | 'INLINE'
  | 'HTTP'
  | 'JSON_JQ_TRANSFORM'
  | 'DECISION'
  | 'DYNAMIC'
  | 'FORK_JOIN_DYNAMIC'
  | 'EXCLUSIVE_JOIN'
  | 'START_WORKFLOW'
  | 'NOOP'
  | 'LAMBDA'
  | 'EVENT';

/** How a SWITCH picks its case, or an INLINE task computes its result. 'graaljs' is read as 'javascript'. */
export type EvaluatorType = 'value-param' | 'javascript' | 'graaljs';

/** How the delay between task retries grows. */
export type RetryLogic = 'FIXED' | 'LINEAR_BACKOFF' | 'EXPONENTIAL_BACKOFF';

/** What a task's timeout does: retry it, time the run out, or only record it. */
export type TaskTimeoutPolicy = 'RETRY' | 'TIME_OUT_WF' | 'ALERT_ONLY';

/** What a run's timeout does: time the run out, or only record it. */
export type WorkflowTimeoutPolicy = 'TIME_OUT_WF' | 'ALERT_ONLY';

/** The status a TERMINATE task ends its run with. */
export type TerminationStatus = 'COMPLETED' | 'FAILED' | 'TERMINATED';

/** Settings of the worker tasks named `name`. Registered on their own, or inline as `WorkflowTask.taskDefinition`. */
export interface TaskDef {
  name: string;
  description?: string;
  /** Retries after the first failed attempt. (Default: 3) */
  retryCount: number;
  /** (Default: 'FIXED') */
  retryLogic: RetryLogic;
  /** Base delay before a retry, in seconds. (Default: 60) */
  retryDelaySeconds: number;
  /** Factor of LINEAR_BACKOFF delays, an integer >= 1. (Default: 1) */
  backoffScaleFactor: number;
  /** Longest one attempt may take from its first poll, in seconds; 0 = no limit. (Default: 0) */
  timeoutSeconds: number;
  /** (Default: 'TIME_OUT_WF') */
  timeoutPolicy: TaskTimeoutPolicy;
  /**
   * Longest a polled attempt may go without an update from its
   * worker, in seconds. (Default: 3600, or timeoutSeconds if smaller)
   */
  responseTimeoutSeconds: number;
  /** Longest a scheduled task may wait to be polled, in seconds. (Default: none) */
  pollTimeoutSeconds?: number;
  /** Longest the task may take over all its attempts, in seconds. (Default: none) */
  totalTimeoutSeconds?: number;
  /** Most attempts of this task in progress at once; 0 = no limit. (Default: no limit) */
  concurrentExecLimit?: number;
  /** Most attempts handed out per `rateLimitFrequencyInSeconds`; 0 = no limit. (Default: no limit) */
  rateLimitPerFrequency?: number;
  /** The window of `rateLimitPerFrequency`, in seconds. (Default: 1) */
  rateLimitFrequencyInSeconds?: number;
  /** Documents the input keys the worker reads. (Default: none) */
  inputKeys?: string[];
  /** Documents the output keys the worker writes. (Default: none) */
  outputKeys?: string[];
  /** Input values used where the task's inputParameters give none. (Default: none) */
  inputTemplate?: Record<string, Json>;
}

/** Fields every task type has. */
export interface TaskBase {
  /** For SIMPLE tasks the task type workers poll for; for the others a label. */
  name: string;
  /** Unique in the whole graph; expressions address the task's input and output by it. */
  taskReferenceName: string;
  description?: string;
  /** Parameter expressions resolved into the task's input when it is scheduled. (Default: {}) */
  inputParameters: Record<string, Json>;
  /** When true, a failure of this task does not fail the run. (Default: false) */
  optional: boolean;
  /** Seconds to wait before the scheduled task may start. (Default: 0) */
  startDelay: number;
  /** Overrides the TaskDef's retryCount for this task. (Default: the TaskDef's) */
  retryCount?: number;
  /** Inline settings; they win over a registered TaskDef of the same name. (Default: none) */
  taskDefinition?: TaskDef;
}

/** A task executed by a remote worker polling for `name`. */
export interface SimpleTask extends TaskBase {
  type: 'SIMPLE';
}

/** Runs the task list of the case `expression` evaluates to, or `defaultCase` when no case matches. */
export interface SwitchTask extends TaskBase {
  type: 'SWITCH';
  evaluatorType: EvaluatorType;
  /** value-param: the name of an input parameter; javascript: an expression over `$` (the task input). */
  expression: string;
  decisionCases: Record<string, WorkflowTask[]>;
  /** (Default: []) */
  defaultCase: WorkflowTask[];
}

/** Runs each branch in parallel; must be followed by a JOIN. */
export interface ForkJoinTask extends TaskBase {
  type: 'FORK_JOIN';
  forkTasks: WorkflowTask[][];
}

/** Waits for the `joinOn` refs of the fork before it; output `{ ref: output }`. */
export interface JoinTask extends TaskBase {
  type: 'JOIN';
  /** (Default: []) */
  joinOn: string[];
}

/** Runs `loopOver` until `loopCondition` is false; iteration n's refs get a `__n` suffix. */
export interface DoWhileTask extends TaskBase {
  type: 'DO_WHILE';
  /** A javascript expression over `$` (the task input and the loop's outputs). */
  loopCondition: string;
  loopOver: WorkflowTask[];
}

/**
 * Waits for `inputParameters.duration` ('10s', '5m', '1h', '1d'),
 * until `inputParameters.until`, or else for an external update.
 */
export interface WaitTask extends TaskBase {
  type: 'WAIT';
}

/** Waits for an external update. */
export interface HumanTask extends TaskBase {
  type: 'HUMAN';
}

/** The child workflow a SUB_WORKFLOW task starts. */
export interface SubWorkflowParam {
  name: string;
  /** (Default: the latest version when the child starts) */
  version?: number;
}

/** Starts a child run; the task's output is the child's output. */
export interface SubWorkflowTask extends TaskBase {
  type: 'SUB_WORKFLOW';
  subWorkflowParam: SubWorkflowParam;
}

/** Ends the run with `inputParameters.terminationStatus`, `terminationReason` and `workflowOutput`. */
export interface TerminateTask extends TaskBase {
  type: 'TERMINATE';
}

/** Merges its resolved input into the run's variables. */
export interface SetVariableTask extends TaskBase {
  type: 'SET_VARIABLE';
}

/** Evaluates `inputParameters.expression` with `inputParameters.evaluatorType`; output `{ result }`. */
export interface InlineTask extends TaskBase {
  type: 'INLINE';
}

/**
 * Calls `inputParameters.http_request { uri, method, headers,
 * body }`; output `{ response: { statusCode, body, headers } }`.
 */
export interface HttpTask extends TaskBase {
  type: 'HTTP';
}

/** Runs jq `inputParameters.queryExpression` over the task input; output `{ result, resultList }`. */
export interface JsonJqTransformTask extends TaskBase {
  type: 'JSON_JQ_TRANSFORM';
}

/**
 * SWITCH's older form: the case is `inputParameters[caseValueParam]`, or `caseExpression` (javascript over `$`);
 * output `{ caseOutput: [value] }`.
 */
export interface DecisionTask extends TaskBase {
  type: 'DECISION';
  caseValueParam?: string;
  caseExpression?: string;
  decisionCases: Record<string, WorkflowTask[]>;
  /** (Default: []) */
  defaultCase: WorkflowTask[];
}

/** A worker task whose name is `inputParameters[dynamicTaskNameParam]`, read when it is scheduled. */
export interface DynamicTask extends TaskBase {
  type: 'DYNAMIC';
  dynamicTaskNameParam: string;
}

/**
 * Forks the tasks listed in `inputParameters[dynamicForkTasksParam]` (inputs in
 * `inputParameters[dynamicForkTasksInputParamName]`), or one `inputParameters.forkTaskName` task per item of
 * `inputParameters.forkTaskInputs` (refs `_<name>_<i>`); must be followed by a JOIN, which joins on them all.
 */
export interface ForkJoinDynamicTask extends TaskBase {
  type: 'FORK_JOIN_DYNAMIC';
  dynamicForkTasksParam?: string;
  dynamicForkTasksInputParamName?: string;
}

/** Takes the output of the first `joinOn` task that ran (else of the first `defaultExclusiveJoinTask` that ran). */
export interface ExclusiveJoinTask extends TaskBase {
  type: 'EXCLUSIVE_JOIN';
  /** (Default: []) */
  joinOn: string[];
  /** (Default: []) */
  defaultExclusiveJoinTask: string[];
}

/**
 * Starts `inputParameters.startWorkflow { name, version, input, correlationId }` without waiting;
 * output `{ workflowId }`.
 */
export interface StartWorkflowTask extends TaskBase {
  type: 'START_WORKFLOW';
}

/** Does nothing; output `{}`. */
export interface NoopTask extends TaskBase {
  type: 'NOOP';
}

/** Runs `inputParameters.scriptExpression` as a function body over `$` (the task input); output `{ result }`. */
export interface LambdaTask extends TaskBase {
  type: 'LAMBDA';
}

/**
 * Publishes its input (with the run's id, name and version) to `sink`: `conductor` (the queue
 * `conductor:<workflow>:<ref>`), `conductor:<queue>`, `nats:<subject>` or `amqp:<queue>`; output
 * `{ event_produced, messageId, ... }`. The message id derives from the run and the ref, and the output is recorded,
 * so a replay does not publish again.
 */
export interface EventTask extends TaskBase {
  type: 'EVENT';
  sink: string;
}

/** One node of a declarative workflow graph. */
export type WorkflowTask =
  | SimpleTask
  | SwitchTask
  | ForkJoinTask
  | JoinTask
  | DoWhileTask
  | WaitTask
  | HumanTask
  | SubWorkflowTask
  | TerminateTask
  | SetVariableTask
  | InlineTask
  | HttpTask
  | JsonJqTransformTask
  | DecisionTask
  | DynamicTask
  | ForkJoinDynamicTask
  | ExclusiveJoinTask
  | StartWorkflowTask
  | NoopTask
  | EventTask
  | LambdaTask;

/** A declarative workflow version. */
export interface WorkflowDef {
  name: string;
  description?: string;
  /** (Default: 1) */
  version: number;
  /** The graph, run in order; never empty. */
  tasks: WorkflowTask[];
  /** Documents the input keys the run expects. (Default: []) */
  inputParameters: string[];
  /** The run's output as parameter expressions; empty means the last task's output. (Default: {}) */
  outputParameters: Record<string, Json>;
  /** Workflow started when a run fails. (Default: none) */
  failureWorkflow?: string;
  /** Always 2. (Default: 2) */
  schemaVersion: number;
  /** Whether a finished run may be restarted. (Default: true) */
  restartable: boolean;
  /** Longest a run may take, in seconds; 0 = no limit. (Default: 0) */
  timeoutSeconds: number;
  /** (Default: 'ALERT_ONLY') */
  timeoutPolicy: WorkflowTimeoutPolicy;
  /** Initial run variables. (Default: {}) */
  variables: Record<string, Json>;
  /** Input values used where the start request gives none. (Default: none) */
  inputTemplate?: Record<string, Json>;
  ownerEmail?: string;
}

/**
 * Parses and normalizes a WorkflowDef, or throws `E_INVALID_INPUT` listing every problem in `details.validationErrors`.
 */
export function parseWorkflowDef(json: unknown): WorkflowDef {
  const problems = new Problems();
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    problems.add('', 'a workflow definition must be a JSON object', json);
    throw problems.error('workflow definition');
  }
  const raw = json as Record<string, unknown>;
  const name = raw.name;
  if (typeof name !== 'string' || name === '') problems.add('name', 'name is required', name);
  else if (!NAME_PATTERN.test(name))
    problems.add('name', 'name must use letters, digits and . _ - : only (max 128)', name);
  const version = readInteger(raw, 'version', '', problems, { min: 1, fallback: 1 });
  const schemaVersion = 2;
  if (raw.schemaVersion !== undefined && raw.schemaVersion !== null && raw.schemaVersion !== 2) {
    problems.add('schemaVersion', 'only schemaVersion 2 is supported', raw.schemaVersion);
  }

  const failureWorkflow = raw.failureWorkflow === '' || raw.failureWorkflow === null ? undefined : raw.failureWorkflow;
  if (failureWorkflow !== undefined && (typeof failureWorkflow !== 'string' || !NAME_PATTERN.test(failureWorkflow))) {
    problems.add('failureWorkflow', 'failureWorkflow must be a workflow name', failureWorkflow);
  }
  const settings = {
    version,
    inputParameters: readStringList(raw, 'inputParameters', '', problems) ?? [],
    outputParameters: readJsonObject(raw, 'outputParameters', '', problems) ?? {},
    schemaVersion,
    restartable: readBoolean(raw, 'restartable', '', problems, true),
    timeoutSeconds: readInteger(raw, 'timeoutSeconds', '', problems, { min: 0, fallback: 0 }),
    timeoutPolicy: optionalEnum<WorkflowTimeoutPolicy>(
      raw,
      'timeoutPolicy',
      '',
      problems,
      ['TIME_OUT_WF', 'ALERT_ONLY'],
      'ALERT_ONLY',
    ),
    variables: readJsonObject(raw, 'variables', '', problems) ?? {},
  };
  const inputTemplate = readJsonObject(raw, 'inputTemplate', '', problems);

  const context: ParseContext = { problems, refs: new Map(), joins: [] };
  let tasks: WorkflowTask[] = [];
  if (raw.tasks === undefined || raw.tasks === null)
    problems.add('tasks', 'tasks is required and must not be empty', null);
  else if (!Array.isArray(raw.tasks)) problems.add('tasks', 'tasks must be an array', raw.tasks);
  else if (raw.tasks.length === 0) problems.add('tasks', 'tasks must not be empty', []);
  else tasks = parseTaskList(raw.tasks, 'tasks', context);
  checkJoins(context);
  if (problems.any())
    throw problems.error(`workflow definition${typeof name === 'string' && name ? ` '${name}'` : ''}`);
  const def = { ...withoutNulls(raw), ...settings, tasks } as unknown as WorkflowDef;
  if (failureWorkflow === undefined) delete def.failureWorkflow;
  if (inputTemplate !== undefined) def.inputTemplate = inputTemplate;
  return def;
}

/**
 * Parses the tasks a FORK_JOIN_DYNAMIC forks when it runs, each a branch of its own; a ref the graph already uses
 * (`taken`) or a fork inside them is a problem. Throws `E_INVALID_INPUT` listing every problem.
 */
export function parseForkedTasks(json: unknown[], taken: ReadonlySet<string>, what: string): WorkflowTask[] {
  const problems = new Problems();
  const context: ParseContext = { problems, refs: new Map([...taken].map((ref) => [ref, 'the workflow'])), joins: [] };
  const tasks = json.map((item, index) => {
    const [task] = parseTaskList([item], `[${index}]`, context);
    const type = (task as { type?: unknown } | undefined)?.type;
    if (type === 'FORK_JOIN' || type === 'FORK_JOIN_DYNAMIC' || type === 'JOIN')
      problems.add(`[${index}].type`, `a dynamically forked task may not be a ${String(type)}`, type);
    return task;
  });
  if (problems.any()) throw problems.error(what);
  return tasks as WorkflowTask[];
}

/** Parses and normalizes a TaskDef, filling its defaults, or throws `E_INVALID_INPUT` listing every problem. */
export function parseTaskDef(json: unknown): TaskDef {
  const problems = new Problems();
  const def = parseTaskDefFields(json, '', problems);
  if (problems.any() || def === undefined) throw problems.error('task definition');
  return def;
}

/** Parses an array of TaskDefs (paths like `[2].retryLogic`), or throws `E_INVALID_INPUT` listing every problem. */
export function parseTaskDefs(json: unknown): TaskDef[] {
  const problems = new Problems();
  if (!Array.isArray(json)) {
    problems.add('', 'task definitions must be a JSON array', json);
    throw problems.error('task definitions');
  }
  const defs = json.map((item, index) => parseTaskDefFields(item, `[${index}]`, problems));
  if (problems.any()) throw problems.error('task definitions');
  return defs as TaskDef[];
}

/** The TaskDef every default is filled in for, used for a worker task with no registered or inline one. */
export function defaultTaskDef(name: string): TaskDef {
  return { ...DEFAULT_TASK_DEF, name };
}

/** The settings a task runs with: inline, else registered, else defaults; the task's own retryCount wins. */
export function effectiveTaskDef(task: WorkflowTask, registered?: TaskDef): TaskDef {
  const base = task.taskDefinition ?? registered ?? defaultTaskDef(task.name);
  return task.retryCount === undefined ? base : { ...base, retryCount: task.retryCount };
}

/**
 * Delay before retry number `retryNumber` (0 for the first retry), in ms. FIXED d; LINEAR_BACKOFF d*scale*(n+1);
 * EXPONENTIAL_BACKOFF d*2^n. Capped at Number.MAX_SAFE_INTEGER.
 */
export function retryDelayMs(
  taskDef: Pick<TaskDef, 'retryLogic' | 'retryDelaySeconds' | 'backoffScaleFactor'>,
  retryNumber: number,
): number {
  if (!Number.isInteger(retryNumber) || retryNumber < 0) {
    throw new WaymarkError('E_INVALID_INPUT', `retryNumber must be an integer >= 0, got ${String(retryNumber)}`);
  }
  const delayMs = taskDef.retryDelaySeconds * 1000;
  let result: number;
  if (taskDef.retryLogic === 'LINEAR_BACKOFF') result = delayMs * taskDef.backoffScaleFactor * (retryNumber + 1);
  else if (taskDef.retryLogic === 'EXPONENTIAL_BACKOFF') result = delayMs * 2 ** retryNumber;
  else result = delayMs;
  return Math.min(result, Number.MAX_SAFE_INTEGER);
}

/** Fields that describe a definition without changing how it executes; the fingerprint and diffs ignore them. */
export const COSMETIC_FIELDS: readonly string[] = [
  'description',
  'ownerEmail',
  'createTime',
  'updateTime',
  'createdBy',
  'updatedBy',
];

/**
 * Hash of what a parsed definition executes: sha256 of its canonical JSON (sorted keys), first 16 hex chars.
 * Ignores COSMETIC_FIELDS, `name` and `version`, and unmodelled
 * fields at their zero value (null, '', 0, false, [], {}).
 */
export function definitionFingerprint(def: WorkflowDef): string {
  return createHash('sha256')
    .update(canonicalJson(executionView(def)))
    .digest('hex')
    .slice(0, 16);
}

/** JSON text with object keys sorted at every depth, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** The execution-relevant part of a parsed definition (what the fingerprint hashes). */
export function executionView(def: WorkflowDef): Json {
  const { name: _name, version: _version, tasks, ...rest } = def;
  return { ...structuralFields(rest, WORKFLOW_FIELDS), tasks: tasks.map(taskView) };
}

/** The execution-relevant fields of one task, its nested task lists included. */
export function taskView(task: WorkflowTask): Json {
  const view = structuralFields(task as unknown as Record<string, unknown>, TASK_FIELDS);
  if (task.taskDefinition)
    view.taskDefinition = structuralFields(task.taskDefinition as unknown as Record<string, unknown>, TASK_DEF_FIELDS);
  if (task.type === 'SWITCH' || task.type === 'DECISION') {
    view.decisionCases = Object.fromEntries(
      Object.entries(task.decisionCases).map(([key, list]) => [key, list.map(taskView)]),
    );
    view.defaultCase = task.defaultCase.map(taskView);
  } else if (task.type === 'FORK_JOIN') view.forkTasks = task.forkTasks.map((branch) => branch.map(taskView));
  else if (task.type === 'DO_WHILE') view.loopOver = task.loopOver.map(taskView);
  return view;
}

const WORKFLOW_FIELDS = new Set([
  'inputParameters',
  'outputParameters',
  'failureWorkflow',
  'schemaVersion',
  'restartable',
  'timeoutSeconds',
  'timeoutPolicy',
  'variables',
  'inputTemplate',
]);
const TASK_FIELDS = new Set([
  'name',
  'taskReferenceName',
  'type',
  'inputParameters',
  'optional',
  'startDelay',
  'retryCount',
  'evaluatorType',
  'expression',
  'joinOn',
  'loopCondition',
  'subWorkflowParam',
]);
const TASK_DEF_FIELDS = new Set(
  Object.keys(DEFAULT_TASK_DEF).concat([
    'pollTimeoutSeconds',
    'totalTimeoutSeconds',
    'concurrentExecLimit',
    'rateLimitPerFrequency',
    'rateLimitFrequencyInSeconds',
    'inputKeys',
    'outputKeys',
    'inputTemplate',
  ]),
);

/** Copies an object without cosmetic fields, task lists, and unmodelled fields at their zero value. */
function structuralFields(object: Record<string, unknown>, modelled: Set<string>): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined || COSMETIC_FIELDS.includes(key) || TASK_LIST_FIELDS.has(key) || key === 'taskDefinition')
      continue;
    if (!modelled.has(key) && isZeroValue(value)) continue;
    out[key] = value as Json;
  }
  return out;
}

const TASK_LIST_FIELDS = new Set(['decisionCases', 'defaultCase', 'forkTasks', 'loopOver']);

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(object)
      .filter((key) => object[key] !== undefined)
      .sort()
      .map((key) => [key, sortKeys(object[key])]),
  );
}
