import { defineWorkflow, Engine } from '../../src/index.js';
import { emit, note, percentile, round, type ScenarioContext } from '../lib.js';

/** Schedules on one engine. (Default: 10,000; WAYMARK_BENCH_SCHEDULES changes it) */
const SCHEDULES = Number(process.env.WAYMARK_BENCH_SCHEDULES ?? 10_000);
/** Slots each schedule fires. (Default: 3; WAYMARK_BENCH_SCHEDULE_SLOTS changes it) */
const SLOTS = Number(process.env.WAYMARK_BENCH_SCHEDULE_SLOTS ?? 3);
/** Time between a schedule's slots: every minute. (Default: 60000; WAYMARK_BENCH_SCHEDULE_EVERY_MS changes it) */
const INTERVAL_MS = Number(process.env.WAYMARK_BENCH_SCHEDULE_EVERY_MS ?? 60_000);
/** Parallel create calls while the schedules are made. */
const LANES = 50;
/** Longest wait for the last slot to be handled after the window ends. */
const DRAIN_LIMIT_MS = 300_000;

const tick = defineWorkflow({ name: 'bench-s-tick', version: 1, run: async () => 'ticked' });

/**
 * S: 10,000 schedules firing every minute on one worker engine, 3 slots each (about 3 minutes): lateness of each slot
 * (claimed-at minus slot time) and process CPU per slot. The engine also executes the runs the slots start (a workflow
 * that returns at once): their cost is in the CPU figure. WAYMARK_BENCH_SCHEDULE_EVERY_MS=1000 is the stress variant.
 */
export async function scenarioS({ store }: ScenarioContext): Promise<void> {
  const first = await createSchedules(store);
  const engine = await Engine.open({ store, workflows: [tick], workerId: 'bench-s', logger: { warn() {} } });
  const end = first + SLOTS * INTERVAL_MS;
  try {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, first - Date.now())));
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const handled = await waitForLastSlots(engine, end);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    const lateness: number[] = [];
    const decisions: Record<string, number> = {};
    for (let i = 0; i < SCHEDULES; i++)
      for (const slot of await engine.schedules.slots(scheduleId(i), SLOTS + 5)) {
        lateness.push(slot.recordedAt - slot.slotAt);
        decisions[slot.decision] = (decisions[slot.decision] ?? 0) + 1;
      }
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const figures = {
      slots: lateness.length,
      expectedSlots: SCHEDULES * SLOTS,
      decisions,
      latenessP50Ms: percentile(lateness, 50),
      latenessP99Ms: percentile(lateness, 99),
      latenessMaxMs: Math.max(...lateness),
      cpuMs: round(cpuMs, 0),
      cpuPerSlotMs: round(cpuMs / Math.max(1, lateness.length), 3),
      cpuOfOneCorePercent: round((cpuMs / wallMs) * 100, 0),
      wallMs: round(wallMs, 0),
      allHandled: handled,
    };
    note(`S: ${JSON.stringify(figures)}`);
    emit({ scenario: 'S', name: 'schedules-firing', schedules: SCHEDULES, intervalMs: INTERVAL_MS, ...figures });
  } finally {
    await engine.close();
  }
}

const scheduleId = (i: number) => `s-${String(i).padStart(5, '0')}`;

/** Creates the schedules on a client engine (nothing fires yet); returns the first slot, a whole second ahead. */
async function createSchedules(store: string): Promise<number> {
  const client = await Engine.open({ store, workflows: [tick], worker: false });
  const t0 = performance.now();
  const startAt = Math.ceil((Date.now() + 5_000 + SCHEDULES * 2) / INTERVAL_MS) * INTERVAL_MS;
  try {
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < SCHEDULES; i = next++)
        await client.schedules.create({
          id: scheduleId(i),
          workflow: tick.name,
          interval: INTERVAL_MS,
          startAt,
          endAt: startAt + SLOTS * INTERVAL_MS,
          catchUpWindow: '10m',
        });
    };
    await Promise.all(Array.from({ length: LANES }, lane));
  } finally {
    await client.close();
  }
  note(`S: ${SCHEDULES} schedules created in ${round((performance.now() - t0) / 1000, 1)} s`);
  if (Date.now() >= startAt) throw new Error('S: creating the schedules took past their first slot');
  return startAt;
}

/** Waits until every schedule has handled its last slot (no next slot), or the drain limit; whether all did. */
async function waitForLastSlots(engine: Engine, end: number): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now())));
  const deadline = Date.now() + DRAIN_LIMIT_MS;
  for (;;) {
    const pending = (await engine.schedules.list()).filter((s) => s.nextSlotAt !== null).length;
    if (pending === 0) return true;
    if (Date.now() > deadline) {
      note(`S: ${pending} schedules still had slots after ${DRAIN_LIMIT_MS} ms`);
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
