import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';

interface Applicant {
  name: string;
  income: number;
}

const normalize = (input: Applicant) => ({ name: input.name.trim().toLowerCase(), income: input.income });

const onboardingV1 = defineWorkflow({
  name: 'onboarding',
  version: 1,
  async run(ctx, input: Applicant) {
    const applicant = await ctx.step('normalize', () => normalize(input));
    const kyc = await ctx.waitForSignal<{ passed: boolean }>('kyc');
    return { applicant, kyc: kyc?.passed ?? false };
  },
});

let riskSteps = 0;
const onboardingV2 = defineWorkflow({
  name: 'onboarding',
  version: 2,
  async run(ctx, input: Applicant) {
    const applicant = await ctx.step('normalize', () => normalize(input));
    const kyc = await ctx.waitForSignal<{ passed: boolean }>('kyc');
    const tier = await ctx.step('assign-risk-tier', () => {
      riskSteps++;
      return applicant.income > 100_000 ? 'low' : 'standard';
    });
    return { applicant, kyc: kyc?.passed ?? false, tier };
  },
});

// v3 reorders: it assigns the risk tier before normalizing, which no v1 history can replay.
const onboardingV3 = defineWorkflow({
  name: 'onboarding',
  version: 3,
  async run(ctx, input: Applicant) {
    const tier = await ctx.step('assign-risk-tier', () => 'standard');
    const applicant = await ctx.step('normalize', () => normalize(input));
    return { applicant, tier };
  },
});

const ada = { name: '  Ada ', income: 150_000 };

forEachBackend((backend) => {
  test(
    'side by side: a pinned v1 start stays v1, ' + 'an unpinned start gets v2, an in-flight v1 run keeps running v1',
    async () => {
      const store = backend.store();
      const before = await Engine.open({ store, workflows: [onboardingV1] });
      const old = await before.start('onboarding', ada);
      await runUntil(before, old.id, (r) => r.status === 'waiting');
      await before.close();

      const engine = await Engine.open({ store, workflows: [onboardingV1, onboardingV2] });
      try {
        const pinned = await engine.start('onboarding', ada, { version: 1 });
        const routed = await engine.start('onboarding', ada);
        assert.deepEqual([old.version, pinned.version, routed.version], [1, 1, 2]);
        for (const run of [old, pinned, routed]) await engine.signal(run.id, 'kyc', { passed: true });
        assert.deepEqual(await engine.result(old.id, { timeoutMs: 5_000 }), {
          applicant: { name: 'ada', income: 150_000 },
          kyc: true,
        });
        assert.equal((await engine.getRun(old.id)).version, 1, 'never switched silently');
        assert.deepEqual(await engine.result(routed.id, { timeoutMs: 5_000 }), {
          applicant: { name: 'ada', income: 150_000 },
          kyc: true,
          tier: 'low',
        });
        const summary = (await engine.versions())
          .filter((v) => v.workflow === 'onboarding')
          .map((v) => [v.version, v.status, v.runs.completed]);
        assert.deepEqual(summary, [
          [1, 'active', 2],
          [2, 'active', 1],
        ]);
      } finally {
        await engine.close();
      }
    },
  );

  test('an in-flight v1 run parked after normalize upgrades to v2 (verified) and then runs the risk step', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [onboardingV1, onboardingV2] });
    try {
      const run = await engine.start('onboarding', ada, { version: 1 });
      await runUntil(engine, run.id, (r) => r.status === 'waiting');
      const dry = await engine.upgrade(run.id, { to: 2, dryRun: true });
      assert.equal(dry.applied, false);
      assert.deepEqual(dry.verdict, { ok: true, replayed: 1, frontier: { seq: 1, kind: 'signal', name: 'kyc' } });
      assert.equal((await engine.getRun(run.id)).version, 1, 'a dry run changes nothing');

      const upgraded = await engine.upgrade(run.id, { to: 2, actor: 'ops', reason: 'needs a risk tier' });
      assert.deepEqual([upgraded.applied, upgraded.run.version, upgraded.run.status], [true, 2, 'waiting']);
      const recorded = (await engine.history(run.id)).find((e) => e.type === 'run_upgraded');
      assert.deepEqual(recorded?.data, { from: 1, to: 2, actor: 'ops', reason: 'needs a risk tier' });
      const before = riskSteps;
      await engine.signal(run.id, 'kyc', { passed: true });
      assert.deepEqual(await engine.result(run.id, { timeoutMs: 5_000 }), {
        applicant: { name: 'ada', income: 150_000 },
        kyc: true,
        tier: 'low',
      });
      assert.equal(riskSteps - before, 1);
    } finally {
      await engine.close();
    }
  });

  test('an upgrade to a version that reorders steps is refused with the divergence and changes nothing', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows: [onboardingV1, onboardingV3] });
    try {
      const run = await engine.start('onboarding', ada, { version: 1 });
      await runUntil(engine, run.id, (r) => r.status === 'waiting');
      const length = (await engine.history(run.id)).length;
      const refused = await rejectsWith(engine.upgrade(run.id, { to: 3 }), 'E_NONDETERMINISM');
      assert.match(
        refused.message,
        /history has step 'normalize' at seq 0 but the code asked for step 'assign-risk-tier'/,
      );
      assert.deepEqual((refused.details as { divergence: unknown }).divergence, {
        seq: 0,
        expected: { kind: 'step', name: 'normalize' },
        got: { kind: 'step', name: 'assign-risk-tier' },
      });
      const after = await engine.getRun(run.id);
      assert.deepEqual([after.version, after.status], [1, 'waiting']);
      assert.equal((await engine.history(run.id)).length, length);
      await rejectsWith(engine.upgrade(run.id, { to: 9 }), 'E_UNKNOWN_VERSION');
      await rejectsWith(engine.upgrade(run.id, { to: 1 }), 'E_INVALID_INPUT');
    } finally {
      await engine.close();
    }
  });

  test(
    'patched(): histories made before the patch replay the old branch, ' +
      'new runs record the marker and keep it after a restart',
    async () => {
      let riskChecks = 0;
      const code = (withPatch: boolean) =>
        defineWorkflow({
          name: 'payout',
          version: 1,
          async run(ctx) {
            await ctx.step('prepare', () => 'ready');
            if (withPatch && ctx.patched('add-risk-check')) await ctx.step('risk-check', () => void riskChecks++);
            await ctx.waitForSignal('approve');
            return ctx.step('pay', () => 'paid');
          },
        });
      const store = backend.store();
      const unpatched = await Engine.open({ store, workflows: [code(false)] });
      const old = await unpatched.start('payout', null, { id: 'old' });
      await runUntil(unpatched, old.id, (r) => r.status === 'waiting');
      await unpatched.close();

      const patched = await Engine.open({ store, workflows: [code(true)], devMode: true });
      const fresh = await patched.start('payout', null, { id: 'new' });
      await runUntil(patched, fresh.id, (r) => r.status === 'waiting');
      assert.equal(riskChecks, 1, 'the new run took the patched branch');
      assert.deepEqual(await patched.patches(), [
        {
          workflow: 'payout',
          patch: 'add-risk-check',
          firstSeenAt: (await patched.history('new')).find((e) => e.type === 'patch_marker')!.at,
          patched: 1,
          onOldBranch: 1,
        },
      ]);
      await patched.close();

      const restarted = await Engine.open({ store, workflows: [code(true)], devMode: true });
      try {
        for (const id of ['old', 'new']) await restarted.signal(id, 'approve');
        assert.equal(await restarted.result('old', { timeoutMs: 5_000 }), 'paid');
        assert.equal(await restarted.result('new', { timeoutMs: 5_000 }), 'paid');
        assert.equal(riskChecks, 1, 'replay kept each run on its branch and ran nothing twice');
        const steps = async (id: string) =>
          (await restarted.history(id)).filter((e) => e.type === 'step_completed').map((e) => e.name);
        assert.deepEqual(await steps('old'), ['prepare', 'pay']);
        assert.deepEqual(await steps('new'), ['prepare', 'risk-check', 'pay']);
      } finally {
        await restarted.close();
      }
    },
  );

  test(
    'drain stops routed starts, pinned starts need force, ' + 'and retire waits until every run has finished',
    async () => {
      const engine = await Engine.open({ store: backend.store(), workflows: [onboardingV1, onboardingV2] });
      try {
        const inFlight = await engine.start('onboarding', ada, { version: 2 });
        await runUntil(engine, inFlight.id, (r) => r.status === 'waiting');
        await engine.drain('onboarding', 2);
        assert.equal((await engine.start('onboarding', ada)).version, 1, 'routed starts avoid the draining version');
        const refused = await rejectsWith(engine.start('onboarding', ada, { version: 2 }), 'E_VERSION_UNAVAILABLE');
        assert.match(
          refused.message,
          /onboarding v2 is draining: it takes no new starts \(pass force to start it anyway\)/,
        );
        const forced = await engine.start('onboarding', ada, { version: 2, force: true });
        await runUntil(engine, forced.id, (r) => r.status === 'waiting');
        const v2 = (await engine.versions()).find((v) => v.workflow === 'onboarding' && v.version === 2)!;
        assert.deepEqual([v2.status, v2.inFlight, v2.parkedOn['signal:kyc']], ['draining', 2, 2]);
        assert.equal(v2.drainEta, undefined, 'runs waiting on a signal with no timeout have no ETA');
        assert.ok(v2.oldestInFlightAt instanceof Date);

        const blocked = await rejectsWith(engine.retire('onboarding', 2), 'E_RUN_STATE');
        assert.match(blocked.message, /2 runs are not finished/);
        assert.match(blocked.message, new RegExp(inFlight.id));
        for (const run of [inFlight, forced]) {
          await engine.signal(run.id, 'kyc', { passed: false });
          await engine.result(run.id, { timeoutMs: 5_000 });
        }
        await engine.retire('onboarding', 2);
        await rejectsWith(engine.start('onboarding', ada, { version: 2, force: true }), 'E_VERSION_UNAVAILABLE');
        await engine.drain('onboarding', 1);
        await rejectsWith(engine.start('onboarding', ada), 'E_VERSION_UNAVAILABLE');
        await engine.activate('onboarding', 1);
        assert.equal((await engine.start('onboarding', ada)).version, 1);
        await rejectsWith(engine.drain('onboarding', 7), 'E_UNKNOWN_VERSION');
      } finally {
        await engine.close();
      }
    },
  );

  test('the same version registered again with different code is refused; development mode replaces it', async () => {
    const store = backend.store();
    await (await Engine.open({ store, workflows: [onboardingV1] })).close();
    const changed = defineWorkflow({ name: 'onboarding', version: 1, run: async () => 'different code' });
    const refused = await rejectsWith(Engine.open({ store, workflows: [changed] }), 'E_VERSION_CONFLICT');
    assert.match(refused.message, /onboarding v1 is already registered with different code: bump the version/);
    const dev = await Engine.open({ store, workflows: [changed], devMode: true });
    await dev.close();
    await (await Engine.open({ store, workflows: [changed] })).close();
  });
});
