import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Engine, type HistoryEvent, type Run } from '../../src/index.js';
import { gate, workflows } from '../fixtures/contracts-workflows.js';
import { runUntil, tempDb } from '../helpers.js';
import { cli, cliJson } from './cli-process.js';

/**
 * Operator commands against real runs: the CLI child processes start runs and act on them; a worker in
 * this process (on the same SQLite file) executes them.
 */
const FIXTURE = 'test/fixtures/contracts-workflows.ts';
const db = tempDb();
const worker = await Engine.open({ store: `sqlite:${db}`, workflows, workerId: 'test-worker', pollIntervalMs: 50 });
after(() => worker.close());

async function start(workflow: string, id: string, input: unknown): Promise<Run> {
  return cliJson<Run>([
    'start',
    workflow,
    '--workflows',
    FIXTURE,
    '--db',
    db,
    '--id',
    id,
    '--input',
    JSON.stringify(input),
  ]);
}

/** `runs history <run> --json`: one JSON object per line, each parsed. */
async function history(runId: string): Promise<HistoryEvent[]> {
  const result = await cli(['runs', 'history', runId, '--db', db, '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stdout.endsWith('\n'), 'JSON lines end with a newline');
  return result.stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      assert.match(line, /^\{.*\}$/, 'each line is one JSON object');
      return JSON.parse(line) as HistoryEvent;
    });
}

/** One line `error: <message> (<code>)` on stderr. */
function assertError(
  result: { code: number | null; stdout: string; stderr: string },
  exit: number,
  code: string,
  message: RegExp,
): void {
  assert.equal(result.code, exit, result.stderr);
  assert.match(result.stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`), result.stderr);
  assert.match(result.stderr, message);
  assert.equal(result.stdout, '');
}

test(
  'a parked run: describe shows its effects and actions; ' +
    'skip-step --output moves it on to completion, recorded with actor and reason',
  async () => {
    await start('contracts-escalate', 'esc-1', { item: 'book' });
    await runUntil(worker, 'esc-1', (run) => run.status === 'needs_attention');

    const described = await cliJson<any>(['runs', 'describe', 'esc-1', '--db', db]);
    assert.equal(described.run.status, 'needs_attention');
    assert.deepEqual([described.current.kind, described.current.name, described.current.seq], ['step', 'charge', 1]);
    assert.deepEqual(
      described.effects.map((e: any) => [e.step, e.seq, e.effect, e.state]),
      [['reserve', 0, 'reversible', 'kept']],
    );
    assert.deepEqual(described.actions, ['retry_step', 'skip_step', 'compensate', 'cancel']);
    assert.deepEqual(described.completedSteps, ['reserve']);

    const text = await cli(['runs', 'describe', 'esc-1', '--db', db]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^status:\s+needs_attention$/m);
    assert.match(
      text.stdout,
      /^where:\s+parked for an operator \(step_failed\): step 'charge' failed after 1 attempt: card declined$/m,
    );
    assert.match(text.stdout, /^current:\s+step 'charge' \(seq 1, failed after 1 attempt\)$/m);
    assert.match(text.stdout, /^\s+reserve\s+0\s+reversible\s+kept\s/m);
    assert.match(text.stdout, /^completed steps \(1\): reserve$/m);
    for (const command of [
      'retry-step esc-1',
      "skip-step esc-1 --output '<json>'",
      'compensate esc-1',
      'cancel esc-1',
    ]) {
      assert.match(
        text.stdout,
        new RegExp(`^  \\S.* runs ${command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --db \\S+\\s+# `, 'm'),
        command,
      );
    }
    assert.doesNotMatch(text.stdout, /runs resume/);

    // Bad JSON for --output: exit 2, nothing recorded.
    const before = await history('esc-1');
    assertError(
      await cli(['runs', 'skip-step', 'esc-1', '--output', '{receipt', '--db', db]),
      2,
      'E_INVALID_INPUT',
      /--output is not valid JSON/,
    );
    assert.equal((await history('esc-1')).length, before.length);

    const skipped = await cliJson<{ action: string; applied: boolean; run: Run }>([
      'runs',
      'skip-step',
      'esc-1',
      '--output',
      '{"receipt":"manual-7"}',
      '--reason',
      'charged by phone',
      '--actor',
      'alice',
      '--db',
      db,
    ]);
    assert.equal(skipped.action, 'skip_step');
    assert.equal(skipped.applied, true);
    assert.equal(skipped.run.status, 'running');

    const done = await runUntil(worker, 'esc-1', (run) => run.status === 'completed');
    assert.deepEqual(done.output, { reserved: { reserved: 'book' }, charged: { receipt: 'manual-7' } });

    const events = await history('esc-1');
    const action = events.find((e) => e.type === 'operator_action');
    assert.deepEqual(action?.data, { action: 'skip_step', actor: 'alice', reason: 'charged by phone', step: 'charge' });
    const failed = events.find((e) => e.type === 'step_failed' && e.name === 'charge')?.data as any;
    assert.equal(failed?.attempt, 1);
    assert.equal(failed?.workerId, 'test-worker');
    assert.equal(typeof failed?.durationMs, 'number');
    assert.deepEqual([failed?.error?.message, failed?.error?.code], ['card declined', 'E_CARD_DECLINED']);
    assert.deepEqual(
      events.filter((e) => e.type === 'step_completed').map((e) => [e.name, (e.data as any).skipped ?? false]),
      [
        ['reserve', false],
        ['charge', true],
      ],
    );

    // The readable timeline shows the same audit facts in columns.
    const table = await cli(['runs', 'history', 'esc-1', '--db', db]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^POS\s+ELAPSED\s+EVENT\s+SEQ\s+NAME\s+ATTEMPT\s+WORKER\s+DURATION\s+DETAIL$/m);
    assert.match(
      table.stdout,
      /^\d+\s+\+\d+ms\s+step_failed\s+1\s+charge\s+1\s+test-worker\s+\d+ms\s+card declined \(E_CARD_DECLINED\)$/m,
    );
    assert.match(
      table.stdout,
      /^\d+\s+\+\d+ms\s+operator_action\s+1\s+charge\s+skip_step by alice: charged by phone$/m,
    );
    assert.match(
      table.stdout,
      /\sstep_completed\s+1\s+charge\s+skipped by alice: charged by phone; output \{"receipt":"manual-7"\}$/m,
    );
    assert.equal(table.stdout.trim().split('\n').length, events.length + 1, 'one row per event under the header');
  },
);

test(
  'retry-step, skip-step and resume on a run that is ' + 'not parked exit 1 with E_RUN_STATE and change nothing',
  async () => {
    await start('contracts-saga', 'saga-idle', { target: 'a' });
    await runUntil(worker, 'saga-idle', (run) => run.status === 'waiting');
    const before = await history('saga-idle');

    for (const [command, verb] of [
      ['retry-step', 'retry step'],
      ['skip-step', 'skip step'],
      ['resume', 'resume'],
    ] as const) {
      const result = await cli(['runs', command, 'saga-idle', '--reason', 'try', '--db', db]);
      assertError(result, 1, 'E_RUN_STATE', new RegExp(`^error: cannot ${verb} run 'saga-idle': it is waiting`));
    }
    assert.deepEqual(await history('saga-idle'), before, 'the history is unchanged');
    const run = await cliJson<Run>(['runs', 'get', 'saga-idle', '--db', db]);
    assert.equal(run.status, 'waiting');
    assert.equal(run.waitingFor?.name, 'go');

    assertError(
      await cli(['runs', 'cancel', 'no-such-run', '--db', db]),
      1,
      'E_RUN_NOT_FOUND',
      /run 'no-such-run' does not exist/,
    );
    assertError(
      await cli(['runs', 'describe', 'no-such-run', '--db', db]),
      1,
      'E_RUN_NOT_FOUND',
      /run 'no-such-run' does not exist/,
    );
    assertError(
      await cli(['runs', 'cancel', 'saga-idle', '--actor', ' ', '--db', db]),
      2,
      'E_INVALID_INPUT',
      /--actor needs a name/,
    );
    assert.equal((await history('saga-idle')).length, before.length);
  },
);

test(
  'compensate on a waiting run undoes its reversible steps in reverse order, ' + 'once each, and ends compensated',
  async () => {
    await start('contracts-saga', 'saga-undo', { target: 'b' });
    await runUntil(worker, 'saga-undo', (run) => run.status === 'waiting');

    const described = await cliJson<any>(['runs', 'describe', 'saga-undo', '--db', db]);
    assert.deepEqual(described.current, { kind: 'wait', name: 'go', seq: 3 });
    assert.deepEqual(
      described.effects.map((e: any) => [e.step, e.effect, e.state]),
      [
        ['create-vm', 'reversible', 'kept'],
        ['open-port', 'reversible', 'kept'],
        ['notify', 'irreversible', 'kept'],
      ],
    );
    assert.deepEqual(described.actions, ['pause', 'compensate', 'cancel']);
    assert.deepEqual(described.pending, ["waiting for signal 'go'"]);

    const result = await cliJson<{ applied: boolean; run: Run }>([
      'runs',
      'compensate',
      'saga-undo',
      '--reason',
      'rollback',
      '--actor',
      'bob',
      '--db',
      db,
    ]);
    assert.equal(result.applied, true);
    assert.equal(result.run.status, 'compensating');
    await runUntil(worker, 'saga-undo', (run) => run.status === 'compensated');

    const events = await history('saga-undo');
    assert.deepEqual(
      events.filter((e) => e.type === 'compensation_completed').map((e) => e.name),
      ['open-port', 'create-vm'],
    );
    assert.deepEqual(events.find((e) => e.type === 'run_compensated')?.data, {
      undone: ['open-port', 'create-vm'],
      notUndone: ['notify'],
    });
    assert.deepEqual(events.find((e) => e.type === 'operator_action')?.data, {
      action: 'compensate',
      actor: 'bob',
      reason: 'rollback',
    });
    assert.equal(events.filter((e) => e.type === 'step_completed').length, 3, 'no step ran again');

    const after = await cliJson<any>(['runs', 'describe', 'saga-undo', '--db', db]);
    assert.deepEqual(
      after.effects.map((e: any) => e.state),
      ['undone', 'undone', 'kept'],
    );
    assert.deepEqual(after.actions, []);
    const text = await cli(['runs', 'describe', 'saga-undo', '--db', db]);
    assert.match(text.stdout, /^\s+open-port\s+1\s+reversible\s+undone\s/m);
    assert.match(text.stdout, /^\s+notify\s+2\s+irreversible\s+kept\s/m);
    assert.match(text.stdout, /^ {2}\(none: the run is compensated\)$/m);

    const list = await cli(['runs', 'list', '--status', 'compensated', '--db', db]);
    assert.match(
      list.stdout,
      /^saga-undo\s+contracts-saga\s+v1\s+compensated\s+.*compensated by bob: rollback \(E_RUN_CANCELLED\)$/m,
    );
    const timeline = await cli(['runs', 'history', 'saga-undo', '--db', db]);
    assert.match(timeline.stdout, /\srun_compensated\s+undone open-port, create-vm; not undone notify$/m);
    assert.match(timeline.stdout, /\scompensation_started\s+operator action by bob: rollback$/m);
    assert.match(timeline.stdout, /\scompensation_completed\s+1\s+open-port\s+1\s+test-worker\s+\d+ms\s+undone$/m);

    assertError(
      await cli(['runs', 'compensate', 'saga-undo', '--db', db]),
      1,
      'E_RUN_STATE',
      /cannot compensate run 'saga-undo': it is compensated/,
    );
    assert.equal((await history('saga-undo')).length, events.length);
  },
);

test('cancel stops a waiting run without undoing anything; a second cancel is refused', async () => {
  await start('contracts-saga', 'saga-stop', { target: 'c' });
  await runUntil(worker, 'saga-stop', (run) => run.status === 'waiting');

  const result = await cli(['runs', 'cancel', 'saga-stop', '--reason', 'not needed', '--actor', 'carol', '--db', db]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^cancel: applied to run 'saga-stop'; it is now cancelled$/m);
  assert.match(result.stdout, /^error:\s+cancelled by carol: not needed \(E_RUN_CANCELLED\)$/m);

  const run = await cliJson<Run>(['runs', 'get', 'saga-stop', '--db', db]);
  assert.equal(run.status, 'cancelled');
  const events = await history('saga-stop');
  assert.deepEqual(
    events.slice(-2).map((e) => [e.type, e.data]),
    [
      ['operator_action', { action: 'cancel', actor: 'carol', reason: 'not needed' }],
      ['run_cancelled', { actor: 'carol', reason: 'not needed' }],
    ],
  );
  assert.equal(
    events.some((e) => e.type.startsWith('compensation')),
    false,
    'cancel undoes nothing',
  );

  assertError(
    await cli(['runs', 'cancel', 'saga-stop', '--db', db]),
    1,
    'E_RUN_STATE',
    /cannot cancel run 'saga-stop': it is already cancelled/,
  );
  assert.equal((await history('saga-stop')).length, events.length);
});

test(
  'cancel of a run a worker is executing is handed to that worker, ' + 'which applies it at its next checkpoint',
  async () => {
    await start('contracts-held', 'held-1', null);
    await gate.entered; // the step is in flight on this process's worker, under its lease

    const handed = await cliJson<{ applied: boolean; run: Run }>([
      'runs',
      'cancel',
      'held-1',
      '--reason',
      'wrong target',
      '--actor',
      'dave',
      '--db',
      db,
    ]);
    assert.equal(handed.applied, false);
    assert.equal(handed.run.status, 'running');
    const text = await cli(['runs', 'cancel', 'held-1', '--reason', 'wrong target', '--actor', 'dave', '--db', db]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^cancel: handed to the worker executing run 'held-1'; it applies at the run's next checkpoint/m,
    );
    assert.equal(
      (await history('held-1')).some((e) => e.type === 'operator_action'),
      false,
      'nothing recorded yet',
    );

    gate.open();
    const run = await runUntil(worker, 'held-1', (r) => r.status === 'cancelled');
    assert.equal(run.error?.message, 'cancelled by dave: wrong target');
    const events = await history('held-1');
    assert.deepEqual(
      events.filter((e) => e.type === 'step_completed').map((e) => e.name),
      ['hold'],
      'the step in flight finished; the next one never ran',
    );
    assert.deepEqual(events.find((e) => e.type === 'operator_action')?.data, {
      action: 'cancel',
      actor: 'dave',
      reason: 'wrong target',
    });
  },
);

test(
  'a run queued for a target lock shows the lock it waits for; ' + 'cancelling the holder lets it take the lock',
  async () => {
    await start('contracts-locked', 'lock-1', { target: 'eu' });
    await runUntil(worker, 'lock-1', (run) => run.status === 'waiting' && run.waitingFor?.kind === 'signal');
    await start('contracts-locked', 'lock-2', { target: 'eu' });
    const queued = await cliJson<Run>(['runs', 'get', 'lock-2', '--db', db]);
    assert.equal(queued.status, 'waiting');
    assert.deepEqual(
      [queued.waitingFor?.kind, queued.waitingFor?.name, queued.lockKey],
      ['lock', 'cluster:eu', 'cluster:eu'],
    );

    const list = await cli(['runs', 'list', '--workflow', 'contracts-locked', '--db', db]);
    assert.match(
      list.stdout,
      /^lock-2\s+contracts-locked\s+v1\s+waiting\s+.*\s+lock cluster:eu \(queued behind its holder\)$/m,
    );
    assert.match(list.stdout, /^lock-1\s+contracts-locked\s+v1\s+waiting\s+.*\s+signal done$/m);
    const get = await cli(['runs', 'get', 'lock-2', '--db', db]);
    assert.match(get.stdout, /^waiting for:\s+lock cluster:eu \(queued behind its holder\)$/m);
    assert.match(get.stdout, /^lock:\s+cluster:eu$/m);

    const cancelled = await cliJson<{ applied: boolean; run: Run }>([
      'runs',
      'cancel',
      'lock-1',
      '--reason',
      'free the target',
      '--db',
      db,
    ]);
    assert.equal(cancelled.applied, true);
    const next = await runUntil(
      worker,
      'lock-2',
      (run) => run.status === 'waiting' && run.waitingFor?.kind === 'signal',
    );
    assert.equal(next.waitingFor?.name, 'done');
  },
);
