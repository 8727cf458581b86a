/**
 * An embedded engine's metrics (`engine.metrics`, or a registry the caller passes): step outcomes, operator
 * changes, restarts, claim lag, rollout transitions (counted and logged), the step label option, one engine per
 * registry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { defineWorkflow, Engine } from '../../src/index.js';
import { rejectsWith, runUntil, tempDb } from '../helpers.js';
import { samples, sampleValue } from '../metrics-text.js';

let failures = 0;
const flaky = defineWorkflow({
  name: 'flaky',
  version: 1,
  async run(ctx) {
    await ctx.sleep(30);
    return ctx.step(
      'call',
      () => {
        if (failures++ === 0) throw new Error('the first call fails');
        return 'ok';
      },
      { retry: { maxAttempts: 3, initialDelayMs: 1, jitter: 0 } },
    );
  },
});

const waits = defineWorkflow({
  name: 'waits',
  version: 1,
  async run(ctx) {
    return ctx.waitForSignal('go');
  },
});

const greet = (version: number) =>
  defineWorkflow({
    name: 'greet',
    version,
    async run(ctx) {
      return ctx.step('hello', () => `hello from v${version}`);
    },
  });

const open = (options: Parameters<typeof Engine.open>[0]) =>
  Engine.open({ pollIntervalMs: 50, logger: { warn() {} }, ...options });

test("a caller's registry holds Waymark's metrics beside its own; steps count by outcome; claims timed", async () => {
  const registry = new Registry();
  const mine = new Counter({ name: 'app_orders_total', help: 'orders', registers: [registry] });
  mine.inc(4);
  const engine = await open({ store: `sqlite:${tempDb()}`, workflows: [flaky, waits], metrics: { registry } });
  try {
    assert.equal(engine.metrics.registry, registry);
    failures = 0;
    const run = await engine.start('flaky');
    assert.equal(await engine.result(run.id, { timeoutMs: 10_000 }), 'ok');
    const waiting = await engine.start('waits');
    await runUntil(engine, waiting.id, (r) => r.status === 'waiting');
    await engine.cancel(waiting.id, { reason: 'not needed' });
    const restarted = await engine.restart(waiting.id);
    await runUntil(engine, restarted.id, (r) => r.status === 'waiting');

    const all = samples(await registry.metrics());
    assert.equal(sampleValue(all, 'app_orders_total'), 4, "the caller's own metric");
    const attempts = (outcome: string) =>
      sampleValue(all, 'waymark_step_attempts_total', { workflow: 'flaky', step: 'call', outcome });
    assert.deepEqual([attempts('retried'), attempts('completed'), attempts('failed')], [1, 1, undefined]);
    assert.equal(sampleValue(all, 'waymark_step_duration_seconds_count', { step: 'call', outcome: 'retried' }), 1);
    assert.equal(sampleValue(all, 'waymark_runs_started_total', { workflow: 'flaky', trigger: 'call' }), 1);
    assert.equal(sampleValue(all, 'waymark_runs_started_total', { workflow: 'waits', trigger: 'call' }), 1);
    assert.equal(sampleValue(all, 'waymark_runs_started_total', { workflow: 'waits', trigger: 'restart' }), 1);
    assert.equal(sampleValue(all, 'waymark_runs_finished_total', { workflow: 'waits', outcome: 'cancelled' }), 1);
    assert.equal(sampleValue(all, 'waymark_runs_finished_total', { workflow: 'flaky', outcome: 'completed' }), 1);
    assert.ok((sampleValue(all, 'waymark_claim_lag_seconds_count') ?? 0) >= 2, 'woken after its sleep and its retry');
    assert.equal(sampleValue(all, 'waymark_runs_in_flight', { workflow: 'waits', status: 'waiting' }), 1);
  } finally {
    await engine.close();
  }
});

test('stepLabel false drops the step label; triggers are from a list; a registry serves one engine', async () => {
  const registry = new Registry();
  const store = `sqlite:${tempDb()}`;
  const engine = await open({ store, workflows: [greet(1)], metrics: { registry, stepLabel: false } });
  try {
    await engine.result((await engine.start('greet')).id, { timeoutMs: 10_000 });
    const steps = samples(await engine.metrics.text()).filter((s) => s.name === 'waymark_step_attempts_total');
    assert.deepEqual(steps, [
      {
        name: 'waymark_step_attempts_total',
        labels: { workflow: 'greet', version: '1', outcome: 'completed' },
        value: 1,
      },
    ]);
    const trigger = await rejectsWith(engine.start('greet', {}, { trigger: 'cron' as never }), 'E_INVALID_INPUT');
    assert.match(trigger.message, /trigger must be one of call, http, conductor, sub_workflow, restart, rerun/);
    assert.equal((await engine.listRuns()).length, 1, 'a refused trigger starts nothing');
    const error = await rejectsWith(open({ store, workflows: [greet(1)], metrics: { registry } }), 'E_INVALID_INPUT');
    assert.match(error.message, /already holds the metrics of a Waymark engine/);
  } finally {
    await engine.close();
  }
});

const many = defineWorkflow({
  name: 'many',
  version: 1,
  async run(ctx) {
    for (let i = 0; i < 5; i++) await ctx.step(`item-${i}`, () => i);
  },
});

test('step names past maxStepNames per version are counted as one label (the series stay bounded)', async () => {
  const engine = await open({ store: `sqlite:${tempDb()}`, workflows: [many], metrics: { maxStepNames: 2 } });
  try {
    await engine.result((await engine.start('many')).id, { timeoutMs: 10_000 });
    const steps = samples(await engine.metrics.text()).filter((s) => s.name === 'waymark_step_attempts_total');
    assert.deepEqual(
      steps.map((s) => [s.labels.step, s.value]),
      [
        ['item-0', 1],
        ['item-1', 1],
        ['(other steps)', 3],
      ],
    );
    await rejectsWith(open({ store: `sqlite:${tempDb()}`, metrics: { maxStepNames: -1 } }), 'E_INVALID_INPUT');
  } finally {
    await engine.close();
  }
});

test('rollout transitions are counted and logged at info, the percent gauge shows the share', async () => {
  const infos: { facts: Record<string, unknown>; message: string }[] = [];
  const logger = {
    warn() {},
    info: (facts: Record<string, unknown>, message: string) => infos.push({ facts, message }),
  };
  const engine = await open({ store: `sqlite:${tempDb()}`, workflows: [greet(1), greet(2)], logger });
  try {
    await engine.startRollout('greet', { from: 1, to: 2, percent: 10 });
    const running = samples(await engine.metrics.text());
    assert.equal(
      sampleValue(running, 'waymark_rollout_percent', { workflow: 'greet', from: '1', to: '2', rollout: 'starts' }),
      10,
    );
    await engine.changeRollout('greet', 'pause');
    await engine.changeRollout('greet', 'resume');
    await engine.abortRollout('greet', 'the dashboards look bad');
    await engine.evaluateRollouts(); // a finished rollout changes no more: nothing counted
    const all = samples(await engine.metrics.text());
    const transitions = (kind: string) =>
      sampleValue(all, 'waymark_rollout_transitions_total', { workflow: 'greet', from: '1', to: '2', kind });
    assert.deepEqual(['started', 'paused', 'resumed', 'rolled_back', 'completed'].map(transitions), [
      1,
      1,
      1,
      1,
      undefined,
    ]);
    const lines = infos.filter((i) => i.facts.event === 'rollout_transition');
    assert.deepEqual(
      lines.map((i) => i.facts.transition),
      ['started', 'paused', 'resumed', 'rolled_back'],
    );
    assert.match(lines[3]!.message, /^starts rollout of greet v1 -> v2 rolled back: the dashboards look bad/);
    assert.equal(lines[0]!.facts.workerId, engine.workerId);
  } finally {
    await engine.close();
  }
});
