import { Engine, type EngineOptions } from '../index.js';
import { storeLocation, type StoreOptions } from './args.js';

/**
 * Opens an engine on the command's store, runs `use` and closes the engine whatever happens.
 * A client (worker: false) unless `options.worker` says otherwise: it starts, signals and reads, executes nothing.
 */
export async function withEngine<T>(
  store: StoreOptions,
  options: Omit<EngineOptions, 'store'>,
  use: (engine: Engine, location: string) => Promise<T>,
): Promise<T> {
  const location = storeLocation(store);
  const engine = await Engine.open({ worker: false, ...options, store: location });
  try {
    return await use(engine, location);
  } finally {
    await engine.close();
  }
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
