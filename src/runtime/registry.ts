import { createHash } from 'node:crypto';
import { WaymarkError } from '../core/errors.js';
import type { Route, Store, VersionStatus, WorkflowVersionRef } from '../store/types.js';
import { chooseVersion, lineOf, type VersionLine } from '../core/routing.js';
import type { WorkflowDefinition } from './workflow.js';

/**
 * The workflow versions an engine knows: its own definitions (which it executes) and those other engines registered.
 */
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

  /**
   * Adds (or, with `replace`, swaps) a version this engine executes, e.g. a declarative version registered at run time.
   */
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

  /** Which side of its workflow's canary route a version is on. */
  lineOf(workflow: string, version: number): VersionLine {
    return lineOf(this.routes.get(workflow), version);
  }

  /** Records a status change made by this engine at once. */
  setStatus(workflow: string, version: number, status: VersionStatus): void {
    this.remember(workflow, version, status);
  }

  statusOf(workflow: string, version: number): VersionStatus | undefined {
    return this.known.get(workflow)?.get(version);
  }

  /** The version a start uses (see `chooseVersion`): the draw is random per start, or fixed per route key. */
  resolveVersion(
    workflow: string,
    pinned: number | undefined,
    force = false,
    routeKey?: string,
    line?: VersionLine,
  ): number {
    return chooseVersion({
      workflow,
      versions: this.known.get(workflow) ?? new Map(),
      known: [...this.known.keys()],
      route: this.routes.get(workflow),
      pinned,
      force,
      line,
      draw: () => canaryDraw(workflow, routeKey),
    });
  }

  private remember(workflow: string, version: number, status?: VersionStatus): void {
    let versions = this.known.get(workflow);
    if (!versions) {
      versions = new Map();
      this.known.set(workflow, versions);
    }
    versions.set(version, status ?? versions.get(version) ?? 'active');
  }
}

const keyOf = (workflow: string, version: number) => `${workflow}@${version}`;

/** A number in [0, 1): random per start, or fixed per route key so one customer always lands on one version. */
function canaryDraw(workflow: string, routeKey: string | undefined): number {
  if (routeKey === undefined) return Math.random();
  return createHash('sha256').update(`${workflow}\n${routeKey}`).digest().readUInt32BE(0) / 2 ** 32;
}
