/**
 * Carrying out what one message asks: a stored handler's condition and actions, or a code handler's calls. Every
 * action is idempotent for the message (derived run ids, reports only of open tasks), so a redelivery after a crash
 * does nothing twice.
 */
import { randomUUID } from 'node:crypto';
import { ERRORS, WaymarkError, type ErrorSpec } from '../core/errors.js';
import type { Json } from '../core/types.js';
import type { ExpressionEvaluator } from '../declarative/sandbox-pool.js';
import { fillFromPayload, type ConductorEventHandler, type HandlerAction } from './conductor-handlers.js';
import type { EventActionContext, EventEngine, EventMessage } from './types.js';

/** What one stored handler did with one message. */
export interface HandlerOutcome {
  handler: string;
  /** false: its condition was false (no action ran). */
  matched: boolean;
  /** Runs its start_workflow actions started or found. */
  runIds: string[];
  /** Actions refused for good (bad parameters, no such task): logged, and the message is still acknowledged. */
  refused: string[];
}

/** The run id a start for `key` (a handler name) derives from a message: `evt:<key>:<messageId>[:<n>]`. */
export function derivedRunId(key: string, messageId: string, n = 1): string {
  return `evt:${key}:${messageId}${n > 1 ? `:${n}` : ''}`.slice(0, 200);
}

/** Whether an error will not go away by delivering the message again (bad input, missing run or task). */
export function isPermanent(error: unknown): boolean {
  if (!(error instanceof WaymarkError)) return false;
  const spec = (ERRORS as Record<string, ErrorSpec>)[error.code];
  return (
    !!spec && !spec.retryable && (spec.kind === 'invalid' || spec.kind === 'not_found' || spec.kind === 'conflict')
  );
}

/** The action context of one message for a handler known as `key`. */
export function actionContext(engine: EventEngine, message: EventMessage, key: string): EventActionContext {
  let starts = 0;
  let signals = 0;
  const text = (value: Json | undefined, what: string) => {
    if (typeof value !== 'string' || value === '') throw new WaymarkError('E_INVALID_INPUT', `${what} is empty`);
    return value;
  };
  return {
    async start(workflow, input = {}, options = {}) {
      const id = options.id ?? derivedRunId(key, message.id, ++starts);
      const { run } = await engine.startRun(workflow, input, { ...options, id });
      return run.id;
    },
    async signal(runId, name, payload = null) {
      const args = [text(runId, 'runId'), text(name, 'signal name'), payload] as const;
      const ledger = engine.ledger;
      if (!ledger) return engine.signal(...args);
      const note = `${key}:${message.id}:${++signals}`;
      if ((await ledger.begin(note)) === 'sent') return;
      await engine.signal(...args);
      await ledger.done(note);
    },
    completeTask: (runId, ref, output = {}) => engine.reportTask(text(runId, 'workflowId'), ref, 'COMPLETED', output),
    failTask: (runId, ref, output = {}) => engine.reportTask(text(runId, 'workflowId'), ref, 'FAILED', output),
  };
}

/** Whether the handler's condition holds for the payload (no condition: it does). */
async function conditionHolds(
  handler: ConductorEventHandler,
  payload: Json,
  sandbox: () => ExpressionEvaluator,
): Promise<boolean> {
  if (!handler.condition) return true;
  const { value } = await sandbox().evaluate(handler.condition, payload, { timeoutMs: 1_000 });
  return value !== null && value !== false && value !== 0 && value !== '';
}

/** Runs a stored handler's actions for one message; transient failures throw (the message is redelivered). */
export async function runStoredHandler(
  handler: ConductorEventHandler,
  message: EventMessage,
  engine: EventEngine,
  sandbox: () => ExpressionEvaluator,
): Promise<HandlerOutcome> {
  const outcome: HandlerOutcome = { handler: handler.name, matched: false, runIds: [], refused: [] };
  const refuse = (what: string, error: unknown) => {
    outcome.refused.push(`${what}: ${(error as Error).message}`);
    engine.warn('event action refused', { handler: handler.name, messageId: message.id, what, error: String(error) });
  };
  try {
    outcome.matched = await conditionHolds(handler, message.payload, sandbox);
  } catch (error) {
    if (!isPermanent(error)) throw error;
    refuse('condition', error);
    return outcome;
  }
  if (!outcome.matched) return outcome;
  const context = actionContext(engine, message, handler.name);
  for (const [index, action] of handler.actions.entries()) {
    try {
      const runId = await runAction(action, message.payload, context);
      if (runId) outcome.runIds.push(runId);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      refuse(`actions[${index}] ${action.action}`, error);
    }
  }
  return outcome;
}

async function runAction(action: HandlerAction, payload: Json, context: EventActionContext): Promise<string | null> {
  const fill = (value: unknown) => fillFromPayload(value as Json | undefined, payload);
  if (action.action === 'start_workflow') {
    const params = action.start_workflow!;
    const version = fill(params.version);
    const correlationId = fill(params.correlationId);
    return context.start(String(fill(params.name)), fill(params.input ?? {}), {
      ...(typeof version === 'number' ? { version } : {}),
      ...(correlationId !== null && correlationId !== '' ? { correlationId: scalarText(correlationId) } : {}),
    });
  }
  if (action.action === 'signal') {
    const params = action.signal!;
    await context.signal(String(fill(params.runId) ?? ''), String(fill(params.name) ?? ''), fill(params.payload ?? {}));
    return null;
  }
  const params = (action.action === 'complete_task' ? action.complete_task : action.fail_task)!;
  const runId = String(fill(params.workflowId) ?? '');
  const ref = String(fill(params.taskRefName) ?? '');
  const output = fill(params.output ?? {});
  if (action.action === 'complete_task') await context.completeTask(runId, ref, output);
  else await context.failTask(runId, ref, output);
  return null;
}

const scalarText = (value: Json) => (typeof value === 'string' ? value : JSON.stringify(value));

/** A fresh message id for a publish that names none. */
export const newMessageId = (): string => randomUUID();
