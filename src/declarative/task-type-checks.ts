/**
 * The checks of the task types that carry their settings in fields or inputParameters (SWITCH/DECISION cases, HTTP,
 * WAIT, TERMINATE, SUB_WORKFLOW and the other system tasks), for definition-checks.ts; each records its problems.
 */
import type { TaskType } from './definitions.js';
import type { ParseContext } from './definition-checks.js';
import {
  type Problems,
  type Raw,
  checkEnum,
  isExpression,
  isNonEmptyString,
  isPresent,
  isRecord,
  join,
  NAME_PATTERN,
  readInteger,
  readStringList,
  withoutNulls,
} from './problems.js';
import { parseWaitDuration, parseWaitUntil } from './wait-time.js';

/** A required string input parameter (an expression resolved later passes). */
function requireInput(input: Raw, key: string, path: string, problems: Problems, message: string): boolean {
  const value = input[key];
  if (isExpression(value)) return false;
  if (!isNonEmptyString(value)) {
    problems.add(join(path, key), message, value ?? null);
    return false;
  }
  return true;
}

/** The checks of the system task types that carry their settings in fields or inputParameters. */
export function checkSystemTask(type: TaskType, value: Raw, task: Raw, path: string, context: ParseContext): void {
  const { problems } = context;
  const input = task.inputParameters as Raw;
  const inputPath = join(path, 'inputParameters');
  switch (type) {
    case 'JSON_JQ_TRANSFORM':
      requireInput(
        input,
        'queryExpression',
        inputPath,
        problems,
        'a JSON_JQ_TRANSFORM task needs ' + 'inputParameters.queryExpression (a jq query)',
      );
      break;
    case 'EVENT':
      checkSink(value.sink, join(path, 'sink'), problems);
      break;
    case 'LAMBDA':
      requireInput(
        input,
        'scriptExpression',
        inputPath,
        problems,
        'a LAMBDA task needs ' + 'inputParameters.scriptExpression (a javascript function body)',
      );
      break;
    case 'DYNAMIC':
      checkDynamic(value, task, path, problems);
      break;
    case 'FORK_JOIN_DYNAMIC':
      checkDynamicFork(value, task, path, problems);
      break;
    case 'EXCLUSIVE_JOIN':
      task.joinOn = readStringList(value, 'joinOn', path, problems) ?? [];
      task.defaultExclusiveJoinTask = readStringList(value, 'defaultExclusiveJoinTask', path, problems) ?? [];
      if ((task.joinOn as string[]).length === 0)
        problems.add(join(path, 'joinOn'), 'an EXCLUSIVE_JOIN needs the refs it joins on in joinOn', value.joinOn);
      context.joins.push({ path: join(path, 'joinOn'), joinOn: task.joinOn, forkRefs: undefined });
      context.joins.push({
        path: join(path, 'defaultExclusiveJoinTask'),
        joinOn: task.defaultExclusiveJoinTask,
        forkRefs: undefined,
      });
      break;
    case 'START_WORKFLOW': {
      const request = input.startWorkflow;
      const requestPath = join(inputPath, 'startWorkflow');
      if (isExpression(request)) break;
      if (!isRecord(request)) {
        problems.add(
          requestPath,
          'a START_WORKFLOW task needs inputParameters.startWorkflow { name, version, input }',
          request ?? null,
        );
        break;
      }
      if (!isExpression(request.name) && !(isNonEmptyString(request.name) && NAME_PATTERN.test(request.name)))
        problems.add(join(requestPath, 'name'), 'startWorkflow.name must be a workflow name', request.name ?? null);
      if (!isExpression(request.version))
        readInteger(request, 'version', requestPath, problems, { min: 1, fallback: undefined });
      break;
    }
    default:
      break;
  }
}

export function checkDecision(value: Raw, task: Raw, path: string, problems: Problems): void {
  const { caseValueParam, caseExpression } = value;
  if (isNonEmptyString(caseExpression)) task.caseExpression = caseExpression;
  else if (isNonEmptyString(caseValueParam)) task.caseValueParam = caseValueParam;
  else
    problems.add(
      join(path, 'caseValueParam'),
      'a DECISION needs a caseValueParam (an input parameter name) or a caseExpression',
      caseValueParam ?? null,
    );
}

function checkDynamic(value: Raw, task: Raw, path: string, problems: Problems): void {
  const param = value.dynamicTaskNameParam;
  if (!isNonEmptyString(param)) {
    problems.add(
      join(path, 'dynamicTaskNameParam'),
      'a DYNAMIC task needs dynamicTaskNameParam: the input parameter holding the name of the task to run',
      param ?? null,
    );
    return;
  }
  const input = task.inputParameters as Raw;
  const name = input[param];
  const at = join(join(path, 'inputParameters'), param);
  if (!isPresent(name))
    problems.add(
      at,
      `a DYNAMIC task reads the name of the task to run from inputParameters.${param}, which is not set`,
      null,
    );
  else if (!isExpression(name) && !(typeof name === 'string' && NAME_PATTERN.test(name)))
    problems.add(at, `inputParameters.${param} names the task a DYNAMIC task runs: it must be a task name`, name);
}

function checkDynamicFork(value: Raw, task: Raw, path: string, problems: Problems): void {
  const input = task.inputParameters as Raw;
  if (isPresent(value.dynamicForkJoinTasksParam) && !isPresent(value.dynamicForkTasksParam)) {
    problems.add(
      join(path, 'dynamicForkJoinTasksParam'),
      'dynamicForkJoinTasksParam (the legacy form) is not supported: use dynamicForkTasksParam and ' +
        'dynamicForkTasksInputParamName, or forkTaskName and forkTaskInputs in inputParameters',
      value.dynamicForkJoinTasksParam,
    );
    return;
  }
  const simple = isPresent(input.forkTaskName) || isPresent(input.forkTaskWorkflow) || isPresent(input.forkTaskType);
  if (simple) {
    if (!isPresent(input.forkTaskInputs))
      problems.add(
        join(join(path, 'inputParameters'), 'forkTaskInputs'),
        'a FORK_JOIN_DYNAMIC with forkTaskName needs inputParameters.forkTaskInputs (a list of inputs)',
        null,
      );
    return;
  }
  for (const key of ['dynamicForkTasksParam', 'dynamicForkTasksInputParamName']) {
    const param = value[key];
    if (!isNonEmptyString(param))
      problems.add(
        join(path, key),
        `a FORK_JOIN_DYNAMIC needs ${key} (or forkTaskName and forkTaskInputs in inputParameters)`,
        param ?? null,
      );
    else if (!isPresent(input[param]))
      problems.add(
        join(join(path, 'inputParameters'), param),
        `${key} names inputParameters.${param}, which is not set`,
        null,
      );
  }
}

export function checkSubWorkflow(value: Raw, task: Raw, path: string, problems: Problems): void {
  const param = value.subWorkflowParam;
  const paramPath = join(path, 'subWorkflowParam');
  if (!isRecord(param)) {
    problems.add(join(paramPath, 'name'), 'a SUB_WORKFLOW needs subWorkflowParam.name', null);
    return;
  }
  if (!isNonEmptyString(param.name))
    problems.add(join(paramPath, 'name'), 'a SUB_WORKFLOW needs subWorkflowParam.name', param.name);
  else if (!NAME_PATTERN.test(param.name))
    problems.add(join(paramPath, 'name'), 'subWorkflowParam.name must be a workflow name', param.name);
  const version = readInteger(param, 'version', paramPath, problems, { min: 1, fallback: undefined });
  const normalized = withoutNulls(param);
  if (version === undefined) delete normalized.version;
  task.subWorkflowParam = normalized;
}

export function checkWait(input: Raw, path: string, problems: Problems): void {
  const { duration, until } = input;
  if (isPresent(duration) && isPresent(until)) problems.add(path, 'a WAIT takes duration or until, not both', null);
  if (isPresent(duration) && !isExpression(duration)) {
    if (typeof duration !== 'string')
      problems.add(join(path, 'duration'), "a WAIT duration must be a string like '10s', '5m', '1h' or '1d'", duration);
    else attempt(() => parseWaitDuration(duration), join(path, 'duration'), duration, problems);
  }
  if (isPresent(until) && !isExpression(until)) {
    if (typeof until !== 'string')
      problems.add(join(path, 'until'), "a WAIT until must be a string like '2030-01-31 14:00 UTC'", until);
    else attempt(() => parseWaitUntil(until), join(path, 'until'), until, problems);
  }
}

export function checkTerminate(input: Raw, path: string, problems: Problems): void {
  const status = input.terminationStatus;
  if (!isExpression(status)) {
    checkEnum(
      status,
      join(path, 'terminationStatus'),
      problems,
      ['COMPLETED', 'FAILED', 'TERMINATED'],
      'a TERMINATE task needs inputParameters.terminationStatus',
    );
  }
  if (isPresent(input.terminationReason) && typeof input.terminationReason !== 'string') {
    problems.add(join(path, 'terminationReason'), 'terminationReason must be a string', input.terminationReason);
  }
}

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** Conductor reads `http_request`, or (when it is absent) the input itself: `uri` and `method` beside the rest. */
export function checkHttp(input: Raw, path: string, problems: Problems): void {
  const direct = !isPresent(input.http_request) && (isPresent(input.uri) || isPresent(input.method));
  const request = direct ? input : input.http_request;
  const requestPath = direct ? path : join(path, 'http_request');
  if (isExpression(request)) return;
  if (!isRecord(request)) {
    problems.add(
      join(path, 'http_request'),
      'an HTTP task needs inputParameters.http_request { uri, method } (or uri and method in inputParameters)',
      request,
    );
    return;
  }
  if (!isNonEmptyString(request.uri)) problems.add(join(requestPath, 'uri'), 'http_request needs a uri', request.uri);
  if (!isExpression(request.method))
    checkEnum(request.method, join(requestPath, 'method'), problems, HTTP_METHODS, 'http_request needs a method');
  if (isPresent(request.headers) && !isRecord(request.headers) && !isExpression(request.headers)) {
    problems.add(join(requestPath, 'headers'), 'http_request.headers must be an object', request.headers);
  }
}

function attempt(parse: () => unknown, path: string, value: unknown, problems: Problems): void {
  try {
    parse();
  } catch (error) {
    problems.add(path, (error as Error).message, value);
  }
}

/** The sinks an EVENT task may publish to: `conductor`, `conductor:<queue>`, `nats:<subject>`, `amqp:<queue>`. */
export const SINK_PATTERN = /^(conductor|(conductor|nats|amqp):[A-Za-z0-9][A-Za-z0-9._:-]{0,199})$/;

function checkSink(sink: unknown, path: string, problems: Problems): void {
  if (typeof sink === 'string' && SINK_PATTERN.test(sink)) return;
  problems.add(
    path,
    'an EVENT task needs a sink: conductor, conductor:<queue>, nats:<subject> or amqp:<queue> (other brokers, ' +
      'e.g. sqs: or kafka:, are not supported)',
    sink,
  );
}
