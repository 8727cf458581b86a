import { defineWorkflow, type StepEffect, type StepOptions } from '../index.js';

/** Where a rollout's steps act: a real deployment talks to the cluster; the example records what it would do. */
export interface RolloutWorld {
  /** Applies a step to the target; `key` is stable across retries and crashes. */
  apply(step: string, target: string, key: string): Promise<void> | void;
  /** Undoes a completed reversible step. */
  undo(step: string, target: string, key: string): Promise<void> | void;
}

export interface RolloutInput {
  cluster: string;
  release: string;
  /** Make this step fail for good (to rehearse the unwinding). */
  failAt?: string;
}

/** The twelve steps in order, with what each does to the world. */
export const ROLLOUT_STEPS: { name: string; effect: StepEffect; onFailure?: 'compensate' }[] = [
  { name: 'preflight-checks', effect: 'none' },
  { name: 'snapshot-config', effect: 'reversible' },
  { name: 'drain-traffic', effect: 'reversible' },
  { name: 'scale-up-canary', effect: 'reversible' },
  { name: 'migrate-schema', effect: 'reversible' },
  { name: 'deploy-canary', effect: 'reversible' },
  { name: 'verify-canary', effect: 'none' },
  { name: 'announce-release', effect: 'irreversible' },
  { name: 'deploy-fleet', effect: 'reversible', onFailure: 'compensate' },
  { name: 'verify-fleet', effect: 'none' },
  { name: 'restore-traffic', effect: 'reversible' },
  { name: 'cleanup', effect: 'none' },
];

/**
 * A 12-step production rollout: idempotent checks, reversible changes with compensations, one
 * irreversible announcement, and a lock on the target cluster so two rollouts never touch it at once.
 * A failed fleet deploy unwinds everything reversible in reverse order.
 */
export function rolloutWorkflow(world: RolloutWorld) {
  const steps: Record<string, StepOptions> = {};
  for (const step of ROLLOUT_STEPS) {
    steps[step.name] = { effect: step.effect, retry: { maxAttempts: 3, initialDelayMs: 50 } };
    if (step.onFailure) steps[step.name]!.onFailure = step.onFailure;
    if (step.effect === 'reversible') {
      steps[step.name]!.compensate = (output: { target: string; key: string }) =>
        world.undo(step.name, output.target, output.key);
    }
  }
  return defineWorkflow({
    name: 'rollout',
    version: 1,
    lock: { key: (input: RolloutInput) => `cluster:${input.cluster}`, onConflict: 'reject' },
    steps,
    async run(ctx, input: RolloutInput) {
      const done: string[] = [];
      for (const { name } of ROLLOUT_STEPS) {
        await ctx.step(name, async ({ idempotencyKey }) => {
          if (input.failAt === name) throw new Error(`${name} failed on ${input.cluster}`);
          await world.apply(name, input.cluster, idempotencyKey);
          return { target: input.cluster, key: idempotencyKey };
        });
        done.push(name);
      }
      return { cluster: input.cluster, release: input.release, steps: done.length };
    },
  });
}

/** The example's world: it only remembers what it did. */
export const exampleWorld: RolloutWorld & { log: string[] } = {
  log: [],
  apply(step, target) {
    this.log.push(`${step} on ${target}`);
  },
  undo(step, target) {
    this.log.push(`undo ${step} on ${target}`);
  },
};

export const rollout = rolloutWorkflow(exampleWorld);
