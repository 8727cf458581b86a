import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { WaymarkError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/open.js';
import { forEachBackend } from '../helpers.js';
import { served, storeWithRun } from './conformance-setup.js';

forEachBackend((backend) => {
  test(
    'create: false opens only an existing store: ' + 'a missing one is E_STORE_NOT_FOUND and nothing is created',
    async () => {
      const location = backend.store();
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          openStore(location, { create: false }),
          (e: unknown) =>
            e instanceof WaymarkError &&
            e.code === 'E_STORE_NOT_FOUND' &&
            /does not exist.*\(nothing was created\)/.test(e.message),
        );
      }
      if (backend.name === 'sqlite') assert.equal(existsSync(location.slice('sqlite:'.length)), false, 'no file');
      await (await openStore(location)).close(); // the default creates it
      const store = await openStore(location, { create: false });
      assert.deepEqual(await store.listWorkflowVersions(), []);
      await store.close();
    },
  );

  test('createRuns is insert-or-get and writes the run_started event with the run', async () => {
    const { store } = await storeWithRun(backend);
    const [again] = await store.createRuns([{ id: 'r1', workflow: 'w', version: 1, input: { a: 2 } }], 1000);
    assert.ok(again && !again.created && 'run' in again);
    assert.deepEqual(again.run.input, { a: 1 });
    const history = await store.history('r1');
    assert.deepEqual(
      history.map((e) => [e.pos, e.type]),
      [[0, 'run_started']],
    );
    await store.close();
  });

  test('a claimed run is leased to one worker only until its lease expires', async () => {
    const { store } = await storeWithRun(backend);
    const a = await store.claimRuns('worker-a', served, 10, 200);
    const b = await store.claimRuns('worker-b', served, 10, 200);
    assert.deepEqual(
      a.map((c) => c.run.id),
      ['r1'],
    );
    assert.deepEqual(b, [], 'a live lease is not claimable');
    assert.deepEqual(
      await store.claimRuns('worker-b', [{ workflow: 'w', version: 2 }], 10, 200),
      [],
      'unserved versions are not claimed',
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    const taken = await store.claimRuns('worker-b', served, 10, 200);
    assert.deepEqual(
      taken.map((c) => c.run.id),
      ['r1'],
      'an expired lease is claimable',
    );
    await store.close();
  });

  test('commits are fenced: a worker that lost the lease or the history position writes nothing', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const event = { type: 'step_completed' as const, seq: 0, name: 's', data: { output: 1 } };
    const outcomes = await store.commit(
      [
        { runId: 'r1', workerId: 'worker-b', fromPos: 1, events: [event] },
        { runId: 'r1', workerId: 'worker-a', fromPos: 5, events: [event] },
        { runId: 'missing', workerId: 'worker-a', fromPos: 1, events: [event] },
        { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [event] },
      ],
      10_000,
    );
    assert.deepEqual(outcomes, [
      { ok: false, reason: 'lease_lost' },
      { ok: false, reason: 'conflict' },
      { ok: false, reason: 'missing' },
      { ok: true },
    ]);
    assert.deepEqual(
      (await store.history('r1')).map((e) => e.type),
      ['run_started', 'step_completed'],
    );
    await store.close();
  });

  test('a step outcome can never be committed twice for the same (run, seq)', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const event = { type: 'step_completed' as const, seq: 0, name: 's', data: { output: 1 } };
    assert.deepEqual(await store.commit([{ runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [event] }], 10_000), [
      { ok: true },
    ]);
    // Same seq again at the next position (a confused writer): refused by the (run, seq) constraint.
    const second = await store.commit(
      [
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 2,
          events: [{ ...event, data: { output: 2 } }],
          update: { status: 'completed' },
        },
      ],
      10_000,
    );
    assert.deepEqual(second, [{ ok: false, reason: 'conflict' }]);
    const run = await store.getRun('r1');
    assert.equal(run?.status, 'running', 'the refused commit changed nothing, not even the run row');
    assert.equal((await store.history('r1')).length, 2);
    await store.close();
  });

  test('a signal wakes a run only when it waits for that signal name', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const waitingFor = { kind: 'signal' as const, seq: 0, name: 'go', signals: ['go'] };
    await store.commit(
      [
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 1,
          events: [],
          update: { status: 'waiting', waitingFor, dueAt: null, releaseLease: true },
        },
      ],
      10_000,
    );
    await store.sendSignal('r1', 'other', null);
    assert.deepEqual(await store.claimRuns('worker-a', served, 10, 10_000), [], 'an unrelated signal does not wake it');
    const sent = await store.sendSignal('r1', 'go', { ok: true });
    const [claimed] = await store.claimRuns('worker-a', served, 10, 10_000);
    assert.equal(claimed?.run.id, 'r1');
    assert.deepEqual(
      claimed?.signals.map((s) => [s.id, s.name, s.payload]),
      [
        [sent.id - 1, 'other', null],
        [sent.id, 'go', { ok: true }],
      ],
    );
    await store.close();
  });

  test('recorded JSON comes back exactly: key order, nested values and a JSON null output', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const output = { zeta: 1, alpha: { b: 2, a: [3, { y: null, x: 'é' }] }, mid: true };
    await store.commit(
      [
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 1,
          events: [{ type: 'step_completed', seq: 0, name: 's', data: { output } }],
        },
      ],
      10_000,
    );
    const [, event] = await store.history('r1');
    assert.equal(JSON.stringify(event!.data), JSON.stringify({ output }), 'keys keep their recorded order');
    await store.commit(
      [{ runId: 'r1', workerId: 'worker-a', fromPos: 2, events: [], update: { status: 'completed', output: null } }],
      10_000,
    );
    const run = await store.getRun('r1');
    assert.equal(run?.status, 'completed');
    assert.equal(run?.output, null, 'a JSON null output is not "no output"');
    await store.close();
  });

  test('releasing leases makes runs claimable at once; renewing keeps them', async () => {
    const { store } = await storeWithRun(backend);
    await store.claimRuns('worker-a', served, 10, 300);
    await store.renewLeases('worker-a', ['r1'], 10_000);
    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.deepEqual(
      await store.claimRuns('worker-b', served, 10, 10_000),
      [],
      'a renewed lease outlives its first term',
    );
    await store.releaseLeases('worker-a');
    assert.equal((await store.claimRuns('worker-b', served, 10, 10_000)).length, 1);
    await store.close();
  });

  test(
    "renewing extends only the given runs' leases, " + "and only the caller's: the worker's other leases expire",
    async () => {
      const { store } = await storeWithRun(backend);
      await store.createRuns(
        [
          { id: 'r2', workflow: 'w', version: 1, input: {} },
          { id: 'r3', workflow: 'w', version: 1, input: {} },
        ],
        1000,
      );
      assert.equal((await store.claimRuns('worker-a', served, 10, 300)).length, 3);
      await store.renewLeases('worker-a', ['r1', 'r2'], 10_000);
      await store.renewLeases('worker-b', ['r3'], 10_000); // not its lease: changes nothing
      await store.renewLeases('worker-a', [], 10_000);
      await new Promise((resolve) => setTimeout(resolve, 350));
      const taken = await store.claimRuns('worker-b', served, 10, 10_000);
      assert.deepEqual(
        taken.map((c) => c.run.id),
        ['r3'],
        'only the lease left unrenewed lapsed',
      );
      assert.deepEqual(await store.claimRuns('worker-c', served, 10, 10_000), [], 'the renewed leases still hold');
      await store.close();
    },
  );

  test('nextDueAt reports the earliest scheduled wake-up of unleased runs', async () => {
    const { store } = await storeWithRun(backend);
    const [claimed] = await store.claimRuns('worker-a', served, 10, 10_000);
    assert.ok(claimed);
    const until = Date.now() + 60_000;
    await store.commit(
      [
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 1,
          events: [],
          update: { status: 'waiting', waitingFor: { kind: 'sleep', seq: 0, until }, dueAt: until, releaseLease: true },
        },
      ],
      10_000,
    );
    const due = await store.nextDueAt(served);
    assert.ok(due !== undefined && Math.abs(due - until) < 1_000, `due ${due} vs ${until}`);
    assert.equal(await store.nextDueAt([{ workflow: 'other', version: 1 }]), undefined);
    await store.close();
  });

  test('workers are live while their heartbeat lasts; run counts are exact by version and status', async () => {
    const { store } = await storeWithRun(backend);
    await store.createRuns(
      [
        { id: 'r2', workflow: 'w', version: 1, input: null },
        { id: 'r3', workflow: 'w', version: 2, input: null },
      ],
      1000,
    );
    await store.heartbeat('worker-a', served, 10_000);
    await store.heartbeat('worker-b', [{ workflow: 'w', version: 2 }], 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const live = await store.liveWorkers();
    assert.deepEqual(
      live.map((w) => [w.workerId, w.served]),
      [['worker-a', served]],
    );
    await store.removeWorker('worker-a');
    assert.deepEqual(await store.liveWorkers(), []);
    const counts = await store.countRuns();
    assert.deepEqual(
      counts.map((c) => [c.workflow, c.version, c.status, c.count]),
      [
        ['w', 1, 'running', 2],
        ['w', 2, 'running', 1],
      ],
    );
    await store.close();
  });
  test(
    'a task is created with the checkpoint that schedules it, ' +
      'handed out once, and its report wakes the suspended run',
    async () => {
      const { store } = await storeWithRun(backend);
      await store.claimRuns('worker-a', served, 10, 10_000);
      const task = {
        taskId: 't1',
        runId: 'r1',
        workflow: 'w',
        version: 1,
        seq: 0,
        attempt: 1,
        taskType: 'work',
        refName: 'work',
        input: { n: 1 },
        responseTimeoutMs: 60_000,
        timeoutMs: 0,
        visibleAt: 0,
      };
      const waitingFor = { kind: 'task' as const, seq: 0, name: 'work', tasks: ['work'] };
      const events = [
        {
          type: 'task_scheduled' as const,
          seq: 0,
          name: 'work',
          data: { taskId: 't1', attempt: 1, ref: 'work', input: { n: 1 }, visibleAt: 0 },
        },
      ];
      const [ok] = await store.commit(
        [
          {
            runId: 'r1',
            workerId: 'worker-a',
            fromPos: 1,
            events,
            newTasks: [task],
            update: { status: 'waiting', waitingFor, dueAt: null, releaseLease: true },
          },
        ],
        10_000,
      );
      assert.equal(ok!.ok, true);
      assert.deepEqual(
        (await store.tasks.poll('work', 'w1', 5)).map((t) => [t.taskId, t.status, t.workerId, t.pollCount]),
        [['t1', 'IN_PROGRESS', 'w1', 1]],
      );
      assert.deepEqual(await store.tasks.poll('work', 'w2', 5), [], 'handed out once');
      assert.deepEqual(
        await store.claimRuns('worker-b', served, 10, 10_000),
        [],
        'the suspended run is not due before the report',
      );
      assert.deepEqual(await store.tasks.finished(['t1', 'missing']), [], 'an open task is not finished');
      assert.equal(
        (await store.tasks.report('t1', { status: 'COMPLETED', output: { done: true } }))!.status,
        'COMPLETED',
      );
      assert.deepEqual(
        (await store.tasks.finished(['t1', 'missing'])).map((t) => [t.taskId, t.status]),
        [['t1', 'COMPLETED']],
        'finished tasks in one read',
      );
      const [claimed] = await store.claimRuns('worker-b', served, 10, 10_000);
      assert.deepEqual(
        claimed?.taskOutcomes?.map((t) => [t.taskId, t.output]),
        [['t1', { done: true }]],
        'the report comes with the claim until the run records it',
      );
      assert.equal(await store.tasks.report('missing', { status: 'COMPLETED' }), undefined);
      await store.close();
    },
  );

  test('removeRun deletes a finished run with its history and tasks, and refuses one in flight', async () => {
    const { store } = await storeWithRun(backend);
    assert.equal(await store.removeRun('r1'), 'in_flight');
    assert.equal((await store.history('r1')).length, 1, 'nothing deleted');
    await store.commit(
      [
        {
          runId: 'r1',
          workerId: 'op',
          fromPos: 1,
          asOperator: true,
          events: [{ type: 'run_cancelled', data: { actor: 'op', reason: 'done with it' } }],
          update: { status: 'cancelled' },
        },
      ],
      1000,
    );
    assert.equal(await store.removeRun('r1'), 'removed');
    assert.deepEqual([await store.getRun('r1'), await store.history('r1')], [undefined, []]);
    assert.equal(await store.removeRun('r1'), 'missing');
    await store.close();
  });

  test('removeRunsFinishedBefore deletes a bounded batch of runs finished before a time, none in flight', async () => {
    const { store } = await storeWithRun(backend);
    await store.createRuns(
      ['r2', 'r3', 'r4'].map((id) => ({ id, workflow: 'w', version: 1, input: null })),
      1000,
    );
    const cancel = (runId: string) => ({
      runId,
      workerId: 'op',
      fromPos: 1,
      asOperator: true,
      events: [{ type: 'run_cancelled' as const, data: { actor: 'op', reason: 'retention test' } }],
      update: { status: 'cancelled' as const },
    });
    await store.commit([cancel('r2'), cancel('r3'), cancel('r4')], 1000);
    const after = Date.now() + 1;
    assert.equal(await store.removeRunsFinishedBefore(after - 60_000, 10), 0, 'none finished a minute ago');
    assert.equal(await store.removeRunsFinishedBefore(after, 2), 2, 'a batch is bounded');
    assert.equal(await store.removeRunsFinishedBefore(after, 10), 1, 'the rest');
    assert.equal(await store.removeRunsFinishedBefore(after, 10), 0);
    assert.equal((await store.getRun('r1'))?.status, 'running', 'the run in flight is kept');
    assert.deepEqual(
      await Promise.all(['r2', 'r3', 'r4'].map(async (id) => [await store.getRun(id), await store.history(id)])),
      [
        [undefined, []],
        [undefined, []],
        [undefined, []],
      ],
    );
    await store.close();
  });

  test('a commit or a start the store cannot keep is refused alone: the rest of its batch is written', async () => {
    const { store } = await storeWithRun(backend);
    await store.createRuns([{ id: 'r2', workflow: 'w', version: 1, input: null }], 1000);
    await store.claimRuns('worker-a', served, 10, 10_000);
    const step = (name: string) => ({ type: 'step_completed' as const, seq: 0, name, data: { output: name } });
    const outcomes = await store.commit(
      [
        { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [step('s\u0000')] },
        { runId: 'r2', workerId: 'worker-a', fromPos: 1, events: [step('s')] },
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 1,
          events: [],
          update: {
            status: 'waiting',
            waitingFor: { kind: 'signal', seq: 1, name: 'go\ud800', signals: ['go\ud800'] },
          },
        },
        {
          runId: 'r1',
          workerId: 'worker-a',
          fromPos: 1,
          events: [],
          update: {
            status: 'needs_attention',
            attention: { name: 'Error', message: 'x', details: { 'k\u0000': 1 } },
          },
        },
        { runId: 'r1', workerId: 'worker-a', fromPos: 1, events: [], update: { status: 'waiting', dueAt: 1.5 } },
      ],
      10_000,
    );
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? 'ok' : o.reason)),
      ['invalid_value', 'ok', 'invalid_value', 'invalid_value', 'invalid_value'],
    );
    assert.deepEqual(
      outcomes.map((o) => ('message' in o ? o.message : '')),
      [
        'event 0 (step_completed) name contains a NUL character (U+0000)',
        '',
        'waitingFor.name contains a lone UTF-16 surrogate (not valid Unicode)',
        'attention.details has a key that contains a NUL character (U+0000)',
        'due time is 1.5, not a whole number of ms up to 8640000000000000',
      ],
    );
    assert.deepEqual(
      (await store.history('r1')).map((e) => e.type),
      ['run_started'],
      'nothing of the refused commits was written',
    );
    assert.deepEqual(
      (await store.history('r2')).map((e) => [e.type, e.name]),
      [
        ['run_started', undefined],
        ['step_completed', 's'],
      ],
    );
    assert.equal((await store.getRun('r1'))?.status, 'running');

    const started = await store.createRuns(
      [
        { id: 'ok-1', workflow: 'w', version: 1, input: { text: '\u0000\ud800' } },
        { id: 'bad\u0000', workflow: 'w', version: 1, input: null },
        { id: 'ok-2', workflow: 'w', version: 1, input: null, correlationId: 'c\udc00' },
        { id: 'ok-3', workflow: 'w', version: 1, input: null, lock: { key: 'k\u0000', onConflict: 'queue' } },
        { id: 'ok-4', workflow: 'w', version: 1, input: null, lock: { key: 'k', onConflict: 'queue' } },
      ],
      1000,
    );
    assert.deepEqual(
      started.map((r) => ('refused' in r ? r.refused : r.created)),
      [
        true,
        'run id contains a NUL character (U+0000)',
        'correlationId contains a lone UTF-16 surrogate (not valid Unicode)',
        'lock key contains a NUL character (U+0000)',
        true,
      ],
    );
    assert.deepEqual((await store.getRun('ok-1'))?.input, { text: '\u0000\ud800' }, 'JSON values are kept losslessly');
    assert.deepEqual(await Promise.all(['ok-2', 'ok-3'].map((id) => store.getRun(id))), [undefined, undefined]);
    assert.equal(await store.getRun('bad\u0000'), undefined, 'a lookup by an unstorable id finds nothing');
    await store.close();
  });

  test(
    'an operator change of a run queued for a lock never ' + 'lets it execute without the lock; claims skip it',
    async () => {
      const { store } = await storeWithRun(backend);
      const lock = { key: 'target', onConflict: 'queue' as const };
      await store.createRuns(
        [
          { id: 'holder', workflow: 'w', version: 1, input: null, lock },
          { id: 'queued', workflow: 'w', version: 1, input: null, lock },
        ],
        1000,
      );
      const resume = {
        runId: 'queued',
        workerId: 'op',
        fromPos: 1,
        asOperator: true,
        events: [
          { type: 'operator_action' as const, data: { action: 'resume' as const, actor: 'op', reason: 'test' } },
        ],
      };
      await store.commit([{ ...resume, update: { status: 'paused' } }], 0);
      await store.commit(
        [{ ...resume, fromPos: 2, update: { status: 'running', dueAt: 0, waitingFor: null, releaseLease: true } }],
        0,
      );
      const run = await store.getRun('queued');
      assert.deepEqual(
        [run?.status, run?.waitingFor],
        ['waiting', { kind: 'lock', name: 'target' }],
        'queued again, not due',
      );
      const claimed = await store.claimRuns('worker-a', served, 10, 1000);
      assert.deepEqual(claimed.map((c) => c.run.id).sort(), ['holder', 'r1']);
      await store.commit(
        [
          {
            runId: 'holder',
            workerId: 'worker-a',
            fromPos: 1,
            events: [{ type: 'run_completed', data: {} }],
            update: { status: 'completed' },
          },
        ],
        1000,
      );
      assert.deepEqual(
        (await store.claimRuns('worker-a', served, 10, 1000)).map((c) => c.run.id),
        ['queued'],
        'granted the lock when the holder ended',
      );
      await store.close();
    },
  );

  test('runs of a quarantined version are neither claimed nor reported due', async () => {
    const { store } = await storeWithRun(backend);
    await store.setVersionStatus('w', 1, 'quarantined');
    assert.deepEqual(await store.claimRuns('worker-a', served, 10, 1000), []);
    assert.equal(await store.nextDueAt(served), undefined);
    await store.setVersionStatus('w', 1, 'active');
    assert.equal((await store.claimRuns('worker-a', served, 10, 1000)).length, 1);
    await store.close();
  });
});
