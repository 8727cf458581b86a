import { Engine, WaymarkError, type EngineOptions } from '../index.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { storeLocation, type StoreOptions } from './args.js';

/**
 * Opens an engine on the command's store, runs `use` and closes the engine whatever happens.
 * A client (worker: false) unless `options.worker` says otherwise: it starts, signals and reads, executes nothing.
 * The store must exist (E_STORE_NOT_FOUND, nothing created) unless
 * `options.create`: only `server`, `dev` and `start` create one.
 */
export async function withEngine<T>(
  store: StoreOptions,
  options: Omit<EngineOptions, 'store'>,
  use: (engine: Engine, location: string) => Promise<T>,
): Promise<T> {
  const location = storeLocation(store);
  const engine = await Engine.open({ worker: false, create: false, ...options, store: location }).catch(
    options.create ? rethrow : storeHint,
  );
  try {
    return await use(engine, location);
  } finally {
    await engine.close();
  }
}

/** Opens the command's store itself (it must exist: nothing is created), runs `use` and closes it whatever happens. */
export async function withStore<T>(store: StoreOptions, use: (store: Store) => Promise<T>): Promise<T> {
  const opened = await openStore(storeLocation(store), { create: false, poolSize: 2 }).catch(storeHint);
  try {
    return await use(opened);
  } finally {
    await opened.close();
  }
}

const rethrow = (error: unknown): never => {
  throw error;
};

/** A missing store (file or schema; Waymark never creates a database): say which commands create one. */
function storeHint(error: unknown): never {
  const missing =
    error instanceof WaymarkError ? (error.details as { missing?: string } | undefined)?.missing : undefined;
  if (error instanceof WaymarkError && error.code === 'E_STORE_NOT_FOUND' && missing !== 'database') {
    throw new WaymarkError(
      error.code,
      `${error.message}: check --db, or create the store with \`${cliName()} server\`, \`dev\` or \`start\``,
      { details: error.details, cause: error },
    );
  }
  throw error;
}

/** How to call this CLI again in hints: `waymark`, or the tsx command line it was started with. */
export function cliName(): string {
  const script = process.argv[1] ?? '';
  return /\.[mc]?ts$/.test(script) ? `npx tsx ${relativeScript(script)}` : 'waymark';
}

function relativeScript(script: string): string {
  const cwd = process.cwd();
  return script.startsWith(`${cwd}/`) ? script.slice(cwd.length + 1) : script;
}
