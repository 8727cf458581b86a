/** The built-in `conductor:` queues: messages in the store, claimed for a time, acknowledged after their actions. */
import type { Json } from '../core/types.js';
import type { EventStore } from '../store/types.js';
import type { Consumption, Deliver, QueueDriver } from './driver.js';

/** Store-backed queues; `pollMs` is how often an idle consumer looks again, `leaseMs` how long a claim hides one. */
export class ConductorQueues implements QueueDriver {
  private readonly wakers = new Map<string, Set<() => void>>();

  constructor(
    private readonly store: EventStore,
    private readonly pollMs: number,
    private readonly leaseMs: number,
  ) {}

  async publish(name: string, id: string, payload: Json): Promise<void> {
    await this.store.publish(name, id, payload);
    for (const wake of this.wakers.get(name) ?? []) wake();
  }

  async consume(name: string, _consumer: string, deliver: Deliver): Promise<Consumption> {
    let stopped = false;
    let wake: () => void = () => {};
    const wakers = this.wakers.get(name) ?? new Set();
    this.wakers.set(name, wakers);
    const idle = () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    const waker = () => wake();
    wakers.add(waker);
    const loop = (async () => {
      while (!stopped) {
        let messages: Awaited<ReturnType<EventStore['claim']>> = [];
        try {
          messages = await this.store.claim(name, 16, this.leaseMs);
        } catch {
          // the store is unavailable for now: look again later
        }
        let failed = false;
        for (const message of messages) {
          if (stopped) break;
          try {
            await deliver({ id: message.id, payload: message.payload });
            await this.store.ack(name, message.id);
          } catch {
            failed = true; // due again at once, tried after a pause (not in a hot loop)
            await this.store.release(name, message.id).catch(() => {});
          }
        }
        if ((messages.length === 0 || failed) && !stopped) await idle();
      }
    })();
    return {
      close: async () => {
        stopped = true;
        wakers.delete(waker);
        wake();
        await loop;
      },
    };
  }

  async close(): Promise<void> {}
}
