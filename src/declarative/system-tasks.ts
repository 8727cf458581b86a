/**
 * The parts of system tasks that are pure: what a FORK_JOIN_DYNAMIC forks, what a START_WORKFLOW starts, and the
 * script a LAMBDA runs. Each failure is the definition's or its data's, so none is retried.
 */
import { ERRORS, type WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import { NAME_PATTERN } from './definition-checks.js';
import { parseForkedTasks, type ForkJoinDynamicTask, type WorkflowTask } from './definitions.js';
import { isRecord } from './problems.js';
import { refusal } from './refusals.js';

type Input = Record<string, Json>;

/** What a FORK_JOIN_DYNAMIC forks: parsed tasks (one branch each) and the input each gets on top of its own. */
export interface ForkPlan {
  tasks: WorkflowTask[];
  inputs: Record<string, Input>;
}

const text = (value: Json | undefined): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * The tasks a FORK_JOIN_DYNAMIC forks, from `forkTaskName`/`forkTaskWorkflow` + `forkTaskInputs` (refs
 * `_<name>_<i>`, input `{ ...item, __index: i }`) or from `dynamicForkTasksParam` + `dynamicForkTasksInputParamName`.
 * `taken` holds the refs of the graph: a forked task may not reuse one.
 */
export function forkPlan(task: ForkJoinDynamicTask, input: Input, taken: ReadonlySet<string>): ForkPlan {
  const what = `FORK_JOIN_DYNAMIC '${task.taskReferenceName}'`;
  const parse = (raw: unknown[]) => {
    try {
      return parseForkedTasks(raw, taken, `the tasks ${what} forks`);
    } catch (error) {
      throw refusal('E_INVALID_INPUT', (error as Error).message);
    }
  };
  const workflow = text(input.forkTaskWorkflow);
  const type = text(input.forkTaskType);
  if (text(input.forkTaskName) || workflow || type) {
    const items = input.forkTaskInputs;
    if (!Array.isArray(items))
      throw refusal(
        'E_INVALID_INPUT',
        `${what}: inputParameters.forkTaskInputs must be a list, got ${JSON.stringify(items ?? null)}`,
      );
    const name = text(input.forkTaskName) ?? (type && type !== 'SIMPLE' ? type : task.taskReferenceName);
    const version = Number(input.forkTaskWorkflowVersion);
    const inputs: Record<string, Input> = {};
    const raw = items.map((item, index) => {
      const ref = `_${name}_${index}`;
      inputs[ref] = { ...(isRecord(item) ? (item as Input) : { input: item }), __index: index };
      return {
        name: workflow ?? name,
        taskReferenceName: ref,
        type: workflow ? 'SUB_WORKFLOW' : (type ?? 'SIMPLE'),
        optional: task.optional,
        ...(workflow
          ? { subWorkflowParam: { name: workflow, ...(Number.isInteger(version) && version > 0 ? { version } : {}) } }
          : {}),
      };
    });
    return { tasks: parse(raw), inputs };
  }
  const listed = input[task.dynamicForkTasksParam ?? ''];
  if (!Array.isArray(listed))
    throw refusal(
      'E_INVALID_INPUT',
      `${what}: inputParameters.${task.dynamicForkTasksParam} must be a list of tasks, ` +
        `got ${JSON.stringify(listed ?? null)}`,
    );
  const given = input[task.dynamicForkTasksInputParamName ?? ''];
  if (!isRecord(given))
    throw refusal(
      'E_INVALID_INPUT',
      `${what}: inputParameters.${task.dynamicForkTasksInputParamName} must be a map of ref -> input, ` +
        `got ${JSON.stringify(given ?? null)}`,
    );
  const tasks = parse(listed);
  const inputs: Record<string, Input> = {};
  for (const forked of tasks) {
    const extra = (given as Input)[forked.taskReferenceName];
    if (isRecord(extra)) inputs[forked.taskReferenceName] = extra as Input;
  }
  return { tasks, inputs };
}

/** A START_WORKFLOW task's request, read from `inputParameters.startWorkflow`. */
export interface StartWorkflowRequest {
  name: string;
  version?: number;
  input: Json;
  correlationId?: string;
}

/** Reads `startWorkflow { name, version, input, correlationId }`; a bad one is E_INVALID_INPUT, not retried. */
export function startWorkflowRequest(ref: string, input: Input): StartWorkflowRequest {
  const request = input.startWorkflow;
  if (!isRecord(request))
    throw refusal('E_INVALID_INPUT', `START_WORKFLOW '${ref}': missing 'startWorkflow' in input data`);
  const { name, version, correlationId } = request as Input;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name))
    throw refusal(
      'E_INVALID_INPUT',
      `START_WORKFLOW '${ref}': startWorkflow.name must be a workflow name, got ${JSON.stringify(name ?? null)}`,
    );
  const out: StartWorkflowRequest = { name, input: ((request as Input).input ?? {}) as Json };
  if (typeof version === 'number' && Number.isInteger(version) && version > 0) out.version = version;
  if (typeof correlationId === 'string' && correlationId !== '') out.correlationId = correlationId;
  return out;
}

/** A start that failed for a reason no retry helps (unknown workflow, bad input) fails the task at once. */
export function startFailure(ref: string, name: string, error: unknown): unknown {
  const code = (error as WaymarkError)?.code;
  const spec = code ? (ERRORS as Record<string, { kind: string; retryable: boolean }>)[code] : undefined;
  if (!spec || spec.retryable || spec.kind === 'unavailable' || spec.kind === 'internal') return error;
  return refusal(code!, `START_WORKFLOW '${ref}' could not start '${name}': ${(error as Error).message}`);
}

/** The script a LAMBDA runs: Conductor's function body, called once with `$` in scope. */
export function lambdaScript(body: string): string {
  return `(function () {\n${body}\n})()`;
}
