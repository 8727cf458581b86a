import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';
import type { SourceCompiler } from '../runtime/definitions.js';
import type { KernelApi } from '../runtime/kernel.js';
import { defineWorkflow, type WorkflowDefinition } from '../runtime/workflow.js';
import {
  definitionFingerprint,
  parseTaskDef,
  parseWorkflowDef,
  type TaskDef,
  type WorkflowDef,
} from './definitions.js';
import { flattenTasks, structuralDiff } from './diff.js';
import { jqSyntaxError } from './jq.js';
import { Problems } from './problems.js';
import { Interpreter, type DeclarativeEnv } from './interpreter.js';
import { resolveLimits, type DeclarativeOptions } from './limits.js';
import { sharedSandboxPool } from './sandbox-pool.js';
import { SubWorkflowRunner } from './sub-workflows.js';

/**
 * A declarative workflow version as an executable one: its runs are interpreted on the kernel (replayable,
 * versioned, upgradable like code). The fingerprint is the graph's, so a changed graph is a changed version.
 */
export function compileWorkflowDef(def: WorkflowDef, env: DeclarativeEnv): WorkflowDefinition {
  const timeout =
    def.timeoutSeconds > 0 && def.timeoutPolicy === 'TIME_OUT_WF'
      ? { maxLifetimeMs: def.timeoutSeconds * 1000, onExpire: 'fail' as const }
      : {};
  const definition = defineWorkflow({
    name: def.name,
    version: def.version,
    run: (ctx, input: Json) => new Interpreter(ctx, def, env, input).run(),
    source: def as unknown as Json,
    ...timeout,
  });
  return Object.freeze({ ...definition, fingerprint: definitionFingerprint(def) });
}

/** What an engine needs to serve declarative workflows: the sandbox, and task definitions read through the engine. */
export interface DeclarativeSupport {
  env: DeclarativeEnv;
  /** For `Engine.open({ compile })`: stored sources become executable versions. */
  compile: SourceCompiler;
  /** Connects the engine whose task definitions runs read, and runs its SUB_WORKFLOW tasks. */
  bind(engine: BoundEngine): void;
}

/** The engine declarative runs are bound to: the kernel's API and, for EVENT tasks, its event queues. */
export type BoundEngine = KernelApi & {
  events?: { publish(uri: string, payload: Json, id: string): Promise<string> };
};

/**
 * The sandbox, limits and task definitions declarative runs use. Expressions run on shared worker threads;
 * bad options are E_INVALID_INPUT.
 */
export async function declarativeSupport(options: DeclarativeOptions = {}): Promise<DeclarativeSupport> {
  const limits = resolveLimits(options);
  const sandbox = sharedSandboxPool({ threads: limits.sandboxThreads });
  let engine: BoundEngine | undefined;
  const parsed = new Map<string, { source: Json; def: TaskDef }>();
  const env: DeclarativeEnv = {
    sandbox,
    limits,
    taskDef(name) {
      const source = engine?.definitions.taskDefinition(name);
      if (source === undefined) return undefined;
      const known = parsed.get(name);
      if (known?.source === source) return known.def;
      const def = parseTaskDef(source);
      parsed.set(name, { source, def });
      return def;
    },
    start: async (workflow, input, id, options = {}) => (await engine!.start(workflow, input, { id, ...options })).id,
    publish: async (sink, payload, id) => {
      const events = engine?.events;
      if (!events) throw new WaymarkError('E_INVALID_INPUT', 'this engine has no event queues');
      await events.publish(sink, payload, id);
    },
  };
  return {
    env,
    compile: (stored) => compileWorkflowDef(parseWorkflowDef(stored.source), env),
    bind: (bound) => {
      engine = bound;
      // stops by itself once the engine is closed
      new SubWorkflowRunner(bound, { maxDepth: limits.maxSubWorkflowDepth }).start();
    },
  };
}

/** For deploy checks: the structural diff between two stored Conductor sources. */
export function compareConductorSources(from: Json, to: Json): Json {
  return structuralDiff(parseWorkflowDef(from), parseWorkflowDef(to)) as unknown as Json;
}

/**
 * Compiles (never runs) the jq query of every JSON_JQ_TRANSFORM whose queryExpression is written in the definition;
 * a syntax error is E_INVALID_INPUT naming the task, as parseWorkflowDef's problems are.
 */
export async function checkJqQueries(def: WorkflowDef): Promise<void> {
  const problems = new Problems();
  for (const { task, path } of flattenTasks(def)) {
    const query = task.type === 'JSON_JQ_TRANSFORM' ? task.inputParameters.queryExpression : undefined;
    if (typeof query !== 'string' || query.includes('${')) continue;
    const error = await jqSyntaxError(query);
    if (error) problems.add(`${path}.inputParameters.queryExpression`, error, query);
  }
  if (problems.any()) throw problems.error(`workflow definition '${def.name}'`);
}
