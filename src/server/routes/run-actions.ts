import type { FastifyPluginAsync } from 'fastify';
import type { MigrationDefinition } from '../../core/migration.js';
import type { Json } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import type { OperatorResult, SkipStepOptions } from '../../runtime/operator.js';
import type { ServerContext } from '../context.js';
import { FieldError } from '../errors.js';
import { actingAs } from '../auth/guard.js';
import { actor, errors, object, reason, ref, runId, version } from '../schemas.js';

interface ActionBody {
  actor?: string;
  reason?: string;
  output?: Json;
}

interface ActionSpec {
  path: string;
  summary: string;
  call(engine: Engine, runId: string, options: SkipStepOptions): Promise<OperatorResult>;
}

/** The operator actions, one route each: POST /v1/runs/:id/actions/<path>. */
const ACTIONS: ActionSpec[] = [
  {
    path: 'retry-step',
    summary: 'Run the parked step (or failed compensation) of a needs_attention run again, same idempotency key',
    call: (e, id, o) => e.retryStep(id, o),
  },
  {
    path: 'skip-step',
    summary: "Record `output` as the parked step's result (or mark a failed compensation done) and go on",
    call: (e, id, o) => e.skipStep(id, o),
  },
  {
    path: 'compensate',
    summary: 'Abort the run and undo its completed reversible steps in reverse order',
    call: (e, id, o) => e.compensate(id, o),
  },
  {
    path: 'cancel',
    summary: 'Stop the run without undoing anything; it ends cancelled',
    call: (e, id, o) => e.cancel(id, o),
  },
  {
    path: 'resume',
    summary: 'Let a paused run go on, or one parked on a divergence (after a fix is deployed) or on its expiry',
    call: (e, id, o) => e.resume(id, o),
  },
  {
    path: 'pause',
    summary:
      'Pause a running or waiting run: ' +
      'nothing new executes (an executing one stops at its next operation) until resume',
    call: (e, id, o) => e.pause(id, o),
  },
];

const idParams = object({ id: runId }, ['id']);
const tags = ['operator'];
const who = { actor, reason };

/**
 * Operator actions, version changes and re-executions of one run; each recorded in its history with actor and reason
 * (on a server with auth, the key is the actor).
 */
export const runActionRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine, migrations }) => {
  for (const spec of ACTIONS) {
    const body =
      spec.path === 'skip-step'
        ? object({ ...who, output: { description: "the step's output: any JSON value (default: null)" } })
        : object(who);
    app.post<{ Params: { id: string }; Body: ActionBody | undefined }>(
      `/v1/runs/:id/actions/${spec.path}`,
      {
        config: { role: 'operator' },
        schema: {
          summary: spec.summary,
          description:
            "409 E_RUN_STATE when the action does not fit the run's state (nothing changes). `applied: " +
            'false`: handed to the worker executing the run.',
          tags,
          params: idParams,
          body,
          optionalBody: true,
          response: { 200: ref('OperatorResult'), ...errors(400, 404, 409) },
        },
      },
      async (request) => spec.call(engine, request.params.id, actingAs(request, request.body ?? {})),
    );
  }

  app.post<{
    Params: { id: string };
    Body: { to: number; migration?: string; dryRun?: boolean; actor?: string; reason?: string };
  }>(
    '/v1/runs/:id/upgrade',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Move an in-flight run to another version, once that version replays its history',
        description: 'A divergence refuses it (409 E_NONDETERMINISM, the verdict in details) and changes nothing.',
        tags,
        params: idParams,
        body: object(
          {
            to: { ...version, description: "target version (its code must be registered in the server's engine)" },
            migration: {
              type: 'string',
              minLength: 1,
              description: 'name of a migration the server was given: transforms the history first (default: none)',
            },
            dryRun: { type: 'boolean', description: 'verify and report only: nothing changes (default: false)' },
            ...who,
          },
          ['to'],
        ),
        response: { 200: ref('UpgradeResult'), ...errors(400, 404, 409) },
      },
    },
    async (request) => {
      const { migration: name, ...options } = actingAs(request, request.body);
      const migration = name === undefined ? undefined : byName(migrations, name, 'body.migration');
      if (migration && migration.to !== options.to)
        throw new FieldError(
          'body.to',
          `must be ${migration.to}: migration '${migration.name}' goes to v${migration.to}`,
        );
      return engine.upgrade(request.params.id, { ...options, migration });
    },
  );

  app.post<{
    Params: { id: string };
    Body: { version?: 'same' | 'latest' | number; actor?: string; reason?: string } | undefined;
  }>(
    '/v1/runs/:id/restart',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Run a finished run again from the start, with the same id; its earlier history is kept',
        tags,
        params: idParams,
        body: object({
          version: {
            anyOf: [{ type: 'string', enum: ['same', 'latest'] }, version],
            title: "'same', 'latest' or a version number",
            description: "the version to run (default: 'same')",
          },
          ...who,
        }),
        optionalBody: true,
        response: { 200: ref('Run'), ...errors(400, 404, 409) },
      },
    },
    async (request) => engine.restart(request.params.id, actingAs(request, request.body ?? {})),
  );

  app.post<{ Params: { id: string }; Body: { step: string; input?: Json; actor?: string; reason?: string } }>(
    '/v1/runs/:id/rerun',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Re-execute a finished run from one of its steps, keeping the checkpoints recorded before it',
        tags,
        params: idParams,
        body: object(
          {
            step: { type: 'string', minLength: 1, description: 'the step to re-execute from' },
            input: { description: "a new input (default: the run's input)" },
            ...who,
          },
          ['step'],
        ),
        response: { 200: ref('Run'), ...errors(400, 404, 409) },
      },
    },
    async (request) => {
      const { step, ...options } = request.body;
      return engine.rerunFrom(request.params.id, step, actingAs(request, options));
    },
  );

  app.post<{ Params: { id: string }; Body: { actor?: string; reason?: string } | undefined }>(
    '/v1/runs/:id/rollback-migration',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Take a migrated run back to its previous version and history, while no step has completed since',
        tags,
        params: idParams,
        body: object(who),
        optionalBody: true,
        response: { 200: ref('Run'), ...errors(400, 404, 409) },
      },
    },
    async (request) => engine.rollbackMigration(request.params.id, actingAs(request, request.body ?? {})),
  );
};

/** The server's migration called `name`; bad input naming `field` when there is none. */
export function byName(migrations: MigrationDefinition[], name: string, field: string): MigrationDefinition {
  const found = migrations.find((m) => m.name === name);
  if (found) return found;
  const known = migrations.map((m) => `'${m.name}'`).join(', ');
  throw new FieldError(
    field,
    `names no migration this server has (${known === '' ? 'it was given none' : `known: ${known}`})`,
  );
}
