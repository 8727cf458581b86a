/**
 * `npm run bench [-- --scenario A,B --store sqlite:<path>]`: runs each scenario in its own node process
 * (fresh heap, --expose-gc) and relays one JSON line per scenario on stdout; progress goes to stderr.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SCENARIOS } from './scenarios/index.js';

function parseArgs(argv: string[]): { scenarios: string[]; store: string | undefined } {
  let scenarios = Object.keys(SCENARIOS);
  let store: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    if (flag === '--scenario' || flag === '--scenarios') scenarios = value().split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    else if (flag === '--store') store = value();
    else if (flag === '--help' || flag === '-h') {
      process.stderr.write(`usage: npm run bench -- [--scenario ${Object.keys(SCENARIOS).join(',')}] [--store sqlite:<path>]\n`);
      process.exit(0);
    } else fail(`unknown argument '${arg}'`);
  }
  for (const s of scenarios) if (!(s in SCENARIOS)) fail(`unknown scenario '${s}' (known: ${Object.keys(SCENARIOS).join(', ')})`);
  if (store !== undefined && !store.startsWith('sqlite:')) fail(`--store must be sqlite:<path>, got '${store}'`);
  if (store === 'sqlite::memory:') fail('--store sqlite::memory: is not durable: the bench measures synchronous=FULL on a file');
  return { scenarios, store };
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function runScenario(id: string, store: string | undefined): Promise<number> {
  const main = fileURLToPath(new URL('./scenario-main.ts', import.meta.url));
  const args = ['--expose-gc', '--import', 'tsx', main, id, ...(store ? [store] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const { scenarios, store } = parseArgs(process.argv.slice(2));
let failures = 0;
for (const id of scenarios) {
  process.stderr.write(`[bench] scenario ${id}: ${SCENARIOS[id]!.name}\n`);
  const code = await runScenario(id, store);
  if (code !== 0) {
    failures++;
    process.stderr.write(`[bench] scenario ${id} exited with code ${code}\n`);
  }
}
process.exit(failures ? 1 : 0);
