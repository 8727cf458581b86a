import { randomUUID } from 'node:crypto';
import { parseDuration } from '../core/duration.js';
import { WaymarkError } from '../core/errors.js';
import { checkStorableText, roundTrip } from '../core/json.js';
import type { Json, RunStartOptions } from '../core/types.js';
import type { CreateRunRequest } from '../store/types.js';
import type { StartOptions } from './kernel.js';
import { START_TRIGGERS, type SpanHandle, type StartTrigger, type Telemetry } from './telemetry.js';
import { validTraceparent } from '../core/traceparent.js';
import type { WorkflowRegistry } from './registry.js';
import { lockKeyOf } from './workflow.js';

/**
 * The run a start asks for: id, routed or pinned version, JSON input, lifetime and lock. Bad input throws before
 * anything is written.
 */
export function startRequest(
  registry: WorkflowRegistry,
  workflow: string,
  input: unknown,
  options: StartOptions,
): CreateRunRequest {
  const id = options.id ?? randomUUID();
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw new WaymarkError('E_INVALID_INPUT', 'run id must be a non-empty string of at most 200 characters');
  }
  checkStorableText(id, 'run id');
  const line = options.parent ? registry.lineOf(options.parent.workflow, options.parent.version) : undefined;
  const version = registry.resolveVersion(workflow, options.version, options.force, options.routeKey, line);
  const json = roundTrip(input, 'input') as Json | undefined;
  const request: CreateRunRequest = { id, workflow, version, input: json ?? null };
  const definition = registry.get(workflow, version);
  const lifetime = options.maxLifetimeMs ?? definition?.maxLifetimeMs;
  if (lifetime !== undefined) request.expiresAt = Date.now() + parseDuration(lifetime, 'maxLifetimeMs');
  if (options.correlationId !== undefined) {
    if (typeof options.correlationId !== 'string' || options.correlationId.length > 500)
      throw new WaymarkError('E_INVALID_INPUT', 'correlationId must be a string of at most 500 characters');
    request.correlationId = checkStorableText(options.correlationId, 'correlationId');
  }
  if (options.startOptions !== undefined) request.startOptions = checkedStartOptions(options.startOptions);
  if (definition?.lock)
    request.lock = { key: lockKeyOf(definition, json), onConflict: definition.lock.onConflict ?? 'reject' };
  if (options.traceparent !== undefined) {
    const traceparent = validTraceparent(options.traceparent);
    if (traceparent === undefined)
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `traceparent must be a W3C traceparent ('00-<32 hex>-<16 hex>-<2 hex>'), ` +
          `got ${JSON.stringify(options.traceparent)}`,
      );
    request.traceparent = traceparent;
  }
  return request;
}

/** Start options checked: priority 0-99, string domains, storable text; E_INVALID_INPUT otherwise. */
function checkedStartOptions(options: RunStartOptions): RunStartOptions {
  const bad = (why: string) => new WaymarkError('E_INVALID_INPUT', `startOptions: ${why}`);
  const { priority, taskToDomain, idempotencyKey, idempotencyStrategy } = options;
  const checked: RunStartOptions = {};
  if (priority !== undefined) {
    if (!Number.isInteger(priority) || priority < 0 || priority > 99) throw bad('priority must be an integer 0-99');
    if (priority) checked.priority = priority;
  }
  if (taskToDomain !== undefined) {
    if (taskToDomain === null || typeof taskToDomain !== 'object' || Array.isArray(taskToDomain))
      throw bad('taskToDomain must map task types to domains');
    for (const [type, domain] of Object.entries(taskToDomain)) {
      if (typeof domain !== 'string') throw bad(`the domain of '${type}' must be a string`);
      checkStorableText(type, 'taskToDomain key');
      checkStorableText(domain, 'taskToDomain domain');
    }
    if (Object.keys(taskToDomain).length) checked.taskToDomain = { ...taskToDomain };
  }
  for (const [name, value] of [
    ['idempotencyKey', idempotencyKey],
    ['idempotencyStrategy', idempotencyStrategy],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length > 500)
      throw bad(`${name} must be a string of at most 500 characters`);
    checked[name] = checkStorableText(value, name);
  }
  return checked;
}

/** What started a run, as metrics count it; E_INVALID_INPUT for a trigger not in the list (labels stay bounded). */
export function startTrigger(options: StartOptions): StartTrigger {
  const trigger = options.trigger ?? (options.parent ? 'sub_workflow' : 'call');
  if (!START_TRIGGERS.includes(trigger))
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `trigger must be one of ${START_TRIGGERS.join(', ')}, got ${JSON.stringify(options.trigger)}`,
    );
  return trigger;
}

/**
 * The start's span, a child of the caller's traceparent; the run records the span's traceparent (with tracing off,
 * the caller's as it is), so its executions on any worker continue the trace.
 */
export function traceStart(telemetry: Telemetry, request: CreateRunRequest): SpanHandle {
  const span = telemetry.startSpan('waymark.start', {
    ...(request.traceparent !== undefined ? { parent: request.traceparent } : {}),
    kind: 'producer',
    attributes: { 'workflow.name': request.workflow, 'workflow.version': request.version, 'run.id': request.id },
  });
  if (span.traceparent !== undefined) request.traceparent = span.traceparent;
  return span;
}
