import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  Engine,
  type Run,
  type ScheduleRecord,
  type SlotOutcome,
  type SlotRecord,
  type VersionSummary,
} from '../../src/index.js';
import { workflows } from '../fixtures/versioned-workflows.js';
import { tempDb } from '../helpers.js';
import type { CliResult } from './cli-process.js';
import { cliInProcess } from './in-process.js';

/**
 * The schedule commands in this process on a real SQLite file. The store's workflows are registered by an engine
 * that fires no schedules (worker: false), so every slot here is fired by a command, never by a clock.
 */
const WORKFLOW = 'versioned-order';
const db = tempDb();
const engine = await Engine.open({ store: `sqlite:${db}`, workflows, worker: false });
after(() => engine.close());

const cli = (...args: string[]): Promise<CliResult> => cliInProcess([...args, '--db', db]);

async function json<T>(...args: string[]): Promise<T> {
  const result = await cli(...args, '--json');
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

function assertUsage(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 2, `exit ${result.code}: ${result.stderr}`);
  assert.match(result.stderr, /^error: .*\(E_INVALID_INPUT\)\n$/);
  assert.match(result.stderr, message);
  assert.equal(result.stdout, '');
}

test('create, list and get a cron schedule pinned to a version; the table shows it in local time', async () => {
  const created = await json<ScheduleRecord>(
    'schedules',
    'create',
    WORKFLOW,
    '--id',
    'nightly',
    '--cron',
    '30 2 * * *',
    '--timezone',
    'Europe/Berlin',
    '--version',
    '2',
    '--input',
    '{"id":"n"}',
    '--overlap',
    'buffer_one',
    '--catch-up',
    '1h',
    '--jitter',
    '10s',
  );
  assert.equal(created.id, 'nightly');
  assert.equal(created.version, 2);
  assert.equal(created.cron, '30 2 * * *');
  assert.equal(created.timezone, 'Europe/Berlin');
  assert.equal(created.overlap, 'buffer_one');
  assert.equal(created.catchUpWindowMs, 3_600_000);
  assert.equal(created.jitterMs, 10_000);
  assert.deepEqual(created.input, { id: 'n' });
  assert.deepEqual(await engine.schedules.get('nightly'), created);

  const list = await cli('schedules', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^SCHEDULE\s+WORKFLOW\s+VERSION\s+TIMING/);
  assert.match(list.stdout, /nightly\s+versioned-order\s+v2 \(pinned\)\s+cron '30 2 \* \* \*' \(Europe\/Berlin\)/);
  const next = new Date(created.nextFireAt!);
  const local = `${next.getFullYear()}-${String(next.getMonth() + 1).padStart(2, '0')}`;
  assert.ok(list.stdout.includes(local), list.stdout);

  const got = await cli('schedules', 'get', 'nightly');
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /overlap:\s+buffer_one/);
  assert.match(got.stdout, /catch-up:\s+1h/);
  assert.match(got.stdout, /\(no slots fired yet\)/);
  const asJson = await json<{ schedule: ScheduleRecord; slots: SlotRecord[]; next: unknown[] }>(
    'schedules',
    'get',
    'nightly',
  );
  assert.equal(asJson.schedule.id, 'nightly');
  assert.equal(asJson.next.length, 3);
});

test('pause shows its note, resume clears it; a missing schedule exits 1', async () => {
  await json('schedules', 'create', WORKFLOW, '--id', 'hourly', '--every', '1h');
  const paused = await cli('schedules', 'pause', 'hourly', '--note', 'change freeze');
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(paused.stdout, /state:\s+paused: change freeze/);
  const list = await cli('schedules', 'list');
  assert.match(list.stdout, /hourly .*paused: change freeze/);
  assert.equal((await engine.schedules.get('hourly')).paused, true);

  const resumed = await json<ScheduleRecord>('schedules', 'resume', 'hourly');
  assert.equal(resumed.paused, false);
  assert.equal(resumed.note, null);

  const missing = await cli('schedules', 'pause', 'nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: there is no schedule 'nope' \(E_SCHEDULE_NOT_FOUND\)\n$/);
});

test('trigger starts a run whose id derives from the schedule and the slot', async () => {
  const outcome = await json<SlotOutcome>('schedules', 'trigger', 'hourly');
  assert.equal(outcome.decision, 'started');
  assert.equal(outcome.runId, `sched:hourly:${new Date(outcome.slotAt).toISOString()}`);
  const run: Run = await engine.getRun(outcome.runId!);
  assert.equal(run.workflow, WORKFLOW);
  assert.equal(run.version, 3, 'an unpinned schedule starts the routed (highest active) version');
  const text = await cli('schedules', 'trigger', 'hourly');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /skipped/, 'the first run is in flight: the default overlap policy skips');
});

test('backfill fires one run per slot of the range; a second backfill doubles nothing', async () => {
  await json('schedules', 'create', WORKFLOW, '--id', 'fill', '--every', '1h', '--overlap', 'allow_all');
  const range = ['--from', '2030-01-01T00:00:00Z', '--to', '2030-01-01T03:00:00Z'];
  const first = await json<SlotOutcome[]>('schedules', 'backfill', 'fill', ...range);
  assert.deepEqual(
    first.map((o) => [o.decision, o.runId]),
    ['00', '01', '02'].map((h) => ['started', `sched:fill:2030-01-01T${h}:00:00.000Z`]),
  );
  for (const o of first) assert.equal((await engine.getRun(o.runId!)).workflow, WORKFLOW);
  const again = await cli('schedules', 'backfill', 'fill', ...range);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /3 slots: 3 taken/);
  const runs = await engine.listRuns({ workflow: WORKFLOW, limit: 100 });
  assert.equal(runs.filter((r) => r.id.startsWith('sched:fill:')).length, 3);
  assert.equal((await engine.schedules.slots('fill')).length, 3);
});

test('delete removes the schedule and keeps its runs', async () => {
  const deleted = await cli('schedules', 'delete', 'fill');
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /deleted schedule fill/);
  assert.equal(
    (await engine.schedules.list()).some((s) => s.id === 'fill'),
    false,
  );
  assert.ok(await engine.getRun('sched:fill:2030-01-01T00:00:00.000Z'));
  assert.equal((await cli('schedules', 'get', 'fill')).code, 1);
});

test('bad input exits 2 and writes nothing', async () => {
  const before = await engine.schedules.list();
  assertUsage(await cli('schedules', 'create', WORKFLOW, '--id', 'bad', '--cron', '61 * * * *'), /cron/);
  assertUsage(await cli('schedules', 'create', WORKFLOW, '--id', 'bad', '--cron', '* * *'), /5 fields/);
  assertUsage(
    await cli('schedules', 'create', WORKFLOW, '--id', 'bad', '--every', '1m', '--overlap', 'queue'),
    /unknown overlap policy 'queue'/,
  );
  assertUsage(
    await cli('schedules', 'create', WORKFLOW, '--id', 'bad', '--cron', '* * * * *', '--timezone', 'Mars/Base'),
    /time zone/,
  );
  assertUsage(await cli('schedules', 'create', WORKFLOW, '--id', 'bad'), /--cron/);
  assertUsage(await cli('schedules', 'create', WORKFLOW, '--id', 'bad', '--every', 'soon'), /interval/);
  assertUsage(await cli('schedules', 'create', WORKFLOW, '--every', '1m', '--input', '{'), /--input/);
  assertUsage(await cli('schedules', 'trigger', 'hourly', '--overlap', 'never'), /unknown overlap policy/);
  assertUsage(await cli('schedules', 'backfill', 'hourly', '--from', 'x', '--to', '2030-01-01'), /--from/);
  const unknown = await cli('schedules', 'create', 'no-such-workflow', '--every', '1m');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /\(E_UNKNOWN_WORKFLOW\)/);
  assert.deepEqual(await engine.schedules.list(), before);
});

test('versions shows the schedules that start each version; a drain warns about the pinned ones', async () => {
  const starting = async () =>
    (await json<VersionSummary[]>('versions'))
      .filter((v) => v.workflow === WORKFLOW)
      .map((v) => [v.version, v.schedules]);
  assert.deepEqual(await starting(), [
    [1, []],
    [2, ['nightly']],
    [3, ['hourly']],
  ]);
  const table = await cli('versions');
  assert.match(table.stdout, /SCHEDULES/);
  assert.match(table.stdout, /versioned-order\s+v2 .*nightly/);

  const drained = await cli('versions', 'drain', WORKFLOW, '2');
  assert.equal(drained.code, 0, drained.stderr);
  assert.match(
    drained.stdout,
    /warning: 1 schedule is pinned to it and still feed it: nightly\. They keep starting runs of this version/,
  );
  const fired = await json<SlotOutcome>('schedules', 'trigger', 'nightly');
  assert.equal(fired.decision, 'started');
  assert.equal((await engine.getRun(fired.runId!)).version, 2, 'the pinned schedule still starts its draining version');

  const moved = await cli('versions', 'drain', WORKFLOW, '3');
  assert.equal(moved.code, 0, moved.stderr);
  assert.doesNotMatch(moved.stdout, /warning/);
  assert.match(moved.stdout, /Unpinned schedules now start the route's new version: hourly\./);
  assert.deepEqual(await starting(), [
    [1, ['hourly']],
    [2, ['nightly']],
    [3, []],
  ]);
});
