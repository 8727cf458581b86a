import type { FastifyPluginAsync } from 'fastify';
import { defineMigration, type MigrationDefinition } from '../../core/migration.js';
import type { ServerContext } from '../context.js';
import { FieldError } from '../errors.js';
import { actor, errors, listOf, object, percent, reason, ref, version, workflowName } from '../schemas.js';
import { schedulesStarting } from '../../versions/accounting.js';
import { byName } from './run-actions.js';
import { actingAs } from '../auth/guard.js';

type VersionParams = { name: string; version: number };

interface MigrateBody {
  workflow: string;
  from: number;
  to: number;
  migration?: string;
  limit?: number;
  percent?: number;
  dryRun?: boolean;
  actor?: string;
  reason?: string;
}

const versionParams = object({ name: workflowName, version }, ['name', 'version']);

/** What each version-state route does. */
const STATES = [
  {
    path: 'drain',
    role: 'operator',
    status: 'draining',
    summary: 'Drain a version: no new routed starts (pinned ones need force); its runs go on',
  },
  {
    path: 'retire',
    role: 'admin',
    status: 'retired',
    summary: 'Retire a drained version; refused (409) while any of its runs is not finished',
  },
  {
    path: 'activate',
    role: 'admin',
    status: 'active',
    summary: 'Make a version take routed starts again and its runs execute again (undoes a drain or a quarantine)',
  },
  {
    path: 'quarantine',
    role: 'admin',
    status: 'quarantined',
    summary:
      "Stop a version's runs for a decision: " +
      'none is executed (running ones stop at their next step) and it takes no starts',
  },
] as const;

/** The active schedules pinned to a drained version, which still feed it, and a warning when there are any. */
async function pinnedFeeds(
  engine: ServerContext['engine'],
  workflow: string,
  version: number,
): Promise<{ schedules: string[]; warning?: string }> {
  const schedules = schedulesStarting(await engine.schedules.list(), workflow, version, 0);
  if (schedules.length === 0) return { schedules };
  const warning =
    `schedules pinned to ${workflow} v${version} still feed it: ${schedules.join(', ')}; they keep starting runs ` +
    'of it (a pinned start names its version on purpose) until they are paused or pinned to another version';
  return { schedules, warning };
}

/** Versions, workers, patches, routes and migrations. */
export const versionRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine, migrations }) => {
  const tags = ['versions'];
  app.get(
    '/v1/versions',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Every registered workflow version with run counts, serving workers and stranded runs',
        tags,
        response: { 200: listOf('versions', 'VersionSummary') },
      },
    },
    async () => ({
      versions: await engine.versions(),
    }),
  );
  app.get(
    '/v1/patches',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Per patch, how many in-flight runs still depend on its old branch',
        tags,
        response: { 200: listOf('patches', 'PatchUsage') },
      },
    },
    async () => ({
      patches: await engine.patches(),
    }),
  );
  app.get(
    '/v1/workers',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'Live workers and the versions each serves',
        tags,
        response: { 200: listOf('workers', 'WorkerRecord') },
      },
    },
    async () => ({
      workers: await engine.workers(),
    }),
  );

  for (const state of STATES) {
    app.post<{ Params: VersionParams }>(
      `/v1/workflows/:name/versions/:version/${state.path}`,
      {
        config: { role: state.role },
        schema: {
          summary: state.summary,
          tags,
          params: versionParams,
          response: { 200: ref('VersionState'), ...errors(400, 404, 409) },
        },
      },
      async (request) => {
        const { name, version: v } = request.params;
        await engine[state.path](name, v);
        if (state.path !== 'drain') return { workflow: name, version: v, status: state.status };
        return { workflow: name, version: v, status: state.status, ...(await pinnedFeeds(engine, name, v)) };
      },
    );
  }

  app.get<{ Params: { name: string } }>(
    '/v1/workflows/:name/route',
    {
      config: { role: 'reader' },
      schema: {
        summary: "A workflow's canary route (null: routed starts go to its highest active version)",
        tags,
        params: object({ name: workflowName }, ['name']),
        response: {
          200: {
            type: 'object',
            required: ['workflow', 'route'],
            properties: { workflow: { type: 'string' }, route: { anyOf: [ref('Route'), { type: 'null' }] } },
          },
          ...errors(400, 404),
        },
      },
    },
    async (request) => ({ workflow: request.params.name, route: await engine.route(request.params.name) }),
  );

  app.put<{ Params: { name: string }; Body: { current: number; candidate: number; percent: number } | null }>(
    '/v1/workflows/:name/route',
    {
      config: { role: 'operator' },
      schema: {
        summary:
          'Split routed starts between a current and a candidate version (a canary); a null body removes the split',
        tags,
        params: object({ name: workflowName }, ['name']),
        body: {
          ...object(
            {
              current: version,
              candidate: version,
              percent: { ...percent, description: "the candidate's share of routed starts, 0..100" },
            },
            ['current', 'candidate', 'percent'],
          ),
          type: ['object', 'null'],
          description: '{ current, candidate, percent }, or null to remove the split',
        },
        response: {
          200: {
            type: 'object',
            required: ['workflow', 'route'],
            properties: { workflow: { type: 'string' }, route: { anyOf: [ref('Route'), { type: 'null' }] } },
          },
          ...errors(400, 404, 409),
        },
      },
    },
    async (request) => {
      const route = request.body ?? null;
      await engine.setRoute(request.params.name, route);
      return { workflow: request.params.name, route };
    },
  );

  app.post<{ Body: MigrateBody }>(
    '/v1/migrate',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Migrate the in-flight runs of one version to another, each on its own; safe to run again',
        description:
          "Applies the named migration, else the server's one migration for workflow from -> to, " +
          'else a plain move (the history unchanged); each run is replayed on the target first, ' +
          'and a run it does not fit is refused and stays as it was.',
        tags,
        body: object(
          {
            workflow: workflowName,
            from: { ...version, description: 'the version whose in-flight runs move' },
            to: { ...version, description: "the target version (its code must be registered in the server's engine)" },
            migration: {
              type: 'string',
              minLength: 1,
              description: 'name of a migration the server was given (default: see above)',
            },
            limit: { type: 'integer', minimum: 1, description: 'most runs migrated (default: all)' },
            percent: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 100,
              description: 'share of the in-flight runs to migrate, oldest first (default: 100)',
            },
            dryRun: { type: 'boolean', description: 'verify each run only: nothing changes (default: false)' },
            actor,
            reason,
          },
          ['workflow', 'from', 'to'],
        ),
        response: { 200: ref('MigrateReport'), ...errors(400, 404, 409) },
      },
    },
    async (request) => {
      const { workflow, from, to, migration: name, dryRun = false, ...options } = actingAs(request, request.body);
      if (from === to) throw new FieldError('body.to', 'must differ from body.from');
      const migration = pick(migrations, workflow, from, to, name);
      const report = await engine.migrateAll({ migration, dryRun, ...options });
      return { migration: migration.name, dryRun, ...report };
    },
  );
};

/**
 * The named migration (which must go workflow from -> to), else the one registered for that move, else a plain move.
 */
function pick(
  migrations: MigrationDefinition[],
  workflow: string,
  from: number,
  to: number,
  name: string | undefined,
): MigrationDefinition {
  if (name !== undefined) {
    const named = byName(migrations, name, 'body.migration');
    if (named.workflow !== workflow || named.from !== from || named.to !== to) {
      throw new FieldError(
        'body.migration',
        `takes ${named.workflow} v${named.from} to v${named.to}, not ${workflow} v${from} to v${to}`,
      );
    }
    return named;
  }
  const fitting = migrations.filter((m) => m.workflow === workflow && m.from === from && m.to === to);
  if (fitting.length > 1)
    throw new FieldError(
      'body.migration',
      `is required: ${fitting.length} migrations take ${workflow} ` +
        `v${from} to v${to} (${fitting.map((m) => `'${m.name}'`).join(', ')})`,
    );
  return fitting[0] ?? defineMigration({ workflow, from, to });
}
