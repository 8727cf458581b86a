/** What the events layer hands out and what it needs from the engine. */
import type { Json } from '../core/types.js';

/** A message taken from a queue. `id` is stable across redeliveries of the same message. */
export interface EventMessage {
  /** The queue URI it came from (`nats:orders`). */
  queue: string;
  id: string;
  payload: Json;
}

/** Broker connection settings (EngineOptions.events). */
export interface EventOptions {
  /** NATS server URL for `nats:` queues, e.g. 'nats://127.0.0.1:4222'. (Default: none: `nats:` queues refused) */
  nats?: string;
  /** AMQP URL for `amqp:` queues, e.g. 'amqp://guest:guest@127.0.0.1:5672'. (Default: none: `amqp:` refused) */
  amqp?: string;
  /**
   * Run the Conductor event handlers kept in the store on this engine (consume their queues). (Default: true when
   * `events` is given at all)
   */
  consumeHandlers?: boolean;
  /** How long a delivered, unacknowledged message stays with this consumer before the broker redelivers it, in ms. */
  ackWaitMs?: number;
  /** How often the built-in queues are polled and the stored handlers re-read, in ms. (Default: 1000) */
  pollMs?: number;
}

/** The engine operations event actions use; every one is idempotent for the same message. */
export interface EventEngine {
  /** Starts a run with this id, or returns the run that already has it. */
  startRun(
    workflow: string,
    input: Json,
    options: { id: string; version?: number; correlationId?: string },
  ): Promise<{ run: { id: string }; created: boolean }>;
  /** Sends a signal to a run. */
  signal(runId: string, name: string, payload: Json): Promise<void>;
  /**
   * Reports the open task `ref` of a run (COMPLETED / FAILED with output); false when it has no such open task
   * (already reported: a redelivery).
   */
  reportTask(runId: string, ref: string, status: 'COMPLETED' | 'FAILED', output: Json): Promise<boolean>;
  warn(message: string, facts: Record<string, unknown>): void;
  /**
   * Where sent signals are noted, so a redelivered message does not send its signal again. (Default: none: a
   * redelivery sends it again)
   */
  ledger?: SignalLedger;
}

/** Notes of signals sent for messages: `begin` before sending, `done` after. */
export interface SignalLedger {
  /** Notes the send; 'new' the first time, 'sent' when done before, 'unsure' when begun and never done. */
  begin(key: string): Promise<'new' | 'sent' | 'unsure'>;
  done(key: string): Promise<void>;
}

/** What a handler in code may do for one message; each action is committed before the message is acknowledged. */
export interface EventActionContext {
  /** Starts a run whose id derives from the message (`evt:<key>:<messageId>`) unless `id` is given. */
  start(
    workflow: string,
    input?: Json,
    options?: { id?: string; version?: number; correlationId?: string },
  ): Promise<string>;
  /** Sends a signal to a run, once per message (a redelivery that finds it sent does not send it again). */
  signal(runId: string, name: string, payload?: Json): Promise<void>;
  /** Completes the open task `ref` of a run with `output` (nothing when already reported). */
  completeTask(runId: string, ref: string, output?: Json): Promise<boolean>;
  /** Fails the open task `ref` of a run with `output` (nothing when already reported). */
  failTask(runId: string, ref: string, output?: Json): Promise<boolean>;
}

/** A handler in code: resolves once its actions are done; throwing leaves the message for redelivery. */
export type EventHandlerFn = (message: EventMessage, actions: EventActionContext) => Promise<void> | void;
