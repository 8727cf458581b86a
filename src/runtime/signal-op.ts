import { parseDuration } from '../core/duration.js';
import { signalState, type RecordedOperation } from '../core/replay.js';
import type { Duration, Json, NewEvent } from '../core/types.js';
import type { PendingSignal } from '../store/types.js';
import type { PendingWait } from './waits.js';

/** What the signal operation needs from the executor running the workflow. */
export interface SignalOpPort {
  enter(kind: 'signal', name: string): { seq: number; recorded: RecordedOperation | undefined };
  atFrontier(): boolean;
  record(event: NewEvent): void;
  /** Takes the oldest signal of that name the run has not consumed. */
  take(name: string): PendingSignal | undefined;
  consume(signalId: number): void;
  /** Adds a wait the run suspends on unless it is met while the run is hot; `remove` drops it. */
  hold(wait: PendingWait): void;
  remove(wait: PendingWait): void;
}

const never = () => new Promise<never>(() => {});

/** `ctx.waitForSignal(name, { timeoutMs })`: a recorded signal, one kept for the run, or a durable wait (null on timeout). */
export async function signalOperation(port: SignalOpPort, name: string, options: { timeoutMs?: Duration } = {}): Promise<Json | null> {
  const timeoutMs = options.timeoutMs === undefined ? undefined : parseDuration(options.timeoutMs, 'signal timeoutMs');
  const { seq, recorded } = port.enter('signal', name);
  const state = signalState(recorded);
  if (state?.state === 'received') return state.payload ?? null;
  if (state?.state === 'timed_out') return null;
  if (port.atFrontier()) return never();
  const until = state ? state.until : timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  if (!state) port.record({ type: 'signal_waiting', seq, name, data: until === undefined ? {} : { until } });
  const receive = (signal: PendingSignal) => {
    port.record({ type: 'signal_received', seq, name: signal.name, data: { payload: signal.payload ?? null, signalId: signal.id } });
    port.consume(signal.id);
    return signal.payload ?? null;
  };
  const available = port.take(name);
  if (available) return receive(available);
  if (until !== undefined && Date.now() >= until) {
    port.record({ type: 'signal_timed_out', seq, name });
    return null;
  }
  return new Promise<Json | null>((resolve) => {
    const wait: PendingWait = {
      kind: 'signal',
      seq,
      name,
      until,
      deliver: (signal) => {
        port.remove(wait);
        resolve(receive(signal));
      },
    };
    port.hold(wait);
  });
}
