import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow } from '../../src/index.js';
import { forEachBackend, runUntil } from '../helpers.js';
import { withApi } from './api.js';

/** Completes at once with an output of `input.size` bytes or so. */
const bulky = defineWorkflow({
  name: 'bulky',
  version: 1,
  async run(_ctx, input: { size: number; tag: string }) {
    return { tag: input.tag, blob: 'z'.repeat(input.size) };
  },
});

const MB = 1_000_000;

forEachBackend((backend) => {
  test(
    'GET /v1/runs and /api/workflow/search answer summaries: ' +
      'large outputs are not read unless asked for, and then a page ends early',
    async () => {
      await withApi(backend.store(), { workflows: [bulky] }, async ({ engine, call }) => {
        const ids = Array.from({ length: 9 }, (_, i) => `bulky-${String(i).padStart(2, '0')}`);
        for (const [i, id] of ids.entries())
          await call('POST', '/v1/runs', { workflow: 'bulky', id, input: { size: MB, tag: `tag-${i}` } });
        for (const id of ids) await runUntil(engine, id, (r) => r.status === 'completed');

        const listed = await call('GET', '/v1/runs?workflow=bulky&limit=1000');
        assert.equal(listed.status, 200);
        assert.equal(listed.body.runs.length, 9);
        assert.ok(
          JSON.stringify(listed.body).length < 20_000,
          `the list carries no outputs: ${JSON.stringify(listed.body).length} bytes`,
        );
        assert.ok(
          listed.body.runs.every(
            (r: { output?: unknown; input?: unknown; outputSize: number }) =>
              r.output === undefined && r.input === undefined && r.outputSize > MB,
          ),
        );
        assert.equal(listed.body.next, undefined);

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
          const page = await call('GET', `/v1/runs?workflow=bulky&limit=5&include=input,output${after}`);
          assert.equal(page.status, 200, JSON.stringify(page.body).slice(0, 300));
          assert.ok(page.body.runs.length <= 4, 'a page of included outputs ends past 4 MiB');
          for (const run of page.body.runs) {
            assert.equal(run.output.blob.length, MB);
            seen.push(run.id);
          }
          cursor = page.body.next;
          pages++;
        } while (cursor !== undefined);
        assert.deepEqual(
          seen,
          listed.body.runs.map((r: { id: string }) => r.id),
          'the cursors visit every run once, in list order',
        );
        assert.ok(pages >= 3);

        const search = await call('GET', '/api/workflow/search?query=workflowType%3Dbulky&size=1000');
        assert.equal(search.status, 200);
        assert.equal(search.body.totalHits, 9);
        assert.ok(JSON.stringify(search.body).length < 20_000, 'search results carry no outputs');
        assert.ok(
          search.body.results.every(
            (s: { output?: string; outputSize: number }) => s.output === undefined && s.outputSize > MB,
          ),
        );
        const tagged = await call('GET', '/api/workflow/search?freeText=tag-7&includeInput=true');
        assert.deepEqual(
          tagged.body.results.map((s: { workflowId: string }) => s.workflowId),
          ['bulky-07'],
          'free text finds a word of a small input',
        );
        assert.deepEqual(JSON.parse(tagged.body.results[0].input), { size: MB, tag: 'tag-7' });
        const none = await call('GET', '/api/workflow/search?freeText=zzzz');
        assert.deepEqual([none.status, none.body.totalHits], [200, 0], 'outputs over 64 KiB are not searched');
        const withOutput = await call(
          'GET',
          '/api/workflow/search?query=workflowType%3Dbulky&size=1000&includeOutput=true',
        );
        const included = withOutput.body.results.filter((s: { output?: string }) => s.output !== undefined);
        assert.ok(
          included.length >= 1 && included.length <= 4,
          `outputs are included while they fit in 4 MiB: ${included.length}`,
        );
        assert.equal(JSON.parse(included[0].output).blob.length, MB);

        const bad = await call('GET', '/v1/runs?cursor=garbage');
        assert.deepEqual([bad.status, bad.body.field], [400, 'query.cursor']);
        assert.deepEqual([(await call('GET', '/v1/runs?include=secrets')).body.field], ['query.include[0]']);
      });
    },
  );
});
