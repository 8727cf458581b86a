import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Engine, type HistoryEvent, type PatchUsage, type Run, type VersionSummary } from '../../src/index.js';
import { workflows } from '../fixtures/versioned-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { cli, cliJson, type CliResult } from './cli-process.js';

/**
 * The version commands against real runs: CLI child processes drain, retire, activate, start and upgrade;
 * a worker in this process (on the same SQLite file) serving v1, v2 and v3 of one workflow executes the runs.
 */
const FIXTURE = 'test/fixtures/versioned-workflows.ts';
const WORKFLOW = 'versioned-order';
const db = tempDb();
const worker = await Engine.open({ store: `sqlite:${db}`, workflows, workerId: 'versions-worker', pollIntervalMs: 50 });
after(() => worker.close());

function start(id: string, ...flags: string[]): Promise<CliResult> {
  return cli([
    'start',
    WORKFLOW,
    '--workflows',
    FIXTURE,
    '--db',
    db,
    '--id',
    id,
    '--input',
    JSON.stringify({ id }),
    ...flags,
  ]);
}

async function getRun(id: string, database = db): Promise<Run> {
  return cliJson<Run>(['runs', 'get', id, '--db', database]);
}

async function summary(version: number, workflow = WORKFLOW): Promise<VersionSummary> {
  const list = await cliJson<VersionSummary[]>(['versions', '--db', db]);
  const found = list.find((v) => v.workflow === workflow && v.version === version);
  assert.ok(found, `${workflow} v${version} is listed`);
  return found;
}

async function history(runId: string): Promise<HistoryEvent[]> {
  return worker.history(runId);
}

const waitingForGo = (run: Run) =>
  run.status === 'waiting' && run.waitingFor?.kind === 'signal' && run.waitingFor.name === 'go';

/** One line `error: <message> (<code>)` on stderr. */
function assertError(result: CliResult, exit: number, code: string, message: RegExp): void {
  assert.equal(result.code, exit, `exit ${result.code}: ${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`), result.stderr);
  assert.match(result.stderr, message);
}

test(
  'drain: routed starts go to the highest active version; ' +
    'a pinned start to the draining one exits 1 unless --force',
  async () => {
    const first = await start('routed-0');
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await getRun('routed-0')).version, 3, 'before the drain, a routed start gets the highest version');

    const drained = await cli(['versions', 'drain', WORKFLOW, '3', '--db', db]);
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /^versioned-order v3: active -> draining$/m);
    assert.match(drained.stdout, /Pinned starts to it need --force/);

    const routed = await cliJson<Run>([
      'start',
      WORKFLOW,
      '--workflows',
      FIXTURE,
      '--db',
      db,
      '--id',
      'routed-1',
      '--input',
      '{"id":"routed-1"}',
    ]);
    assert.equal(routed.version, 2, 'a routed start skips the draining v3');

    const pinned = await start('pinned-3', '--version', '3');
    assertError(pinned, 1, 'E_VERSION_UNAVAILABLE', /versioned-order v3 is draining.*add --force/);
    assert.equal(pinned.stdout, '');
    assertError(await cli(['runs', 'get', 'pinned-3', '--db', db]), 1, 'E_RUN_NOT_FOUND', /pinned-3/);

    assertError(await start('forced-x', '--force'), 2, 'E_INVALID_INPUT', /--force applies to a pinned start/);
    const forced = await cliJson<Run>([
      'start',
      WORKFLOW,
      '--workflows',
      FIXTURE,
      '--db',
      db,
      '--id',
      'pinned-3',
      '--input',
      '{"id":"pinned-3"}',
      '--version',
      '3',
      '--force',
    ]);
    assert.equal(forced.version, 3);

    // Bad input: a bad number exits 2; an unknown version or workflow exits 1; nothing changes.
    assertError(
      await cli(['versions', 'drain', WORKFLOW, 'two', '--db', db]),
      2,
      'E_INVALID_INPUT',
      /<version> must be a positive integer, got 'two'/,
    );
    assertError(
      await cli(['versions', 'drain', WORKFLOW, '9', '--db', db]),
      1,
      'E_UNKNOWN_VERSION',
      /versioned-order v9 is not registered/,
    );
    assertError(
      await cli(['versions', 'retire', 'no-such-workflow', '1', '--db', db]),
      1,
      'E_UNKNOWN_VERSION',
      /no-such-workflow v1/,
    );

    await runUntil(worker, 'routed-0', waitingForGo);
    await runUntil(worker, 'pinned-3', waitingForGo);
    const v3 = await summary(3);
    assert.equal(v3.status, 'draining');
    assert.equal(v3.inFlight, 2);
    assert.deepEqual(v3.parkedOn, { 'signal:go': 2 });
    assert.equal(v3.drainEta, undefined, 'runs wait for a signal with no deadline: no ETA');
    assert.equal((await summary(2)).status, 'active');

    const table = await cli(['versions', '--db', db]);
    assert.equal(table.code, 0, table.stderr);
    const header = table.stdout.split('\n')[0]!;
    for (const column of ['STATUS', 'PARKED ON', 'OLDEST', 'NEXT WAKE', 'DRAIN'])
      assert.ok(header.includes(column), `${column} in ${header}`);
    const row = table.stdout.split('\n').find((line) => /^versioned-order\s+v3\s/.test(line));
    assert.ok(row, table.stdout);
    assert.match(
      row,
      new RegExp(
        /\sdraining\s+2\s+signal:go 2\s+(<1s|\d+s)\s+-\s+2 in flight, /.source +
          /ETA unknown: runs wait with no deadline\s+versions-worker\s/.source,
      ),
    );
  },
);

test('drain of a version whose runs sleep: the ETA is the last wake-up', async () => {
  const napping = await cliJson<Run>(['start', 'versioned-nap', '--workflows', FIXTURE, '--db', db, '--id', 'nap-1']);
  await runUntil(worker, napping.id, (run) => run.status === 'waiting' && run.waitingFor?.kind === 'sleep');
  const drained = await cli(['versions', 'drain', 'versioned-nap', '1', '--db', db]);
  assert.equal(drained.code, 0, drained.stderr);
  assert.match(drained.stdout, /^drain: 1 in flight, ETA \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 59m \d+s\)$/m);

  const nap = await summary(1, 'versioned-nap');
  assert.equal(nap.status, 'draining');
  assert.deepEqual(nap.parkedOn, { sleep: 1 });
  const hour = Date.now() + 3_600_000;
  assert.ok(
    Math.abs(new Date(nap.drainEta!).getTime() - hour) < 60_000,
    `drainEta ${String(nap.drainEta)} is about an hour ahead`,
  );
  assert.equal(new Date(nap.nextWakeAt!).getTime(), new Date(nap.drainEta!).getTime());

  const table = await cli(['versions', '--db', db]);
  const row = table.stdout.split('\n').find((line) => /^versioned-nap\s+v1\s/.test(line));
  assert.match(
    row ?? '',
    /\ssleep 1\s+\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 59m \d+s\)\s+1 in flight, ETA /,
    table.stdout,
  );
  await worker.cancel(napping.id, { reason: 'test done' });
});

test(
  'retire is refused while a run is in flight (naming it) ' + 'and accepted once it finished; activate undoes it',
  async () => {
    const refused = await cli(['versions', 'retire', WORKFLOW, '3', '--db', db]);
    assertError(refused, 1, 'E_RUN_STATE', /cannot retire versioned-order v3: 2 runs are not finished/);
    assert.match(refused.stderr, /routed-0 waiting/);
    assert.match(refused.stderr, /pinned-3 waiting/);
    assert.equal((await summary(3)).status, 'draining', 'a refused retire changes nothing');

    for (const id of ['routed-0', 'pinned-3']) {
      const sent = await cli(['signal', id, 'go', '--data', '{"ok":true}', '--db', db]);
      assert.equal(sent.code, 0, sent.stderr);
      await runUntil(worker, id, (run) => run.status === 'completed');
    }
    const retired = await cli(['versions', 'retire', WORKFLOW, '3', '--db', db]);
    assert.equal(retired.code, 0, retired.stderr);
    assert.match(retired.stdout, /^versioned-order v3: draining -> retired$/m);
    const v3 = await summary(3);
    assert.equal(v3.status, 'retired');
    assert.deepEqual(v3.runs, { completed: 2 });

    assertError(
      await start('after-retire', '--version', '3', '--force'),
      1,
      'E_VERSION_UNAVAILABLE',
      /versioned-order v3 is retired/,
    );

    const json = await cliJson<{ from: string; to: string; changed: boolean }>([
      'versions',
      'activate',
      WORKFLOW,
      '3',
      '--db',
      db,
    ]);
    assert.deepEqual([json.from, json.to, json.changed], ['retired', 'active', true]);
    assert.equal((await summary(3)).status, 'active');
    const again = await cli(['versions', 'activate', WORKFLOW, '3', '--db', db]);
    assert.match(again.stdout, /^versioned-order v3 is already active: nothing changed$/m);
  },
);

test(
  'runs upgrade: a dry run prints the verdict and history and changes nothing; ' +
    '--to 3 is refused with the divergence; --to 2 applies',
  async () => {
    const started = await start('up-1', '--version', '1');
    assert.equal(started.code, 0, started.stderr);
    await runUntil(worker, 'up-1', waitingForGo);
    const before = await history('up-1');
    const upgrade = (...flags: string[]) =>
      cli(['runs', 'upgrade', 'up-1', '--workflows', FIXTURE, '--db', db, ...flags]);

    const dry = await upgrade('--to', '2', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^dry run: run 'up-1' \(versioned-order v1\) can be upgraded to v2; nothing was changed$/m,
    );
    assert.match(dry.stdout, /^verdict: v2 replayed 1 recorded operation; frontier at seq 1 signal 'go'$/m);
    assert.match(dry.stdout, new RegExp(`^history v2 was replayed over \\(${before.length} events\\):$`, 'm'));
    assert.match(dry.stdout, /^\d+\s+\+\d+ms\s+step_completed\s+0\s+a\s/m);

    const lines = await upgrade('--to', '2', '--dry-run', '--json');
    assert.equal(lines.code, 0, lines.stderr);
    const [outcome, ...events] = lines.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual([outcome.applied, outcome.dryRun, outcome.from, outcome.to], [false, true, 1, 2]);
    assert.deepEqual(outcome.verdict, {
      ok: true,
      replayed: 1,
      frontier: { seq: 1, kind: 'signal', name: 'go' },
      oldBranches: ['early-check'],
    });
    assert.deepEqual(
      events.map((e: HistoryEvent) => e.type),
      before.map((e) => e.type),
    );
    assert.equal((await getRun('up-1')).version, 1, 'a dry run leaves the version');
    assert.equal((await history('up-1')).length, before.length, 'a dry run records nothing');

    const refused = await upgrade('--to', '3');
    assertError(
      refused,
      1,
      'E_NONDETERMINISM',
      /upgrade of run 'up-1' to v3 refused: .*step 'a' at seq 0 but the code asked for signal 'go'/,
    );
    assert.match(refused.stdout, /^refused: v3 does not replay run 'up-1''s history \(v1\); nothing was changed$/m);
    assert.match(refused.stdout, /^divergence at seq 0:$/m);
    assert.match(refused.stdout, /^ {2}expected \(recorded in the history\): step 'a'$/m);
    assert.match(refused.stdout, /^ {2}got \(v3's code\): +signal 'go'$/m);
    const refusedJson = await upgrade('--to', '3', '--json');
    assert.equal(refusedJson.code, 1);
    assert.deepEqual(JSON.parse(refusedJson.stdout).verdict.divergence, {
      seq: 0,
      expected: { kind: 'step', name: 'a' },
      got: { kind: 'signal', name: 'go' },
    });
    assert.equal((await getRun('up-1')).version, 1, 'a refused upgrade leaves the version');
    assert.equal((await history('up-1')).length, before.length, 'a refused upgrade records nothing');

    assertError(await upgrade('--to', 'two'), 2, 'E_INVALID_INPUT', /--to must be a positive integer/);
    assert.equal((await cli(['runs', 'upgrade', 'up-1', '--db', db])).code, 2, '--to is required');

    const applied = await upgrade('--to', '2', '--reason', 'ship step b', '--actor', 'alice');
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^upgraded run 'up-1' \(versioned-order\) from v1 to v2$/m);
    assert.match(applied.stdout, /^verdict: v2 replayed 1 recorded operation; frontier at seq 1 signal 'go'$/m);
    assert.match(applied.stdout, /^workflow:\s+versioned-order v2$/m);
    assert.equal((await getRun('up-1')).version, 2);
    const recorded = (await history('up-1')).at(-1)!;
    assert.equal(recorded.type, 'run_upgraded');
    assert.deepEqual(recorded.data, { from: 1, to: 2, actor: 'alice', reason: 'ship step b' });

    // The run goes on with v2's code: after the signal it runs step 'b', which v1 does not have.
    assert.equal((await cli(['signal', 'up-1', 'go', '--data', '{"ok":true}', '--db', db])).code, 0);
    const done = await runUntil(worker, 'up-1', (run) => run.status === 'completed');
    assert.deepEqual(done.output, { version: 2, a: 'a:up-1', checked: false, go: { ok: true }, b: 'b:up-1' });

    assertError(await upgrade('--to', '1'), 1, 'E_RUN_STATE', /cannot upgrade run 'up-1': it is completed/);
  },
);

test(
  'versions --patches: per patch id, ' +
    'in-flight runs patched and on the old branch; 0 on the old branch means removable',
  async () => {
    // A store of its own, so that the first patch marker comes after the v1 run started here.
    const patchDb = tempDb();
    const patchWorker = await Engine.open({
      store: `sqlite:${patchDb}`,
      workflows,
      workerId: 'patch-worker',
      pollIntervalMs: 50,
    });
    after(() => patchWorker.close());
    const startHere = (id: string, version: string) =>
      cliJson<Run>([
        'start',
        WORKFLOW,
        '--workflows',
        FIXTURE,
        '--db',
        patchDb,
        '--id',
        id,
        '--input',
        JSON.stringify({ id }),
        '--version',
        version,
      ]);

    await startHere('p-old', '1');
    await runUntil(patchWorker, 'p-old', waitingForGo);
    const none = await cli(['versions', '--patches', '--db', patchDb]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /^\(no patch gates recorded/);

    await startHere('p-new', '2');
    await runUntil(patchWorker, 'p-new', waitingForGo);
    const usage = await cliJson<PatchUsage[]>(['versions', '--patches', '--db', patchDb]);
    assert.deepEqual(
      usage.map((p) => [p.workflow, p.patch, p.patched, p.onOldBranch]),
      [[WORKFLOW, 'early-check', 1, 1]],
    );
    const text = await cli(['versions', '--patches', '--db', patchDb]);
    assert.match(text.stdout, /^WORKFLOW\s+PATCH\s+RUNS PATCHED\s+RUNS ON OLD BRANCH\s/);
    assert.match(text.stdout, /^versioned-order\s+early-check\s+1\s+1\s+.*still needed by 1 run$/m);
    assert.match(text.stdout, /may be removed once RUNS ON OLD BRANCH is 0/);

    await patchWorker.signal('p-old', 'go', { ok: true });
    await runUntil(patchWorker, 'p-old', (run) => run.status === 'completed');
    const cleared = await cli(['versions', '--patches', '--db', patchDb]);
    assert.match(cleared.stdout, /^versioned-order\s+early-check\s+1\s+0\s+.*no run depends on it: may be removed$/m);
  },
);
