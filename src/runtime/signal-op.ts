import type { Json, NewEvent } from '../core/types.js';
import type { PendingSignal } from '../store/types.js';
import type { SignalCall } from './replay-engine.js';
import { never, type PendingWait } from './waits.js';

/** What the signal operation needs from the executor running the workflow. */
export interface SignalOpPort {
  /** Hands the run to a due takeover; true when the workflow must not go past this point. */
  yieldToTakeover(): boolean;
  record(event: NewEvent): void;
  /** Hands a result just recorded to the code at its turn (see ReplayEngine.live). */
  deliver<T>(result: () => T): Promise<T>;
  /** Takes the oldest signal of that name the run has not consumed. */
  take(name: string): PendingSignal | undefined;
  consume(signalId: number): void;
  /** Adds a wait the run suspends on unless it is met while the run is hot; `remove` drops it. */
  hold(wait: PendingWait): void;
  remove(wait: PendingWait): void;
}

/**
 * `ctx.waitForSignal(name, { timeoutMs })` past the history: a signal kept for the run, or a durable wait (null on
 * timeout).
 */
export function signalOperation(port: SignalOpPort, { seq, name, timeoutMs, state }: SignalCall): Promise<Json | null> {
  if (port.yieldToTakeover()) return never();
  const until = state?.state === 'waiting' ? state.until : timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  if (!state) port.record({ type: 'signal_waiting', seq, name, data: until === undefined ? {} : { until } });
  const receive = (signal: PendingSignal) => {
    port.record({
      type: 'signal_received',
      seq,
      name: signal.name,
      data: { payload: signal.payload ?? null, signalId: signal.id },
    });
    port.consume(signal.id);
    return port.deliver(() => signal.payload ?? null);
  };
  const available = port.take(name);
  if (available) return receive(available);
  if (until !== undefined && Date.now() >= until) {
    port.record({ type: 'signal_timed_out', seq, name });
    return port.deliver(() => null);
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
