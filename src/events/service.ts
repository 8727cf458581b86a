/**
 * `engine.events`: queues by URI (conductor:, nats:, amqp:), handlers in code (`on`), the Conductor event handlers
 * kept in the store, and publishing. A message is acknowledged only after every action it triggers is committed.
 */
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import { sharedSandboxPool } from '../declarative/sandbox-pool.js';
import type { EventStore, StoredEventHandler } from '../store/types.js';
import { actionContext, isPermanent, newMessageId, runStoredHandler, type HandlerOutcome } from './actions.js';
import { AmqpQueues } from './amqp-queue.js';
import { parseEventHandler, type ConductorEventHandler } from './conductor-handlers.js';
import { ConductorQueues } from './conductor-queue.js';
import type { Consumption, QueueDriver } from './driver.js';
import { NatsQueues } from './nats-queue.js';
import type { EventEngine, EventHandlerFn, EventMessage, EventOptions, SignalLedger } from './types.js';
import { parseQueueUri, type QueueAddress, type QueueKind } from './uri.js';

interface CodeHandler {
  key: string;
  fn: EventHandlerFn;
}

/** Event queues and handlers of one engine. */
export class EventService {
  private readonly drivers: Partial<Record<QueueKind, QueueDriver>> = {};
  private readonly code = new Map<string, CodeHandler[]>();
  private stored: ConductorEventHandler[] = [];
  private readonly consumers = new Map<string, Promise<Consumption | undefined>>();
  private refresher: NodeJS.Timeout | undefined;
  private firstRefresh: Promise<void> = Promise.resolve();
  private closed = false;

  private readonly engine: EventEngine;

  constructor(
    private readonly store: EventStore,
    engine: EventEngine,
    private readonly options: EventOptions | undefined,
  ) {
    this.engine = { ...engine, ledger: engine.ledger ?? signalLedger(store) };
    const pollMs = options?.pollMs ?? 1_000;
    this.drivers.conductor = new ConductorQueues(store, Math.min(pollMs, 500), options?.ackWaitMs ?? 30_000);
    if (options?.nats) this.drivers.nats = new NatsQueues(options.nats, options.ackWaitMs ?? 30_000);
    if (options?.amqp) this.drivers.amqp = new AmqpQueues(options.amqp);
  }

  /** Starts consuming the stored handlers' queues when this engine runs them (EventOptions.consumeHandlers). */
  start(): void {
    if (!this.options || this.options.consumeHandlers === false) return;
    const refresh = () =>
      this.refresh().catch((error) => this.engine.warn('event handlers could not be read', { error: String(error) }));
    this.refresher = setInterval(refresh, this.options.pollMs ?? 1_000);
    this.refresher.unref();
    this.firstRefresh = refresh();
  }

  /** Resolves once the stored handlers were read (and their queues subscribed to) the first time after start. */
  consuming(): Promise<void> {
    return this.firstRefresh;
  }

  /** Whether `uri` names a queue this engine can reach; E_BROKER_NOT_CONFIGURED / E_INVALID_INPUT when not. */
  check(uri: string, what = 'queue'): QueueAddress {
    const address = parseQueueUri(uri, what);
    this.driver(address);
    return address;
  }

  private driver(address: QueueAddress): QueueDriver {
    const driver = this.drivers[address.kind];
    if (!driver) {
      const flag = address.kind === 'nats' ? "events: { nats: 'nats://host:4222' }" : "events: { amqp: 'amqp://…' }";
      throw new WaymarkError(
        'E_BROKER_NOT_CONFIGURED',
        `queue '${address.uri}' needs a ${address.kind === 'nats' ? 'NATS' : 'RabbitMQ'} connection, and this ` +
          `engine has none: start it with ${flag} (CLI: --${address.kind} <url>)`,
      );
    }
    return driver;
  }

  /** Publishes `payload` to the queue; the same `id` published again is one message on conductor: and nats:. */
  async publish(uri: string, payload: Json, id: string = newMessageId()): Promise<string> {
    const address = this.check(uri);
    await this.driver(address).publish(address.name, id, payload);
    return id;
  }

  /**
   * Handles every message of `uri` with `fn` (after the stored handlers of that queue); `name` keys its derived run
   * ids (Default: the URI). Returns a function that stops it.
   */
  async on(uri: string, fn: EventHandlerFn, options: { name?: string } = {}): Promise<() => Promise<void>> {
    const address = this.check(uri);
    const handler = { key: options.name ?? address.uri, fn };
    this.code.set(address.uri, [...(this.code.get(address.uri) ?? []), handler]);
    await this.sync();
    return async () => {
      this.code.set(
        address.uri,
        (this.code.get(address.uri) ?? []).filter((h) => h !== handler),
      );
      await this.sync();
    };
  }

  /** Unacknowledged messages of a `conductor:` queue. */
  async pending(uri: string): Promise<number> {
    const address = parseQueueUri(uri);
    if (address.kind !== 'conductor') throw new WaymarkError('E_INVALID_INPUT', 'only conductor: queues are counted');
    return this.store.pending(address.name);
  }

  /** Creates a stored handler; E_EVENT_HANDLER_EXISTS when the name is taken. */
  async createHandler(raw: unknown): Promise<ConductorEventHandler> {
    return this.putHandler(raw, 'create');
  }

  /** Replaces a stored handler; E_EVENT_HANDLER_NOT_FOUND when there is none of that name. */
  async updateHandler(raw: unknown): Promise<ConductorEventHandler> {
    return this.putHandler(raw, 'update');
  }

  private async putHandler(raw: unknown, mode: 'create' | 'update'): Promise<ConductorEventHandler> {
    const handler = parseEventHandler(raw);
    if (handler.condition) checkCondition(handler);
    const { name, event, active } = handler;
    const written = await this.store.putHandler({ name, event, active, definition: toJson(handler) }, mode);
    if (!written && mode === 'create') {
      throw new WaymarkError('E_EVENT_HANDLER_EXISTS', `an event handler named '${name}' exists: update it (PUT)`);
    }
    if (!written) throw new WaymarkError('E_EVENT_HANDLER_NOT_FOUND', `no event handler is named '${name}'`);
    await this.refreshIfRunning();
    return handler;
  }

  /** Every stored handler, by name. */
  async listHandlers(): Promise<ConductorEventHandler[]> {
    return (await this.store.listHandlers()).map(fromStored);
  }

  /** The stored handlers of one event (queue URI); `activeOnly` leaves inactive ones out. */
  async handlersFor(event: string, activeOnly = false): Promise<ConductorEventHandler[]> {
    return (await this.listHandlers()).filter((h) => h.event === event && (!activeOnly || h.active));
  }

  /** Removes a stored handler; E_EVENT_HANDLER_NOT_FOUND when there is none. */
  async deleteHandler(name: string): Promise<void> {
    if (!(await this.store.deleteHandler(name))) {
      throw new WaymarkError('E_EVENT_HANDLER_NOT_FOUND', `no event handler is named '${name}'`);
    }
    await this.refreshIfRunning();
  }

  /**
   * Handles one message given directly (Conductor's handleIncomingEvent): the active stored handlers of `event`
   * run now, as a delivery from the queue would run them. `messageId` keys the derived run ids (Default: new).
   */
  async handleIncoming(event: string, payload: Json, messageId: string = newMessageId()): Promise<HandlerOutcome[]> {
    const address = parseQueueUri(event, 'event');
    const message = { queue: address.uri, id: messageId, payload };
    const handlers = await this.handlersFor(address.uri, true);
    return this.runStored(handlers, message);
  }

  private async runStored(handlers: ConductorEventHandler[], message: EventMessage): Promise<HandlerOutcome[]> {
    const outcomes: HandlerOutcome[] = [];
    for (const handler of handlers) outcomes.push(await runStoredHandler(handler, message, this.engine, sandbox));
    return outcomes;
  }

  /** One delivery: stored handlers, then code handlers; throws (for redelivery) on a transient failure only. */
  private async deliver(message: EventMessage): Promise<void> {
    const stored = this.stored.filter((h) => h.active && h.event === message.queue);
    await this.runStored(stored, message);
    for (const handler of this.code.get(message.queue) ?? []) {
      try {
        await handler.fn(message, actionContext(this.engine, message, handler.key));
      } catch (error) {
        if (!isPermanent(error)) throw error;
        this.engine.warn('event handler refused a message', {
          queue: message.queue,
          messageId: message.id,
          error: String(error),
        });
      }
    }
  }

  private async refreshIfRunning(): Promise<void> {
    if (this.refresher) await this.refresh();
  }

  private async refresh(): Promise<void> {
    this.stored = (await this.store.listHandlers()).map(fromStored);
    await this.sync();
  }

  /** Consumes exactly the queues some handler (active stored one this engine runs, or in code) listens to. */
  private async sync(): Promise<void> {
    if (this.closed) return;
    const wanted = new Set<string>([...this.code].filter(([, list]) => list.length > 0).map(([uri]) => uri));
    if (this.refresher) for (const h of this.stored) if (h.active) wanted.add(h.event);
    for (const uri of wanted) {
      if (this.consumers.has(uri)) continue;
      this.consumers.set(uri, this.consume(uri));
    }
    for (const [uri, consumption] of this.consumers) {
      if (wanted.has(uri)) continue;
      this.consumers.delete(uri);
      await (await consumption)?.close();
    }
    await Promise.all(this.consumers.values());
  }

  private async consume(uri: string): Promise<Consumption | undefined> {
    try {
      const address = this.check(uri);
      return await this.driver(address).consume(address.name, `events_${address.uri}`, (m) =>
        this.deliver({ queue: address.uri, ...m }),
      );
    } catch (error) {
      this.consumers.delete(uri);
      this.engine.warn('event queue cannot be consumed', { queue: uri, error: String(error) });
      if (!this.refresher) throw error;
      return undefined;
    }
  }

  /** Stops consuming (messages being handled finish first) and closes broker connections. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refresher) clearInterval(this.refresher);
    const consumptions = [...this.consumers.values()];
    this.consumers.clear();
    for (const consumption of consumptions) await (await consumption.catch(() => undefined))?.close();
    for (const driver of Object.values(this.drivers)) await driver.close();
  }
}

const sandbox = () => sharedSandboxPool();

/**
 * Sent signals noted in the store, one built-in queue per note (`waymark.signal:<note>`) holding one message that is
 * acknowledged once the signal is sent. A redelivery finds it acknowledged and sends nothing; found unacknowledged
 * (the process died between noting and acknowledging) the signal is sent again: at least once, never lost.
 */
function signalLedger(store: EventStore): SignalLedger {
  const queue = (note: string) => `waymark.signal:${note}`.slice(0, 250);
  return {
    async begin(note) {
      if (await store.publish(queue(note), 'sent', null)) return 'new';
      return (await store.pending(queue(note))) === 0 ? 'sent' : 'unsure';
    },
    async done(note) {
      await store.ack(queue(note), 'sent');
    },
  };
}

/** A condition that does not compile is a 400 at creation, not a failure at every message. */
function checkCondition(handler: ConductorEventHandler): void {
  try {
    new Function('$', `return (${handler.condition});`);
  } catch (error) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `event handler '${handler.name}': condition is not a JavaScript expression: ${(error as Error).message}`,
    );
  }
}

const toJson = (handler: ConductorEventHandler) => JSON.parse(JSON.stringify(handler)) as Json;
const fromStored = (stored: StoredEventHandler) => stored.definition as unknown as ConductorEventHandler;
