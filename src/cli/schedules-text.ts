/** Schedules as people read them: tables and details, times in local time. */
import type { ScheduleRecord, SlotOutcome, SlotRecord } from '../index.js';
import { compact, duration, table, time } from './format.js';

/** A firing as the preview gives it. */
interface Firing {
  slotAt: number;
  fireAt: number;
}

const at = (ms: number | null) => (ms === null ? '-' : time(new Date(ms)));

/** When a schedule fires: `cron '30 2 * * *' (Europe/Berlin)` or `every 1m`. */
export function timingText(s: ScheduleRecord): string {
  if (s.cron !== null) return `cron '${s.cron}'${s.timezone ? ` (${s.timezone})` : ''}`;
  return `every ${duration(s.intervalMs ?? 0)}`;
}

/** The version a schedule starts: `v3 (pinned)` or `routed`. */
export function versionText(s: ScheduleRecord): string {
  return s.version === null ? 'routed' : `v${s.version} (pinned)`;
}

function stateText(s: ScheduleRecord): string {
  if (s.paused) return s.note ? `paused: ${s.note}` : 'paused';
  return s.nextSlotAt === null ? 'ended' : 'active';
}

/** The schedules table: one row per schedule. */
export function schedulesTable(list: ScheduleRecord[]): string {
  if (list.length === 0) return '(no schedules)';
  return table(
    ['schedule', 'workflow', 'version', 'timing', 'overlap', 'next firing', 'state'],
    list.map((s) => [
      s.id,
      s.workflow,
      versionText(s),
      timingText(s),
      s.overlap,
      s.paused ? '-' : at(s.nextFireAt),
      stateText(s),
    ]),
  );
}

/** One schedule, field by field, and its next firings when given. */
export function scheduleDetails(s: ScheduleRecord, next: Firing[] = []): string {
  const lines: [string, string][] = [
    ['schedule', s.id],
    ['workflow', `${s.workflow} ${versionText(s)}`],
    ['timing', timingText(s)],
    ['bounds', s.startAt === null && s.endAt === null ? '-' : `${at(s.startAt)} .. ${at(s.endAt)}`],
    ['jitter', s.jitterMs > 0 ? duration(s.jitterMs) : '-'],
    ['overlap', s.overlap],
    ['catch-up', duration(s.catchUpWindowMs)],
    ['state', stateText(s)],
    ['input', s.input === undefined ? '-' : compact(s.input)],
    ['next firing', s.paused ? '-' : at(s.nextFireAt)],
  ];
  if (next.length > 1)
    lines.push([
      'then',
      next
        .slice(1)
        .map((f) => firingText(f))
        .join(', '),
    ]);
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
}

/** A schedule's recent slots, newest first. */
export function slotsText(slots: SlotRecord[]): string {
  if (slots.length === 0) return '(no slots fired yet)';
  return table(
    ['slot', 'decision', 'origin', 'run', 'recorded'],
    slots.map((s) => [at(s.slotAt), s.decision, s.origin, s.runId ?? '-', at(s.recordedAt)]),
  );
}

/** What a trigger or a backfill did to each slot, and a count by decision. */
export function outcomesText(outcomes: SlotOutcome[]): string {
  if (outcomes.length === 0) return '(no slots in the range)';
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.decision, (counts.get(o.decision) ?? 0) + 1);
  const rows = table(
    ['slot', 'decision', 'run'],
    outcomes.map((o) => [at(o.slotAt), o.decision, o.runId ?? '-']),
  );
  const total = [...counts].map(([decision, n]) => `${n} ${decision}`).join(', ');
  return `${rows}\n${outcomes.length} slot${outcomes.length === 1 ? '' : 's'}: ${total}`;
}

/** The next firings, one a line. */
export function firingsText(firings: Firing[]): string {
  if (firings.length === 0) return '(no more firings)';
  return firings.map(firingText).join('\n');
}

function firingText(f: Firing): string {
  return f.fireAt === f.slotAt ? at(f.slotAt) : `${at(f.slotAt)} (fires ${at(f.fireAt)})`;
}
