/**
 * `npm run bench [-- --scenario A,B --store sqlite:<path> | postgres://user@host:5432/db]`: runs each scenario
 * in its own node process (fresh heap, --expose-gc) and relays one JSON line per scenario on stdout; progress
 * goes to stderr. On PostgreSQL each scenario gets its own fresh schema, dropped afterwards. (Default: SQLite)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { redact, storeKind } from './lib.js';
import { SCENARIOS } from './scenarios/index.js';

function parseArgs(argv: string[]): { scenarios: string[]; store: string | undefined } {
  let scenarios = Object.keys(SCENARIOS);
  let store: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    if (flag === '--scenario' || flag === '--scenarios')
      scenarios = value()
        .split(',')
        .map((s) => s.trim().toUpperCase())
        .filter(Boolean);
    else if (flag === '--store') store = value();
    else if (flag === '--help' || flag === '-h') {
      process.stderr.write(
        `usage: npm run bench -- [--scenario ${Object.keys(SCENARIOS).join(',')}] ` +
          `[--store sqlite:<path> | postgres://user@host:5432/db]\n`,
      );
      process.exit(0);
    } else fail(`unknown argument '${arg}'`);
  }
  for (const s of scenarios)
    if (!(s in SCENARIOS)) fail(`unknown scenario '${s}' (known: ${Object.keys(SCENARIOS).join(', ')})`);
  if (store !== undefined && !store.startsWith('sqlite:') && storeKind(store) !== 'postgres') {
    fail(`--store must be sqlite:<path> or postgres://user@host:5432/db, got '${redact(store)}'`);
  }
  if (store === 'sqlite::memory:')
    fail('--store sqlite::memory: is not durable: the bench measures synchronous=FULL on a file');
  return { scenarios, store };
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function runScenario(id: string, store: string | undefined): Promise<number> {
  const main = fileURLToPath(new URL('./scenario-main.ts', import.meta.url));
  const args = ['--expose-gc', '--import', 'tsx', main, id];
  // The location goes through the environment, not argv: a PostgreSQL URL may hold a password.
  const env = { ...process.env, WAYMARK_BENCH_STORE: store ?? '' };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const { scenarios, store } = parseArgs(process.argv.slice(2));
let failures = 0;
const kind = store ? storeKind(store) : 'sqlite';
process.stderr.write(`[bench] store: ${kind}${store ? ` (${redact(store)})` : ' (temp file per scenario)'}\n`);
for (const id of scenarios) {
  const scenario = SCENARIOS[id]!;
  if (scenario.stores && !scenario.stores.includes(kind)) {
    process.stderr.write(
      `[bench] scenario ${id} skipped on ${kind}: ` +
        `${scenario.skipNote ?? `runs only on ${scenario.stores.join(', ')}`}\n`,
    );
    continue;
  }
  process.stderr.write(`[bench] scenario ${id}: ${scenario.name}\n`);
  const code = await runScenario(id, store);
  if (code !== 0) {
    failures++;
    process.stderr.write(`[bench] scenario ${id} exited with code ${code}\n`);
  }
}
process.exit(failures ? 1 : 0);
