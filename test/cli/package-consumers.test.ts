/**
 * A plain `npm init -y` project can use the built package: from CommonJS (`require`) and from ESM (`import`), a
 * workflow defined and run to completion on the embedded store. The package is built here, into a folder of the
 * test's, the way `npm run build` builds it, so the test never reads a stale `dist/`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A consumer project with the package installed as node_modules/waymark. */
let project = '';
const scratch = mkdtempSync(join(tmpdir(), 'waymark-consumer-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

before(async () => {
  const pkg = join(scratch, 'waymark');
  await run(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(pkg, 'dist')],
    {
      cwd: ROOT,
    },
  );
  for (const dialect of ['sqlite', 'postgres'])
    cpSync(join(ROOT, `src/store/${dialect}/migrations`), join(pkg, `dist/store/${dialect}/migrations`), {
      recursive: true,
    });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  project = join(scratch, 'consumer');
  mkdirSync(project);
  // What `npm init -y` writes: no "type", so .js files are CommonJS.
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', main: 'index.js' }),
  );
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(pkg, join(project, 'node_modules/waymark'));
});

const body = `
  const hello = defineWorkflow({ name: 'hello', version: 1, async run(ctx, input) {
    return ctx.step('greet', () => 'hello ' + input.name);
  } });
  const engine = await Engine.open({ store: 'sqlite::memory:', workflows: [hello] });
  const started = await engine.start('hello', { name: 'ada' });
  console.log(JSON.stringify(await engine.result(started.id, { timeoutMs: 10000 })));
  await engine.close();
`;

test('a CommonJS project requires the package and runs a workflow', async () => {
  const file = join(project, 'index.js');
  writeFileSync(file, `const { defineWorkflow, Engine } = require('waymark');\n(async () => {${body}})();\n`);
  const { stdout } = await run(process.execPath, [file], { cwd: project });
  assert.equal(stdout.trim(), '"hello ada"');
});

test('an ESM project imports the package and its testing entry', async () => {
  const file = join(project, 'index.mjs');
  writeFileSync(
    file,
    `import { defineWorkflow, Engine } from 'waymark';\nimport { assertReplays } from 'waymark/testing';\n` +
      `if (typeof assertReplays !== 'function') throw new Error('no assertReplays');\n${body}`,
  );
  const { stdout } = await run(process.execPath, [file], { cwd: project });
  assert.equal(stdout.trim(), '"hello ada"');
});

test('the package ships its license and changelog', () => {
  const files: string[] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).files;
  for (const name of ['LICENSE', 'CHANGELOG.md']) {
    assert.ok(files.includes(name), `${name} is not in package.json files`);
    assert.ok(readFileSync(join(ROOT, name), 'utf8').length > 100, `${name} is empty`);
  }
});
