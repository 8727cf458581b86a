import type { Rollout } from './rollout.js';

/** A rollout's change of state that operators watch for (metrics count it, the log has one line for it). */
export type RolloutTransitionKind = 'started' | 'promoted' | 'completed' | 'paused' | 'resumed' | 'rolled_back';

/**
 * What changed between two states of one rollout (`before` undefined: it was just started), or undefined when
 * nothing that counts did: a share step is 'promoted', reaching 100% 'completed', a rollback 'rolled_back' once.
 */
export function rolloutTransition(before: Rollout | undefined, after: Rollout): RolloutTransitionKind | undefined {
  if (!before) return 'started';
  const rollingBack = (r: Rollout) => r.status === 'rolling_back' || r.status === 'rolled_back';
  if (rollingBack(after)) return rollingBack(before) ? undefined : 'rolled_back';
  if (after.status === 'promoted') return before.status === 'promoted' ? undefined : 'completed';
  if (after.status === 'paused') return before.status === 'paused' ? undefined : 'paused';
  if (before.status === 'paused') return 'resumed';
  return after.percent > before.percent ? 'promoted' : undefined;
}

/** The log line of a transition. */
export function describeTransition(kind: RolloutTransitionKind, r: Rollout): string {
  const what = `${r.kind} rollout of ${r.workflow} v${r.from} -> v${r.to}`;
  switch (kind) {
    case 'started':
      return `${what} started at ${r.percent}%`;
    case 'promoted':
      return `${what} promoted to ${r.percent}%`;
    case 'completed':
      return `${what} completed: v${r.to} takes everything`;
    case 'rolled_back':
      return `${what} rolled back: ${r.outcome ?? 'no reason recorded'}`;
    default:
      return `${what} ${kind} at ${r.percent}%`;
  }
}
