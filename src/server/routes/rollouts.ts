import type { FastifyPluginAsync } from 'fastify';
import type { RolloutKind, RolloutOptions } from '../../versions/rollout.js';
import type { RolloutAction } from '../../versions/rollout-steps.js';
import type { ServerContext } from '../context.js';
import { errors, listOf, object, percent, reason, ref, version, workflowName } from '../schemas.js';

const kind = {
  enum: ['starts', 'upgrade'],
  description:
    "starts: routed new starts; upgrade: the `from` version's in-flight runs, " +
    'upgraded share by share (default: starts)',
};

/** Health-gated rollouts: start (of starts or of in-flight runs), evaluate, and an operator's decisions. */
export const rolloutRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine }) => {
  const tags = ['rollouts'];
  app.get(
    '/v1/rollouts',
    {
      config: { role: 'reader' },
      schema: { summary: 'Every rollout, running or finished', tags, response: { 200: listOf('rollouts', 'Rollout') } },
    },
    async () => ({
      rollouts: await engine.rollouts(),
    }),
  );

  app.post<{ Body: RolloutOptions & { workflow: string; kind?: RolloutKind } }>(
    '/v1/rollouts',
    {
      config: { role: 'operator' },
      schema: {
        summary:
          'Start a progressive, health-gated rollout to a candidate version: of routed starts, or of in-flight runs',
        tags,
        body: object(
          {
            workflow: workflowName,
            kind,
            to: { ...version, description: 'the candidate version' },
            from: {
              ...version,
              description:
                'the version the rollout moves away from (default: the highest active version other than to)',
            },
            percent: {
              ...percent,
              description: "the candidate's first share of routed starts or of the in-flight runs (default: 5)",
            },
            step: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 100,
              description: 'added at each healthy promotion (default: 25)',
            },
            everyMs: {
              type: 'integer',
              minimum: 0,
              description: 'least time between promotions, in ms (default: 600000)',
            },
            maxFailureRatio: {
              type: 'number',
              exclusiveMinimum: 0,
              description: "roll back above this multiple of the current version's failure rate (default: 2)",
            },
            minSample: {
              type: 'integer',
              minimum: 1,
              description: 'finished candidate runs needed to judge health (default: 20)',
            },
          },
          ['workflow', 'to'],
        ),
        response: { 201: ref('Rollout'), ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { workflow, ...options } = request.body;
      return reply.code(201).send(await engine.startRollout(workflow, options));
    },
  );

  app.post(
    '/v1/rollouts/evaluate',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Look at each unfinished rollout once: roll back the unhealthy, promote the healthy on schedule',
        description:
          'Worker engines also do it on their own schedule; ' +
          'evaluators racing never both step a rollout. Moving runs needs both versions registered in the server.',
        tags,
        response: { 200: listOf('rollouts', 'Rollout') },
      },
    },
    async () => ({ rollouts: await engine.evaluateRollouts() }),
  );

  const actions: [RolloutAction, string][] = [
    ['promote', 'Finish a rollout now: all routed starts (the old version drains), or every compatible run upgraded'],
    ['pause', 'Hold its promotions (the health gate still rolls back)'],
    ['resume', 'Let a paused rollout promote again'],
    ['abort', 'Roll it back now: starts route back and replay-compatible candidate runs move back'],
  ];
  for (const [action, summary] of actions) {
    app.post<{ Params: { workflow: string }; Body: { reason?: string; kind?: RolloutKind } | undefined }>(
      `/v1/rollouts/:workflow/${action}`,
      {
        config: { role: 'operator' },
        schema: {
          summary,
          tags,
          params: object({ workflow: workflowName }, ['workflow']),
          body: object({
            reason: { ...reason, description: 'why (recorded in the outcome)' },
            kind: { ...kind, description: 'which rollout, when the workflow has both in progress' },
          }),
          optionalBody: true,
          response: { 200: ref('Rollout'), ...errors(400, 409) },
        },
      },
      async (request) =>
        engine.changeRollout(request.params.workflow, action, {
          kind: request.body?.kind,
          reason: request.body?.reason,
        }),
    );
  }
};
