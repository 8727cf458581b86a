import type { RunStatus } from '../core/types.js';
import type { RunListQuery } from '../engine.js';
import { FieldError } from './errors.js';
import { runStatus, version, workflowName } from './schemas.js';

/** A run filter as the API takes it: the list's query and a bulk action's `filter`. */
export interface RunFilterInput {
  workflow?: string;
  version?: number;
  status?: RunStatus | RunStatus[];
  correlationId?: string;
  attention?: boolean;
  stuckForMs?: number;
  startedAfter?: string | number;
  startedBefore?: string | number;
}

const instant = (what: string) => ({
  anyOf: [
    { type: 'integer', minimum: 0, description: 'epoch ms' },
    { type: 'string', minLength: 1, maxLength: 40, description: 'ISO-8601 date-time, or epoch ms' },
  ],
  title: 'an ISO-8601 date-time or epoch ms',
  description: what,
});

/** The schema properties of a run filter; `status` is given by the caller (a query takes a comma-separated list). */
export const runFilterProperties = {
  workflow: workflowName,
  version,
  correlationId: {
    type: 'string',
    minLength: 1,
    maxLength: 500,
    description: 'only runs started with this correlation id',
  },
  attention: {
    type: 'boolean',
    description: 'true: only runs that need an operator (status needs_attention, or attention set)',
  },
  stuckForMs: {
    type: 'integer',
    minimum: 0,
    maximum: 3_153_600_000_000,
    description: 'only in-flight runs with no progress (updatedAt) for at least this many ms',
  },
  startedAfter: instant('only runs started at or after this time'),
  startedBefore: instant('only runs started before this time'),
};

/** The statuses property of a filter given in a body: one status or a list. */
export const statusProperty = {
  anyOf: [runStatus, { type: 'array', items: runStatus, minItems: 1 }],
  title: 'a run status or a list of them',
};

/** The filter as the engine's page query; a time that is not one is a 400 naming `where`.field. */
export function runListQuery(filter: RunFilterInput, where: string): RunListQuery {
  const query: RunListQuery = {};
  if (filter.workflow !== undefined) query.workflow = filter.workflow;
  if (filter.version !== undefined) query.version = filter.version;
  if (filter.status !== undefined) query.status = filter.status;
  if (filter.correlationId !== undefined) query.correlationId = filter.correlationId;
  if (filter.attention === true) query.attention = true;
  if (filter.stuckForMs !== undefined) query.stuckForMs = filter.stuckForMs;
  if (filter.startedAfter !== undefined) query.startedAfter = epochMsOf(filter.startedAfter, `${where}.startedAfter`);
  if (filter.startedBefore !== undefined)
    query.startedBefore = epochMsOf(filter.startedBefore, `${where}.startedBefore`);
  return query;
}

/** Epoch ms from epoch ms or its text, or from an ISO-8601 date-time; a FieldError naming `field` otherwise. */
export function epochMsOf(value: string | number, field: string): number {
  if (typeof value === 'number') return value;
  const ms = /^\d{1,16}$/.test(value) ? Number(value) : ISO_DATE.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new FieldError(field, "must be an ISO-8601 date-time (e.g. '2026-01-31T12:00:00Z') or epoch ms");
  return ms;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
