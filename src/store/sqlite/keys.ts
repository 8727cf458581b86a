import type Database from 'better-sqlite3';
import { KEY_COLUMNS, keyFromRow, type KeyRow } from '../key-rows.js';
import type { ApiKeyRecord, KeyStore, NewApiKey } from '../types.js';

/** API keys and the token signing secret on SQLite. */
export class SqliteKeys implements KeyStore {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      create: db.prepare(
        `INSERT INTO api_keys (key_id, name, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT
         (key_id) DO NOTHING`,
      ),
      get: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_id = ?`),
      list: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id`),
      revoke: db.prepare('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?'),
      keepSecret: db.prepare(
        "INSERT INTO token_secrets (name, secret, created_at) VALUES ('token', ?, ?) ON CONFLICT (name) DO NOTHING",
      ),
      secret: db.prepare("SELECT secret FROM token_secrets WHERE name = 'token'"),
    };
  }

  async createKey(key: NewApiKey): Promise<boolean> {
    return this.sql.create.run(key.keyId, key.name, key.role, key.secretHash, Date.now()).changes > 0;
  }

  async getKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const row = this.sql.get.get(keyId) as KeyRow | undefined;
    return row && keyFromRow(row);
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    return (this.sql.list.all() as KeyRow[]).map(keyFromRow);
  }

  async revokeKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    this.sql.revoke.run(Date.now(), keyId);
    return this.getKey(keyId);
  }

  async tokenSecret(candidate: string): Promise<string> {
    this.sql.keepSecret.run(candidate, Date.now());
    return (this.sql.secret.get() as { secret: string }).secret;
  }
}
