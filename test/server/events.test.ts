import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { buildServer, startServer } from '../../src/server/server.js';
import { forEachBackend } from '../helpers.js';
import { workflows } from './fixtures/server-workflows.js';
import { connectSse, type SseMessage } from './sse-client.js';

const isRun = (m: SseMessage): m is { event: string; data: { runId: string; events: string[]; status?: string } } =>
  'event' in m && m.event === 'run';

async function post(url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

forEachBackend((backend) => {
  test('an event stream carries the committed changes of runs started after subscribing, filtered by run', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows, logger: { warn() {} } });
    const server = await startServer({ engine, port: 0, heartbeatMs: 100 });
    try {
      const all = await connectSse(`${server.url}/v1/events`);
      const one = await connectSse(`${server.url}/v1/events?runId=watched`);
      assert.equal(all.response.statusCode, 200);
      assert.match(String(all.response.headers['content-type']), /^text\/event-stream/);
      await all.next((m) => 'comment' in m && m.comment === 'subscribed');
      await one.next((m) => 'comment' in m && m.comment === 'subscribed');

      assert.equal(
        (await post(`${server.url}/v1/runs`, { workflow: 'hold', input: { label: 'w' }, id: 'watched' })).status,
        201,
      );
      assert.equal(
        (await post(`${server.url}/v1/runs`, { workflow: 'hold', input: { label: 'o' }, id: 'other' })).status,
        201,
      );
      await one.next((m) => isRun(m) && m.data.status === 'waiting');
      assert.equal((await post(`${server.url}/v1/runs/watched/signals/go`, { by: 'sse' })).status, 202);
      await one.next((m) => isRun(m) && m.data.status === 'completed');
      const streamed = one.received.filter(isRun).flatMap((m) => m.data.events);
      const recorded = (await engine.history('watched')).map((e) => e.type).filter((type) => type !== 'run_started');
      assert.deepEqual(
        streamed,
        recorded,
        'every committed event of the run, in order (the start itself is not a commit of the worker)',
      );
      await all.next((m) => isRun(m) && m.data.runId === 'other' && m.data.status === 'waiting');
      await all.next((m) => isRun(m) && m.data.runId === 'watched' && m.data.status === 'completed');
      assert.ok(
        one.received.filter(isRun).every((m) => m.data.runId === 'watched'),
        'the filtered stream has only its run',
      );

      await one.next((m) => 'comment' in m && m.comment === 'heartbeat');
      one.close();
      all.close();
    } finally {
      await server.close();
      await engine.close();
    }
  });

  test('closing the server ends open event streams and pending result waits instead of waiting for them', async () => {
    const engine = await Engine.open({ store: backend.store(), workflows, logger: { warn() {} } });
    const app = buildServer({ engine });
    let resultAsked!: () => void;
    const asked = new Promise<void>((resolve) => (resultAsked = resolve));
    app.addHook('preHandler', async (request) => {
      if (request.url.includes('/result')) resultAsked();
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const server = { url, close: () => app.close() };
    let closed = false;
    try {
      const client = await connectSse(`${server.url}/v1/events`);
      await client.next((m) => 'comment' in m && m.comment === 'subscribed');
      await post(`${server.url}/v1/runs`, { workflow: 'hold', input: { label: 'p' }, id: 'pending' });
      await client.next((m) => isRun(m) && m.data.status === 'waiting');
      const waiting = fetch(`${server.url}/v1/runs/pending/result?timeoutMs=600000`).then(async (r) => ({
        status: r.status,
        body: await r.json(),
      }));
      await asked;

      const started = Date.now();
      await server.close();
      closed = true;
      const took = Date.now() - started;
      assert.ok(took < 2_000, `close took ${took} ms`);
      await client.ended;
      const result = await waiting;
      assert.deepEqual([result.status, result.body.code], [503, 'E_ENGINE_CLOSED']);
      assert.equal((await engine.getRun('pending')).status, 'waiting', 'the engine is untouched by closing the server');
    } finally {
      if (!closed) await server.close();
      await engine.close();
    }
  });
});
