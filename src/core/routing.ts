/**
 * Version choice for a new start, as a pure function of what is known: the workflow's versions and their
 * status, its canary route, the pin, and a draw. The registry holds the facts; this decides.
 */
import { WaymarkError } from './errors.js';

/**
 * active: takes starts; draining: no new routed starts; retired: done; quarantined: its runs are not executed until an
 * operator decides.
 */
export type VersionStatus = 'active' | 'draining' | 'retired' | 'quarantined';

/** A canary route: unpinned starts go to `candidate` with probability `percent`/100, else to `current`. */
export interface Route {
  workflow: string;
  current: number;
  candidate: number;
  /** 0..100. */
  percent: number;
}

/** A side of a canary route: a run started by another run takes the side its parent is on. */
export type VersionLine = 'current' | 'candidate';

/** What a start asks for and what is known about its workflow. */
export interface VersionChoice {
  workflow: string;
  /** The workflow's registered versions and their status; empty when the workflow is unknown. */
  versions: ReadonlyMap<number, VersionStatus>;
  /** Every known workflow name, for the error when `workflow` is not one. */
  known: readonly string[];
  route: Route | undefined;
  pinned: number | undefined;
  /** Start a pinned draining version anyway. (Default: false) */
  force?: boolean;
  /** The parent's side of the canary, for a run started by another run. (Default: drawn) */
  line?: VersionLine | undefined;
  /** A number in [0, 1) deciding the canary share; only called for a routed start without a line. */
  draw: () => number;
}

/**
 * The version a start uses. Routed (no pin): the route's current version (or its active candidate, for the
 * route's share of starts), else the highest active version. Pinned: that version, which must exist and not
 * be retired or quarantined; a draining one only with `force`.
 */
export function chooseVersion(choice: VersionChoice): number {
  const { workflow, versions, route, pinned } = choice;
  if (versions.size === 0) {
    const names = [...choice.known].sort();
    const known = names.length ? ` (known: ${names.join(', ')})` : '';
    throw new WaymarkError('E_UNKNOWN_WORKFLOW', `workflow '${workflow}' is not registered${known}`, {
      details: { workflow, known: names },
    });
  }
  if (pinned === undefined) return routedVersion(choice, versions, route);
  if (!Number.isInteger(pinned) || !versions.has(pinned)) {
    const list = [...versions.keys()].sort((a, b) => a - b);
    throw new WaymarkError(
      'E_UNKNOWN_VERSION',
      `workflow '${workflow}' has no version ${String(pinned)} (registered: ${list.join(', ')})`,
      { details: { workflow, version: String(pinned), registered: list } },
    );
  }
  const status = versions.get(pinned)!;
  if (status === 'retired' || status === 'quarantined' || (status === 'draining' && choice.force !== true)) {
    const hint = status === 'draining' ? ' (pass force to start it anyway)' : '';
    throw new WaymarkError(
      'E_VERSION_UNAVAILABLE',
      `${workflow} v${pinned} is ${status}: it takes no new starts${hint}`,
      {
        details: { workflow, version: pinned, status },
      },
    );
  }
  return pinned;
}

function routedVersion(
  choice: VersionChoice,
  versions: ReadonlyMap<number, VersionStatus>,
  route: Route | undefined,
): number {
  if (route && versions.get(route.current) === 'active') {
    const onCandidate = choice.line === undefined ? choice.draw() * 100 < route.percent : choice.line === 'candidate';
    return versions.get(route.candidate) === 'active' && onCandidate ? route.candidate : route.current;
  }
  const active = [...versions].filter(([, status]) => status === 'active').map(([version]) => version);
  if (active.length === 0) {
    throw new WaymarkError(
      'E_VERSION_UNAVAILABLE',
      `workflow '${choice.workflow}' has no active version: all are draining or retired`,
      { details: { workflow: choice.workflow } },
    );
  }
  return Math.max(...active);
}

/**
 * Which side of its workflow's canary route a version is on: the candidate, or the current line (no route: current).
 */
export function lineOf(route: Route | undefined, version: number): VersionLine {
  return route && route.candidate === version && route.current !== version ? 'candidate' : 'current';
}
