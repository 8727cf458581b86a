/**
 * Exactly one run per slot with three engine processes sharing one PostgreSQL store, one of them SIGKILLed while
 * schedules fire every second: every slot in the window has exactly one run, none is doubled, none is missed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { openStore } from '../../src/store/open.js';
import { beat } from '../fixtures/schedule-workflows.js';
import { tempPgStore } from '../helpers.js';
import { killHard, startFixture, stopGracefully, type Fixture } from '../processes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('three processes on PostgreSQL, one SIGKILLed: every slot of the window has exactly one run', async () => {
  const location = tempPgStore();
  const client = await Engine.open({ store: location, workflows: [beat], worker: false });
  const start = (i: number) => startFixture('schedule-worker.ts', { STORE: location, WORKER_ID: `sched-${i}` });
  const fleet: Fixture[] = [start(1), start(2), start(3)];
  try {
    await Promise.all(fleet.map((f) => f.next('ready')));
    const ids = ['every-second-a', 'every-second-b', 'every-second-c'];
    for (const id of ids)
      await client.schedules.create({ id, workflow: 'beat', interval: '1s', overlap: 'allow_all', input: { n: 1 } });
    const from = Date.now();
    await sleep(2500);
    await killHard(fleet[0]!);
    await sleep(2500);
    for (const id of ids) await client.schedules.pause(id, 'end of the window');
    const to = Date.now();
    await sleep(500); // a look in progress ends

    const store = await openStore(location);
    try {
      for (const id of ids) {
        const slots = (await store.schedules.slots(id, { limit: 1000, oldestFirst: true })).filter(
          (s) => s.slotAt > from + 1000 && s.slotAt < to - 1000,
        );
        assert.ok(slots.length >= 2, `${id}: slots in the window: ${slots.length}`);
        for (let i = 1; i < slots.length; i++)
          assert.equal(slots[i]!.slotAt - slots[i - 1]!.slotAt, 1000, `${id}: no slot missed`);
        assert.ok(
          slots.every((s) => s.decision === 'started'),
          `${id}: every slot started (allow_all): ${slots.map((s) => s.decision)}`,
        );
        const runs = (await store.listRuns({ workflow: 'beat', limit: 10_000 })).filter((r) =>
          r.id.startsWith(`sched:${id}:`),
        );
        const runIds = runs.map((r) => r.id);
        assert.equal(new Set(runIds).size, runIds.length, 'no run id twice');
        for (const s of slots) assert.ok(runIds.includes(s.runId!), `${id}: slot ${s.slotAt} has its run`);
        const allSlots = await store.schedules.slots(id, { limit: 1000 });
        assert.equal(runs.length, allSlots.filter((s) => s.decision === 'started').length, 'one run per started slot');
      }
    } finally {
      await store.close();
    }
  } finally {
    await Promise.all(fleet.slice(1).map(stopGracefully));
    await client.close();
  }
});
