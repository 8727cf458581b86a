import type Database from 'better-sqlite3';
import { eventHandlerFromRow, eventMessageFromRow, type EventHandlerRow, type EventMessageRow } from '../event-rows.js';
import type { EventStore, StoredEventHandler, StoredEventMessage } from '../types.js';
import type { Json } from '../../core/types.js';

/** The built-in queues and the event handlers on SQLite. */
export class SqliteEvents implements EventStore {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      publish: db.prepare(
        `INSERT INTO event_messages (queue, id, payload, created_at, visible_at, seq)
         VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM event_messages)) ON CONFLICT DO NOTHING`,
      ),
      claim: db.prepare(
        `UPDATE event_messages SET visible_at = ?, attempts = attempts + 1 WHERE rowid IN (
           SELECT rowid FROM event_messages WHERE queue = ? AND acked_at IS NULL AND visible_at <= ?
           ORDER BY seq LIMIT ?) RETURNING queue, id, payload, created_at, attempts, seq`,
      ),
      ack: db.prepare('UPDATE event_messages SET acked_at = ? WHERE queue = ? AND id = ? AND acked_at IS NULL'),
      release: db.prepare('UPDATE event_messages SET visible_at = ? WHERE queue = ? AND id = ? AND acked_at IS NULL'),
      pending: db.prepare('SELECT COUNT(*) AS n FROM event_messages WHERE queue = ? AND acked_at IS NULL'),
      create: db.prepare(
        `INSERT INTO event_handlers (name, event, active, definition, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      update: db.prepare(
        'UPDATE event_handlers SET event = ?, active = ?, definition = ?, updated_at = ? WHERE name = ?',
      ),
      list: db.prepare('SELECT * FROM event_handlers ORDER BY name'),
      remove: db.prepare('DELETE FROM event_handlers WHERE name = ?'),
    };
  }

  async publish(queue: string, id: string, payload: Json): Promise<boolean> {
    const now = Date.now();
    return this.sql.publish.run(queue, id, JSON.stringify(payload), now, now).changes > 0;
  }

  async claim(queue: string, limit: number, leaseMs: number): Promise<StoredEventMessage[]> {
    const now = Date.now();
    const rows = this.sql.claim.all(now + leaseMs, queue, now, limit) as (EventMessageRow & { seq: number })[];
    return rows.sort((a, b) => a.seq - b.seq).map(eventMessageFromRow);
  }

  async ack(queue: string, id: string): Promise<boolean> {
    return this.sql.ack.run(Date.now(), queue, id).changes > 0;
  }

  async release(queue: string, id: string): Promise<void> {
    this.sql.release.run(Date.now(), queue, id);
  }

  async pending(queue: string): Promise<number> {
    return (this.sql.pending.get(queue) as { n: number }).n;
  }

  async putHandler(
    handler: Pick<StoredEventHandler, 'name' | 'event' | 'active' | 'definition'>,
    mode: 'create' | 'update',
  ): Promise<boolean> {
    const now = Date.now();
    const definition = JSON.stringify(handler.definition);
    const active = handler.active ? 1 : 0;
    const result =
      mode === 'create'
        ? this.sql.create.run(handler.name, handler.event, active, definition, now, now)
        : this.sql.update.run(handler.event, active, definition, now, handler.name);
    return result.changes > 0;
  }

  async listHandlers(): Promise<StoredEventHandler[]> {
    return (this.sql.list.all() as EventHandlerRow[]).map(eventHandlerFromRow);
  }

  async deleteHandler(name: string): Promise<boolean> {
    return this.sql.remove.run(name).changes > 0;
  }
}
