import { createHash } from 'node:crypto';
import { defineWorkflow, NonRetryableError } from '../index.js';

export interface OrderInput {
  id: string;
  amount: number;
}

/**
 * An order: charge the card (the first attempt fails, the retry succeeds), wait a moment before fulfilment (a durable
 * sleep), then wait for an `approval` signal up to `input.approvalTimeout` (Default: '1h'); unanswered, it refunds.
 */
export const order = defineWorkflow({
  name: 'order',
  version: 2,
  async run(ctx, input: OrderInput & { approvalTimeout?: string }) {
    const charge = await ctx.step(
      'charge',
      async ({ idempotencyKey, attempt }) => {
        if (!(input.amount > 0)) throw new NonRetryableError(`invalid amount: ${String(input.amount)}`);
        if (attempt === 1) throw new Error('card network timeout'); // a transient failure, retried
        return { chargeId: fakeId('ch', idempotencyKey), amount: input.amount, attempt };
      },
      { retry: { maxAttempts: 5, initialDelayMs: 100, backoff: 'exponential', maxDelayMs: 1_000 }, timeoutMs: 5_000 },
    );
    await ctx.sleep('300ms');
    const timeoutMs = input.approvalTimeout ?? '1h';
    const approval = await ctx.waitForSignal<{ approved: boolean; by?: string }>('approval', { timeoutMs });
    const approved = approval?.approved ?? false;
    const shipment = approved
      ? await ctx.step('ship', ({ idempotencyKey }) => ({ trackingId: fakeId('trk', idempotencyKey) }))
      : await ctx.step('refund', () => ({ refunded: charge.amount }));
    return { order: input.id, charge, approved, shipment, decidedAt: ctx.now() };
  },
});

/**
 * The first order version, kept as it was so runs started on it (and stores that registered it) go on: it waits only
 * 2 s for its `approval` signal, too short for a person typing commands.
 */
export const orderV1 = defineWorkflow({
  name: 'order',
  version: 1,
  async run(ctx, input: OrderInput) {
    const charge = await ctx.step(
      'charge',
      async ({ idempotencyKey, attempt }) => {
        if (!(input.amount > 0)) throw new NonRetryableError(`invalid amount: ${String(input.amount)}`);
        if (attempt === 1) throw new Error('card network timeout'); // a transient failure, retried
        return { chargeId: fakeId('ch', idempotencyKey), amount: input.amount, attempt };
      },
      { retry: { maxAttempts: 5, initialDelayMs: 100, backoff: 'exponential', maxDelayMs: 1_000 }, timeoutMs: 5_000 },
    );
    await ctx.sleep('300ms');
    const approval = await ctx.waitForSignal<{ approved: boolean; by?: string }>('approval', { timeoutMs: '2s' });
    const approved = approval?.approved ?? false;
    const shipment = approved
      ? await ctx.step('ship', ({ idempotencyKey }) => ({ trackingId: fakeId('trk', idempotencyKey) }))
      : await ctx.step('refund', () => ({ refunded: charge.amount }));
    return { order: input.id, charge, approved, shipment, decidedAt: ctx.now() };
  },
});

/** A stand-in for an id a payment or shipping API would return; the same key gives the same id. */
function fakeId(prefix: string, idempotencyKey: string): string {
  return `${prefix}_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 10)}`;
}
