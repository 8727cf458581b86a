/** Rows of the event tables, both dialects: read into StoredEventMessage / StoredEventHandler. */
import type { StoredEventHandler, StoredEventMessage } from './types.js';

/** A row of event_messages as both drivers read it (bigint columns may come as text). */
export interface EventMessageRow {
  queue: string;
  id: string;
  payload: string;
  created_at: number | string;
  attempts: number;
}

/** A row of event_handlers (`active` is 0/1 on SQLite, a boolean on PostgreSQL). */
export interface EventHandlerRow {
  name: string;
  event: string;
  active: number | boolean;
  definition: string;
  created_at: number | string;
  updated_at: number | string;
}

/** A message row as the store hands it out. */
export function eventMessageFromRow(row: EventMessageRow): StoredEventMessage {
  return {
    queue: row.queue,
    id: row.id,
    payload: JSON.parse(row.payload),
    createdAt: new Date(Number(row.created_at)),
    attempts: Number(row.attempts),
  };
}

/** A handler row as the store hands it out. */
export function eventHandlerFromRow(row: EventHandlerRow): StoredEventHandler {
  return {
    name: row.name,
    event: row.event,
    active: row.active === true || row.active === 1,
    definition: JSON.parse(row.definition),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}
