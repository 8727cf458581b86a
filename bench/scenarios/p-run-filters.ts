import Database from 'better-sqlite3';
import { defineWorkflow, Engine } from '../../src/index.js';
import type { RunListQuery } from '../../src/engine.js';
import { openStore } from '../../src/store/open.js';
import { emit, note, percentile, round, type ScenarioContext } from '../lib.js';
import { schemaOf, withClient } from '../pg-schema.js';

const RUNS = 100_000;
const BATCH = 1_000;
const DAY_MS = 86_400_000;
/** Repetitions of each query; the median and p95 are reported. */
const REPEATS = 20;
const TARGET_MS = 50;

const workflow = defineWorkflow({ name: 'bench-p-listed', version: 1, run: async () => 'listed' });

/**
 * Spreads the runs' starts over 30 days and sets their statuses: every 100th needs attention, every 10th
 * waits with its last change two hours ago (stuck), the rest completed. Straight SQL: it is the data, not the engine.
 */
const SHAPE_SQL = (now: number) => `
  UPDATE runs SET created_at = ${now} - (CAST(substr(id, 3) AS bigint) * ${Math.floor((30 * DAY_MS) / RUNS)}),
    updated_at = ${now} - 7200000,
    status = CASE WHEN CAST(substr(id, 3) AS integer) % 100 = 0 THEN 'needs_attention'
                  WHEN CAST(substr(id, 3) AS integer) % 10 = 0 THEN 'waiting' ELSE 'completed' END,
    attention = CASE WHEN CAST(substr(id, 3) AS integer) % 100 = 0
                     THEN '{"name":"Error","message":"parked"}' ELSE NULL END,
    due_at = NULL`;

/** P: first pages of the run list under each dashboard filter, at 100,000 runs; target under 50 ms each. */
export async function scenarioP({ store, kind, dbPath }: ScenarioContext): Promise<void> {
  const opened = await openStore(store);
  const t0 = performance.now();
  try {
    await opened.registerWorkflowVersions([{ workflow: workflow.name, version: 1, fingerprint: 'bench' }]);
    for (let i = 0; i < RUNS; i += BATCH) {
      const batch = Array.from({ length: BATCH }, (_, j) => ({
        id: `p-${String(i + j).padStart(6, '0')}`,
        workflow: workflow.name,
        version: 1,
        input: { n: i + j },
      }));
      await opened.createRuns(batch, 1_000);
    }
  } finally {
    await opened.close();
  }
  const now = Date.now();
  if (kind === 'sqlite') {
    const db = new Database(dbPath);
    db.exec(SHAPE_SQL(now));
    db.exec('ANALYZE');
    db.close();
  } else {
    await withClient(store, async (client) => {
      await client.query(`SET search_path TO "${schemaOf(store)}"`);
      await client.query(SHAPE_SQL(now).replace(/'\{"name".*?\}'/, `'{"name":"Error","message":"parked"}'::jsonb`));
      await client.query('ANALYZE runs');
    });
  }
  note(`P: ${RUNS} runs made and shaped in ${round((performance.now() - t0) / 1000, 1)} s`);

  const engine = await Engine.open({ store, worker: false }); // only reads: no code registered
  try {
    const queries: Record<string, RunListQuery> = {
      unfiltered: {},
      attention: { attention: true },
      stuckForHour: { stuckForMs: 3_600_000 },
      startedLastDay: { startedAfter: now - DAY_MS },
      startedWindow: { startedAfter: now - 20 * DAY_MS, startedBefore: now - 19 * DAY_MS },
      attentionLastWeek: { attention: true, startedAfter: now - 7 * DAY_MS },
      stuckOfWorkflow: { workflow: workflow.name, stuckForMs: 3_600_000 },
    };
    const figures: Record<string, { medianMs: number; p95Ms: number; rows: number; secondPageMs: number }> = {};
    for (const [name, query] of Object.entries(queries)) {
      const times: number[] = [];
      let rows = 0;
      let next: string | undefined;
      for (let i = 0; i < REPEATS; i++) {
        const q0 = performance.now();
        const page = await engine.pageRuns({ ...query, limit: 100 });
        times.push(performance.now() - q0);
        rows = page.runs.length;
        next = page.next;
      }
      const s0 = performance.now();
      if (next) await engine.pageRuns({ ...query, limit: 100, cursor: next });
      const secondPageMs = performance.now() - s0;
      figures[name] = {
        medianMs: round(percentile(times, 50), 1),
        p95Ms: round(percentile(times, 95), 1),
        rows,
        secondPageMs: round(secondPageMs, 1),
      };
      note(`P: ${name}: median ${figures[name].medianMs} ms, p95 ${figures[name].p95Ms} ms (${rows} rows)`);
    }
    const worst = Math.max(...Object.values(figures).map((f) => f.p95Ms));
    emit({
      scenario: 'P',
      name: 'run-list-filters',
      runs: RUNS,
      pageSize: 100,
      figures,
      target: `p95 <${TARGET_MS} ms for each filtered first page at ${RUNS} runs`,
      met: worst < TARGET_MS,
    });
  } finally {
    await engine.close();
  }
}
