import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { errors, object } from '../schemas.js';

const reportHead = {
  id: { type: 'integer' },
  kind: { type: 'string', enum: ['check', 'plan'] },
  createdAt: { type: 'string', format: 'date-time' },
  source: { type: 'string', enum: ['http', 'cli'] },
  actor: { type: ['string', 'null'] },
  summary: { type: 'object', additionalProperties: true, description: '{ safe, counts per verdict, workflows }' },
};
const required = ['id', 'kind', 'createdAt', 'source', 'actor', 'summary'];

/** GET /v1/deploy/reports(/:id): the deploy checks and plans run through the API or the CLI, as they answered. */
export const deployReportRoutes: FastifyPluginAsync<ServerContext> = async (app, { engine }) => {
  const tags = ['deploy'];
  app.get(
    '/v1/deploy/reports',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'The kept deploy checks and plans, newest first (at most 50), each with its summary',
        tags,
        response: {
          200: {
            type: 'object',
            required: ['reports'],
            properties: { reports: { type: 'array', items: { type: 'object', required, properties: reportHead } } },
          },
        },
      },
    },
    async () => ({ reports: await engine.deployReports(50) }),
  );
  app.get<{ Params: { id: number } }>(
    '/v1/deploy/reports/:id',
    {
      config: { role: 'reader' },
      schema: {
        summary: 'One kept deploy check or plan, with the full report it answered',
        tags,
        params: object({ id: { type: 'integer', minimum: 1, description: 'report id' } }, ['id']),
        response: {
          200: {
            type: 'object',
            required: [...required, 'report'],
            properties: { ...reportHead, report: { type: 'object', additionalProperties: true } },
          },
          ...errors(400, 404),
        },
      },
    },
    async (request) => engine.deployReport(request.params.id),
  );
};
