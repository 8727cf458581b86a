import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { forEachBackend } from '../helpers.js';
import { startFixture } from '../processes.js';

const RACERS = 4;
const ROUNDS = 12;
const UNRELATED = 4;

type Outcome =
  | { id: string; ok: true; runId: string; createdAt: number }
  | { id: string; ok: false; code: string; message: string };

forEachBackend((backend) => {
  test(
    'processes starting one run id on a locked workflow at once all get that run; ' +
      'the unrelated starts in their batches are all created',
    async () => {
      const store = backend.store();
      const racers = Array.from({ length: RACERS }, (_, i) =>
        startFixture('start-racer.ts', {
          STORE: store,
          RACER: `racer${i}`,
          ROUNDS: String(ROUNDS),
          UNRELATED: String(UNRELATED),
        }),
      );
      await Promise.all(racers.map((r) => r.next('ready')));
      for (const r of racers) r.child.send('go');
      const reports = await Promise.all(racers.map((r) => r.next('done')));
      await Promise.all(racers.map((r) => r.exited));

      const outcomes = reports.flatMap((r) => r.outcomes as Outcome[]);
      assert.deepEqual(
        outcomes.filter((o) => !o.ok),
        [],
        'every start returned a run',
      );
      const opened = await openStore(store);
      try {
        for (let round = 0; round < ROUNDS; round++) {
          for (const id of [`queue-${round}`, `reject-${round}`]) {
            const answers = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.id === id && o.ok);
            const run = await opened.getRun(id);
            assert.ok(run, `${id} exists`);
            assert.deepEqual(
              new Set(answers.map((a) => `${a.runId}@${a.createdAt}`)),
              new Set([`${id}@${run.createdAt.getTime()}`]),
              `${id}: one run, returned to all ${RACERS}`,
            );
            assert.equal((await opened.history(id)).length, 1, `${id} was started once`);
          }
        }
        const runs = await opened.listRuns({ limit: 10_000 });
        assert.equal(runs.length, ROUNDS * (2 + RACERS * UNRELATED), 'every unrelated start was created');
      } finally {
        await opened.close();
      }
    },
  );
});
