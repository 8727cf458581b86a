import type pg from 'pg';
import { eventHandlerFromRow, eventMessageFromRow, type EventHandlerRow, type EventMessageRow } from '../event-rows.js';
import type { EventStore, StoredEventHandler, StoredEventMessage } from '../types.js';
import type { Json } from '../../core/types.js';

/** The built-in queues and the event handlers on PostgreSQL: claims skip rows another claim holds. */
export class PostgresEvents implements EventStore {
  constructor(private readonly pool: pg.Pool) {}

  async publish(queue: string, id: string, payload: Json): Promise<boolean> {
    const result = await this.pool.query({
      name: 'wm_event_publish',
      text: `INSERT INTO event_messages (queue, id, payload, created_at, visible_at)
             VALUES ($1, $2, $3, now_ms(), now_ms()) ON CONFLICT DO NOTHING`,
      values: [queue, id, JSON.stringify(payload)],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async claim(queue: string, limit: number, leaseMs: number): Promise<StoredEventMessage[]> {
    const { rows } = await this.pool.query<EventMessageRow & { seq: string }>({
      name: 'wm_event_claim',
      text: `UPDATE event_messages m SET visible_at = now_ms() + $3, attempts = m.attempts + 1
             FROM (SELECT queue, id FROM event_messages WHERE queue = $1 AND acked_at IS NULL AND visible_at <= now_ms()
                   ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) due
             WHERE m.queue = due.queue AND m.id = due.id
             RETURNING m.queue, m.id, m.payload, m.created_at, m.attempts, m.seq`,
      values: [queue, limit, leaseMs],
    });
    return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(eventMessageFromRow);
  }

  async ack(queue: string, id: string): Promise<boolean> {
    const result = await this.pool.query({
      name: 'wm_event_ack',
      text: 'UPDATE event_messages SET acked_at = now_ms() WHERE queue = $1 AND id = $2 AND acked_at IS NULL',
      values: [queue, id],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async release(queue: string, id: string): Promise<void> {
    await this.pool.query({
      name: 'wm_event_release',
      text: 'UPDATE event_messages SET visible_at = now_ms() WHERE queue = $1 AND id = $2 AND acked_at IS NULL',
      values: [queue, id],
    });
  }

  async pending(queue: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>({
      name: 'wm_event_pending',
      text: 'SELECT COUNT(*) AS n FROM event_messages WHERE queue = $1 AND acked_at IS NULL',
      values: [queue],
    });
    return Number(rows[0]!.n);
  }

  async putHandler(
    handler: Pick<StoredEventHandler, 'name' | 'event' | 'active' | 'definition'>,
    mode: 'create' | 'update',
  ): Promise<boolean> {
    const definition = JSON.stringify(handler.definition);
    const result =
      mode === 'create'
        ? await this.pool.query({
            name: 'wm_event_handler_create',
            text: `INSERT INTO event_handlers (name, event, active, definition, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, now_ms(), now_ms()) ON CONFLICT DO NOTHING`,
            values: [handler.name, handler.event, handler.active, definition],
          })
        : await this.pool.query({
            name: 'wm_event_handler_update',
            text: `UPDATE event_handlers SET event = $2, active = $3, definition = $4, updated_at = now_ms()
                   WHERE name = $1`,
            values: [handler.name, handler.event, handler.active, definition],
          });
    return (result.rowCount ?? 0) > 0;
  }

  async listHandlers(): Promise<StoredEventHandler[]> {
    const { rows } = await this.pool.query<EventHandlerRow>({
      name: 'wm_event_handlers',
      text: 'SELECT * FROM event_handlers ORDER BY name',
    });
    return rows.map(eventHandlerFromRow);
  }

  async deleteHandler(name: string): Promise<boolean> {
    const result = await this.pool.query({
      name: 'wm_event_handler_delete',
      text: 'DELETE FROM event_handlers WHERE name = $1',
      values: [name],
    });
    return (result.rowCount ?? 0) > 0;
  }
}
