/** `waymark schedules ...`: create, look at and act on schedules in the store (times shown in local time). */
import type { Command } from 'commander';
import { WaymarkError, type Engine, type OverlapPolicy } from '../../index.js';
import { OVERLAP_POLICIES, recordOf, timeOf, type ScheduleSpec } from '../../schedules/spec.js';
import { DB_HELP, parseJsonOption, parsePositiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { printJson } from '../format.js';
import { withEngine } from '../open-engine.js';
import { firingsText, outcomesText, scheduleDetails, schedulesTable, slotsText } from '../schedules-text.js';

interface ReadFlags {
  db?: string;
  json?: boolean;
}

interface CreateFlags extends ReadFlags {
  cron?: string;
  timezone?: string;
  every?: string;
  input?: string;
  version?: string;
  overlap?: string;
  catchUp?: string;
  start?: string;
  end?: string;
  jitter?: string;
  id?: string;
  paused?: boolean;
  note?: string;
}

interface NoteFlags extends ReadFlags {
  note?: string;
}

interface FireFlags extends ReadFlags {
  overlap?: string;
}

interface BackfillFlags extends FireFlags {
  from: string;
  to: string;
}

const OVERLAP_HELP = `what to do while the previous run is in flight: ${OVERLAP_POLICIES.join(' | ')}`;

/** A check of the schedules layer that refuses input, as a usage error (exit 2): nothing is opened or written. */
function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof WaymarkError && error.code === 'E_INVALID_INPUT') throw new UsageError(error.message);
    throw error;
  }
}

/** The overlap policy given on the command line; an unknown one is a usage error. */
function overlapOf(value: string | undefined): OverlapPolicy | undefined {
  if (value === undefined) return undefined;
  if (!OVERLAP_POLICIES.includes(value as OverlapPolicy))
    throw new UsageError(`unknown overlap policy '${value}': use one of ${OVERLAP_POLICIES.join(', ')}`);
  return value as OverlapPolicy;
}

/** The spec `create` asks for, checked whole (cron, time zone, durations, bounds) before the store is opened. */
function specOf(workflow: string, flags: CreateFlags): ScheduleSpec {
  if (workflow.trim() === '') throw new UsageError('<workflow> needs a workflow name');
  if (flags.cron === undefined && flags.every === undefined)
    throw new UsageError("a schedule needs --cron '<expr>' or --every <duration>");
  if (flags.cron !== undefined && flags.every !== undefined) throw new UsageError('give --cron or --every, not both');
  const spec: ScheduleSpec = {
    id: flags.id ?? workflow,
    workflow,
    version: parsePositiveInt(flags.version, '--version') ?? null,
    input: parseJsonOption(flags.input, '--input'),
    cron: flags.cron,
    timezone: flags.timezone,
    interval: flags.every,
    startAt: flags.start === undefined ? undefined : asUsage(() => timeOf(flags.start!, '--start')),
    endAt: flags.end === undefined ? undefined : asUsage(() => timeOf(flags.end!, '--end')),
    jitter: flags.jitter,
    overlap: overlapOf(flags.overlap),
    catchUpWindow: flags.catchUp,
    paused: flags.paused,
    note: flags.note,
  };
  for (const key of Object.keys(spec) as (keyof ScheduleSpec)[]) if (spec[key] === undefined) delete spec[key];
  asUsage(() => recordOf(spec, Date.now()));
  return spec;
}

export function schedulesCommand(program: Command): void {
  const schedules = program
    .command('schedules')
    .description('durable rules that start runs at times: create, list, get, pause, resume, trigger, backfill, delete');

  schedules
    .command('create')
    .description(
      "create a schedule: runs of <workflow> by cron or interval (routed to the route's version unless pinned)",
    )
    .argument('<workflow>', 'workflow name')
    .option('--cron <expr>', 'cron expression: 5 fields (minute first) or 6 (second first)')
    .option('--timezone <tz>', 'IANA time zone the cron expression is read in (default: UTC)')
    .option('--every <duration>', 'an interval instead of cron (e.g. 30s, 1h), aligned to the epoch or to --start')
    .option('--input <json>', "each run's input as JSON")
    .option('--version <n>', "pin the runs to this version (default: the route's current one; canaries apply)")
    .option('--overlap <policy>', `${OVERLAP_HELP} (default: skip)`)
    .option('--catch-up <duration>', 'after downtime, slots missed by more than this are not fired (default: 1m)')
    .option('--start <time>', 'no slot before this ISO 8601 time')
    .option('--end <time>', 'no slot at or after this ISO 8601 time')
    .option('--jitter <duration>', 'each slot fires up to this much later (default: 0)')
    .option('--id <id>', 'schedule id (default: the workflow name)')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'why it is paused')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the schedule as JSON')
    .action(async (workflow: string, flags: CreateFlags) => {
      const spec = specOf(workflow, flags);
      const created = await withEngine(flags, {}, (engine) => engine.schedules.create(spec));
      if (flags.json) printJson(created);
      else process.stdout.write(`created schedule ${created.id}\n${scheduleDetails(created)}\n`);
    });

  schedules
    .command('list')
    .description('list schedules: workflow, version, timing, overlap, state and next firing')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the schedules as a JSON array')
    .action(async (flags: ReadFlags) => {
      const list = await withEngine(flags, {}, (engine) => engine.schedules.list());
      if (flags.json) printJson(list);
      else process.stdout.write(`${schedulesTable(list)}\n`);
    });

  schedules
    .command('get')
    .description('show one schedule, its recent slots (decision and run) and its next firings')
    .argument('<id>', 'schedule id')
    .option('--slots <n>', 'recent slots shown (default: 10)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print { schedule, slots, next } as JSON')
    .action(async (id: string, flags: ReadFlags & { slots?: string }) => {
      const limit = parsePositiveInt(flags.slots, '--slots') ?? 10;
      const found = await withEngine(flags, {}, async (engine) => {
        const schedule = await engine.schedules.get(id);
        const next = schedule.paused || schedule.nextSlotAt === null ? [] : await engine.schedules.preview(id, 3);
        return { schedule, slots: await engine.schedules.slots(id, limit), next };
      });
      if (flags.json) printJson(found);
      else process.stdout.write(`${scheduleDetails(found.schedule, found.next)}\n${slotsText(found.slots)}\n`);
    });

  for (const verb of ['pause', 'resume'] as const) {
    schedules
      .command(verb)
      .description(
        verb === 'pause'
          ? 'stop firing a schedule until resumed; --note says why'
          : 'fire again from the next slot on (the slots of the pause are not fired)',
      )
      .argument('<id>', 'schedule id')
      .option('--note <text>', verb === 'pause' ? 'why it is paused' : "a note replacing the pause's")
      .option('--db <store>', DB_HELP)
      .option('--json', 'print the schedule as JSON')
      .action(async (id: string, flags: NoteFlags) => {
        const changed = await withEngine(flags, {}, (engine) => engine.schedules[verb](id, flags.note));
        if (flags.json) printJson(changed);
        else process.stdout.write(`${verb === 'pause' ? 'paused' : 'resumed'} ${id}\n${scheduleDetails(changed)}\n`);
      });
  }

  schedules
    .command('trigger')
    .description('fire a slot now (also while paused), under the overlap policy')
    .argument('<id>', 'schedule id')
    .option('--overlap <policy>', `${OVERLAP_HELP} (default: the schedule's)`)
    .option('--db <store>', DB_HELP)
    .option('--json', 'print { slotAt, decision, runId } as JSON')
    .action(async (id: string, flags: FireFlags) => {
      const overlap = overlapOf(flags.overlap);
      const outcome = await withEngine(flags, {}, (engine) => engine.schedules.trigger(id, { overlap }));
      if (flags.json) printJson(outcome);
      else process.stdout.write(`${outcomesText([outcome])}\n`);
    });

  schedules
    .command('backfill')
    .description('fire each slot in [--from, --to), oldest first; a slot fired before is not fired again')
    .argument('<id>', 'schedule id')
    .requiredOption('--from <time>', 'first instant of the range (ISO 8601)')
    .requiredOption('--to <time>', 'end of the range, not included (ISO 8601)')
    .option('--overlap <policy>', `${OVERLAP_HELP} (default: the schedule's)`)
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the slots as a JSON array of { slotAt, decision, runId }')
    .action(async (id: string, flags: BackfillFlags) => {
      const overlap = overlapOf(flags.overlap);
      const from = asUsage(() => timeOf(flags.from, '--from'));
      const to = asUsage(() => timeOf(flags.to, '--to'));
      if (to <= from) throw new UsageError('--to must be after --from');
      const outcomes = await withEngine(flags, {}, (engine) =>
        engine.schedules.backfill(id, { from, to }, { overlap }),
      );
      if (flags.json) printJson(outcomes);
      else process.stdout.write(`${outcomesText(outcomes)}\n`);
    });

  schedules
    .command('preview')
    .description('the next firings of a schedule, jitter included')
    .argument('<id>', 'schedule id')
    .option('--count <n>', 'how many firings (default: 10)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the firings as a JSON array of { slotAt, fireAt }')
    .action(async (id: string, flags: ReadFlags & { count?: string }) => {
      const count = parsePositiveInt(flags.count, '--count') ?? 10;
      const firings = await withEngine(flags, {}, (engine: Engine) => engine.schedules.preview(id, count));
      if (flags.json) printJson(firings);
      else process.stdout.write(`${firingsText(firings)}\n`);
    });

  schedules
    .command('delete')
    .description('delete a schedule and its slots; the runs it started stay')
    .argument('<id>', 'schedule id')
    .option('--db <store>', DB_HELP)
    .action(async (id: string, flags: ReadFlags) => {
      await withEngine(flags, {}, (engine) => engine.schedules.delete(id));
      process.stdout.write(`deleted schedule ${id}; the runs it started stay\n`);
    });
}
