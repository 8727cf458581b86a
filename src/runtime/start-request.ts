import { randomUUID } from 'node:crypto';
import { parseDuration } from '../core/duration.js';
import { WaymarkError } from '../core/errors.js';
import { checkStorableText, roundTrip } from '../core/json.js';
import type { Json } from '../core/types.js';
import type { CreateRunRequest } from '../store/types.js';
import type { StartOptions } from './kernel.js';
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
  if (definition?.lock)
    request.lock = { key: lockKeyOf(definition, json), onConflict: definition.lock.onConflict ?? 'reject' };
  return request;
}
