import { WaymarkError } from '../core/errors.js';
import { findUnstorable } from '../core/text.js';
import type { Json } from '../core/types.js';
import type { Store, TaskDefinition, WorkflowSource } from '../store/types.js';
import type { WorkflowRegistry } from './registry.js';
import type { WorkflowDefinition } from './workflow.js';

/**
 * Definitions are stored as queried JSON: a string in them must be storable text (E_INVALID_INPUT before anything is
 * written).
 */
function assertStorableJson(value: unknown, what: string): void {
  const problem = findUnstorable(value, 'definition');
  if (problem)
    throw new WaymarkError('E_INVALID_INPUT', `${what}: ${problem}: it cannot be stored`, {
      details: { field: problem.split(' ')[0]! },
    });
}

/** Turns a stored declarative source into an executable version (given by the layer that knows the format). */
export type SourceCompiler = (source: WorkflowSource) => WorkflowDefinition;

/**
 * Workflow versions registered while engines run (declarative ones, from their JSON source) and task
 * definitions. Sources are stored, so every engine with a compiler serves every declarative version.
 */
export class Definitions {
  private taskCache = new Map<string, Json>();

  constructor(
    private readonly store: Store,
    private readonly registry: WorkflowRegistry,
    private readonly compile: SourceCompiler | undefined,
    private readonly warn: (message: string, facts: Record<string, unknown>) => void,
  ) {}

  /**
   * Registers versions now. A name+version registered with another fingerprint is E_VERSION_CONFLICT, unless
   * `replace` — which is refused while that version has runs (their histories were made by the old one).
   */
  async register(definitions: WorkflowDefinition[], options: { replace?: boolean } = {}): Promise<void> {
    for (const d of definitions) {
      if (!d || typeof d.run !== 'function' || typeof d.fingerprint !== 'string')
        throw new WaymarkError('E_INVALID_INPUT', 'register needs workflow definitions');
      assertStorableJson(d.source, `workflow ${d.name} v${d.version}`);
    }
    const records = definitions.map((d) => ({ workflow: d.name, version: d.version, fingerprint: d.fingerprint }));
    const conflicts = await this.store.registerWorkflowVersions(records, { replace: false });
    if (conflicts.length && !options.replace) {
      const list = conflicts.map((c) => `${c.workflow} v${c.version}`).join(', ');
      throw new WaymarkError(
        'E_VERSION_CONFLICT',
        `${list} ${conflicts.length === 1 ? 'is' : 'are'} already registered with another definition: register a ` +
          `new version`,
        {
          details: conflicts as unknown as Json,
        },
      );
    }
    for (const c of conflicts) {
      const runs = await this.store.listRuns({ workflow: c.workflow, version: c.version, limit: 1 });
      if (runs.length)
        throw new WaymarkError(
          'E_VERSION_CONFLICT',
          `${c.workflow} v${c.version} has runs: it cannot be replaced, register a new version`,
          { details: { workflow: c.workflow, version: c.version } },
        );
    }
    if (conflicts.length) await this.store.registerWorkflowVersions(records, { replace: true });
    const sources = definitions
      .filter((d) => d.source !== undefined)
      .map((d) => ({ workflow: d.name, version: d.version, source: d.source! }));
    await this.store.definitions.saveSources(sources);
    for (const d of definitions) this.registry.add(d);
  }

  /** Forgets a version; refused (E_RUN_STATE) while it has runs. */
  async unregister(workflow: string, version: number): Promise<void> {
    await this.registry.refresh(this.store, workflow, 0);
    if (this.registry.statusOf(workflow, version) === undefined)
      throw new WaymarkError('E_UNKNOWN_VERSION', `${workflow} v${version} is not registered`, {
        details: { workflow, version },
      });
    if (!(await this.store.definitions.removeVersion(workflow, version))) {
      throw new WaymarkError(
        'E_RUN_STATE',
        `${workflow} v${version} has runs: their histories need it (drain and retire it instead)`,
        { details: { workflow, version } },
      );
    }
    this.registry.remove(workflow, version);
  }

  /** A declarative source compiled by this engine's compiler, as stored sources are (E_INVALID_INPUT without one). */
  compileSource(source: WorkflowSource): WorkflowDefinition {
    if (!this.compile)
      throw new WaymarkError('E_INVALID_INPUT', 'this engine compiles no declarative definitions (no compiler given)');
    return this.compile(source);
  }

  /** The stored sources of declarative versions. */
  sources(): Promise<WorkflowSource[]> {
    return this.store.definitions.listSources();
  }

  async saveTaskDefinitions(definitions: TaskDefinition[]): Promise<void> {
    for (const d of definitions) assertStorableJson(d.definition, `task definition '${d.name}'`);
    await this.store.definitions.saveTaskDefinitions(definitions);
    for (const d of definitions) this.taskCache.set(d.name, d.definition);
  }

  taskDefinitions(): Promise<TaskDefinition[]> {
    return this.store.definitions.listTaskDefinitions();
  }

  /** E_UNKNOWN_WORKFLOW-like E_TASK_NOT_FOUND when there is none of that name. */
  async removeTaskDefinition(name: string): Promise<void> {
    if (!(await this.store.definitions.removeTaskDefinition(name)))
      throw new WaymarkError('E_TASK_NOT_FOUND', `task definition '${name}' does not exist`, { details: { name } });
    this.taskCache.delete(name);
  }

  /** A task definition as last read (synchronous, for workflow code deciding retries). */
  taskDefinition(name: string): Json | undefined {
    return this.taskCache.get(name);
  }

  /**
   * Serves declarative versions other engines registered and re-reads task definitions (only an engine that compiles
   * sources reads them).
   */
  async sync(): Promise<void> {
    if (!this.compile) return;
    this.taskCache = new Map((await this.store.definitions.listTaskDefinitions()).map((d) => [d.name, d.definition]));
    for (const source of await this.store.definitions.listSources()) {
      if (this.registry.serves(source.workflow, source.version)) continue;
      try {
        this.registry.add(this.compile(source));
      } catch (error) {
        this.warn('a stored declarative version does not compile; it is not served here', {
          workflow: source.workflow,
          version: source.version,
          error: String(error),
        });
      }
    }
  }
}
