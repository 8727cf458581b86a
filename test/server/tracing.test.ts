/**
 * Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans go over OTLP/HTTP (JSON) to a collector, here a plain
 * node http server. The start request's traceparent parents the run: request -> start -> each execution -> step
 * attempts and task scheduling -> the task's poll and report; commits link the executions they carry. Off (no
 * endpoint), nothing is started and the start's traceparent is kept and handed to the task's worker as it is.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { buildServer } from '../../src/server/server.js';
import { rejectsWith, tempDb } from '../helpers.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER = '00f067aa0ba902b7';
const CALLER_TRACEPARENT = `00-${TRACE}-${CALLER}-01`;

const traced = defineWorkflow({
  name: 'traced',
  version: 1,
  async run(ctx) {
    const prepared = await ctx.step('prepare', ({ traceparent }) => ({ traceparent: traceparent ?? null }));
    const paid = await ctx.task('pay', { amount: 5 });
    await ctx.step('finish', () => 'done');
    return { prepared, paid };
  },
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number; message?: string };
}

/** A collector's OTLP/HTTP JSON traces endpoint: every span it was sent, and the resources' attributes. */
let collector: Server;
const received: OtlpSpan[] = [];
const resources: Record<string, unknown>[] = [];
let endpoint = '';

before(async () => {
  collector = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      assert.equal(request.url, '/v1/traces');
      assert.match(String(request.headers['content-type']), /application\/json/);
      for (const resourceSpans of JSON.parse(body).resourceSpans ?? []) {
        resources.push(attributesOf(resourceSpans.resource?.attributes ?? []));
        for (const scope of resourceSpans.scopeSpans ?? []) received.push(...scope.spans);
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  collector.listen(0, '127.0.0.1');
  await once(collector, 'listening');
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

after(() => collector.close());

/** OTLP JSON attributes as plain values (intValue arrives as a number or a string). */
function attributesOf(list: { key: string; value: Record<string, unknown> }[]): Record<string, unknown> {
  return Object.fromEntries(
    list.map(({ key, value }) => [key, 'intValue' in value ? Number(value.intValue) : Object.values(value)[0]]),
  );
}

/** Runs one traced run through the HTTP API: started with the caller's traceparent, its task polled and reported. */
async function runThroughApi(engine: Engine, headers: Record<string, string>) {
  const app = buildServer({ engine });
  try {
    const started = await app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify({ workflow: 'traced', input: {} }),
    });
    assert.equal(started.statusCode, 201, started.body);
    const runId = JSON.parse(started.body).id as string;
    let task: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && !task; i++) {
      const polled = await app.inject({ method: 'GET', url: '/api/tasks/poll/pay?workerid=remote-1' });
      if (polled.statusCode === 200) task = JSON.parse(polled.body);
      else await new Promise((resolve) => setTimeout(resolve, 25)); // the run has not scheduled it yet
    }
    assert.ok(task, 'the task was handed out');
    const reported = await app.inject({
      method: 'POST',
      url: '/api/tasks',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        taskId: task.taskId,
        workflowInstanceId: runId,
        status: 'COMPLETED',
        outputData: { paid: true },
      }),
    });
    assert.equal(reported.statusCode, 200, reported.body);
    const output = await engine.result<{ prepared: { traceparent: string | null } }>(runId, { timeoutMs: 10_000 });
    return { runId, task, output, history: await engine.history(runId) };
  } finally {
    await app.close();
  }
}

test('spans reach the OTLP collector with their parent links, from the start request to the task report', async () => {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  process.env.OTEL_BSP_SCHEDULE_DELAY = '20';
  process.env.OTEL_SERVICE_NAME = 'waymark-test';
  let engine: Engine;
  try {
    engine = await Engine.open({ store: `sqlite:${tempDb()}`, workflows: [traced], logger: { warn() {} } });
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    delete process.env.OTEL_SERVICE_NAME;
  }
  assert.equal(engine.telemetry.tracing, true);
  const { runId, task, output, history } = await runThroughApi(engine, { traceparent: CALLER_TRACEPARENT });
  await engine.close(); // flushes the exporter

  assert.ok(
    resources.every((r) => r['service.name'] === 'waymark-test'),
    JSON.stringify(resources),
  );
  const spans = received.filter((s) => s.traceId === TRACE);
  const named = (name: string) => spans.filter((s) => s.name === name);
  const attrs = (span: OtlpSpan) => attributesOf(span.attributes);
  const one = (name: string) => {
    assert.equal(named(name).length, 1, `one ${name} span of the run's trace`);
    return named(name)[0]!;
  };

  const request = one('POST /v1/runs');
  assert.equal(request.parentSpanId, CALLER, "the request's span continues the caller's");
  assert.equal(request.kind, 2, 'a server span');
  assert.equal(attrs(request)['http.response.status_code'], 201);
  const start = one('waymark.start');
  assert.equal(start.parentSpanId, request.spanId);
  assert.equal(attrs(start)['run.id'], runId);
  assert.equal(
    (history[0]!.data as { traceparent?: string }).traceparent,
    `00-${TRACE}-${start.spanId}-01`,
    "the run's start records the start span as its parent",
  );

  const executions = named('waymark.run');
  assert.ok(executions.length >= 1);
  for (const execution of executions) {
    assert.equal(execution.parentSpanId, start.spanId, 'every execution is a child of the start');
    assert.deepEqual(
      [attrs(execution)['workflow.name'], attrs(execution)['workflow.version'], attrs(execution)['run.id']],
      ['traced', 1, runId],
    );
  }
  const executionIds = executions.map((e) => e.spanId);
  const steps = named('waymark.step');
  assert.deepEqual(steps.map((s) => attrs(s)['step.name']).sort(), ['finish', 'prepare']);
  for (const step of steps) {
    assert.ok(executionIds.includes(step.parentSpanId!), 'a step attempt is a child of its execution');
    assert.equal(attrs(step)['step.attempt'], 1);
    assert.equal(attrs(step)['run.id'], runId);
  }
  const prepare = steps.find((s) => attrs(s)['step.name'] === 'prepare')!;
  assert.equal(output.prepared.traceparent, `00-${TRACE}-${prepare.spanId}-01`, 'the step function is told its span');

  const scheduled = one('waymark.task.schedule');
  assert.ok(executionIds.includes(scheduled.parentSpanId!));
  assert.equal(task.traceparent, `00-${TRACE}-${scheduled.spanId}-01`, 'the worker continues the task span');
  assert.equal(attrs(scheduled)['task.type'], 'pay');
  for (const name of ['waymark.task.poll', 'waymark.task.report']) {
    const span = one(name);
    assert.equal(span.parentSpanId, scheduled.spanId, `${name} is a child of the task's span`);
    assert.equal(attrs(span)['task.id'], task.taskId);
  }
  assert.equal(attrs(one('waymark.task.report'))['task.reported'], 'COMPLETED');

  const commits = received.filter((s) => s.name === 'waymark.store.commit');
  const linked = commits.flatMap((c) => c.links ?? []).filter((l) => executionIds.includes(l.spanId));
  assert.ok(linked.length >= 1, 'commit batches link the executions whose checkpoints they carry');
  assert.ok(commits.every((c) => attrs(c)['db.system'] === 'sqlite' && Number(attrs(c)['batch.size']) >= 1));
  const polls = received.filter((s) => s.name === 'GET /api/tasks/poll/:tasktype');
  assert.ok(polls.length >= 1 && polls.every((p) => !p.parentSpanId), 'a request without a traceparent: a new trace');
});

test('tracing off: no tracer starts; the start keeps the caller traceparent and hands it to the worker', async () => {
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, workflows: [traced], logger: { warn() {} } });
  try {
    assert.equal(engine.telemetry.tracing, false);
    const before = received.length;
    const { task, output, history } = await runThroughApi(engine, { traceparent: CALLER_TRACEPARENT });
    assert.equal((history[0]!.data as { traceparent?: string }).traceparent, CALLER_TRACEPARENT);
    assert.equal(task.traceparent, CALLER_TRACEPARENT);
    assert.equal(output.prepared.traceparent, null, 'no span, so no traceparent for the step');
    const invalid = await runThroughApi(engine, { traceparent: '00-not-a-trace-01' });
    assert.equal('traceparent' in (invalid.history[0]!.data as object), false, 'an invalid header is ignored');
    assert.equal('traceparent' in invalid.task, false);
    await rejectsWith(engine.start('traced', {}, { traceparent: 'nonsense' }), 'E_INVALID_INPUT');
    assert.equal(received.length, before, 'nothing was exported');
  } finally {
    await engine.close();
  }
});
