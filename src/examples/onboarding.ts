import { defineWorkflow } from '../index.js';

export interface OnboardingInput {
  email: string;
}

/**
 * A new user: create the account, send a welcome email, wait up to 1 s for `email_verified`,
 * and send a reminder if it does not come.
 */
export const onboarding = defineWorkflow({
  name: 'onboarding',
  version: 1,
  async run(ctx, input: OnboardingInput) {
    const accountId = `acc_${ctx.uuid().slice(0, 8)}`; // replay-safe: the same id on every replay
    const account = await ctx.step('create-account', () => ({ accountId, email: input.email }));
    await ctx.step('send-welcome-email', ({ idempotencyKey }) => ({ to: input.email, idempotencyKey }));
    const verified = await ctx.waitForSignal<{ at?: string }>('email_verified', { timeoutMs: '1s' });
    if (!verified) {
      await ctx.step('send-reminder', () => ({ sent: true }));
      await ctx.sleep(200);
    }
    return { ...account, verified: verified !== null };
  },
});
