import type { PatchUsage, VersionSummary } from '../index.js';
import { duration, table, time } from './format.js';

/**
 * The versions table: status, where in-flight runs are parked, the oldest
 * one's age, the next wake-up, drain progress and who serves each version.
 */
export function versionsTable(versions: VersionSummary[], now = Date.now()): string {
  if (versions.length === 0) return '(no workflow versions registered)';
  return table(
    [
      'workflow',
      'version',
      'status',
      'in flight',
      'parked on',
      'oldest',
      'next wake',
      'drain',
      'served by',
      'stranded',
      'schedules',
      'runs by status',
    ],
    versions.map((v) => [
      v.workflow,
      `v${v.version}`,
      v.status,
      String(v.inFlight),
      parkedOnText(v.parkedOn),
      v.oldestInFlightAt ? duration(now - new Date(v.oldestInFlightAt).getTime()) : '-',
      v.nextWakeAt ? whenText(new Date(v.nextWakeAt), now) : '-',
      drainText(v, now),
      v.servedBy.length ? v.servedBy.join(', ') : '(no live worker)',
      String(v.stranded),
      schedulesText(v.schedules),
      Object.entries(v.runs)
        .map(([status, count]) => `${status} ${count}`)
        .join(', ') || '(no runs)',
    ]),
  );
}

/** Where in-flight runs are parked, most first: `signal:kyc 2, executing 1`. */
export function parkedOnText(parkedOn: Record<string, number>): string {
  const entries = Object.entries(parkedOn).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return entries.length ? entries.map(([where, count]) => `${where} ${count}`).join(', ') : '-';
}

/** The schedules that start a version: `nightly, hourly`, `-` for none (at most 3 named). */
export function schedulesText(ids: string[] | undefined): string {
  if (!ids || ids.length === 0) return '-';
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} +${ids.length - 3}`;
}

/**
 * What a drain means for the schedules that started the version: `pinned` still feed it (a pinned start names its
 * version on purpose, so they keep starting runs of it); `moved` (unpinned) start the route's new version.
 */
export function drainSchedulesText(pinned: string[], moved: string[]): string[] {
  const lines: string[] = [];
  if (pinned.length > 0)
    lines.push(
      `warning: ${pinned.length} schedule${pinned.length === 1 ? ' is' : 's are'} pinned to it and still feed it: ` +
        `${pinned.join(', ')}. They keep starting runs of this version, so it does not empty; pause them, or ` +
        're-create them unpinned or pinned to another version.',
    );
  if (moved.length > 0) lines.push(`Unpinned schedules now start the route's new version: ${moved.join(', ')}.`);
  return lines;
}

/**
 * Drain progress of a draining version: runs still in flight and when the last is due, or that no deadline bounds it.
 */
export function drainText(v: VersionSummary, now = Date.now()): string {
  if (v.status !== 'draining') return '-';
  if (v.inFlight === 0) return 'drained: ready to retire';
  const eta = v.drainEta ? `ETA ${whenText(new Date(v.drainEta), now)}` : 'ETA unknown: runs wait with no deadline';
  return `${v.inFlight} in flight, ${eta}`;
}

/** A moment ahead, e.g. `2025-01-31 14:05:09 (in 59m 58s)`, or `now` when it has passed. */
export function whenText(at: Date, now = Date.now()): string {
  const ahead = at.getTime() - now;
  return ahead <= 0 ? `${time(at)} (due now)` : `${time(at)} (in ${duration(ahead)})`;
}

/**
 * Per workflow and patch id: in-flight runs on the patched branch and
 * on the old one; an old branch no run depends on may be removed.
 */
export function patchesTable(patches: PatchUsage[]): string {
  if (patches.length === 0)
    return '(no patch gates recorded: no run has passed a ctx.patched() or ctx.deprecatePatch() call)';
  const rows = table(
    ['workflow', 'patch', 'runs patched', 'runs on old branch', 'first seen', 'old branch'],
    patches.map((p) => [
      p.workflow,
      p.patch,
      String(p.patched),
      String(p.onOldBranch),
      time(new Date(p.firstSeenAt)),
      p.onOldBranch === 0
        ? 'no run depends on it: may be removed'
        : `still needed by ${p.onOldBranch} run${p.onOldBranch === 1 ? '' : 's'}`,
    ]),
  );
  return (
    `${rows}\n\nA patch's old branch (the code for ctx.patched(id) === false) ` +
    `may be removed once RUNS ON OLD BRANCH is 0; counts are of in-flight runs.`
  );
}
