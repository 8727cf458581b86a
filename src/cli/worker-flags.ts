import type { RetentionOptions } from '../index.js';
import { UsageError } from './errors.js';

/** Help text of every worker command's --worker-id option. */
export const WORKER_ID_HELP =
  "this worker's identity in leases; reuse a dead process's id to take its runs back at once (default: host:pid)";

/** Help text of every worker command's --retention-days option. */
export const RETENTION_HELP =
  'delete finished runs (with their histories) this many days after they finished; fractions allowed ' +
  '(default: keep them forever)';

/** Help text of every command's --dev option (the engine's devMode). */
export const DEV_HELP =
  'development mode: a version re-registered with changed code replaces the stored one instead of failing ' +
  'with E_VERSION_CONFLICT (never in production: runs in flight may diverge)';

/** `--worker-id`, checked: undefined when absent, a usage error when blank. */
export function parseWorkerId(value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UsageError('--worker-id needs a value');
  return value;
}

/** `--retention-days <n>` as the engine's retention option (undefined: keep forever); n must be a positive number. */
export function parseRetention(value: string | undefined): RetentionOptions | undefined {
  if (value === undefined) return undefined;
  const days = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(days) || days <= 0)
    throw new UsageError(`--retention-days must be a positive number of days, e.g. 30 or 0.5, got '${value}'`);
  return { finishedRunsDays: days };
}

/** `--nats`'s help. */
export const NATS_HELP = 'NATS server for nats:<subject> event queues (JetStream), e.g. nats://127.0.0.1:4222';
/** `--amqp`'s help. */
export const AMQP_HELP = 'RabbitMQ for amqp:<queue> event queues, e.g. amqp://guest:guest@127.0.0.1:5672';

/** `--nats` / `--amqp`: broker URLs of the schemes their clients take. */
export function parseEventFlags(flags: { nats?: string; amqp?: string }): { nats?: string; amqp?: string } {
  const out: { nats?: string; amqp?: string } = {};
  for (const [flag, schemes] of [
    ['nats', ['nats:', 'tls:']],
    ['amqp', ['amqp:', 'amqps:']],
  ] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new UsageError(`--${flag} must be a URL (${schemes.join(' or ')}//host:port), got '${value}'`);
    }
    if (!(schemes as readonly string[]).includes(url.protocol))
      throw new UsageError(`--${flag} must be a ${schemes.join(' or ')}// URL, got '${value}'`);
    out[flag] = value;
  }
  return out;
}
