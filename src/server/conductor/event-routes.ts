import type { FastifyInstance } from 'fastify';
import type { Json } from '../../core/types.js';
import type { Engine } from '../../engine.js';
import { badRequest } from './errors.js';
import { bodyObject, sendEmpty, sendJson, text } from './replies.js';
import { forAdmins, forReaders, forStarts } from './route-roles.js';

type Query = Record<string, unknown>;

/**
 * Conductor's event handlers (EventResource): create (POST), update (PUT), list, by event (`?activeOnly=`, Default
 * true as in Conductor), delete by name, and `handleIncomingEvent`: a message given directly to the active handlers
 * of its event, acknowledged (answered 200) once their actions are committed.
 */
export function eventRoutes(app: FastifyInstance, engine: Engine): void {
  app.post('/event', forAdmins, async (request, reply) => {
    await engine.events.createHandler(bodyObject(request.body, 'an event handler'));
    return sendEmpty(reply);
  });

  app.put('/event', forAdmins, async (request, reply) => {
    await engine.events.updateHandler(bodyObject(request.body, 'an event handler'));
    return sendEmpty(reply);
  });

  app.get('/event', forReaders, async (_request, reply) => sendJson(reply, await engine.events.listHandlers()));

  app.get<{ Params: { event: string }; Querystring: Query }>('/event/:event', forReaders, async (request, reply) => {
    const flag = text(request.query, 'activeOnly');
    if (flag !== undefined && flag !== 'true' && flag !== 'false') {
      throw badRequest('activeOnly', 'activeOnly must be true or false', flag);
    }
    return sendJson(reply, await engine.events.handlersFor(request.params.event, flag !== 'false'));
  });

  app.delete<{ Params: { name: string } }>('/event/:name', forAdmins, async (request, reply) => {
    await engine.events.deleteHandler(request.params.name);
    return sendEmpty(reply);
  });

  app.post('/event/handleIncomingEvent', forStarts, async (request, reply) => {
    const body = bodyObject(request.body, 'an incoming event');
    const event = body.event;
    if (typeof event !== 'string' || event === '') {
      throw badRequest('event', 'event (the queue URI, e.g. conductor:orders) is required', event ?? null);
    }
    const messageId = body.messageId;
    if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '' || messageId.length > 150)) {
      throw badRequest('messageId', 'messageId must be a non-empty string of at most 150 characters', messageId);
    }
    const { event: _event, messageId: _id, payload, ...rest } = body;
    const message = (payload !== undefined ? payload : rest) as Json;
    const outcomes = await engine.events.handleIncoming(event, message, messageId as string | undefined);
    return sendJson(reply, outcomes);
  });
}
