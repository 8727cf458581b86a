/**
 * Limits on what a declarative definition may make the engine do: the authors of definitions are not
 * trusted with the server's time, its event loop or its network. Every limit has a default and is checked
 * when the declarative support is made.
 */
import { WaymarkError } from '../core/errors.js';
import { httpPolicy, type HttpPolicy, type HttpTaskOptions } from './http-task.js';

/** Options of the declarative support (`declarativeSupport(options)`, the server's `declarativeOptions`). */
export interface DeclarativeOptions {
  /**
   * What HTTP tasks may reach, and for how long. (Default: no
   * loopback, private, link-local or own addresses; 10 s; 1 MiB)
   */
  http?: HttpTaskOptions;
  /** Sandbox time all the expressions of one run may use together, in ms. (Default: 10000) */
  expressionBudgetMs?: number;
  /** Sandbox time one evaluation may use, in ms. (Default: 1000) */
  expressionTimeoutMs?: number;
  /** DO_WHILE iterations one run may take, every loop and nested loop counted together. (Default: 1000) */
  maxLoopIterations?: number;
  /** SUB_WORKFLOW levels below a run started on its own. (Default: 5) */
  maxSubWorkflowDepth?: number;
  /** SUB_WORKFLOW tasks one run may start. (Default: 100) */
  maxSubWorkflows?: number;
  /** Worker threads evaluating expressions, off the event loop. (Default: 2) */
  sandboxThreads?: number;
}

/** The options with their defaults applied. */
export interface DeclarativeLimits {
  http: HttpPolicy;
  expressionBudgetMs: number;
  expressionTimeoutMs: number;
  maxLoopIterations: number;
  maxSubWorkflowDepth: number;
  maxSubWorkflows: number;
  sandboxThreads: number;
}

export const DEFAULT_LIMITS: Readonly<Omit<DeclarativeLimits, 'http'>> = Object.freeze({
  expressionBudgetMs: 10_000,
  expressionTimeoutMs: 1_000,
  maxLoopIterations: 1_000,
  maxSubWorkflowDepth: 5,
  maxSubWorkflows: 100,
  sandboxThreads: 2,
});

/** Applies the defaults; a bad value is E_INVALID_INPUT naming the option. */
export function resolveLimits(options: DeclarativeOptions = {}): DeclarativeLimits {
  const limits = { ...DEFAULT_LIMITS, http: httpPolicy(options.http) };
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof typeof DEFAULT_LIMITS>) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || (key === 'sandboxThreads' && value > 64)) {
      throw new WaymarkError(
        'E_INVALID_INPUT',
        `${key} must be a positive integer${key === 'sandboxThreads' ? ' up to 64' : ''}, got ${JSON.stringify(value)}`,
        { details: { option: key } },
      );
    }
    limits[key] = value;
  }
  return limits;
}
