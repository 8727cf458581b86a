/**
 * Named fault points for crash tests, off unless the environment asks: `WAYMARK_FAULT=<point>[:<n>]` kills
 * this process with SIGKILL the n-th time (Default: 1) it reaches `<point>`.
 */
export type FaultPoint =
  /** A checkpoint's transaction committed; the engine has not yet seen the acknowledgement. */
  | 'commit-unacknowledged'
  /** A step's function returned (its side effect happened); its outcome is not yet recorded. */
  | 'step-effect'
  /** A run decided to suspend; its suspension is not yet committed. */
  | 'suspension'
  /** An upgrade or migration was verified; its commit is about to be sent. */
  | 'upgrade-commit';

const [armed, nth] = (process.env.WAYMARK_FAULT ?? '').split(':');
const killAt = Number(nth ?? 1);
let hits = 0;

/** Reaching a fault point: a real crash when it is armed, nothing otherwise. */
export function faultPoint(point: FaultPoint): void {
  if (armed !== point || ++hits < killAt) return;
  process.kill(process.pid, 'SIGKILL');
}
