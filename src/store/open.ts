import { WaymarkError } from '../core/errors.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

export interface OpenStoreOptions {
  /** SQLite durability: 'full' fsyncs every commit. (Default: 'full') */
  synchronous?: 'full' | 'normal';
  /** PostgreSQL schema. (Default: the URL's `schema` parameter, else 'waymark') */
  schema?: string;
  /** PostgreSQL connections per engine. (Default: 10) */
  poolSize?: number;
  /**
   * Create the store (SQLite file, PostgreSQL schema) if it does not exist; false fails with E_STORE_NOT_FOUND and
   * creates nothing. (Default: true)
   */
  create?: boolean;
}

/**
 * Opens a store from a location: 'sqlite:./file.db', 'sqlite::memory:', a bare path ending in .db,
 * or 'postgres://user@host:5432/db[?schema=name]'.
 */
export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (location.startsWith('sqlite:')) {
    const path = location.slice('sqlite:'.length);
    if (path === '')
      throw new WaymarkError(
        'E_INVALID_INPUT',
        "store 'sqlite:' needs a path, e.g. 'sqlite:./waymark.db' or 'sqlite::memory:'",
      );
    return new SqliteStore({ path, synchronous: options.synchronous, create: options.create });
  }
  if (location.startsWith('postgres://') || location.startsWith('postgresql://')) {
    return PostgresStore.open({
      url: location,
      schema: options.schema,
      poolSize: options.poolSize,
      create: options.create,
    });
  }
  if (/\.(db|sqlite3?)$/.test(location))
    return new SqliteStore({ path: location, synchronous: options.synchronous, create: options.create });
  throw new WaymarkError(
    'E_INVALID_INPUT',
    `store '${location}' is not a known location: ` +
      `use 'sqlite:./waymark.db', ` +
      `'sqlite::memory:' or ` +
      `'postgres://user@host:5432/db'`,
  );
}

/**
 * A store location fit to print (banners, logs, errors): a URL's password, and a `password` query parameter,
 * become '***'. Anything that does not parse as a URL is returned as it is (a file path holds no password).
 */
export function printableLocation(location: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return location;
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    // Not a URL after all: hide whatever stands between '//' and '@', where a password would be.
    return location.replace(/\/\/[^/@]*@/, '//***@');
  }
  const secretParams = [...url.searchParams.keys()].filter((name) => name.toLowerCase() === 'password');
  if (url.password === '' && secretParams.length === 0) return location;
  if (url.password !== '') url.password = '***';
  for (const name of secretParams) url.searchParams.set(name, '***');
  return url.toString();
}
