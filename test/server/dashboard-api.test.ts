import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { test } from 'node:test';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { defineWorkflow } from '../../src/index.js';
import { PollNotes } from '../../src/runtime/poll-notes.js';
import { openStore } from '../../src/store/open.js';
import { runUntil, tempDb } from '../helpers.js';
import { withApi } from './api.js';
import { authServer, raw, send } from './auth-fixtures.js';
import { workflows } from './fixtures/server-workflows.js';

const example = (file: string) =>
  JSON.parse(readFileSync(`examples/conductor-onboarding/${file}`, 'utf8')) as Record<string, unknown>;
const support = await declarativeSupport();
const TASK = 'normalize_customer_profile';

test('GET /v1/whoami: without auth nobody with every right; with auth the key and its role', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows }, async ({ call }) => {
    const me = await call('GET', '/v1/whoami');
    assert.deepEqual([me.status, me.body], [200, { actor: null, role: 'admin', auth: false }]);
  });
  const auth = await authServer(`sqlite:${tempDb()}`);
  try {
    const key = auth.keys.operator;
    const me = await send(auth.url, 'GET', '/v1/whoami', { authorization: `Bearer ${raw(key)}` });
    assert.deepEqual(me.body, { actor: `key:${key.keyId} (operator key)`, role: 'operator', auth: true });
    assert.equal((await send(auth.url, 'GET', '/v1/whoami')).status, 401);
  } finally {
    await auth.close();
  }
});

test('GET /v1/runs filters by attention, stuckForMs and start time; bad times are 400s naming the field', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows }, async ({ engine, call }) => {
    await engine.start('hold', { label: 'a' }, { id: 'h1' });
    const h1 = await runUntil(engine, 'h1', (r) => r.status === 'waiting');
    await engine.start('fragile', undefined, { id: 'p1' });
    const p1 = await runUntil(engine, 'p1', (r) => r.status === 'needs_attention');
    const ids = async (query: string) => {
      const answer = await call('GET', `/v1/runs?${query}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.runs.map((r: { id: string }) => r.id).sort();
    };
    assert.deepEqual(await ids('attention=true'), ['p1']);
    assert.deepEqual(await ids('attention=false'), ['h1', 'p1']);
    assert.deepEqual(await ids('stuckForMs=0'), ['h1', 'p1']);
    assert.deepEqual(await ids('stuckForMs=3600000'), [], 'nothing is an hour old');
    const later = Math.max(h1.createdAt.getTime(), p1.createdAt.getTime()) + 1;
    assert.deepEqual(await ids(`startedAfter=${later}`), []);
    assert.deepEqual(await ids(`startedBefore=${new Date(later).toISOString()}`), ['h1', 'p1']);
    assert.deepEqual(await ids(`startedAfter=${p1.createdAt.toISOString()}&attention=true`), ['p1']);
    for (const [query, field] of [
      ['startedAfter=yesterday', 'query.startedAfter'],
      ['startedBefore=2026-13-45T99:00:00Z', 'query.startedBefore'],
      ['stuckForMs=-1', 'query.stuckForMs'],
      ['attention=maybe', 'query.attention'],
    ]) {
      const answer = await call('GET', `/v1/runs?${query}`);
      assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.body)}`);
      assert.ok(JSON.stringify(answer.body).includes(field.split('.')[1]!), `${query} names ${field}`);
    }
  });
});

test('task queues: polls are kept in the store (Conductor and /v1 views agree), throttled per worker', async () => {
  const location = `sqlite:${tempDb()}`;
  await withApi(location, { compile: support.compile }, async ({ engine, call }) => {
    support.bind(engine);
    await engine.definitions.register([
      compileWorkflowDef(parseWorkflowDef(example('customer_onboarding.v1.json')), support.env),
    ]);
    const first = await engine.start(
      'customer_onboarding',
      { customerId: 'c-1' },
      { startOptions: { taskToDomain: { '*': 'eu' } } },
    );
    await runUntil(engine, first.id, (r) => r.status === 'waiting');
    const polled = await call('GET', `/api/tasks/poll/batch/${TASK}?workerid=w1&domain=eu&count=1&timeout=0`);
    assert.equal(polled.status, 200, JSON.stringify(polled.body));
    assert.equal(polled.body.length, 1);
    const second = await engine.start('customer_onboarding', { customerId: 'c-2' });
    await runUntil(engine, second.id, (r) => r.status === 'waiting');
    assert.equal((await call('GET', `/api/tasks/poll/${TASK}?workerid=w2`)).status, 200);
    const third = await engine.start('customer_onboarding', { customerId: 'c-3' });
    await runUntil(engine, third.id, (r) => r.status === 'waiting');

    const polldata = await call('GET', `/api/tasks/queue/polldata?taskType=${TASK}`);
    assert.equal(polldata.status, 200);
    const rows = polldata.body.map((p: Record<string, unknown>) => [p.queueName, p.domain, p.workerId]);
    assert.deepEqual(rows, [
      [TASK, null, 'w2'],
      [`eu:${TASK}`, 'eu', 'w1'],
    ]);
    assert.ok(polldata.body.every((p: { lastPollTime: unknown }) => typeof p.lastPollTime === 'number'));
    const all = await call('GET', '/api/tasks/queue/polldata/all');
    assert.deepEqual(all.body, polldata.body);
    assert.equal((await call('GET', '/api/tasks/queue/polldata')).status, 400, 'taskType is required');
    const sizes = await call('GET', '/api/tasks/queue/all');
    // the eu task (polled by w1) is a queue of its own, as Conductor names it
    assert.deepEqual([sizes.status, sizes.body], [200, { [TASK]: 1, [`eu:${TASK}`]: 0 }]);
    const verbose = await call('GET', '/api/tasks/queue/all/verbose');
    assert.deepEqual(verbose.body, {
      [TASK]: { a: { size: 1, uacked: 1 } },
      [`eu:${TASK}`]: { a: { size: 0, uacked: 1 } },
    });

    const queues = await call('GET', '/v1/task-queues');
    assert.equal(queues.status, 200);
    const shown = queues.body.queues.map((q: Record<string, unknown>) => [q.taskType, q.domain, q.depth]);
    assert.deepEqual(shown, [
      [TASK, null, 1],
      [TASK, 'eu', 0],
    ]);
    const [plain, eu] = queues.body.queues;
    assert.ok(Date.parse(plain.oldestWaitingAt) <= Date.now());
    const pollers = (q: { pollers: { workerId: string; domain: string | null }[] }) =>
      q.pollers.map((p) => [p.workerId, p.domain]);
    assert.deepEqual([pollers(plain), pollers(eu)], [[['w2', null]], [['w1', 'eu']]]);
  });

  const store = await openStore(location);
  try {
    const notes = new PollNotes(store);
    await notes.note('pay', 'hot', null, 10_000);
    await notes.note('pay', 'hot', null, 14_999);
    assert.deepEqual(
      (await store.queues.pollData('pay')).map((p) => p.lastPollAt),
      [10_000],
      'within 5 s of the last write: not written',
    );
    await notes.note('pay', 'hot', null, 15_000);
    await notes.note('pay', 'other', null, 15_001);
    assert.deepEqual(
      (await store.queues.pollData('pay')).map((p) => [p.workerId, p.lastPollAt]),
      [
        ['hot', 15_000],
        ['other', 15_001],
      ],
    );
  } finally {
    await store.close();
  }
});

test('deploy checks and plans over HTTP are kept: listed newest first with a summary, read whole', async () => {
  await withApi(`sqlite:${tempDb()}`, { compile: support.compile }, async ({ engine, call }) => {
    support.bind(engine);
    await engine.definitions.register([
      compileWorkflowDef(parseWorkflowDef(example('customer_onboarding.v1.json')), support.env),
    ]);
    const run = await engine.start('customer_onboarding', { customerId: 'c-9' });
    await runUntil(engine, run.id, (r) => r.status === 'waiting');
    const definitions = [example('customer_onboarding.v2.json')];
    const check = await call('POST', '/v1/deploy/check', { definitions });
    assert.equal(check.status, 200);
    const plan = await call('POST', '/v1/deploy/plan', { definitions });
    assert.equal(plan.status, 200);
    assert.equal((await call('POST', '/v1/deploy/check', { definitions: [{ name: 'x' }] })).status, 400);

    const listed = await call('GET', '/v1/deploy/reports');
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.reports.map((r: Record<string, unknown>) => [r.kind, r.source, r.actor]),
      [
        ['plan', 'http', null],
        ['check', 'http', null],
      ],
      'a refused check is not kept',
    );
    const [planned, checked] = listed.body.reports;
    assert.deepEqual(checked.summary, {
      safe: true,
      counts: check.body.workflows[0].counts,
      workflows: [
        { workflow: 'customer_onboarding', classification: 'additive', counts: check.body.workflows[0].counts },
      ],
    });
    assert.equal(checked.summary.counts.compatible, 1);
    assert.equal(planned.summary.workflows[0].classification, 'additive');
    const whole = await call('GET', `/v1/deploy/reports/${checked.id}`);
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body.report, check.body);
    assert.deepEqual({ ...whole.body, report: undefined }, { ...checked, report: undefined });
    assert.deepEqual((await call('GET', '/v1/deploy/reports/999')).body.code, 'E_REPORT_NOT_FOUND');
    assert.equal((await call('GET', '/v1/deploy/reports/abc')).status, 400);
  });
});

const v1 = defineWorkflow({ name: 'shares', version: 1, run: async (ctx) => ctx.waitForSignal('go') });
const v2 = defineWorkflow({ name: 'shares', version: 2, run: async () => 'two' });
const v3 = defineWorkflow({ name: 'shares', version: 3, run: async () => 'three' });

test('GET /v1/versions gives each version its share of routed starts and whether it is safe to retire', async () => {
  await withApi(`sqlite:${tempDb()}`, { workflows: [v1, v2, v3] }, async ({ engine, call }) => {
    const shares = async () => {
      const { body } = await call('GET', '/v1/versions');
      return body.versions.map((v: Record<string, unknown>) => [v.version, v.routeShare, v.safeToRetire]);
    };
    assert.deepEqual(await shares(), [
      [1, 0, false],
      [2, 0, false],
      [3, 100, false],
    ]);
    assert.equal(
      (await call('PUT', '/v1/workflows/shares/route', { current: 2, candidate: 3, percent: 10 })).status,
      200,
    );
    assert.deepEqual(await shares(), [
      [1, 0, false],
      [2, 90, false],
      [3, 10, false],
    ]);
    const route = await call('GET', '/v1/workflows/shares/route');
    assert.deepEqual(route.body, {
      workflow: 'shares',
      route: { workflow: 'shares', current: 2, candidate: 3, percent: 10 },
    });
    await engine.start('shares', undefined, { id: 'old', version: 1 });
    await runUntil(engine, 'old', (r) => r.status === 'waiting');
    await engine.drain('shares', 1);
    await engine.drain('shares', 3);
    assert.deepEqual(
      await shares(),
      [
        [1, 0, false],
        [2, 100, false],
        [3, 0, true],
      ],
      'a drained candidate takes nothing; a drained version with a run in flight is not safe to retire',
    );
    await engine.signal('old', 'go');
    await runUntil(engine, 'old', (r) => r.status === 'completed');
    assert.deepEqual((await shares())[0], [1, 0, true]);
    assert.equal((await call('PUT', '/v1/workflows/shares/route', null)).status, 200);
    assert.deepEqual((await call('GET', '/v1/workflows/shares/route')).body, { workflow: 'shares', route: null });
    const unknown = await call('GET', '/v1/workflows/nope/route');
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'E_UNKNOWN_WORKFLOW']);
  });
});

test('a deploy report that cannot be written does not fail the check: it is logged', async () => {
  const file = tempDb();
  const warnings: string[] = [];
  const logger = { warn: (_facts: unknown, message: string) => warnings.push(message) };
  await withApi(`sqlite:${file}`, { compile: support.compile, logger }, async ({ engine, call }) => {
    support.bind(engine);
    const db = new Database(file);
    db.exec('DROP TABLE deploy_reports');
    db.close();
    const check = await call('POST', '/v1/deploy/check', { definitions: [example('customer_onboarding.v2.json')] });
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(check.body.safe, true);
    assert.deepEqual(warnings, ['the deploy report could not be kept (the check itself succeeded)']);
  });
});
