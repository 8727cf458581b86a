/**
 * The layers of DESIGN.md, enforced: every import in src/ is read, and an edge the table below does not allow
 * fails, naming the file and the import. Packages are checked too (SQL drivers only in store/, no I/O in core/).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** What each layer may import of ours (a layer is a folder of src/, or a top-level file). */
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  store: ['core'],
  runtime: ['core', 'store/types'],
  versions: ['core', 'runtime', 'store/types'],
  declarative: ['core', 'runtime', 'store/types'],
  // Event queues and handlers: conditions run in the declarative layer's sandbox.
  events: ['core', 'runtime', 'store/types', 'declarative'],
  testing: ['core', 'runtime', 'versions', 'store/types'],
  // Schedules: slot arithmetic and firing; runs are started through a port the engine hands in.
  schedules: ['core', 'runtime', 'versions', 'store/types'],
  // Metrics and traces: implements the kernel's Telemetry port, reads gauges through the versions layer.
  observability: ['core', 'runtime', 'versions', 'store/types'],
  'engine.ts': ['core', 'store', 'runtime', 'versions', 'observability', 'schedules', 'events'],
  'index.ts': [
    'core',
    'store/types',
    'runtime',
    'versions',
    'declarative',
    'observability',
    'schedules',
    'events',
    'engine.ts',
  ],
  examples: ['index.ts'],
  server: [
    'core',
    'store',
    'runtime',
    'versions',
    'declarative',
    'observability',
    'schedules',
    'events',
    'engine.ts',
    'index.ts',
  ],
  cli: [
    'core',
    'store',
    'runtime',
    'versions',
    'declarative',
    'observability',
    'schedules',
    'events',
    'engine.ts',
    'index.ts',
    'server',
    'examples',
    'testing',
  ],
  // The dashboard's source: bundled for the browser, it talks to the server over HTTP only.
  ui: [],
};

/** Packages (and node: modules) each layer may import; a layer not listed may import any. */
const MAY_USE_PACKAGES: Record<string, string[]> = {
  core: [],
  ui: ['preact', 'preact/hooks', 'preact/jsx-runtime'],
  versions: [],
  runtime: ['node:crypto', 'node:os'],
  testing: [],
  schedules: ['croner'],
  events: ['nats', 'amqplib', 'node:crypto'],
  // The kernel knows only its Telemetry port; Prometheus and OpenTelemetry stay here (the SDK loaded only when on).
  observability: [
    'prom-client',
    '@opentelemetry/api',
    '@opentelemetry/sdk-trace',
    '@opentelemetry/exporter-trace-otlp-http',
    '@opentelemetry/resources',
  ],
};
/** Packages that only store/ may import: SQL lives there and nowhere else. */
const STORE_ONLY = ['pg', 'better-sqlite3'];

interface Import {
  file: string;
  target: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found = text.matchAll(
    /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'|import\('([^']+)'\)/gm,
  );
  return [...found].map((m) => ({ file: relative(SRC, file), target: (m[1] ?? m[2] ?? m[3])! }));
}

/** `runtime`, `store/types`, `engine.ts`: the layer of a path under src/ (a store module is named, for store/types). */
function layerOf(pathInSrc: string): { layer: string; module: string } {
  const parts = pathInSrc.split('/');
  const layer = parts.length === 1 ? parts[0]!.replace(/\.js$/, '.ts') : parts[0]!;
  const module = parts.length === 2 ? `${layer}/${parts[1]!.replace(/\.(js|ts)$/, '')}` : layer;
  return { layer, module };
}

function problemsOf({ file, target }: Import): string[] {
  const from = layerOf(file).layer;
  if (!target.startsWith('.')) {
    const pkg = target.startsWith('@') ? target.split('/').slice(0, 2).join('/') : target.split('/')[0]!;
    if (STORE_ONLY.includes(pkg) && from !== 'store') return [`${file} imports '${target}': only store/ may`];
    const allowed = MAY_USE_PACKAGES[from];
    if (allowed && !allowed.includes(pkg))
      return [`${file} imports package '${target}': ${from}/ may use none but [${allowed}]`];
    return [];
  }
  const resolved = relative(SRC, normalize(join(SRC, dirname(file), target)));
  if (resolved.startsWith('..')) return [`${file} imports '${target}' from outside src/`];
  const to = layerOf(resolved);
  if (to.layer === from) return [];
  const allowed = MAY_IMPORT[from];
  if (!allowed) return [`${file}: layer '${from}' is not in the table of layers`];
  if (allowed.includes(to.layer) || allowed.includes(to.module)) return [];
  return [`${file} imports '${target}' (${to.module}): ${from} may import only [${allowed.join(', ')}]`];
}

test('every import in src/ points down the layers of DESIGN.md', () => {
  const imports = sourceFiles(SRC).flatMap(importsOf);
  assert.ok(imports.length > 300, `expected the source's imports, found ${imports.length}`);
  assert.deepEqual(imports.flatMap(problemsOf), []);
});

test('the layer check catches an upward edge, a driver outside store/ and an unknown layer', () => {
  assert.equal(problemsOf({ file: 'runtime/kernel.ts', target: '../versions/rollout.js' }).length, 1);
  assert.equal(problemsOf({ file: 'runtime/kernel.ts', target: '../store/open.js' }).length, 1);
  assert.equal(problemsOf({ file: 'runtime/kernel.ts', target: '../store/types.js' }).length, 0);
  assert.equal(problemsOf({ file: 'core/replay.ts', target: '../runtime/waits.js' }).length, 1);
  assert.equal(problemsOf({ file: 'core/replay.ts', target: 'node:fs' }).length, 1);
  assert.equal(problemsOf({ file: 'server/server.ts', target: 'pg' }).length, 1);
  assert.equal(problemsOf({ file: 'server/server.ts', target: '../cli/main.js' }).length, 1);
  assert.equal(problemsOf({ file: 'newlayer/x.ts', target: '../core/types.js' }).length, 1);
  assert.equal(problemsOf({ file: 'engine.ts', target: './versions/lifecycle.js' }).length, 0);
});
