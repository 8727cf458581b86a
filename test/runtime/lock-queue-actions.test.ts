import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, type Engine, type Run } from '../../src/index.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';
import { withApi } from '../server/api.js';

/** Who is inside each target right now, who entered (in order), and every entry beside another run. */
const inside = new Map<string, Set<string>>();
const entered: string[] = [];
const overlaps: string[] = [];

function enter(key: string, runId: string): void {
  const here = inside.get(key) ?? new Set<string>();
  if (here.size > 0) overlaps.push(`${runId} entered ${key} while ${[...here].join(', ')} was inside`);
  here.add(runId);
  inside.set(key, here);
  entered.push(runId);
}

/** Holds `target:<t>` (queueing behind its holder) and stays inside until signalled 'leave'. */
const make = (version: number) =>
  defineWorkflow({
    name: 'target-work',
    version,
    lock: { key: (input: { t: string }) => `target:${input.t}`, onConflict: 'queue' },
    async run(ctx, input: { t: string }) {
      await ctx.step('enter', () => enter(`target:${input.t}`, ctx.runId));
      await ctx.waitForSignal('leave');
      await ctx.step('leave', () => void inside.get(`target:${input.t}`)!.delete(ctx.runId));
      return version;
    },
  });
const workflows = [make(1), make(2)];

const queued = (run: Run) => run.status === 'waiting' && run.waitingFor?.kind === 'lock';
const inCriticalSection = (run: Run) => run.status === 'waiting' && run.waitingFor?.kind === 'signal';
/** Settled after an operator action: queued again, parked, paused or over (not on its way to a worker). */
const settled = (run: Run) =>
  queued(run) || inCriticalSection(run) || ['paused', 'cancelled', 'compensated', 'completed'].includes(run.status);

async function start(engine: Engine, t: string, id: string): Promise<Run> {
  return engine.start('target-work', { t }, { id, version: 1 });
}

/** Lets the run holding the target leave, and waits until it is over. */
async function leave(engine: Engine, runId: string): Promise<void> {
  await engine.signal(runId, 'leave');
  await engine.result(runId, { timeoutMs: 10_000 });
}

forEachBackend((backend) => {
  test(
    'pause and resume of a queued run (library and HTTP) ' +
      'put it back in the queue: it never runs beside the holder',
    async () => {
      await withApi(backend.store(), { workflows }, async ({ engine, call }) => {
        const t = `${backend.name}-a`;
        const holder = await start(engine, t, `${t}-1`);
        await runUntil(engine, holder.id, inCriticalSection);
        const q = await start(engine, t, `${t}-2`);
        assert.ok(queued(q));

        assert.equal(
          (await call('POST', `/v1/runs/${q.id}/actions/pause`, { actor: 'ops' })).body.run.status,
          'paused',
        );
        const resumed = await call('POST', `/v1/runs/${q.id}/actions/resume`, { actor: 'ops' });
        assert.equal(resumed.status, 200);
        let after = await runUntil(engine, q.id, settled);
        assert.deepEqual(
          [after.status, after.waitingFor],
          ['waiting', { kind: 'lock', name: `target:${t}` }],
          'resumed over HTTP: queued again',
        );

        await engine.pause(q.id, { actor: 'ops' });
        await engine.resume(q.id, { actor: 'ops' });
        after = await runUntil(engine, q.id, settled);
        assert.ok(
          queued(after),
          `resumed by the library: queued again, got ${after.status} ${JSON.stringify(after.waitingFor)}`,
        );

        const third = await start(engine, t, `${t}-3`);
        await leave(engine, holder.id);
        await runUntil(engine, q.id, inCriticalSection);
        assert.ok(queued(await engine.getRun(third.id)), 'the third run waits while the resumed one is inside');
        await leave(engine, q.id);
        await runUntil(engine, third.id, inCriticalSection);
        await leave(engine, third.id);
        assert.deepEqual(
          entered.filter((id) => id.startsWith(t)),
          [holder.id, q.id, third.id],
          'first come, first served',
        );
        assert.deepEqual(overlaps, []);
      });
    },
  );

  test(
    'a queued run paused when the lock comes free is passed over, ' + 'and resumed takes the free lock or queues again',
    async () => {
      await withApi(backend.store(), { workflows }, async ({ engine }) => {
        const t = `${backend.name}-b`;
        const holder = await start(engine, t, `${t}-1`);
        await runUntil(engine, holder.id, inCriticalSection);
        const paused = await start(engine, t, `${t}-2`);
        const next = await start(engine, t, `${t}-3`);
        await engine.pause(paused.id);
        await leave(engine, holder.id);
        await runUntil(engine, next.id, inCriticalSection);
        await engine.resume(paused.id);
        assert.ok(queued(await runUntil(engine, paused.id, settled)), 'the lock is held by the next run: queued again');
        await leave(engine, next.id);
        await runUntil(engine, paused.id, inCriticalSection);
        await leave(engine, paused.id);

        // The lock is free when the paused run is resumed: it takes it and runs.
        const alone = await start(engine, t, `${t}-4`);
        await runUntil(engine, alone.id, inCriticalSection);
        const later = await start(engine, t, `${t}-5`);
        await engine.pause(later.id);
        await leave(engine, alone.id);
        await engine.resume(later.id);
        await runUntil(engine, later.id, inCriticalSection);
        const last = await start(engine, t, `${t}-6`);
        assert.ok(queued(last), 'a start behind the resumed holder queues');
        await leave(engine, later.id);
        await runUntil(engine, last.id, inCriticalSection);
        await leave(engine, last.id);
        assert.deepEqual(
          entered.filter((id) => id.startsWith(t)),
          [holder.id, next.id, paused.id, alone.id, later.id, last.id],
        );
        assert.deepEqual(overlaps, []);
      });
    },
  );

  test(
    'cancel, compensate, retry-step, skip-step, ' +
      'resume and upgrade of a queued run never let it execute without the lock',
    async () => {
      await withApi(backend.store(), { workflows }, async ({ engine }) => {
        const t = `${backend.name}-c`;
        const holder = await start(engine, t, `${t}-1`);
        await runUntil(engine, holder.id, inCriticalSection);
        const ids = [`${t}-2`, `${t}-3`, `${t}-4`, `${t}-5`];
        for (const id of ids) await start(engine, t, id);
        const [c, k, r, u] = ids as [string, string, string, string];

        assert.equal((await engine.cancel(c)).run.status, 'cancelled');

        await engine.compensate(k, { reason: 'not wanted' });
        const waitingToUnwind = await runUntil(engine, k, settled);
        assert.ok(
          queued(waitingToUnwind),
          `a compensated queued run unwinds only once it holds the lock, got ${waitingToUnwind.status}`,
        );

        const before = await engine.history(r);
        for (const action of ['retryStep', 'skipStep', 'resume'] as const)
          await rejectsWith(engine[action](r), 'E_RUN_STATE');
        assert.deepEqual(await engine.history(r), before, 'refused actions change nothing');
        assert.ok(queued(await engine.getRun(r)));

        const moved = await engine.upgrade(u, { to: 2 });
        assert.ok(moved.applied && queued(moved.run), 'an upgraded queued run stays queued');

        await leave(engine, holder.id);
        assert.equal((await runUntil(engine, k, (run) => run.status === 'compensated')).status, 'compensated');
        await runUntil(engine, r, inCriticalSection);
        assert.ok(queued(await engine.getRun(u)));
        await leave(engine, r);
        await runUntil(engine, u, inCriticalSection);
        await engine.signal(u, 'leave');
        assert.equal(await engine.result(u, { timeoutMs: 10_000 }), 2, 'it ran on the version it was upgraded to');
        assert.deepEqual(
          entered.filter((id) => id.startsWith(t)),
          [holder.id, r, u],
          'the cancelled and compensated runs never entered',
        );
        assert.deepEqual(overlaps, []);
      });
    },
  );
});
