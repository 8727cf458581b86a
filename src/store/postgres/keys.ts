import type pg from 'pg';
import { KEY_COLUMNS, keyFromRow, type KeyRow } from '../key-rows.js';
import type { ApiKeyRecord, KeyStore, NewApiKey } from '../types.js';

/** API keys and the token signing secret on PostgreSQL. */
export class PostgresKeys implements KeyStore {
  constructor(private readonly pool: pg.Pool) {}

  async createKey(key: NewApiKey): Promise<boolean> {
    const result = await this.pool.query({
      name: 'wm_create_key',
      text: `INSERT INTO api_keys (key_id, name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, now_ms()) ON
             CONFLICT (key_id) DO NOTHING`,
      values: [key.keyId, key.name, key.role, key.secretHash],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async getKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.pool.query<KeyRow>({
      name: 'wm_get_key',
      text: `SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_id = $1`,
      values: [keyId],
    });
    return rows[0] && keyFromRow(rows[0]);
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    const { rows } = await this.pool.query<KeyRow>({
      name: 'wm_list_keys',
      text: `SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id`,
    });
    return rows.map(keyFromRow);
  }

  async revokeKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.pool.query<KeyRow>({
      name: 'wm_revoke_key',
      text:
        'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now_ms()) WHERE key_id = $1 ' +
        `RETURNING ${KEY_COLUMNS}`,
      values: [keyId],
    });
    return rows[0] && keyFromRow(rows[0]);
  }

  async tokenSecret(candidate: string): Promise<string> {
    // One statement: the candidate is kept unless another process kept one first; either way the kept one is read.
    const { rows } = await this.pool.query<{ secret: string }>({
      name: 'wm_token_secret',
      text: `WITH kept AS (
               INSERT INTO token_secrets (name, secret, created_at) VALUES ('token', $1, now_ms())
               ON CONFLICT (name) DO NOTHING RETURNING secret)
             SELECT secret FROM kept UNION ALL SELECT secret FROM token_secrets WHERE name = 'token'`,
      values: [candidate],
    });
    if (rows[0]) return rows[0].secret;
    // Another process kept its candidate while this statement ran (its snapshot does not show it): read it now.
    const again = await this.pool.query<{ secret: string }>({
      name: 'wm_read_token_secret',
      text: "SELECT secret FROM token_secrets WHERE name = 'token'",
    });
    return again.rows[0]!.secret;
  }
}
