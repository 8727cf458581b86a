/**
 * Golden histories (test/fixtures/histories/<format>/) recorded by released engines must always replay, and the
 * runs they left in flight (inflight.db) must always recover, with the definitions of golden-workflows.ts.
 * Re-record with `npx tsx test/fixtures/histories/record.ts` only for a new format folder.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { declarativeSupport } from '../../src/declarative/compile.js';
import { currentEpoch, isTerminal, type EventType, type HistoryEvent } from '../../src/core/types.js';
import { Engine, type Json, type WorkflowDefinition } from '../../src/index.js';
import { replayHistories } from '../../src/testing/index.js';
import { compileGoldenDeclarative, executions, goldenCodeWorkflows } from '../fixtures/golden-workflows.js';
import { inFlight, type ExpectedFrontier, type GoldenHistory } from '../fixtures/histories/golden-file.js';
import { nextChange, runUntil, tempDir } from '../helpers.js';

const HISTORIES = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const TYPES_SOURCE = fileURLToPath(new URL('../../src/core/types.ts', import.meta.url));

/** Every history event type: a new one fails the coverage test until a golden history records it. */
const EVENT_TYPES: EventType[] = [
  'run_started',
  'step_started',
  'step_completed',
  'step_failed',
  'compensation_started',
  'compensation_completed',
  'compensation_failed',
  'run_compensated',
  'operator_action',
  'run_expired',
  'timer_set',
  'timer_fired',
  'signal_waiting',
  'signal_received',
  'signal_timed_out',
  'task_scheduled',
  'task_completed',
  'task_failed',
  'value_recorded',
  'patch_marker',
  'run_upgraded',
  'run_migrated',
  'migration_rolled_back',
  'run_completed',
  'run_failed',
  'run_cancelled',
  'run_parked',
];

interface GoldenEntry {
  format: string;
  history: GoldenHistory;
}

const formats = readdirSync(HISTORIES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const goldens: GoldenEntry[] = formats.flatMap((format) =>
  readdirSync(join(HISTORIES, format))
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({
      format,
      history: JSON.parse(readFileSync(join(HISTORIES, format, name), 'utf8')) as GoldenHistory,
    })),
);

const support = await declarativeSupport();
const declarative = compileGoldenDeclarative(support);
const definitions: WorkflowDefinition[] = [...goldenCodeWorkflows, ...declarative];

function definitionOf(workflow: string, version: number): WorkflowDefinition {
  const definition = definitions.find((d) => d.name === workflow && d.version === version);
  if (!definition) throw new Error(`no golden definition of ${workflow} v${version}`);
  return definition;
}

const showFrontier = (frontier: ExpectedFrontier) =>
  frontier === 'end' ? 'the end' : `${frontier.kind} '${frontier.name}' at seq ${frontier.seq}`;

describe('golden histories replay with the golden definitions', () => {
  for (const { format, history } of goldens) {
    test(
      `${format}/${history.run.id} (${history.expect.status}) ` + `replays to ${showFrontier(history.expect.frontier)}`,
      async () => {
        const [result] = await replayHistories(definitionOf(history.run.workflow, history.run.version), [history]);
        const verdict = result!.verdict;
        assert.ok(verdict.ok, `${history.run.id}: ${(verdict as { message?: string }).message}`);
        assert.deepEqual(verdict.frontier, history.expect.frontier);
      },
    );
  }
});

test('the event types listed here are exactly those of EventType in src/core/types.ts', () => {
  const source = readFileSync(TYPES_SOURCE, 'utf8');
  const block = /export type EventType =([^;]*);/.exec(source);
  assert.ok(block, 'src/core/types.ts declares EventType');
  const declared = [...block[1]!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
  assert.deepEqual([...declared].sort(), [...EVENT_TYPES].sort());
});

test('the golden histories of every format, together, hold every event type', () => {
  assert.ok(formats.includes('format-1'), 'the first release format is recorded');
  const seen = new Set(goldens.flatMap(({ history }) => history.events.map((e) => e.type)));
  assert.deepEqual(
    EVENT_TYPES.filter((type) => !seen.has(type)),
    [],
  );
});

test('the golden histories cover code and declarative workflows, finished and in flight, on every kind of wait', () => {
  const format1 = goldens.filter((g) => g.format === 'format-1').map((g) => g.history);
  const declarativeNames = new Set(declarative.map((d) => d.name));
  const waits = new Set(
    format1
      .filter((h) => inFlight(h.expect.status) && h.expect.frontier !== 'end')
      .map((h) => (h.expect.frontier as { kind: string }).kind),
  );
  assert.deepEqual([...waits].sort(), ['signal', 'sleep', 'step', 'task']);
  assert.ok(
    format1.some((h) => declarativeNames.has(h.run.workflow) && inFlight(h.expect.status)),
    'a declarative run in flight',
  );
  assert.ok(
    format1.some((h) => declarativeNames.has(h.run.workflow) && h.expect.status === 'completed'),
    'a declarative run finished',
  );
  assert.ok(
    format1.some((h) => (h.run.epoch ?? 0) > 0 && inFlight(h.expect.status)),
    'a migrated run in flight',
  );
  assert.deepEqual([...new Set(format1.map((h) => h.expect.status))].sort(), [
    'cancelled',
    'compensated',
    'completed',
    'failed',
    'needs_attention',
    'waiting',
  ]);
});

/** How each in-flight run of an inflight.db is driven to its end, and the output its workflow computes. */
interface Recovery {
  drive(engine: Engine): Promise<void>;
  output: Json;
}

/** Hands out the run's task of `type` and reports it completed with `output(input)`. */
async function complete(engine: Engine, runId: string, type: string, output: (input: Json) => Json): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [task] = await engine.tasks.poll(type, 'golden-test-worker', 1);
    if (task) {
      assert.equal(task.runId, runId);
      await engine.tasks.report(task.taskId, { status: 'COMPLETED', output: output(task.input) });
      return;
    }
    if (Date.now() > deadline) throw new Error(`no ${type} task was handed out for ${runId}`);
    await nextChange(engine, runId);
  }
}

const RECOVERIES: Record<string, Recovery> = {
  'code-waiting-on-signal': {
    drive: (engine) => engine.signal('code-waiting-on-signal', 'approve', { by: 'recovery' }),
    output: { prepared: 'prepared:W-1', approval: { by: 'recovery' }, applied: 'applied:W-1:recovery' },
  },
  'code-waiting-on-timer': {
    drive: async () => {}, // its timer was due long ago: it fires as soon as the engine opens
    output: { before: 'before:W-6', after: 'after:W-6' },
  },
  'code-waiting-on-task': {
    drive: async (engine) => {
      await complete(
        engine,
        'code-waiting-on-task',
        'golden_charge',
        (input) => `charged:${(input as { order: string }).order}`,
      );
      await complete(
        engine,
        'code-waiting-on-task',
        'golden_verify',
        (input) => `verified:${(input as { charged: string }).charged}`,
      );
    },
    output: { charged: 'charged:W-2', verified: 'verified:charged:W-2' },
  },
  'code-migrated-into-epoch-1': {
    drive: (engine) => engine.signal('code-migrated-into-epoch-1', 'review', { ok: true }),
    output: { published: 'published:enriched:notes:W-3', version: 2 },
  },
  'declarative-fork-join-one-branch-pending': {
    drive: async (engine) => {
      await complete(engine, 'declarative-fork-join-one-branch-pending', 'golden_invoice', (input) => ({
        invoice: `invoice:${(input as { parcel: string }).parcel}`,
      }));
      await complete(engine, 'declarative-fork-join-one-branch-pending', 'golden_label', (input) => ({
        label: `label:${(input as { packed: string }).packed}`,
      }));
    },
    output: { label: 'label:packed:W-4', invoice: 'invoice:W-4' },
  },
  'code-parallel-branches-waiting': {
    drive: (engine) => engine.signal('code-parallel-branches-waiting', 'quick-go', { by: 'recovery' }),
    output: { slow: 'slow-2:slow-1:W-5', quick: 'quick-2:quick-1:W-5:recovery' },
  },
  'code-unknown-outcome-parked': {
    drive: async (engine) =>
      void (await engine.skipStep('code-unknown-outcome-parked', {
        actor: 'recovery',
        reason: 'the charge went through',
        output: 'charged:U-2 (confirmed)',
      })),
    output: {
      prepared: 'prepared:U-2',
      charged: 'charged:U-2 (confirmed)',
      receipt: 'receipt:charged:U-2 (confirmed)',
    },
  },
};

/** How many `type` events each seq has. */
function countBySeq(events: HistoryEvent[], type: EventType): Map<number, number> {
  const counts = new Map<number, number>();
  for (const e of events) if (e.type === type) counts.set(e.seq!, (counts.get(e.seq!) ?? 0) + 1);
  return counts;
}

for (const format of formats) {
  describe(`the in-flight runs of ${format}/inflight.db recover with the golden definitions`, () => {
    const inflight = goldens
      .filter((g) => g.format === format && inFlight(g.history.expect.status))
      .map((g) => g.history);
    let engine: Engine;
    let stored: { ids: string[]; histories: Map<string, HistoryEvent[]> };

    before(async () => {
      const db = join(tempDir(), 'inflight.db');
      copyFileSync(join(HISTORIES, format, 'inflight.db'), db);
      executions.length = 0; // the same run ids recover from every format's store
      const client = await Engine.open({ store: `sqlite:${db}`, worker: false, rolloutCheckMs: 0 });
      try {
        const ids = (await client.listRuns({ limit: 1000 })).map((r) => r.id).sort();
        stored = {
          ids,
          histories: new Map(await Promise.all(ids.map(async (id) => [id, await client.history(id)] as const))),
        };
      } finally {
        await client.close();
      }
      engine = await Engine.open({
        store: `sqlite:${db}`,
        workflows: goldenCodeWorkflows,
        workerId: 'golden-recovery',
        compile: support.compile,
        pollIntervalMs: 100,
        rolloutCheckMs: 0,
      });
      support.bind(engine);
      await engine.definitions.register(declarative);
    });

    after(() => engine?.close());

    test('inflight.db holds exactly the in-flight golden runs, with the histories their files show', () => {
      assert.deepEqual(stored.ids, inflight.map((h) => h.run.id).sort());
      for (const history of inflight)
        assert.deepEqual(stored.histories.get(history.run.id), history.events, history.run.id);
      assert.deepEqual(Object.keys(RECOVERIES).sort(), stored.ids, 'every in-flight run has a recovery here');
    });

    for (const history of inflight) {
      const id = history.run.id;
      test(`${id} (${history.expect.status}) goes on to its output; no step completed before runs again`, async () => {
        const recovery = RECOVERIES[id];
        assert.ok(recovery, `no recovery for ${id}`);
        await recovery.drive(engine);
        const run = await runUntil(engine, id, (r) => isTerminal(r.status) || r.status === 'needs_attention', 30_000);
        assert.equal(
          run.status,
          'completed',
          `${id} ended ${run.status}: ${run.attention?.message ?? run.error?.message ?? ''}`,
        );
        assert.deepEqual(run.output, recovery.output);

        const before = currentEpoch(history.events, history.run.epoch ?? 0);
        const after = currentEpoch(await engine.history(id), run.epoch);
        for (const type of ['step_completed', 'task_completed'] as const) {
          const afterCounts = countBySeq(after, type);
          for (const seq of countBySeq(before, type).keys())
            assert.equal(afterCounts.get(seq), 1, `${type} of seq ${seq} recorded once`);
        }
        const completedBefore = new Set(before.filter((e) => e.type === 'step_completed').map((e) => e.name!));
        const executed = executions.filter((e) => e.startsWith(`${id}/`)).map((e) => e.slice(id.length + 1));
        assert.deepEqual(
          executed.filter((name) => completedBefore.has(name)),
          [],
          'steps completed before the copy were not executed again',
        );
        if (goldenCodeWorkflows.some((d) => d.name === run.workflow)) {
          // Every step a code workflow completed here was executed here, once (skipped ones are not executed).
          const completedHere = after.filter(
            (e) =>
              e.type === 'step_completed' &&
              !completedBefore.has(e.name!) &&
              !(e.data as { skipped?: boolean }).skipped,
          );
          assert.deepEqual([...executed].sort(), completedHere.map((e) => e.name!).sort());
        }
      });
    }
  });
}
