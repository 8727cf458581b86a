import { WaymarkError } from '../core/errors.js';
import type { Store, WorkflowVersionRef } from '../store/types.js';
import type { WorkflowDefinition } from './workflow.js';

/** The workflow versions an engine knows: its own definitions (which it executes) and those other engines registered. */
export class WorkflowRegistry {
  private readonly local = new Map<string, WorkflowDefinition>();
  /** name -> versions registered in the store by any engine. */
  private readonly known = new Map<string, Set<number>>();

  constructor(definitions: WorkflowDefinition[]) {
    for (const definition of definitions) {
      if (!definition || typeof definition.run !== 'function' || typeof definition.fingerprint !== 'string') {
        throw new WaymarkError('E_INVALID_INPUT', 'workflows must be made with defineWorkflow()');
      }
      const key = keyOf(definition.name, definition.version);
      const existing = this.local.get(key);
      if (existing && existing.fingerprint !== definition.fingerprint) {
        throw new WaymarkError('E_VERSION_CONFLICT', `${definition.name} v${definition.version} is given twice with different code`);
      }
      this.local.set(key, definition);
      this.remember(definition.name, definition.version);
    }
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

  /** Learns the versions other engines registered in the store. */
  async learn(store: Store): Promise<void> {
    for (const record of await store.listWorkflowVersions()) this.remember(record.workflow, record.version);
  }

  async refreshIfUnknown(store: Store, workflow: string): Promise<void> {
    if (!this.known.has(workflow)) await this.learn(store);
  }

  /** The version a start uses: the pinned one (which must exist) or the highest registered. */
  resolveVersion(workflow: string, pinned: number | undefined): number {
    const versions = this.known.get(workflow);
    if (!versions || versions.size === 0) {
      const names = [...this.known.keys()].sort();
      throw new WaymarkError('E_UNKNOWN_WORKFLOW', `workflow '${workflow}' is not registered${names.length ? ` (known: ${names.join(', ')})` : ''}`, {
        details: { workflow, known: names },
      });
    }
    if (pinned === undefined) return Math.max(...versions);
    if (!Number.isInteger(pinned) || !versions.has(pinned)) {
      const list = [...versions].sort((a, b) => a - b);
      throw new WaymarkError('E_UNKNOWN_VERSION', `workflow '${workflow}' has no version ${String(pinned)} (registered: ${list.join(', ')})`, {
        details: { workflow, version: String(pinned), registered: list },
      });
    }
    return pinned;
  }

  private remember(workflow: string, version: number): void {
    let versions = this.known.get(workflow);
    if (!versions) this.known.set(workflow, (versions = new Set()));
    versions.add(version);
  }
}

const keyOf = (workflow: string, version: number) => `${workflow}@${version}`;
