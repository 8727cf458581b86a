import type { Engine, RunChange } from '../engine.js';

/** Resolves on the engine's next commit that `matches`, after `ms`, or when `stop` aborts, whichever comes first. */
export function nextChange(
  engine: Engine,
  matches: (change: RunChange) => boolean,
  ms: number,
  stop: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    const unsubscribe = engine.subscribe((change) => {
      if (matches(change)) done();
    });
    stop.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      unsubscribe();
      stop.removeEventListener('abort', done);
      resolve();
    }
  });
}
