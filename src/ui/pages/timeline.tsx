/** A run's history as a timeline: one row per event, steps with attempt, duration, worker and error. */
import { duration, short, when } from '../format';
import type { HistoryEvent } from '../types';

/** What an event says in one line, from its data. */
function detail(event: HistoryEvent): string {
  const d = (event.data ?? {}) as Record<string, unknown>;
  const error = d.error as { message?: string } | undefined;
  switch (event.type) {
    case 'operator_action':
      return `${d.action} by ${d.actor}: ${d.reason}${d.step ? ` (step ${d.step})` : ''}`;
    case 'step_failed':
    case 'compensation_failed':
      return `${error?.message ?? ''}${d.retryAt ? ` · retry ${when(d.retryAt as number)}` : ''}`;
    case 'timer_set':
      return d.until ? `until ${when(d.until as number)}` : short(d);
    case 'signal_received':
      return short(d.payload ?? d.value ?? '');
    case 'run_upgraded':
    case 'run_migrated':
    case 'migration_rolled_back':
      return short(d);
    case 'run_failed':
      return error?.message ?? short(d);
    case 'run_parked':
      return `${d.reason ?? ''}${error?.message ? `: ${error.message}` : ''}`;
    case 'step_completed':
      return d.skipped ? `skipped by ${d.by}: ${d.reason}` : d.migrated ? `inserted by ${d.migrated}` : '';
    default:
      return '';
  }
}

/** The history, oldest first, epochs marked. */
export function Timeline({ events }: { events: HistoryEvent[] }) {
  if (events.length === 0) return <p class="muted">No history.</p>;
  const started = events[0]!.at;
  let lastEpoch: number | undefined;
  return (
    <ol class="timeline" aria-label="History">
      {events.map((event) => {
        const d = (event.data ?? {}) as Record<string, unknown>;
        const epochChange = event.epoch !== undefined && event.epoch !== lastEpoch;
        lastEpoch = event.epoch;
        const failed = /failed|parked|timed_out|expired/.test(event.type);
        return (
          <li key={event.pos} class={`ev ev-${event.type}${failed ? ' bad' : ''}`} data-type={event.type}>
            {epochChange && <div class="epoch">epoch {event.epoch}</div>}
            <span class="t" title={when(event.at)}>
              +{duration(event.at - started)}
            </span>
            <span class="type">{event.type.replace(/_/g, ' ')}</span>
            {event.name && (
              <span class="name">
                {event.name}
                {event.seq !== undefined && <span class="muted"> #{event.seq}</span>}
              </span>
            )}
            {d.attempt !== undefined && <span class="muted">attempt {String(d.attempt)}</span>}
            {typeof d.durationMs === 'number' && <span class="muted">{duration(d.durationMs)}</span>}
            {typeof d.workerId === 'string' && <span class="muted">on {d.workerId}</span>}
            <span class="detail">{detail(event)}</span>
          </li>
        );
      })}
    </ol>
  );
}
