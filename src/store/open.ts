import { WaymarkError } from '../core/errors.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

export interface OpenStoreOptions {
  /** SQLite durability: 'full' fsyncs every commit. (Default: 'full') */
  synchronous?: 'full' | 'normal';
}

/**
 * Opens a store from a location: 'sqlite:./file.db', 'sqlite::memory:', a bare path ending in .db,
 * or an already opened Store.
 */
export async function openStore(location: string | Store, options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof location !== 'string') return location;
  if (location.startsWith('sqlite:')) {
    const path = location.slice('sqlite:'.length);
    if (path === '') throw new WaymarkError('E_INVALID_INPUT', "store 'sqlite:' needs a path, e.g. 'sqlite:./waymark.db' or 'sqlite::memory:'");
    return new SqliteStore({ path, synchronous: options.synchronous });
  }
  if (location.startsWith('postgres://') || location.startsWith('postgresql://')) {
    throw new WaymarkError('E_INVALID_INPUT', 'the PostgreSQL store is not available in this build yet: use sqlite:<file>');
  }
  if (/\.(db|sqlite3?)$/.test(location)) return new SqliteStore({ path: location, synchronous: options.synchronous });
  throw new WaymarkError('E_INVALID_INPUT', `store '${location}' is not a known location: use 'sqlite:./waymark.db' or 'sqlite::memory:'`);
}
