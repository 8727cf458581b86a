/** How the dashboard writes times, durations and values. */

/** A time (ISO text or epoch ms) as local date and time, or '—'. */
export function when(value: string | number | null | undefined): string {
  if (value === undefined || value === null || value === '') return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** A time relative to now: 'in 5m', '3h ago'. */
export function fromNow(value: string | number | null | undefined): string {
  if (value === undefined || value === null || value === '') return '—';
  const ms = new Date(value).getTime() - Date.now();
  const text = duration(Math.abs(ms));
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** Milliseconds as '850ms', '12s', '5m 3s', '2h 10m', '3d 4h'. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A JSON value as short text (cut at `max` characters). */
export function short(value: unknown, max = 120): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Runs per verdict as words ('compatible 3 · incompatible 1'), zeros left out; 'no runs' when all are zero. */
export function countsText(counts: Record<string, number> | undefined): string {
  const parts = Object.entries(counts ?? {})
    .filter(([, n]) => n > 0)
    .map(([verdict, n]) => `${verdict.replaceAll('_', ' ')} ${n}`);
  return parts.length ? parts.join(' · ') : 'no runs';
}

/** A stored report's summary as one line: safe or not, then each workflow's class and its runs per verdict. */
export function reportSummaryText(summary: unknown): string {
  const s = summary as {
    safe?: boolean;
    workflows?: { workflow: string; classification: string; counts: Record<string, number> }[];
  } | null;
  if (!s || typeof s !== 'object' || !Array.isArray(s.workflows)) return short(summary, 100);
  const lines = s.workflows.map((w) => `${w.workflow}: ${w.classification} (${countsText(w.counts)})`);
  return [s.safe ? 'safe' : 'NOT SAFE', ...lines].join(' · ');
}

/** Where a run waits, from its waitingFor. */
export function waitText(wait: { kind: string; name?: string; until?: number } | undefined): string {
  if (!wait) return '';
  return [wait.kind, wait.name].filter(Boolean).join(':') + (wait.until ? ` (until ${when(wait.until)})` : '');
}
