import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { actingAs } from '../auth/guard.js';
import {
  compareConductorSources,
  compileWorkflowDef,
  declarativeSupport,
  type DeclarativeSupport,
} from '../../declarative/compile.js';
import { parseWorkflowDef } from '../../declarative/definitions.js';
import type { ServerContext } from '../context.js';
import { errors, object, workflowName } from '../schemas.js';

interface CandidatesBody {
  definitions: unknown[];
  workflow?: string;
  sampleCompleted?: number;
}

const body = object(
  {
    definitions: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: { type: 'object' },
      description: 'candidate declarative workflow definitions (Conductor WorkflowDef JSON); nothing is registered',
    },
    workflow: { ...workflowName, description: 'only this workflow (default: all given)' },
    sampleCompleted: {
      type: 'integer',
      minimum: 0,
      maximum: 10_000,
      description: 'recently completed runs per workflow replayed too (default: 20)',
    },
  },
  ['definitions'],
);
const report = {
  type: 'object',
  additionalProperties: true,
  properties: {
    safe: { type: 'boolean' },
    workflows: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
};

/** Who asked, as deploy reports record it: the key on a server with auth, else nobody known. */
const actorOf = (request: FastifyRequest): string | null => actingAs<{ actor?: string }>(request, {}).actor ?? null;

/**
 * Deploy check and plan for declarative candidates (code candidates are checked with `waymark deploy check`):
 * every in-flight run replayed against each candidate graph, plus the structural diff against the registered one.
 * Each answer is kept as a deploy report (GET /v1/deploy/reports).
 */
export const deployRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine, declarative }) => {
  let support: Promise<DeclarativeSupport> | undefined = declarative && Promise.resolve(declarative);
  const candidates = async (definitions: unknown[]) => {
    support ??= declarativeSupport();
    const { env } = await support;
    return definitions.map((def) => compileWorkflowDef(parseWorkflowDef(def), env));
  };
  const tags = ['deploy'];
  app.post<{ Body: CandidatesBody }>(
    '/v1/deploy/check',
    {
      // Reads and replays only: nothing to audit.
      config: { role: 'operator', audit: false },
      schema: {
        summary:
          'Replay every in-flight run against candidate definitions: per-run verdicts, ' +
          'the change class, the structural diff, and whether it is safe',
        tags,
        body,
        response: { 200: report, ...errors(400) },
      },
    },
    async (request) => {
      const { definitions, ...options } = request.body;
      const keep = { source: 'http' as const, actor: actorOf(request) };
      const checked = { ...options, compareSources: compareConductorSources, keep };
      return engine.deployCheck(await candidates(definitions), checked);
    },
  );
  app.post<{ Body: CandidatesBody }>(
    '/v1/deploy/plan',
    {
      config: { role: 'operator', audit: false },
      schema: {
        summary:
          'The deploy check as a runbook: per-version upgrade/migrate/drain with ETAs, ' +
          'rollout steps, canary and rollback',
        tags,
        body,
        response: { 200: report, ...errors(400) },
      },
    },
    async (request) => {
      const { definitions, ...options } = request.body;
      const keep = { source: 'http' as const, actor: actorOf(request) };
      return engine.deployPlan(await candidates(definitions), {
        ...options,
        compareSources: compareConductorSources,
        keep,
      });
    },
  );
};
