/**
 * Conductor event handlers: `{ name, event, condition?, evaluatorType?, actions[], active }` with the actions
 * `start_workflow`, `complete_task` and `fail_task`; `${path}` in an action's values reads the message payload.
 */
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import { parseQueueUri } from './uri.js';

/** The action kinds a handler may name: Conductor's three, and Waymark's `signal` (a signal to a run). */
export const ACTION_KINDS = ['start_workflow', 'complete_task', 'fail_task', 'signal'] as const;

/** One action of a handler, as written (its parameters still hold `${...}`). */
export interface HandlerAction {
  action: (typeof ACTION_KINDS)[number];
  start_workflow?: { name: string; version?: number; input?: Json; correlationId?: string };
  complete_task?: { workflowId: string; taskRefName: string; output?: Json };
  fail_task?: { workflowId: string; taskRefName: string; output?: Json };
  signal?: { runId: string; name: string; payload?: Json };
}

/** A checked event handler. */
export interface ConductorEventHandler {
  name: string;
  event: string;
  condition?: string;
  evaluatorType?: 'javascript';
  actions: HandlerAction[];
  active: boolean;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const invalid = (message: string) => new WaymarkError('E_INVALID_INPUT', `event handler: ${message}`);

/** Checks a handler definition; every problem is E_INVALID_INPUT naming its field. */
export function parseEventHandler(raw: unknown): ConductorEventHandler {
  if (!isRecord(raw)) throw invalid('the body must be a JSON object');
  const { name, event, condition, evaluatorType, actions, active } = raw;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid(`name must be 1-128 letters, digits or . _ : - (got ${JSON.stringify(name ?? null)})`);
  }
  const address = parseQueueUri(event, `event handler '${name}': event`);
  if (condition !== undefined && condition !== null && typeof condition !== 'string') {
    throw invalid(`'${name}': condition must be a JavaScript expression (a string)`);
  }
  if (evaluatorType !== undefined && evaluatorType !== null && evaluatorType !== 'javascript') {
    throw invalid(
      `'${name}': evaluatorType ${JSON.stringify(evaluatorType)} is not supported: conditions are JavaScript ` +
        "expressions over the payload as $ (evaluatorType 'javascript')",
    );
  }
  if (!Array.isArray(actions) || actions.length === 0) throw invalid(`'${name}': actions must be a non-empty list`);
  const handler: ConductorEventHandler = {
    name,
    event: address.uri,
    actions: actions.map((action, index) => parseAction(action, `'${name}': actions[${index}]`)),
    active: active === undefined || active === null ? true : active === true,
  };
  if (typeof active !== 'boolean' && active !== undefined && active !== null) {
    throw invalid(`'${name}': active must be true or false`);
  }
  if (typeof condition === 'string' && condition.trim() !== '') handler.condition = condition;
  if (handler.condition) handler.evaluatorType = 'javascript';
  return handler;
}

function parseAction(raw: unknown, path: string): HandlerAction {
  if (!isRecord(raw)) throw invalid(`${path} must be an object`);
  const kind = raw.action;
  if (!ACTION_KINDS.includes(kind as HandlerAction['action'])) {
    throw invalid(`${path}.action ${JSON.stringify(kind ?? null)} is not supported: use ${ACTION_KINDS.join(', ')}`);
  }
  const params = raw[kind as string];
  if (!isRecord(params)) throw invalid(`${path}: missing '${kind}' with the action's parameters`);
  if (kind === 'start_workflow') {
    if (typeof params.name !== 'string' || params.name === '') throw invalid(`${path}.start_workflow.name is required`);
    if (params.version !== undefined && params.version !== null && !Number.isInteger(params.version)) {
      throw invalid(`${path}.start_workflow.version must be an integer`);
    }
  } else if (kind === 'signal') {
    for (const field of ['runId', 'name']) {
      if (typeof params[field] !== 'string' || params[field] === '') {
        throw invalid(`${path}.signal.${field} is required (a value or a \${...} path into the payload)`);
      }
    }
  } else {
    for (const field of ['workflowId', 'taskRefName']) {
      if (typeof params[field] !== 'string' || params[field] === '') {
        throw invalid(`${path}.${kind}.${field} is required (a value or a \${...} path into the payload)`);
      }
    }
  }
  return { action: kind as HandlerAction['action'], [kind as string]: params } as HandlerAction;
}

/** The value at a dotted path of the payload (`a.b[0].c`, `$.a.b`); null when missing. */
export function payloadPath(payload: Json, path: string): Json {
  const trimmed = path.trim().replace(/^\$\.?/, '');
  if (trimmed === '') return payload;
  let current: unknown = payload;
  for (const part of trimmed.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '')) {
    if (Array.isArray(current) && /^\d+$/.test(part)) current = current[Number(part)];
    else if (isRecord(current) && Object.hasOwn(current, part)) current = current[part];
    else return null;
  }
  return current === undefined ? null : (current as Json);
}

/** Replaces `${path}` in every string of `value` by the payload's value there (a whole-string one keeps its type). */
export function fillFromPayload(value: Json | undefined, payload: Json): Json {
  if (value === undefined) return null;
  if (typeof value === 'string') {
    const whole = /^\$\{([^}]*)\}$/.exec(value);
    if (whole) return payloadPath(payload, whole[1]!);
    return value.replace(/\$\{([^}]*)\}/g, (_, path: string) => {
      const found = payloadPath(payload, path);
      return typeof found === 'string' ? found : JSON.stringify(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => fillFromPayload(item, payload));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillFromPayload(v, payload)]));
  }
  return value;
}
