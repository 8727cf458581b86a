/** Runs one durable operation (a ctx call) and resolves with its result. */
export type Operation = <T>(call: () => Promise<T>) => Promise<T>;

/** Issues operations at once: the top level of a run. */
export const direct: Operation = (call) => call();

type Slot =
  | { state: 'running' }
  | { state: 'done' }
  | { state: 'failed'; error: unknown }
  | { state: 'asking'; call: () => Promise<unknown>; resolve(value: unknown): void; reject(error: unknown): void };

/**
 * Runs parallel branches so that replay always sees their operations in the same order: in rounds, every
 * unfinished branch asks for its next operation; they are issued in branch order (as one operation of the
 * enclosing level) and all awaited; then each branch goes on to its next ask. Branches must reach the
 * durable world only through the operation they are given.
 */
export async function runInLockstep(branches: ((op: Operation) => Promise<void>)[], outer: Operation): Promise<void> {
  const slots: Slot[] = branches.map(() => ({ state: 'running' }));
  let changed: () => void = () => {};
  const settled = () => new Promise<void>((resolve) => (changed = resolve));
  branches.forEach((branch, i) => {
    const op: Operation = (call) =>
      new Promise((resolve, reject) => {
        slots[i] = { state: 'asking', call, resolve: resolve as (value: unknown) => void, reject };
        changed();
      });
    branch(op).then(
      () => {
        slots[i] = { state: 'done' };
        changed();
      },
      (error: unknown) => {
        slots[i] = { state: 'failed', error };
        changed();
      },
    );
  });
  for (;;) {
    while (slots.some((s) => s.state === 'running')) await settled();
    const failed = slots.find((s) => s.state === 'failed');
    if (failed) throw (failed as { error: unknown }).error;
    const asks = slots
      .map((slot, i) => [i, slot] as const)
      .filter((entry): entry is readonly [number, Extract<Slot, { state: 'asking' }>] => entry[1].state === 'asking');
    if (asks.length === 0) return;
    for (const [i] of asks) slots[i] = { state: 'running' };
    const results = await outer(() => Promise.allSettled(asks.map(([, ask]) => ask.call())));
    asks.forEach(([, ask], k) => {
      const result = results[k]!;
      if (result.status === 'fulfilled') ask.resolve(result.value);
      else ask.reject(result.reason);
    });
  }
}
