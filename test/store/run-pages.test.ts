import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Json } from '../../src/core/types.js';
import { openStore } from '../../src/store/open.js';
import type { RunPageQuery, Store } from '../../src/store/types.js';
import { forEachBackend, rejectsWith, type Backend } from '../helpers.js';

const served = [
  { workflow: 'w', version: 1 },
  { workflow: 'other', version: 1 },
];

/**
 * A store with `count` runs of w (every third one of 'other'), created
 * one by one; each run i completes with `output(i)` when it gives one.
 */
async function storeWithRuns(
  backend: Backend,
  count: number,
  output: (i: number) => Json | undefined = () => undefined,
): Promise<Store> {
  const store = await openStore(backend.store());
  await store.registerWorkflowVersions(served.map((s) => ({ ...s, fingerprint: 'f' })));
  for (let i = 0; i < count; i++) {
    const id = `run-${String(i).padStart(2, '0')}`;
    await store.createRuns(
      [
        {
          id,
          workflow: i % 3 === 2 ? 'other' : 'w',
          version: 1,
          input: { n: i, note: `note ${i}` },
          correlationId: `order-${i % 5}`,
        },
      ],
      1000,
    );
  }
  const claimed = await store.claimRuns('worker', served, count, 10_000);
  const commits = claimed
    .map((c) => ({ c, out: output(Number(c.run.id.slice(4))) }))
    .filter(({ out }) => out !== undefined)
    .map(({ c, out }) => ({
      runId: c.run.id,
      workerId: 'worker',
      fromPos: 1,
      events: [],
      update: { status: 'completed' as const, output: out, releaseLease: true },
    }));
  if (commits.length) await store.commit(commits, 10_000);
  return store;
}

/** Every page of a query, followed through its cursors. */
async function allPages(store: Store, query: RunPageQuery) {
  const pages = [];
  let cursor = query.cursor;
  do {
    const page = await store.pageRuns({ ...query, cursor });
    pages.push(page);
    cursor = page.next;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

forEachBackend((backend) => {
  test(
    'pageRuns: summaries without inputs or outputs, ' + 'in listRuns order, every run once through the cursors',
    async () => {
      const store = await storeWithRuns(backend, 25, (i) => ({ result: 'r'.repeat(i * 10) }));
      const pages = await allPages(store, { limit: 10 });
      assert.deepEqual(
        pages.map((p) => p.runs.length),
        [10, 10, 5],
      );
      assert.equal(pages[2]!.next, undefined, 'the last page has no cursor');
      const listed = (await store.listRuns({ limit: 100 })).map((r) => r.id);
      assert.deepEqual(
        pages.flatMap((p) => p.runs.map((r) => r.id)),
        listed,
      );
      const first = pages[0]!.runs[0]!;
      assert.equal('input' in first || 'output' in first, false, 'a summary carries no input or output');
      const { input, output, ...rest } = (await store.getRun(first.id))!;
      const { inputSize, outputSize, ...summarized } = first;
      assert.deepEqual(summarized, rest, 'a summary is the run without its input and output');
      assert.equal(inputSize, JSON.stringify(input).length);
      assert.equal(outputSize, JSON.stringify(output).length);

      const included = await store.pageRuns({ limit: 3, include: ['input', 'output'] });
      for (const run of included.runs) {
        const stored = await store.getRun(run.id);
        assert.deepEqual([run.input, run.output], [stored!.input, stored!.output]);
      }
      const inputsOnly = await store.pageRuns({ limit: 3, include: ['input'] });
      assert.ok(inputsOnly.runs.every((r) => r.input !== undefined && r.output === undefined));
      await store.close();
    },
  );

  test('pageRuns: a page of included outputs ends once they pass maxBytes, its first run always comes', async () => {
    const store = await storeWithRuns(backend, 9, () => ({ blob: 'x'.repeat(1000) }));
    const pages = await allPages(store, { limit: 100, include: ['output'], maxBytes: 2500 });
    assert.deepEqual(
      pages.map((p) => p.runs.length),
      [2, 2, 2, 2, 1],
    );
    assert.equal(
      pages.flatMap((p) => p.runs).filter((r) => (r.output as { blob: string }).blob.length === 1000).length,
      9,
    );
    const tiny = await store.pageRuns({ limit: 100, include: ['output'], maxBytes: 1 });
    assert.equal(tiny.runs.length, 1, 'one run larger than the budget still makes a page');
    assert.ok(tiny.next);
    assert.equal(
      (await store.pageRuns({ limit: 100, maxBytes: 1 })).runs.length,
      9,
      'the budget counts only what is included',
    );
    await store.close();
  });

  test(
    'pageRuns: filters hold across pages; ' + 'a run started after the first page does not shift the next ones',
    async () => {
      const store = await storeWithRuns(backend, 12, (i) => (i % 2 === 0 ? { even: true } : undefined));
      const query: RunPageQuery = { workflow: 'w', status: ['running', 'completed'], version: 1, limit: 2 };
      const first = await store.pageRuns(query);
      await store.createRuns([{ id: 'late', workflow: 'w', version: 1, input: null }], 1000);
      const rest = await allPages(store, { ...query, cursor: first.next });
      const ids = [...first.runs, ...rest.flatMap((p) => p.runs)].map((r) => r.id);
      assert.deepEqual(
        ids,
        (await store.listRuns({ workflow: 'w', limit: 100 })).filter((r) => r.id !== 'late').map((r) => r.id),
      );
      const completed = await allPages(store, { status: 'completed', correlationId: 'order-0', limit: 1 });
      assert.deepEqual(completed.flatMap((p) => p.runs.map((r) => r.id)).sort(), ['run-00', 'run-10']);
      await rejectsWith(store.pageRuns({ cursor: 'not-a-cursor' }), 'E_INVALID_INPUT');
      await rejectsWith(store.pageRuns({ cursor: Buffer.from('{"a":1}').toString('base64url') }), 'E_INVALID_INPUT');
      await store.close();
    },
  );

  test(
    'pageRuns: words match id, workflow, correlation id and small inputs and outputs, ' +
      'ignoring case; LIKE wildcards are plain text',
    async () => {
      const store = await storeWithRuns(backend, 6, (i): Json | undefined =>
        i === 1 ? { message: 'Shipped To BERLIN' } : i === 4 ? { huge: `berlin ${'y'.repeat(70_000)}` } : undefined,
      );
      const ids = async (words: string[]) => (await store.pageRuns({ words, limit: 100 })).runs.map((r) => r.id).sort();
      assert.deepEqual(await ids(['berlin']), ['run-01'], 'an output over 64 KiB is not searched');
      assert.deepEqual(await ids(['shipped', 'berlin']), ['run-01']);
      assert.deepEqual(await ids(['shipped', 'paris']), [], 'every word must appear');
      assert.deepEqual(await ids(['NOTE 3']), ['run-03'], 'in the input');
      assert.deepEqual(await ids(['order-2']), ['run-02'], 'the correlation id');
      assert.deepEqual(await ids(['RUN-05']), ['run-05']);
      assert.deepEqual(await ids(['other']), ['run-02', 'run-05'], 'the workflow');
      assert.deepEqual(await ids(['%']), []);
      assert.deepEqual(await ids(['run_0']), []);
      assert.deepEqual((await store.pageRuns({ words: ['note'], limit: 2 })).runs.length, 2);
      await store.close();
    },
  );
});
