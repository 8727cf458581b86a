/** Runs one scenario in this process: `node --expose-gc --import tsx bench/scenario-main.ts <id> [sqlite:<path>]`. */
import { note, removeDb, tempDbPath } from './lib.js';
import { SCENARIOS } from './scenarios/index.js';

const [id, store] = process.argv.slice(2);
const scenario = id ? SCENARIOS[id] : undefined;
if (!id || !scenario) {
  process.stderr.write(`bench: unknown scenario '${id ?? ''}'\n`);
  process.exit(2);
}
const dbPath = store ? store.slice('sqlite:'.length) : tempDbPath(id);
try {
  const run = await scenario.load();
  await run({ store: `sqlite:${dbPath}`, dbPath });
} catch (error) {
  process.stderr.write(`bench: scenario ${id} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
} finally {
  if (!store) removeDb(dbPath);
  else note(`${id}: kept store ${dbPath}`);
}
process.exit(process.exitCode ?? 0);
