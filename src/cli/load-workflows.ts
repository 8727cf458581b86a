import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { workflows as exampleWorkflows } from '../examples/index.js';
import { WaymarkError, type MigrationDefinition, type WorkflowDefinition } from '../index.js';
import { UsageError } from './errors.js';

/** What a workflow module gives a command: its workflow versions and the migrations between them. */
export interface WorkflowModule {
  workflows: WorkflowDefinition[];
  /** The module's migrations (made with defineMigration()); none for the examples. */
  migrations: MigrationDefinition[];
}

/**
 * Which workflows a command serves: `--workflows <module>`, and
 * the built-in examples only when asked for (`--examples`).
 */
export interface WorkflowChoice {
  /** The built-in example workflows as well. (Default: false) */
  examples?: boolean;
}

/**
 * The workflow versions a command serves: those the module exports (its `workflows` array, a default-exported
 * array, or any exported definitions), plus the examples with `examples`; none when neither is given.
 * The path is resolved from the current directory; `.ts` modules are loaded through tsx.
 */
export async function loadWorkflows(
  modulePath: string | undefined,
  choice: WorkflowChoice = {},
): Promise<WorkflowDefinition[]> {
  return (await loadWorkflowModule(modulePath, choice)).workflows;
}

/**
 * The workflows and migrations a module exports: named exports (`workflows`, `migrations` arrays, or the
 * definitions themselves) or a default export `{ workflows, migrations }`; plus the examples (which have no
 * migrations) with `examples`. Nothing when neither is given: the examples never run unless asked for.
 */
export async function loadWorkflowModule(
  modulePath: string | undefined,
  choice: WorkflowChoice = {},
): Promise<WorkflowModule> {
  const examples = choice.examples === true ? exampleWorkflows : [];
  if (modulePath === undefined) return { workflows: examples, migrations: [] };
  const file = resolve(process.cwd(), modulePath);
  if (!existsSync(file)) throw new UsageError(`workflow module '${modulePath}' does not exist (looked at ${file})`);
  if (/\.[mc]?ts$/.test(file)) await registerTypeScript(modulePath);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new WaymarkError(
      'E_INVALID_INPUT',
      `cannot load workflow module '${modulePath}': ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }
  const definitions = workflowsIn(exports);
  if (definitions.length === 0) {
    throw new UsageError(
      `workflow module '${modulePath}' exports no workflows: ` +
        `export \`workflows\` (an array of defineWorkflow() results) or the definitions themselves`,
    );
  }
  return { workflows: [...new Set([...examples, ...definitions])], migrations: migrationsIn(exports, modulePath) };
}

/** The module's migration called `name`; a usage error naming the known ones when there is none. */
export function findMigration(
  module: WorkflowModule,
  name: string,
  modulePath: string | undefined,
): MigrationDefinition {
  const found = module.migrations.find((m) => m.name === name);
  if (found) return found;
  if (modulePath === undefined)
    throw new UsageError(`--migration '${name}' needs the workflow module that exports it: give --workflows <module>`);
  const where = `workflow module '${modulePath}'`;
  const known = module.migrations.map((m) => `'${m.name}'`).join(', ');
  const none = 'it exports no migrations (export `migrations`, an array of defineMigration() results)';
  throw new UsageError(`no migration named '${name}' in ${where}: ${known === '' ? none : `known: ${known}`}`);
}

function workflowsIn(exports: Record<string, unknown>): WorkflowDefinition[] {
  // A CommonJS module's exports arrive as `default`; look inside it as well.
  const commonJs = isPlainObject(exports.default) ? (exports.default as Record<string, unknown>) : {};
  for (const candidate of [exports.workflows, exports.default, commonJs.workflows]) {
    if (Array.isArray(candidate)) {
      const bad = candidate.findIndex((item) => !isWorkflowDefinition(item));
      if (bad >= 0)
        throw new UsageError(
          `the module's workflows array holds an item (index ${bad}) not made with defineWorkflow()`,
        );
      return candidate as WorkflowDefinition[];
    }
  }
  return [...new Set([...Object.values(exports), ...Object.values(commonJs)].filter(isWorkflowDefinition))];
}

/** The `migrations` array (named, or in a default-exported object), else every exported migration definition. */
function migrationsIn(exports: Record<string, unknown>, modulePath: string): MigrationDefinition[] {
  const commonJs = isPlainObject(exports.default) ? (exports.default as Record<string, unknown>) : {};
  let migrations: MigrationDefinition[] | undefined;
  for (const candidate of [exports.migrations, commonJs.migrations]) {
    if (candidate === undefined) continue;
    if (!Array.isArray(candidate))
      throw new UsageError(
        `workflow module '${modulePath}': \`migrations\` must be an array of defineMigration() results`,
      );
    const bad = candidate.findIndex((item) => !isMigrationDefinition(item));
    if (bad >= 0)
      throw new UsageError(
        `the module's migrations array holds an item (index ${bad}) not made with defineMigration()`,
      );
    migrations = candidate as MigrationDefinition[];
    break;
  }
  migrations ??= [...new Set([...Object.values(exports), ...Object.values(commonJs)].filter(isMigrationDefinition))];
  const names = migrations.map((m) => m.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined)
    throw new UsageError(
      `workflow module '${modulePath}' exports two migrations named '${twice}': give each a distinct name`,
    );
  return migrations;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isWorkflowDefinition(value: unknown): value is WorkflowDefinition {
  const v = value as Partial<WorkflowDefinition> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.version === 'number' &&
    typeof v.run === 'function' &&
    typeof v.fingerprint === 'string'
  );
}

function isMigrationDefinition(value: unknown): value is MigrationDefinition {
  const v = value as Partial<MigrationDefinition> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    !('run' in v) &&
    typeof v.name === 'string' &&
    typeof v.workflow === 'string' &&
    Number.isInteger(v.from) &&
    Number.isInteger(v.to)
  );
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
      `cannot load TypeScript module '${modulePath}': tsx is needed (npm install --save-dev tsx) ` +
        `or compile it to .js first (${(error as Error)?.message ?? String(error)})`,
      { cause: error },
    );
  }
}
