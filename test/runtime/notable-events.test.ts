/**
 * One log line per notable event, its facts naming it in `event`: a run parked, a worker lost (and the versions it
 * leaves stranded), a store outage beginning and ending.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { Outage } from '../../src/runtime/periodic.js';
import { openStore } from '../../src/store/open.js';
import { runUntil, tempDb } from '../helpers.js';

interface Line {
  facts: Record<string, unknown>;
  message: string;
}

/** A logger keeping every warning, and a way to wait for the first whose facts match. */
function recordingLogger() {
  const lines: Line[] = [];
  const waiting: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  return {
    lines,
    logger: {
      warn(facts: Record<string, unknown>, message: string) {
        const line = { facts, message };
        lines.push(line);
        for (const w of waiting.filter((w) => w.match(line))) w.resolve(line);
      },
    },
    /** Resolves with the first line (logged already, or later) of `event` whose facts include `facts`. */
    next(event: string, facts: Record<string, unknown> = {}): Promise<Line> {
      const match = (l: Line) => l.facts.event === event && Object.entries(facts).every(([k, v]) => l.facts[k] === v);
      const found = lines.find(match);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiting.push({ match, resolve }));
    },
  };
}

const fragile = defineWorkflow({
  name: 'fragile',
  version: 1,
  async run(ctx) {
    return ctx.step(
      'charge',
      (): number => {
        throw new Error('the card was declined');
      },
      { retry: { maxAttempts: 1 }, onFailure: 'escalate' },
    );
  },
});

test('a parked run is logged once, with what an operator needs first', async () => {
  const log = recordingLogger();
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, workflows: [fragile], logger: log.logger });
  try {
    const run = await engine.start('fragile');
    await runUntil(engine, run.id, (r) => r.status === 'needs_attention');
    const line = await log.next('run_parked', { runId: run.id });
    assert.deepEqual(
      { ...line.facts },
      {
        workerId: engine.workerId,
        event: 'run_parked',
        runId: run.id,
        workflow: 'fragile',
        version: 1,
        reason: 'step_failed',
      },
    );
    assert.match(
      line.message,
      /^run parked for an operator: step 'charge' failed after 1 attempt: the card was declined/,
    );
    assert.equal(log.lines.filter((l) => l.facts.event === 'run_parked').length, 1);
  } finally {
    await engine.close();
  }
});

test('a worker that stopped heartbeating is logged as lost, and the versions only it served as stranded', async () => {
  const location = `sqlite:${tempDb()}`;
  const store = await openStore(location);
  await store.registerWorkflowVersions([{ workflow: 'orphan', version: 1, fingerprint: 'f' }]);
  await store.createRuns([{ id: 'o1', workflow: 'orphan', version: 1, input: null }], 1000);
  await store.heartbeat('ghost', [{ workflow: 'orphan', version: 1 }], 1); // lapses at once
  await store.close();
  const log = recordingLogger();
  const engine = await Engine.open({ store: location, workflows: [fragile], leaseMs: 300, logger: log.logger });
  try {
    const lost = await log.next('worker_lost', { lostWorkerId: 'ghost' });
    assert.match(lost.message, /^worker ghost was lost: no heartbeat since \S+ \(it served orphan v1\)/);
    const stranded = await log.next('version_stranded', { workflow: 'orphan' });
    assert.deepEqual(
      { ...stranded.facts },
      { workerId: engine.workerId, event: 'version_stranded', workflow: 'orphan', version: 1, inFlight: 1 },
    );
    assert.match(stranded.message, /^orphan v1 is stranded: 1 run in flight and no live worker serves it/);
  } finally {
    await engine.close();
  }
});

test('an outage is logged when it begins and when it ends, one line each', () => {
  const lines: Line[] = [];
  const outage = new Outage('claiming runs', 100, 1_000, (message, facts) => lines.push({ message, facts }));
  outage.failed(new Error('connection refused'));
  outage.failed(new Error('connection refused'));
  outage.succeeded();
  assert.deepEqual(
    lines.map((l) => [l.facts.event, l.facts.loop]),
    [
      ['store_outage_began', 'claiming runs'],
      ['store_outage_ended', 'claiming runs'],
    ],
  );
  assert.equal(lines[1]!.facts.failedTries, 2);
});
