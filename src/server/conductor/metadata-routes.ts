import type { FastifyInstance } from 'fastify';
import { WaymarkError } from '../../core/errors.js';
import type { Json } from '../../core/types.js';
import {
  checkJqQueries,
  compileWorkflowDef,
  declarativeSupport,
  type DeclarativeSupport,
} from '../../declarative/compile.js';
import type { DeclarativeOptions } from '../../declarative/limits.js';
import { parseTaskDef, parseTaskDefs, parseWorkflowDef, type WorkflowDef } from '../../declarative/definitions.js';
import type { Engine } from '../../engine.js';
import { MAX_VERSION } from '../../runtime/workflow.js';
import { ConductorError, conflict, notFound, toConductorError, type ValidationError } from './errors.js';
import { boolean, checkedTextAnywhere, integer, sendEmpty, sendJson } from './replies.js';
import { forAdmins, forReaders } from './route-roles.js';

type Query = Record<string, unknown>;

/**
 * Workflow and task definitions: declarative versions are registered with the engine at run time (their
 * source stored, so every engine with a compiler serves them); code workflows are listed with an empty
 * task graph. A version with runs is never replaced or removed (409): register a new version.
 */
export function metadataRoutes(
  app: FastifyInstance,
  engine: Engine,
  given?: DeclarativeSupport,
  options?: DeclarativeOptions,
): void {
  let support: Promise<DeclarativeSupport> | undefined = given && Promise.resolve(given);
  /** The sandbox and task definitions declarative runs use, loaded on first need. */
  const declarative = () =>
    (support ??= declarativeSupport(options).then((s) => {
      s.bind(engine);
      return s;
    }));
  const register = async (defs: WorkflowDef[], replace: boolean) => {
    const { env } = await declarative();
    for (const def of defs) await checkJqQueries(def);
    await engine.definitions.register(
      defs.map((def) => compileWorkflowDef(def, env)),
      { replace },
    );
  };

  app.post<{ Querystring: Query }>('/metadata/workflow', forAdmins, async (request, reply) => {
    const overwrite = boolean(request.query, 'overwrite', false);
    const def = parseWorkflowDef(checkedTextAnywhere(request.body, 'body'));
    if (!overwrite && (await registered(engine)).some((v) => v.workflow === def.name && v.version === def.version)) {
      throw conflict(
        `workflow ${def.name} version ${def.version} already exists: give overwrite=true, or register a new version`,
      );
    }
    await register([def], overwrite);
    return sendEmpty(reply);
  });

  app.put('/metadata/workflow', forAdmins, async (request, reply) => {
    const defs = parseAll(checkedTextAnywhere(request.body, 'body'));
    const result = {
      bulkErrorResults: Object.create(null) as Record<string, string>,
      bulkSuccessfulResults: [] as string[],
    };
    for (const def of defs) {
      try {
        await register([def], true);
        result.bulkSuccessfulResults.push(def.name);
      } catch (error) {
        const body = toConductorError(error);
        if (body.status >= 500) throw error;
        result.bulkErrorResults[def.name] = body.message;
      }
    }
    return sendJson(reply, result);
  });

  app.get('/metadata/workflow', forReaders, async (_request, reply) => sendJson(reply, await allDefinitions(engine)));

  app.post('/metadata/workflow/validate', forReaders, async (request, reply) => {
    const def = parseWorkflowDef(checkedTextAnywhere(request.body, 'body'));
    compileWorkflowDef(def, (await declarative()).env);
    return sendEmpty(reply);
  });

  app.get('/metadata/workflow/names', forReaders, async (_request, reply) =>
    sendJson(reply, [...new Set((await allDefinitions(engine)).map((d) => d.name))].sort()),
  );

  app.get('/metadata/workflow/names-and-versions', forReaders, async (_request, reply) => {
    const out: Record<string, { name: string; version: number; createTime: number }[]> = Object.create(null);
    for (const v of (await listed(engine)).sort((a, b) => a.version - b.version)) {
      const versions = out[v.workflow] ?? [];
      versions.push({ name: v.workflow, version: v.version, createTime: v.registeredAt.getTime() });
      out[v.workflow] = versions;
    }
    return sendJson(reply, out);
  });

  app.get('/metadata/workflow/latest-versions', forReaders, async (_request, reply) => {
    const latest = new Map<string, WorkflowDefJson>();
    for (const def of await allDefinitions(engine))
      if ((latest.get(def.name)?.version ?? 0) < def.version) latest.set(def.name, def);
    return sendJson(
      reply,
      [...latest.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    );
  });

  app.get<{ Params: { name: string } }>('/metadata/workflow/:name/versions', forReaders, async (request, reply) => {
    const defs = (await allDefinitions(engine))
      .filter((d) => d.name === request.params.name)
      .sort((a, b) => a.version - b.version);
    if (!defs.length) throw notFound(`no workflow definition ${request.params.name}`);
    return sendJson(reply, defs);
  });

  app.get<{ Params: { name: string }; Querystring: Query }>(
    '/metadata/workflow/:name',
    forReaders,
    async (request, reply) => {
      const version = integer(request.query, 'version', { min: 1, max: MAX_VERSION });
      const defs = (await allDefinitions(engine)).filter(
        (d) => d.name === request.params.name && (version === undefined || d.version === version),
      );
      const latest = defs.sort((a, b) => b.version - a.version)[0];
      if (!latest)
        throw notFound(
          `no workflow definition ${request.params.name}${version === undefined ? '' : ` version ${version}`}`,
        );
      return sendJson(reply, latest);
    },
  );

  app.delete<{ Params: { name: string; version: string } }>(
    '/metadata/workflow/:name/:version',
    forAdmins,
    async (request, reply) => {
      const version = integer({ version: request.params.version }, 'version', { min: 1, max: MAX_VERSION })!;
      const { name } = request.params;
      try {
        await engine.definitions.unregister(name, version);
      } catch (error) {
        if (!(error instanceof WaymarkError && error.code === 'E_RUN_STATE')) throw error;
        // Runs of it exist: their histories replay on its stored graph, which stays. As Conductor, the API answers
        // 200 and the version is gone from /api/metadata; it is retired: it takes no new starts.
        await engine.retire(name, version);
      }
      return sendEmpty(reply);
    },
  );

  app.post('/metadata/taskdefs', forAdmins, async (request, reply) => {
    const defs = parseTaskDefs(checkedTextAnywhere(request.body, 'body'));
    await engine.definitions.saveTaskDefinitions(defs.map((d) => ({ name: d.name, definition: d as unknown as Json })));
    return sendEmpty(reply);
  });

  app.put('/metadata/taskdefs', forAdmins, async (request, reply) => {
    const def = parseTaskDef(checkedTextAnywhere(request.body, 'body'));
    await engine.definitions.saveTaskDefinitions([{ name: def.name, definition: def as unknown as Json }]);
    return sendEmpty(reply);
  });

  app.get('/metadata/taskdefs', forReaders, async (_request, reply) =>
    sendJson(
      reply,
      (await engine.definitions.taskDefinitions()).map((d) => d.definition),
    ),
  );

  app.get<{ Params: { type: string } }>('/metadata/taskdefs/:type', forReaders, async (request, reply) => {
    const found = (await engine.definitions.taskDefinitions()).find((d) => d.name === request.params.type);
    if (!found) throw notFound(`no task definition '${request.params.type}'`);
    return sendJson(reply, found.definition);
  });

  app.delete<{ Params: { type: string } }>('/metadata/taskdefs/:type', forAdmins, async (request, reply) => {
    await engine.definitions.removeTaskDefinition(request.params.type);
    return sendEmpty(reply);
  });
}

/** Registered versions, code and declarative (retired ones included). */
async function registered(engine: Engine): Promise<{ workflow: string; version: number }[]> {
  return (await engine.versions()).map((v) => ({ workflow: v.workflow, version: v.version }));
}

/**
 * The versions /api/metadata shows: every registered one but the retired (what Conductor calls deleted: a
 * version deleted while it had runs is retired, its stored graph kept for them).
 */
async function listed(engine: Engine): Promise<{ workflow: string; version: number; registeredAt: Date }[]> {
  return (await engine.versions()).filter((v) => v.status !== 'retired');
}

/** Every registered version as a WorkflowDef: a declarative one's source, a code one with an empty task graph. */
async function allDefinitions(engine: Engine): Promise<WorkflowDefJson[]> {
  const sources = new Map((await engine.definitions.sources()).map((s) => [`${s.workflow}@${s.version}`, s.source]));
  return (await listed(engine)).map(({ workflow, version }) => {
    const source = sources.get(`${workflow}@${version}`);
    if (source !== null && typeof source === 'object' && !Array.isArray(source))
      return { ...source, name: workflow, version };
    const code: WorkflowDefJson = {
      name: workflow,
      version,
      description: 'a code workflow: its steps are TypeScript, not a task graph',
      schemaVersion: 2,
      restartable: true,
      tasks: [],
    };
    return code;
  });
}

interface WorkflowDefJson {
  name: string;
  version: number;
  [field: string]: Json;
}

/** Parses an array of WorkflowDefs; every problem of every one is reported at once (paths `[i].field`). */
function parseAll(body: unknown): WorkflowDef[] {
  if (!Array.isArray(body))
    throw new ConductorError(400, 'the body must be a JSON array of workflow definitions', [
      { path: '', message: 'must be an array', invalidValue: body ?? null },
    ]);
  const problems: ValidationError[] = [];
  const defs = body.map((item, i) => {
    try {
      return parseWorkflowDef(item);
    } catch (error) {
      const { validationErrors, message } = toConductorError(error);
      if (!validationErrors.length) problems.push({ path: `[${i}]`, message, invalidValue: null });
      for (const v of validationErrors) problems.push({ ...v, path: v.path ? `[${i}].${v.path}` : `[${i}]` });
      return undefined;
    }
  });
  if (problems.length)
    throw new ConductorError(
      400,
      `workflow definitions are invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}): ` +
        `${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      problems,
    );
  return defs as WorkflowDef[];
}
