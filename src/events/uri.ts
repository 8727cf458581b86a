/** Queue URIs as Conductor names them: `conductor:<queue>`, `nats:<subject>`, `amqp:<queue>`. */
import { WaymarkError } from '../core/errors.js';

/** The brokers a queue URI may name. */
export type QueueKind = 'conductor' | 'nats' | 'amqp';

/** A parsed queue URI. */
export interface QueueAddress {
  kind: QueueKind;
  /** The queue (conductor, amqp) or subject (nats). */
  name: string;
  /** The URI as written: `kind:name`. */
  uri: string;
}

const KINDS: readonly QueueKind[] = ['conductor', 'nats', 'amqp'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** Reads `kind:name`; anything else (another broker, a bad name) is E_INVALID_INPUT saying what is supported. */
export function parseQueueUri(uri: unknown, what = 'queue'): QueueAddress {
  const text = typeof uri === 'string' ? uri : '';
  const at = text.indexOf(':');
  const kind = text.slice(0, at) as QueueKind;
  const name = text.slice(at + 1);
  if (at < 0 || !KINDS.includes(kind)) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${what} ${JSON.stringify(uri ?? null)} is not supported: use conductor:<queue>, nats:<subject> or ` +
        'amqp:<queue>',
    );
  }
  if (!NAME.test(name)) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `${what} '${text}': the ${kind === 'nats' ? 'subject' : 'queue'} must be 1-200 letters, digits or . _ : -`,
    );
  }
  return { kind, name, uri: `${kind}:${name}` };
}
