/** Warnings for moving runs onto a version no live worker serves: nothing executes them there, they are stranded. */
import type { Store } from '../store/types.js';

/** How the runs move: moved now, would move (a dry run), or will move share by share (an upgrade rollout). */
export type Move = 'moved' | 'dry-run' | 'rollout';

/**
 * The warning for moving `runs` runs onto `workflow` v`version` when no live worker serves that version (they are
 * stranded there); none when one does or nothing moves.
 */
export async function unservedWarnings(
  store: Store,
  workflow: string,
  version: number,
  runs: number,
  move: Move,
): Promise<string[]> {
  if (runs === 0) return [];
  const workers = await store.liveWorkers();
  if (workers.some((w) => w.served.some((s) => s.workflow === workflow && s.version === version))) return [];
  const which = runs === 1 ? 'the run' : `the ${runs} runs`;
  const fate =
    move === 'dry-run'
      ? `${which} would be stranded on it`
      : move === 'rollout'
        ? `runs this rollout upgrades to it (of ${runs} eligible) are stranded`
        : `${which} upgraded to it ${runs === 1 ? 'is' : 'are'} stranded`;
  return [`no live worker serves ${workflow} v${version}: ${fate} until a worker serving v${version} starts`];
}
