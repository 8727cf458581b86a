/** The seam each broker implements: publish with an id, consume with ack after `deliver` resolves. */
import type { Json } from '../core/types.js';

/** One delivery: `deliver` resolving acknowledges it; rejecting leaves it for redelivery. */
export type Deliver = (message: { id: string; payload: Json }) => Promise<void>;

/** A running consumer. */
export interface Consumption {
  close(): Promise<void>;
}

/** A broker's queues. */
export interface QueueDriver {
  /** Publishes durably; the same id published twice is one message where the broker can tell (NATS, conductor). */
  publish(name: string, id: string, payload: Json): Promise<void>;
  /** Consumes `name` as the durable consumer `consumer` (shared by every engine process), one message at a time. */
  consume(name: string, consumer: string, deliver: Deliver): Promise<Consumption>;
  close(): Promise<void>;
}

/** Decodes a message body: JSON when it parses, the text otherwise. */
export function decodeBody(bytes: Uint8Array): Json {
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}
