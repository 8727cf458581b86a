import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Engine, type HistoryEvent, type Run } from '../../src/index.js';
import fixture, { executed } from '../fixtures/migrating-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { cli, cliJson, type CliResult } from './cli-process.js';

/**
 * Migrations, restart and rerun from the command line: CLI child processes upgrade with a migration, roll
 * back, migrate in batches, restart and rerun; a worker in this process (on the same SQLite file) serving
 * research v1 and v2 executes the runs.
 */
const FIXTURE = 'test/fixtures/migrating-workflows.ts';
const db = tempDb();
const worker = await Engine.open({
  store: `sqlite:${db}`,
  workflows: fixture.workflows,
  workerId: 'migrations-worker',
  pollIntervalMs: 50,
});
after(() => worker.close());

const waitingForReview = (run: Run) =>
  run.status === 'waiting' && run.waitingFor?.kind === 'signal' && run.waitingFor.name === 'review';

async function parkedV1(id: string): Promise<void> {
  await worker.start('research', { topic: id }, { id, version: 1 });
  await runUntil(worker, id, waitingForReview);
}

function getRun(id: string): Promise<Run> {
  return cliJson<Run>(['runs', 'get', id, '--db', db]);
}

function history(id: string): Promise<HistoryEvent[]> {
  return worker.history(id);
}

/** One line `error: <message> (<code>)` on stderr. */
function assertError(result: CliResult, exit: number, code: string, message: RegExp): void {
  assert.equal(result.code, exit, `exit ${result.code}: ${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`), result.stderr);
  assert.match(result.stderr, message);
}

test(
  'runs upgrade --migration: a dry run prints the transformed history and changes nothing; ' +
    'apply moves to v2 in a new epoch; rollback-migration restores v1',
  async () => {
    await parkedV1('up-1');
    const before = await history('up-1');
    const upgrade = (...flags: string[]) =>
      cli(['runs', 'upgrade', 'up-1', '--to', '2', '--workflows', FIXTURE, '--db', db, ...flags]);

    const dry = await upgrade('--migration', 'add-enrich', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^dry run: run 'up-1' \(research v1\) can be upgraded to v2 with migration 'add-enrich'; nothing was changed$/m,
    );
    assert.match(dry.stdout, /^verdict: v2 replayed 3 recorded operations; frontier at seq 3 signal 'review'$/m);
    assert.match(dry.stdout, /^transformed history v2 was replayed over \(\d+ events\):$/m);
    assert.match(dry.stdout, /^\d+\s+\+\d+ms\s+step_completed\s+1\s+enrich\s/m);

    const lines = await upgrade('--migration', 'add-enrich', '--dry-run', '--json');
    assert.equal(lines.code, 0, lines.stderr);
    const [outcome, ...events] = lines.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      [outcome.applied, outcome.dryRun, outcome.from, outcome.to, outcome.migration],
      [false, true, 1, 2, 'add-enrich'],
    );
    const steps = events
      .filter((e: HistoryEvent) => e.type === 'step_completed')
      .map((e: HistoryEvent) => [e.seq, e.name]);
    assert.deepEqual(steps, [
      [0, 'fetch'],
      [1, 'enrich'],
      [2, 'summarize'],
    ]);
    assert.deepEqual(events[0].data.input, { topic: 'up-1', model: 'default' }, 'the input is transformed');
    assert.deepEqual(await history('up-1'), before, 'a dry run records nothing');
    assert.equal((await getRun('up-1')).version, 1);

    const applied = await upgrade('--migration', 'add-enrich', '--actor', 'ml-ops', '--reason', 'new pipeline');
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^upgraded run 'up-1' \(research\) from v1 to v2 with migration 'add-enrich'$/m);
    assert.match(applied.stdout, /^the run continues in history epoch 1; the previous history is kept/m);
    const migrated = await getRun('up-1');
    assert.deepEqual(
      [migrated.version, migrated.epoch, migrated.status, migrated.input],
      [2, 1, 'waiting', { topic: 'up-1', model: 'default' }],
    );
    const all = await history('up-1');
    assert.deepEqual(all.slice(0, before.length), before, 'the previous epoch is kept as it was');
    assert.deepEqual(all.find((e) => e.type === 'run_migrated')?.data, {
      from: 1,
      to: 2,
      actor: 'ml-ops',
      reason: 'new pipeline',
      migration: 'add-enrich',
      fromEpoch: 0,
      fromWaitSeq: 2,
    });

    const back = await cli([
      'runs',
      'rollback-migration',
      'up-1',
      '--reason',
      'not yet',
      '--actor',
      'ml-ops',
      '--db',
      db,
    ]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      back.stdout,
      new RegExp(
        /^rolled back migration 'add-enrich' of run 'up-1': it is back on research /.source +
          /v1 in history epoch 0 \(the migrated epoch is kept\); it is now waiting$/.source,
        'm',
      ),
    );
    const restored = await getRun('up-1');
    assert.deepEqual([restored.version, restored.epoch, restored.input], [1, 0, { topic: 'up-1' }]);
    assert.deepEqual((await history('up-1')).at(-1)?.data, {
      migration: 'add-enrich',
      from: 2,
      to: 1,
      actor: 'ml-ops',
      reason: 'not yet',
    });
    assertError(
      await cli(['runs', 'rollback-migration', 'up-1', '--db', db]),
      1,
      'E_RUN_STATE',
      /has no migration to roll back/,
    );
    const timeline = await cli(['runs', 'history', 'up-1', '--db', db]);
    assert.match(timeline.stdout, /^POS\s+EPOCH\s+ELAPSED\s+EVENT\s/);
    assert.match(timeline.stdout, /^\d+\s+1\s+\+\d+ms\s+step_completed\s+1\s+enrich\s/m);
    assert.match(
      timeline.stdout,
      /\srun_migrated\s+v1 -> v2 with migration 'add-enrich' \(from epoch 0\) by ml-ops: new pipeline$/m,
    );
    assert.match(
      timeline.stdout,
      /\smigration_rolled_back\s+migration 'add-enrich' rolled back: v2 -> v1 by ml-ops: not yet$/m,
    );

    // Applied again, the run finishes on v2 with the migrated 'enrich' output: that step is not executed.
    const json = await cliJson<{ applied: boolean; migration: string; run: Run }>([
      'runs',
      'upgrade',
      'up-1',
      '--to',
      '2',
      '--migration',
      'add-enrich',
      '--workflows',
      FIXTURE,
      '--db',
      db,
    ]);
    assert.deepEqual([json.applied, json.migration, json.run.version], [true, 'add-enrich', 2]);
    executed.length = 0;
    await worker.signal('up-1', 'review');
    const done = await runUntil(worker, 'up-1', (run) => run.status === 'completed');
    assert.deepEqual(done.output, { summary: 'summary of notes on up-1', model: 'default', sources: [] });
    assert.deepEqual(executed, ['v2 publish']);
    assertError(await cli(['runs', 'rollback-migration', 'up-1', '--db', db]), 1, 'E_RUN_STATE', /cannot roll back/);
    const rollbackJson = await cli(['runs', 'rollback-migration', 'no-such-run', '--db', db, '--json']);
    assertError(rollbackJson, 1, 'E_RUN_NOT_FOUND', /no-such-run/);
    assert.equal(rollbackJson.stdout, '');
  },
);

test(
  'runs upgrade --migration: a migration that does not fit is refused and changes nothing; ' +
    'an unknown name exits 2 naming the known ones',
  async () => {
    await parkedV1('up-2');
    const before = await history('up-2');
    const upgrade = (...flags: string[]) => cli(['runs', 'upgrade', 'up-2', '--to', '2', '--db', db, ...flags]);

    const strict = await upgrade('--workflows', FIXTURE, '--migration', 'strict');
    assertError(strict, 1, 'E_MIGRATION_REFUSED', /migration 'strict' refused for run 'up-2': validate returned false/);
    assert.match(strict.stdout, /^refused: migration 'strict' does not fit run 'up-2'; nothing was changed$/m);
    const diverges = await upgrade('--workflows', FIXTURE, '--migration', 'missing-step', '--dry-run');
    assertError(diverges, 1, 'E_NONDETERMINISM', /step 'summarize' at seq 1 but the code asked for step 'enrich'/);
    assert.match(
      diverges.stdout,
      new RegExp(
        /^refused: v2 does not replay run 'up-2''s history \(v1, /.source +
          /transformed by migration 'missing-step'\); nothing was changed$/.source,
        'm',
      ),
    );
    assert.match(diverges.stdout, /^divergence at seq 1:$/m);

    const unknown = await upgrade('--workflows', FIXTURE, '--migration', 'add-enrichment');
    assertError(
      unknown,
      2,
      'E_INVALID_INPUT',
      new RegExp(
        /no migration named 'add-enrichment' in workflow module /.source +
          /'test\/fixtures\/migrating-workflows.ts': known: 'add-enrich', 'strict', 'missing-step'/.source,
      ),
    );
    assertError(
      await upgrade('--migration', 'add-enrich'),
      2,
      'E_INVALID_INPUT',
      /--migration 'add-enrich' needs the workflow module that exports it: give --workflows <module>/,
    );
    assertError(
      await cli([
        'runs',
        'upgrade',
        'up-2',
        '--to',
        '3',
        '--workflows',
        FIXTURE,
        '--migration',
        'add-enrich',
        '--db',
        db,
      ]),
      2,
      'E_INVALID_INPUT',
      /takes research v1 to v2, not to v3: give --to 2/,
    );
    assert.equal((await cli(['migrate', '--migration', 'add-enrich', '--db', db])).code, 2, '--workflows is required');
    assertError(
      await cli(['migrate', '--workflows', FIXTURE, '--migration', 'nope', '--db', db]),
      2,
      'E_INVALID_INPUT',
      /known: 'add-enrich'/,
    );
    assertError(
      await cli(['migrate', '--workflows', FIXTURE, '--migration', 'add-enrich', '--percent', '0', '--db', db]),
      2,
      'E_INVALID_INPUT',
      /--percent must be a number from 1 to 100/,
    );

    const after = await getRun('up-2');
    assert.deepEqual([after.version, after.epoch, after.status], [1, 0, 'waiting']);
    assert.deepEqual(await history('up-2'), before, 'refusals record nothing');
    await worker.cancel('up-2', { reason: 'test done' });
  },
);

test(
  'migrate: a dry run changes nothing; refusals (validate, ' +
    'divergence) exit 0 with their reasons; batches by --limit; a second run migrates 0',
  async () => {
    const ids = ['batch-0', 'batch-1', 'batch-2', 'batch-3'];
    for (const id of ids) await parkedV1(id);
    const before = await Promise.all(ids.map(history));
    const migrate = (name: string, ...flags: string[]) =>
      cli(['migrate', '--workflows', FIXTURE, '--migration', name, '--db', db, ...flags]);
    type Report = {
      migration: string;
      dryRun: boolean;
      counts: Record<string, number>;
      migrated: string[];
      refused: { runId: string; code: string; reason: string }[];
      failed: unknown[];
    };

    const dry = await migrate('add-enrich', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      new RegExp(
        /^dry run: migration 'add-enrich' \(research v1 -> v2\): /.source +
          /4 would migrate, 0 refused, 0 failed; nothing was changed$/.source,
        'm',
      ),
    );
    for (const id of ids) assert.match(dry.stdout, new RegExp(`^ {2}${id}$`, 'm'));
    const dryHalf = JSON.parse(
      (await migrate('add-enrich', '--dry-run', '--percent', '50', '--json')).stdout,
    ) as Report;
    assert.deepEqual([dryHalf.dryRun, dryHalf.migrated], [true, ['batch-0', 'batch-1']], 'oldest first');
    assert.deepEqual(await Promise.all(ids.map(history)), before, 'a dry run records nothing');

    const strict = await migrate('strict');
    assert.equal(strict.code, 0, `refusals are not failures: ${strict.stderr}`);
    assert.equal(strict.stderr, '');
    assert.match(strict.stdout, /^migration 'strict' \(research v1 -> v2\): 0 migrated, 4 refused, 0 failed$/m);
    assert.match(
      strict.stdout,
      new RegExp(
        /^ {2}batch-0\s+E_MIGRATION_REFUSED\s+migration 'strict' refused for /.source +
          /run 'batch-0': validate returned false on the transformed history$/.source,
        'm',
      ),
    );
    const diverges = JSON.parse((await migrate('missing-step', '--json')).stdout) as Report;
    assert.deepEqual(
      [diverges.counts, diverges.refused.map((r) => r.code)],
      [{ migrated: 0, refused: 4, failed: 0 }, Array(4).fill('E_NONDETERMINISM')],
    );
    assert.match(diverges.refused[0]!.reason, /step 'summarize' at seq 1 but the code asked for step 'enrich'/);
    assert.deepEqual(await Promise.all(ids.map(history)), before, 'refused runs are untouched');

    const one = JSON.parse(
      (await migrate('add-enrich', '--limit', '1', '--json', '--actor', 'ml-ops')).stdout,
    ) as Report;
    assert.deepEqual(
      [one.migration, one.dryRun, one.migrated, one.counts],
      ['add-enrich', false, ['batch-0'], { migrated: 1, refused: 0, failed: 0 }],
    );
    const rest = await migrate('add-enrich');
    assert.equal(rest.code, 0, rest.stderr);
    assert.match(rest.stdout, /^migration 'add-enrich' \(research v1 -> v2\): 3 migrated, 0 refused, 0 failed$/m);
    for (const id of ids) assert.equal((await getRun(id)).version, 2);
    const again = await migrate('add-enrich');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /: 0 migrated, 0 refused, 0 failed$/m);
    assert.match(again.stdout, /^\(no in-flight runs of research v1 to migrate\)$/m);

    for (const id of ids) await worker.signal(id, 'review');
    for (const id of ids)
      assert.equal(
        ((await runUntil(worker, id, (run) => run.status === 'completed')).output as { model: string }).model,
        'default',
      );
  },
);

test(
  'runs restart: a completed run runs again with the same id (same or latest version), ' +
    'keeping its history; a waiting run is refused',
  async () => {
    await worker.start('research', { topic: 'tides' }, { id: 're-1', version: 1 });
    await runUntil(worker, 're-1', waitingForReview);
    await worker.signal('re-1', 'review');
    await runUntil(worker, 're-1', (run) => run.status === 'completed');
    const first = await history('re-1');

    executed.length = 0;
    const restarted = await cli([
      'runs',
      'restart',
      're-1',
      '--reason',
      'upstream fixed',
      '--actor',
      'alice',
      '--db',
      db,
    ]);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(
      restarted.stdout,
      new RegExp(
        /^restarted run 're-1' \(research\) from the start on v1; it is /.source +
          /now running in history epoch 1 \(the earlier attempt is kept\)/.source,
        'm',
      ),
    );
    await runUntil(worker, 're-1', waitingForReview);
    await worker.signal('re-1', 'review');
    const done = await runUntil(worker, 're-1', (run) => run.status === 'completed');
    assert.deepEqual(done.output, { summary: 'summary of notes on tides', model: 'v1' });
    assert.deepEqual(executed, ['v1 fetch', 'v1 summarize', 'v1 publish'], 'everything ran again');
    const all = await history('re-1');
    assert.deepEqual(all.slice(0, first.length), first, 'the earlier attempt is kept');
    const action = all.find((e) => e.type === 'operator_action');
    const facts = action?.data as { action?: string; actor?: string; reason?: string } | undefined;
    assert.deepEqual([facts?.action, facts?.actor, facts?.reason], ['restart', 'alice', 'upstream fixed']);

    const latest = await cliJson<{ action: string; applied: boolean; run: Run }>([
      'runs',
      'restart',
      're-1',
      '--version',
      'latest',
      '--db',
      db,
    ]);
    assert.deepEqual([latest.action, latest.applied, latest.run.version, latest.run.epoch], ['restart', true, 2, 2]);
    await runUntil(worker, 're-1', waitingForReview);
    await worker.signal('re-1', 'review');
    assert.equal((await runUntil(worker, 're-1', (run) => run.status === 'completed')).version, 2);
    const pinned = await cliJson<{ run: Run }>([
      'runs',
      'restart',
      're-1',
      '--version',
      '1',
      '--workflows',
      FIXTURE,
      '--db',
      db,
    ]);
    assert.equal(pinned.run.version, 1);
    await runUntil(worker, 're-1', waitingForReview);

    assertError(
      await cli(['runs', 'restart', 're-1', '--db', db]),
      1,
      'E_RUN_STATE',
      /cannot restart run 're-1': it is waiting; only finished runs run again/,
    );
    assertError(
      await cli(['runs', 'rerun', 're-1', '--from', 'summarize', '--db', db]),
      1,
      'E_RUN_STATE',
      /cannot rerun run 're-1': it is waiting/,
    );
    assertError(
      await cli(['runs', 'restart', 're-1', '--version', 'newest', '--db', db]),
      2,
      'E_INVALID_INPUT',
      /--version must be 'same', 'latest' or a positive integer, got 'newest'/,
    );
    assertError(await cli(['runs', 'restart', 'no-such-run', '--db', db]), 1, 'E_RUN_NOT_FOUND', /no-such-run/);
    await worker.signal('re-1', 'review');
    await runUntil(worker, 're-1', (run) => run.status === 'completed');
    assertError(
      await cli(['runs', 'restart', 're-1', '--version', '7', '--db', db]),
      1,
      'E_UNKNOWN_VERSION',
      /no version 7/,
    );
  },
);

test(
  'runs rerun --from: re-executes from a step with an optional new input, ' + 'keeping the checkpoints before it',
  async () => {
    await worker.start('research', { topic: 'reefs' }, { id: 'rr-1', version: 1 });
    await runUntil(worker, 'rr-1', waitingForReview);
    await worker.signal('rr-1', 'review');
    await runUntil(worker, 'rr-1', (run) => run.status === 'completed');

    executed.length = 0;
    const rerun = await cli([
      'runs',
      'rerun',
      'rr-1',
      '--from',
      'summarize',
      '--input',
      '{"topic":"kelp"}',
      '--reason',
      'bad summary',
      '--db',
      db,
    ]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(
      rerun.stdout,
      /^rerunning run 'rr-1' \(research v1\) from step 'summarize'; it is now running in history epoch 1/m,
    );
    await runUntil(worker, 'rr-1', waitingForReview);
    await worker.signal('rr-1', 'review');
    const done = await runUntil(worker, 'rr-1', (run) => run.status === 'completed');
    assert.deepEqual(executed, ['v1 summarize', 'v1 publish'], 'fetch was kept, not executed again');
    assert.deepEqual(done.input, { topic: 'kelp' });
    assert.deepEqual(
      done.output,
      { summary: 'summary of notes on reefs', model: 'v1' },
      "fetch's recorded output was used",
    );

    assertError(
      await cli(['runs', 'rerun', 'rr-1', '--from', 'load', '--db', db]),
      1,
      'E_INVALID_INPUT',
      /run 'rr-1' has no step or task 'load' \(has: fetch, summarize, publish\)/,
    );
    assertError(
      await cli(['runs', 'rerun', 'rr-1', '--from', 'fetch', '--input', '{bad', '--db', db]),
      2,
      'E_INVALID_INPUT',
      /--input is not valid JSON/,
    );
    assert.equal((await cli(['runs', 'rerun', 'rr-1', '--db', db])).code, 2, '--from is required');
    const json = await cliJson<{ action: string; run: Run }>([
      'runs',
      'rerun',
      'rr-1',
      '--from',
      'publish',
      '--db',
      db,
    ]);
    assert.deepEqual([json.action, json.run.status, json.run.epoch], ['rerun', 'running', 2]);
  },
);
