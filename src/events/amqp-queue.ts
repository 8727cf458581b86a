/** `amqp:<queue>` queues on RabbitMQ: durable queues, persistent messages, manual ack after the actions. */
import { createHash } from 'node:crypto';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import { decodeBody, type Consumption, type Deliver, type QueueDriver } from './driver.js';

/** How long to wait between reconnection attempts, in ms. */
const RECONNECT_MS = 300;
/** How long a message whose actions failed waits before it goes back to the queue, in ms. */
const RETRY_PAUSE_MS = 1_000;

interface Subscription {
  queue: string;
  deliver: Deliver;
  stopped: boolean;
  /** Deliveries handled one after another. */
  chain: Promise<void>;
}

/** RabbitMQ queues at `url`: one connection, reconnected (and consumers resubscribed) after the broker comes back. */
export class AmqpQueues implements QueueDriver {
  private connection: Promise<{ model: ChannelModel; channel: ConfirmChannel }> | undefined;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(private readonly url: string) {}

  private connected(): Promise<{ model: ChannelModel; channel: ConfirmChannel }> {
    this.connection ??= (async () => {
      const model = await amqp.connect(this.url);
      model.on('error', () => {});
      model.on('close', () => this.lost());
      const channel = await model.createConfirmChannel();
      channel.on('error', () => {});
      await channel.prefetch(16);
      return { model, channel };
    })().catch((error) => {
      this.connection = undefined;
      throw new WaymarkError('E_BROKER', `RabbitMQ at ${redact(this.url)} cannot be reached: ${error.message}`);
    });
    return this.connection;
  }

  /** The connection closed: reconnect and resubscribe until it works (unless this driver was closed). */
  private lost(): void {
    this.connection = undefined;
    if (this.closed || this.subscriptions.size === 0) return;
    setTimeout(async () => {
      if (this.closed) return;
      try {
        for (const subscription of this.subscriptions) if (!subscription.stopped) await this.subscribe(subscription);
      } catch {
        this.lost();
      }
    }, RECONNECT_MS);
  }

  async publish(queue: string, id: string, payload: Json): Promise<void> {
    const { channel } = await this.connected();
    await channel.assertQueue(queue, { durable: true });
    channel.sendToQueue(queue, Buffer.from(JSON.stringify(payload)), {
      persistent: true,
      messageId: id,
      contentType: 'application/json',
    });
    await channel.waitForConfirms();
  }

  async consume(queue: string, _consumer: string, deliver: Deliver): Promise<Consumption> {
    const subscription: Subscription = { queue, deliver, stopped: false, chain: Promise.resolve() };
    this.subscriptions.add(subscription);
    try {
      await this.subscribe(subscription);
    } catch (error) {
      this.subscriptions.delete(subscription);
      throw error;
    }
    return {
      close: async () => {
        subscription.stopped = true;
        this.subscriptions.delete(subscription);
        await subscription.chain;
      },
    };
  }

  private async subscribe(subscription: Subscription): Promise<void> {
    const { channel } = await this.connected();
    await channel.assertQueue(subscription.queue, { durable: true });
    await channel.consume(subscription.queue, (message) => {
      if (!message) return;
      subscription.chain = subscription.chain
        .then(async () => {
          if (subscription.stopped) return channel.nack(message, false, true);
          const id = message.properties.messageId ?? contentId(message.content);
          try {
            await subscription.deliver({ id: String(id), payload: decodeBody(message.content) });
            channel.ack(message);
          } catch {
            // back to the queue after a pause, so a store outage is not a hot redelivery loop
            await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
            channel.nack(message, false, true);
          }
        })
        .catch(() => {}); // the channel closed under it: the broker redelivers the message
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subscription of this.subscriptions) subscription.stopped = true;
    const connection = this.connection;
    this.connection = undefined;
    const open = await connection?.catch(() => undefined);
    await Promise.all([...this.subscriptions].map((s) => s.chain));
    await open?.model.close().catch(() => {});
  }
}

/** A message without a message id is known by its content's hash (identical bodies are one message). */
const contentId = (content: Buffer) => `sha256:${createHash('sha256').update(content).digest('hex').slice(0, 32)}`;

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');
