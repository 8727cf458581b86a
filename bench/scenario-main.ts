/**
 * Runs one scenario in this process: `WAYMARK_BENCH_STORE=[sqlite:<path> | postgres://...] node --expose-gc
 * --import tsx bench/scenario-main.ts <id>` (the location is read from the environment: it may hold a password).
 */
import { note, redact, removeDb, setStoreKind, storeKind, tempDbPath, type ScenarioContext } from './lib.js';
import { dropSchema, synchronousCommit, withFreshSchema } from './pg-schema.js';
import { SCENARIOS } from './scenarios/index.js';

const [id] = process.argv.slice(2);
const store = process.env.WAYMARK_BENCH_STORE || undefined;
const scenario = id ? SCENARIOS[id] : undefined;
if (!id || !scenario) {
  process.stderr.write(`bench: unknown scenario '${id ?? ''}'\n`);
  process.exit(2);
}
type RunScenario = (context: ScenarioContext) => Promise<void>;

async function onSqlite(run: RunScenario): Promise<void> {
  const dbPath = store ? store.slice('sqlite:'.length) : tempDbPath(id!);
  setStoreKind('sqlite', 'full');
  try {
    await run({ store: `sqlite:${dbPath}`, kind: 'sqlite', dbPath });
  } finally {
    if (!store) removeDb(dbPath);
    else note(`${id}: kept store ${dbPath}`);
  }
}

/** Each scenario gets its own fresh schema on the given database, dropped afterwards. */
async function onPostgres(run: RunScenario, location: string): Promise<void> {
  const fresh = withFreshSchema(location, id!);
  setStoreKind('postgres', await synchronousCommit(location));
  note(`${id}: PostgreSQL ${redact(fresh.store)}`);
  try {
    await run({ store: fresh.store, kind: 'postgres', dbPath: '' });
  } finally {
    await dropSchema(location, fresh.schema);
    note(`${id}: dropped schema ${fresh.schema}`);
  }
}

try {
  const run = await scenario!.load();
  if (store && storeKind(store) === 'postgres') await onPostgres(run, store);
  else await onSqlite(run);
} catch (error) {
  process.stderr.write(`bench: scenario ${id} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
