/** `nats:<subject>` queues on NATS JetStream: a stream per subject, a durable pull consumer, ack after the actions. */
import { AckPolicy, DeliverPolicy, connect, nanos, type JetStreamManager, type NatsConnection } from 'nats';
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import { decodeBody, type Consumption, type Deliver, type QueueDriver } from './driver.js';

/** A JetStream name made of a subject or consumer key (letters, digits, _ and -). */
export const jetStreamName = (prefix: string, key: string): string =>
  `${prefix}_${key.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/** The stream that holds `subject`: the existing one covering it, or `WAYMARK_<subject>` created for it. */
async function streamFor(jsm: JetStreamManager, subject: string): Promise<string> {
  try {
    return await jsm.streams.find(subject);
  } catch {
    const name = jetStreamName('WAYMARK', subject);
    try {
      await jsm.streams.add({ name, subjects: [subject] });
    } catch (error) {
      // another process created it meanwhile
      if (!/already in use|exists/i.test(String(error))) throw error;
    }
    return name;
  }
}

/** NATS JetStream queues at `url`; one connection, reconnecting without limit. */
export class NatsQueues implements QueueDriver {
  private connection: Promise<NatsConnection> | undefined;

  constructor(
    private readonly url: string,
    private readonly ackWaitMs: number,
  ) {}

  private connected(): Promise<NatsConnection> {
    this.connection ??= connect({
      servers: this.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: 'waymark',
    }).catch((error) => {
      this.connection = undefined;
      throw new WaymarkError('E_BROKER', `NATS at ${this.url} cannot be reached: ${(error as Error).message}`);
    });
    return this.connection;
  }

  async publish(subject: string, id: string, payload: Json): Promise<void> {
    const nc = await this.connected();
    await streamFor(await nc.jetstreamManager(), subject);
    await nc.jetstream().publish(subject, Buffer.from(JSON.stringify(payload)), { msgID: id });
  }

  async consume(subject: string, consumer: string, deliver: Deliver): Promise<Consumption> {
    const nc = await this.connected();
    const jsm = await nc.jetstreamManager();
    const stream = await streamFor(jsm, subject);
    const durable = jetStreamName('waymark', consumer);
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subject,
      ack_wait: nanos(this.ackWaitMs),
    });
    const messages = await (await nc.jetstream().consumers.get(stream, durable)).consume({ max_messages: 16 });
    const loop = (async () => {
      for await (const m of messages) {
        const id = m.headers?.get('Nats-Msg-Id') || `${stream}:${m.seq}`;
        try {
          await deliver({ id, payload: decodeBody(m.data) });
          await m.ackAck().catch(() => false);
        } catch {
          m.nak(1_000);
        }
      }
    })();
    return {
      close: async () => {
        messages.stop();
        await loop.catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await (await connection.catch(() => undefined))?.drain().catch(() => {});
  }
}
