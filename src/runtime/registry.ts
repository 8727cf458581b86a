import { createHash } from 'node:crypto';
import { WaymarkError } from '../core/errors.js';
import type { Route, Store, VersionStatus, WorkflowVersionRef } from '../store/types.js';
import type { WorkflowDefinition } from './workflow.js';

/** The workflow versions an engine knows: its own definitions (which it executes) and those other engines registered. */
export class WorkflowRegistry {
  private readonly local = new Map<string, WorkflowDefinition>();
  /** name -> version -> lifecycle status, as registered in the store by any engine. */
  private readonly known = new Map<string, Map<number, VersionStatus>>();
  private learnedAt = 0;
  private routes = new Map<string, Route>();

  constructor(definitions: WorkflowDefinition[]) {
    for (const definition of definitions) {
      if (!definition || typeof definition.run !== 'function' || typeof definition.fingerprint !== 'string') {
        throw new WaymarkError('E_INVALID_INPUT', 'workflows must be made with defineWorkflow()');
      }
      const key = keyOf(definition.name, definition.version);
      const existing = this.local.get(key);
      if (existing && existing.fingerprint !== definition.fingerprint) {
        throw new WaymarkError(
          'E_VERSION_CONFLICT',
          `${definition.name} v${definition.version} is given twice with different code`,
        );
      }
      this.local.set(key, definition);
      this.remember(definition.name, definition.version);
    }
  }

  /** Adds (or, with `replace`, swaps) a version this engine executes, e.g. a declarative version registered at run time. */
  add(definition: WorkflowDefinition): void {
    this.local.set(keyOf(definition.name, definition.version), definition);
    this.remember(definition.name, definition.version);
  }

  /** Forgets a version (it was unregistered). */
  remove(workflow: string, version: number): void {
    this.local.delete(keyOf(workflow, version));
    this.known.get(workflow)?.delete(version);
  }

  /** Versions this engine executes. */
  served(): WorkflowVersionRef[] {
    return [...this.local.values()].map((d) => ({ workflow: d.name, version: d.version }));
  }

  records() {
    return [...this.local.values()].map((d) => ({ workflow: d.name, version: d.version, fingerprint: d.fingerprint }));
  }

  get(workflow: string, version: number): WorkflowDefinition | undefined {
    return this.local.get(keyOf(workflow, version));
  }

  serves(workflow: string, version: number): boolean {
    return this.local.has(keyOf(workflow, version));
  }

  /** Learns the versions registered in the store (by any engine) and their lifecycle status. */
  async learn(store: Store): Promise<void> {
    const [versions, routes] = await Promise.all([store.listWorkflowVersions(), store.listRoutes()]);
    for (const record of versions) this.remember(record.workflow, record.version, record.status);
    this.routes = new Map(routes.map((r) => [r.workflow, r]));
    this.learnedAt = Date.now();
  }

  /** Records a route change made by this engine at once. */
  setRoute(workflow: string, route: Route | null): void {
    if (route) this.routes.set(workflow, route);
    else this.routes.delete(workflow);
  }

  routeOf(workflow: string): Route | undefined {
    return this.routes.get(workflow);
  }

  /** Re-reads the store when the workflow is unknown or what we know is older than `maxAgeMs`. (Default: 1000) */
  async refresh(store: Store, workflow: string, maxAgeMs = 1_000): Promise<void> {
    if (!this.known.has(workflow) || Date.now() - this.learnedAt > maxAgeMs) await this.learn(store);
  }

  /** Which side of its workflow's canary route a version is on: the candidate, or the current line (no route: current). */
  lineOf(workflow: string, version: number): VersionLine {
    const route = this.routes.get(workflow);
    return route && route.candidate === version && route.current !== version ? 'candidate' : 'current';
  }

  /** Records a status change made by this engine at once. */
  setStatus(workflow: string, version: number, status: VersionStatus): void {
    this.remember(workflow, version, status);
  }

  statusOf(workflow: string, version: number): VersionStatus | undefined {
    return this.known.get(workflow)?.get(version);
  }

  /**
   * The version a start uses. Routed (no pin): the route's current version (or its active candidate, for
   * the route's share of starts), else the highest active version. Pinned: that version, which must exist
   * and not be retired; a draining one only with `force`.
   */
  resolveVersion(
    workflow: string,
    pinned: number | undefined,
    force = false,
    routeKey?: string,
    line?: VersionLine,
  ): number {
    const versions = this.known.get(workflow);
    if (!versions || versions.size === 0) {
      const names = [...this.known.keys()].sort();
      throw new WaymarkError(
        'E_UNKNOWN_WORKFLOW',
        `workflow '${workflow}' is not registered${names.length ? ` (known: ${names.join(', ')})` : ''}`,
        {
          details: { workflow, known: names },
        },
      );
    }
    const route = this.routes.get(workflow);
    if (pinned === undefined && route && versions.get(route.current) === 'active') {
      const draw = line === undefined ? canaryDraw(workflow, routeKey) * 100 < route.percent : line === 'candidate';
      const canary = versions.get(route.candidate) === 'active' && draw;
      return canary ? route.candidate : route.current;
    }
    if (pinned === undefined) {
      const active = [...versions].filter(([, status]) => status === 'active').map(([v]) => v);
      if (active.length === 0) {
        throw new WaymarkError(
          'E_VERSION_UNAVAILABLE',
          `workflow '${workflow}' has no active version: all are draining or retired`,
          { details: { workflow } },
        );
      }
      return Math.max(...active);
    }
    if (!Number.isInteger(pinned) || !versions.has(pinned)) {
      const list = [...versions.keys()].sort((a, b) => a - b);
      throw new WaymarkError(
        'E_UNKNOWN_VERSION',
        `workflow '${workflow}' has no version ${String(pinned)} (registered: ${list.join(', ')})`,
        {
          details: { workflow, version: String(pinned), registered: list },
        },
      );
    }
    const status = versions.get(pinned)!;
    if (status === 'retired' || status === 'quarantined' || (status === 'draining' && !force)) {
      const hint = status === 'draining' ? ' (pass force to start it anyway)' : '';
      throw new WaymarkError(
        'E_VERSION_UNAVAILABLE',
        `${workflow} v${pinned} is ${status}: it takes no new starts${hint}`,
        { details: { workflow, version: pinned, status } },
      );
    }
    return pinned;
  }

  private remember(workflow: string, version: number, status?: VersionStatus): void {
    let versions = this.known.get(workflow);
    if (!versions) this.known.set(workflow, (versions = new Map()));
    versions.set(version, status ?? versions.get(version) ?? 'active');
  }
}

const keyOf = (workflow: string, version: number) => `${workflow}@${version}`;

/** A side of a canary route: a run started by another run takes the side its parent is on. */
export type VersionLine = 'current' | 'candidate';

/** A number in [0, 1): random per start, or fixed per route key so one customer always lands on one version. */
function canaryDraw(workflow: string, routeKey: string | undefined): number {
  if (routeKey === undefined) return Math.random();
  return createHash('sha256').update(`${workflow}\n${routeKey}`).digest().readUInt32BE(0) / 2 ** 32;
}
