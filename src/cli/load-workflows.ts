import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { workflows as exampleWorkflows } from '../examples/index.js';
import { WaymarkError, type WorkflowDefinition } from '../index.js';
import { UsageError } from './errors.js';

/**
 * The workflow versions a command serves: the examples when `modulePath` is absent, else those the module
 * exports (its `workflows` array, a default-exported array, or any exported definitions).
 * The path is resolved from the current directory; `.ts` modules are loaded through tsx.
 */
export async function loadWorkflows(modulePath: string | undefined): Promise<WorkflowDefinition[]> {
  if (modulePath === undefined) return exampleWorkflows;
  const file = resolve(process.cwd(), modulePath);
  if (!existsSync(file)) throw new UsageError(`workflow module '${modulePath}' does not exist (looked at ${file})`);
  if (/\.[mc]?ts$/.test(file)) await registerTypeScript(modulePath);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new WaymarkError('E_INVALID_INPUT', `cannot load workflow module '${modulePath}': ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  const definitions = workflowsIn(exports);
  if (definitions.length === 0) {
    throw new UsageError(`workflow module '${modulePath}' exports no workflows: export \`workflows\` (an array of defineWorkflow() results) or the definitions themselves`);
  }
  return definitions;
}

function workflowsIn(exports: Record<string, unknown>): WorkflowDefinition[] {
  // A CommonJS module's exports arrive as `default`; look inside it as well.
  const commonJs = isPlainObject(exports.default) ? (exports.default as Record<string, unknown>) : {};
  for (const candidate of [exports.workflows, exports.default, commonJs.workflows]) {
    if (Array.isArray(candidate)) {
      const bad = candidate.findIndex((item) => !isWorkflowDefinition(item));
      if (bad >= 0) throw new UsageError(`the module's workflows array holds an item (index ${bad}) not made with defineWorkflow()`);
      return candidate as WorkflowDefinition[];
    }
  }
  return [...new Set([...Object.values(exports), ...Object.values(commonJs)].filter(isWorkflowDefinition))];
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isWorkflowDefinition(value: unknown): value is WorkflowDefinition {
  const v = value as Partial<WorkflowDefinition> | null;
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.version === 'number' && typeof v.run === 'function' && typeof v.fingerprint === 'string';
}

let typeScriptRegistered = false;

/**
 * The CLI itself runs from TypeScript source (e.g. `node --import tsx src/cli/main.ts`): a TypeScript loader
 * is active already. Registering tsx again would transform modules twice and change the compiled text of
 * their functions, hence their workflows' fingerprints, so the same module would not match a worker's.
 */
const runningFromTypeScript = /\.[mc]?ts$/.test(new URL(import.meta.url).pathname);

/** Lets `import()` load TypeScript by registering tsx's loader (a dev dependency) for this process. */
async function registerTypeScript(modulePath: string): Promise<void> {
  if (typeScriptRegistered || runningFromTypeScript) return;
  try {
    // Both hooks: a .ts file outside a "type": "module" package is loaded as CommonJS.
    (await import('tsx/esm/api')).register();
    (await import('tsx/cjs/api')).register();
    typeScriptRegistered = true;
  } catch (error) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `cannot load TypeScript module '${modulePath}': tsx is needed (npm install --save-dev tsx) or compile it to .js first (${(error as Error)?.message ?? String(error)})`,
      { cause: error },
    );
  }
}
