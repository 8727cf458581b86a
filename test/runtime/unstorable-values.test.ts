import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine, NonRetryableError, type Run } from '../../src/index.js';
import { parkRefused } from '../../src/runtime/refused-commits.js';
import { openStore } from '../../src/store/open.js';
import { forEachBackend, rejectsWith, runUntil } from '../helpers.js';
import { withConductor } from '../server/fixtures/conductor-client.js';
import { onboardingV1 as declarativeOnboarding } from '../declarative/fixtures.js';
import { onboardingV1 } from '../server/fixtures/conductor-workflows.js';

const NUL = '\u0000';
const LONE = '\ud800'; // a high surrogate with no low one after it
const BAD = [NUL, LONE];
const REPLACED = '\ufffd';

/** How often each step of each run executed. */
const executions = new Map<string, number>();
const count = (runId: string, step: string) =>
  void executions.set(`${runId}:${step}`, (executions.get(`${runId}:${step}`) ?? 0) + 1);

/** Idempotent and non-idempotent steps of runs that share commit batches with the bad values. */
const innocent = defineWorkflow({
  name: 'innocent',
  version: 1,
  async run(ctx, input: { n: number }) {
    const a = await ctx.step('a', () => {
      count(ctx.runId, 'a');
      return input.n;
    });
    const b = await ctx.step(
      'b',
      () => {
        count(ctx.runId, 'b');
        return a + 1;
      },
      { effect: 'irreversible' },
    );
    await ctx.step('c', () => count(ctx.runId, 'c'));
    return ctx.step(
      'd',
      () => {
        count(ctx.runId, 'd');
        return b * 2;
      },
      { effect: 'irreversible' },
    );
  },
});

type Mode = 'step-error' | 'escalate' | 'run-error' | 'signal-name' | 'task' | 'input';

/** A run that meets an unstorable text in one place (`mode`), with `bad` in it. */
const carrier = defineWorkflow({
  name: 'carrier',
  version: 1,
  async run(ctx, input: { mode: Mode; bad: string }) {
    const text = `bad ${input.bad} text`;
    switch (input.mode) {
      case 'step-error':
        return ctx.step('explode', () => {
          throw new NonRetryableError(text);
        });
      case 'escalate':
        return ctx.step(
          'explode',
          () => {
            throw new NonRetryableError(text);
          },
          { onFailure: 'escalate' },
        );
      case 'run-error':
        throw new Error(text);
      case 'signal-name':
        return ctx.waitForSignal(`go${input.bad}`);
      case 'task':
        return ctx.task('carry', { text, [`key${input.bad}`]: 1 });
      case 'input':
        return ctx.step('echo', () => input.bad);
    }
  },
});

const settled = (run: Run) =>
  ['completed', 'failed', 'needs_attention'].includes(run.status) ||
  (run.status === 'waiting' && run.waitingFor?.kind === 'task');

async function finishAll(engine: Engine, runs: Run[]): Promise<Run[]> {
  return Promise.all(runs.map((run) => runUntil(engine, run.id, settled, 20_000)));
}

forEachBackend((backend) => {
  test(
    'a NUL or a lone surrogate in a step error, a run error, an attention message, ' +
      'a signal name, a task or a run input never poisons its commit batch',
    async () => {
      await withConductor(backend.store(), { workflows: [innocent, carrier] }, async ({ engine }) => {
        executions.clear();
        const modes: Mode[] = ['step-error', 'escalate', 'run-error', 'signal-name', 'task', 'input'];
        // Started in one turn, so their checkpoints share commit batches with the innocent runs' ones.
        const starts = [
          ...Array.from({ length: 12 }, (_, n) => engine.start('innocent', { n }, { id: `innocent-${n}` })),
          ...modes.flatMap((mode) =>
            BAD.map((bad, i) => engine.start('carrier', { mode, bad }, { id: `${mode}-${i}` })),
          ),
        ];
        const runs = await finishAll(engine, await Promise.all(starts));
        const byId = new Map(runs.map((r) => [r.id, r]));

        for (let n = 0; n < 12; n++) {
          const run = byId.get(`innocent-${n}`)!;
          assert.equal(run.status, 'completed', `innocent-${n}: ${JSON.stringify(run.attention ?? run.error)}`);
          assert.equal(run.output, (n + 1) * 2);
          for (const step of ['a', 'b', 'c', 'd'])
            assert.equal(executions.get(`${run.id}:${step}`), 1, `innocent-${n} step ${step} ran once`);
        }
        for (const [i, bad] of BAD.entries()) {
          // Error messages are made storable: the character becomes U+FFFD, the same in the history.
          const failed = byId.get(`step-error-${i}`)!;
          assert.equal(failed.status, 'failed');
          assert.match(failed.error!.message, new RegExp(`bad ${REPLACED} text`));
          const recorded = (await engine.history(failed.id)).find((e) => e.type === 'step_failed')!.data as {
            error: { message: string };
          };
          assert.equal(recorded.error.message, `bad ${REPLACED} text`);
          assert.match(byId.get(`run-error-${i}`)!.error!.message, new RegExp(`^bad ${REPLACED} text$`));
          const parked = byId.get(`escalate-${i}`)!;
          assert.equal(parked.status, 'needs_attention');
          assert.match(parked.attention!.message, new RegExp(`bad ${REPLACED} text`));
          // A name is refused at the edge, clearly, in the workflow and from outside.
          const unnamed = byId.get(`signal-name-${i}`)!;
          assert.equal(unnamed.status, 'failed');
          assert.equal(unnamed.error!.code, 'E_INVALID_INPUT');
          assert.match(unnamed.error!.message, /signal name contains a (NUL character|lone UTF-16 surrogate)/);
          await rejectsWith(engine.signal(`task-${i}`, `go${bad}`), 'E_INVALID_INPUT');
          const echoed = byId.get(`input-${i}`)!;
          assert.deepEqual([echoed.status, echoed.input, echoed.output], ['completed', { mode: 'input', bad }, bad]);
        }
        // Values are kept losslessly: a task's input (keys too), a run's input, a worker's output.
        const tasks = await engine.tasks.poll('carry', 'worker-1', 2);
        assert.deepEqual(tasks.map((t) => t.runId).sort(), ['task-0', 'task-1']);
        for (const task of tasks) {
          const bad = BAD[Number(task.runId.slice(-1))]!;
          assert.deepEqual(task.input, { text: `bad ${bad} text`, [`key${bad}`]: 1 });
          await engine.tasks.report(task.taskId, { status: 'COMPLETED', output: { echoed: bad } });
        }
        for (const [i, bad] of BAD.entries())
          assert.deepEqual(await engine.result(`task-${i}`, { timeoutMs: 10_000 }), { echoed: bad });
      });
    },
  );

  test(
    'the Conductor start with a NUL in its input (anonymous) runs, ' +
      'its task carries the input losslessly; bad names, ids and definitions are 400s',
    async () => {
      await withConductor(backend.store(), { workflows: [onboardingV1] }, async (api) => {
        const input = { customerId: `c${NUL}1`, email: `a${NUL}@example.com` };
        const started = await api.call('POST', '/api/workflow/customer_onboarding?version=1', input);
        assert.equal(started.status, 200, started.text);
        const polled = await api.call(
          'GET',
          '/api/tasks/poll/batch/normalize_customer_profile?workerid=w1&count=1&timeout=10000',
        );
        assert.deepEqual(
          polled.body.map((t: { inputData: unknown }) => t.inputData),
          [input],
        );
        const done = await api.call('POST', '/api/tasks', {
          taskId: polled.body[0].taskId,
          status: 'COMPLETED',
          outputData: { email: `b${NUL}@example.com` },
        });
        assert.equal(done.status, 200, done.text);
        await runUntil(
          api.engine,
          started.text,
          (r) => r.status === 'waiting' && r.waitingFor?.name === 'send_welcome_email',
          10_000,
        );
        const [email] = await api.engine.tasks.poll('send_welcome_email', 'w1');
        assert.deepEqual(email!.input, { to: `b${NUL}@example.com` });

        const badId = await api.call('POST', '/v1/runs', { workflow: 'customer_onboarding', id: `x${NUL}`, input: {} });
        assert.deepEqual([badId.status, badId.body.code], [400, 'E_INVALID_INPUT']);
        const badSignal = await api.call(
          'POST',
          `/v1/runs/${started.text}/signals/${encodeURIComponent(`go${NUL}`)}`,
          {},
        );
        assert.deepEqual([badSignal.status, badSignal.body.code], [400, 'E_INVALID_INPUT']);
        const missing = await api.call('GET', `/v1/runs/${encodeURIComponent(`x${NUL}`)}`);
        assert.deepEqual(
          [missing.status, missing.body.code],
          [400, 'E_INVALID_INPUT'],
          'an id no run can have is refused at the edge, naming the field',
        );
        const definition = { ...declarativeOnboarding, name: 'nul_onboarding', description: `about ${NUL}` };
        const refused = await api.call('POST', '/api/metadata/workflow', definition);
        // Conductor's error shape: a message and the field in validationErrors
        assert.equal(refused.status, 400, refused.text);
        assert.match(refused.body.message, /description contains a NUL character/);
        assert.equal(
          (await api.call('GET', '/api/metadata/workflow/nul_onboarding')).status,
          404,
          'nothing was registered',
        );
      });
    },
  );

  test(
    'a checkpoint the store refuses is parked with the facts while ' +
      'the rest of its batch commits; resumed, the run replays and goes on',
    async () => {
      const location = backend.store();
      const client = await Engine.open({ store: location, workflows: [innocent], worker: false });
      const store = await openStore(location);
      try {
        for (const n of [1, 2]) await client.start('innocent', { n }, { id: `held-${n}` });
        assert.equal((await store.claimRuns('worker-x', [{ workflow: 'innocent', version: 1 }], 10, 60_000)).length, 2);
        const completed = (name: string, output: number) => ({
          type: 'step_completed' as const,
          seq: 0,
          name,
          data: { output },
        });
        const batch = [
          { runId: 'held-1', workerId: 'worker-x', fromPos: 1, events: [completed(`a${NUL}`, 1)] },
          { runId: 'held-2', workerId: 'worker-x', fromPos: 1, events: [completed('a', 2)] },
        ];
        const outcomes = await store.commit(batch, 60_000);
        assert.deepEqual(
          outcomes.map((o) => o.ok),
          [false, true],
        );
        const { parked, failed } = await parkRefused(store, batch, outcomes, 60_000);
        assert.deepEqual([parked.map((c) => c.runId), failed], [['held-1'], []]);

        const run = await client.getRun('held-1');
        assert.equal(run.status, 'needs_attention');
        assert.equal(run.attention!.code, 'E_NOT_SERIALIZABLE');
        assert.match(
          run.attention!.message,
          /a checkpoint of run 'held-1' could not be stored: event 0 \(step_completed\) name contains a NUL character/,
        );
        assert.deepEqual(run.attention!.details, {
          reason: 'invalid_value',
          error: {
            name: 'WaymarkError',
            code: 'E_NOT_SERIALIZABLE',
            message: 'event 0 (step_completed) name contains a NUL character (U+0000)',
          },
          refused: [{ type: 'step_completed', seq: 0, name: `a${REPLACED}` }],
          step: `a${REPLACED}`,
          seq: 0,
        });
        assert.deepEqual(
          (await client.history('held-1')).map((e) => e.type),
          ['run_started', 'run_parked'],
        );
        assert.deepEqual((await client.describe('held-1')).actions, ['resume', 'compensate', 'cancel']);

        await store.releaseLeases('worker-x');
        await client.resume('held-1', { reason: 'fixed' });
        const worker = await Engine.open({ store: location, workflows: [innocent], pollIntervalMs: 50 });
        try {
          assert.deepEqual(
            await Promise.all(['held-1', 'held-2'].map((id) => worker.result(id, { timeoutMs: 10_000 }))),
            [4, 6],
          );
        } finally {
          await worker.close();
        }
      } finally {
        await store.close();
        await client.close();
      }
    },
  );
});
