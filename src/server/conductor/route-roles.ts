import type { RouteRole } from '../../core/roles.js';

/**
 * Route options of the Conductor API, by the role a route needs. Its routes stay out of Waymark's OpenAPI
 * document: Conductor's API is documented by Conductor.
 */
const needs = (role: RouteRole, audit?: boolean) => ({
  schema: { hide: true },
  config: { role, ...(audit === undefined ? {} : { audit }) },
});

/** Reads: workflows, tasks, queues, definitions. */
export const forReaders = needs('reader');
/** What remote workers do: poll, report, log. */
export const forWorkers = needs('worker');
/** Operator actions on workflows (audited). */
export const forOperators = needs('operator');
/** Starts: an operator's, not audited (they are the workload, not changes to it). */
export const forStarts = needs('operator', false);
/** Definitions and removals (audited). */
export const forAdmins = needs('admin');
