import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { findMigration, loadWorkflowModule, loadWorkflows } from '../../src/cli/load-workflows.js';
import { rejectsWith, tempDir } from '../helpers.js';
import { ROOT } from './cli-process.js';

/** Workflow modules as users write them: named exports, a `migrations` array, a default `{ workflows, migrations }`. */
const dir = tempDir();
const api = pathToFileURL(join(ROOT, 'src/index.ts')).href;
const header = `
import { defineMigration, defineWorkflow } from '${api}';
const v1 = defineWorkflow({ name: 'm', version: 1, async run(ctx) { return ctx.step('a', () => 1); } });
const v2 = defineWorkflow({ name: 'm', version: 2, async run(ctx) { return ctx.step('a', () => 2); } });
const up = defineMigration({ workflow: 'm', from: 1, to: 2 });
const named = defineMigration({ workflow: 'm', from: 1, to: 2, name: 'named' });
`;

function module(name: string, body: string): string {
  const file = join(dir, `${name}.mts`);
  writeFileSync(file, `${header}\n${body}\n`);
  return file;
}

test('migrations: named definitions, a named `migrations` array, or a default { workflows, migrations }', async () => {
  const loose = await loadWorkflowModule(module('loose', 'export { v1, v2, up, named };'));
  assert.deepEqual(
    [loose.workflows.map((w) => w.version), loose.migrations.map((m) => m.name).sort()],
    [
      [1, 2],
      ['m v1->v2', 'named'],
    ],
  );

  const arrays = await loadWorkflowModule(
    module('arrays', 'export { named };\nexport const workflows = [v1, v2];\nexport const migrations = [up];'),
  );
  assert.deepEqual(
    arrays.migrations.map((m) => m.name),
    ['m v1->v2'],
    'the `migrations` array wins over loose definitions',
  );

  const byDefault = await loadWorkflowModule(
    module('default', 'export default { workflows: [v1, v2], migrations: [named] };'),
  );
  assert.deepEqual([byDefault.workflows.length, byDefault.migrations.map((m) => m.name)], [2, ['named']]);

  const none = await loadWorkflowModule(module('none', 'export const workflows = [v1];'));
  assert.deepEqual(none.migrations, []);
  assert.equal(
    (await loadWorkflows(module('plain', 'export const workflows = [v1, v2];'))).length,
    2,
    'loadWorkflows still returns the workflows',
  );
  assert.deepEqual(
    await loadWorkflowModule(undefined),
    { workflows: [], migrations: [] },
    'no module and no --examples: nothing',
  );
  const examples = await loadWorkflowModule(undefined, { examples: true });
  assert.deepEqual(
    [examples.workflows.map((w) => `${w.name} v${w.version}`).sort(), examples.migrations],
    [['onboarding v1', 'order v1', 'order v2', 'report v1', 'rollout v1'], []],
    'the examples, asked for, have no migrations',
  );
  const both = await loadWorkflowModule(module('with-examples', 'export const workflows = [v1];'), { examples: true });
  assert.equal(both.workflows.length, examples.workflows.length + 1, '--workflows and --examples together serve both');

  assert.equal(findMigration(loose, 'named', 'loose.mts').name, 'named');
  assert.throws(
    () => findMigration(loose, 'other', 'loose.mts'),
    /no migration named 'other' in workflow module 'loose.mts': known: .*'m v1->v2'/,
  );
  assert.throws(() => findMigration(none, 'other', 'none.mts'), /it exports no migrations/);
});

test('bad migrations exports are refused with a clear message', async () => {
  const bad = await rejectsWith(
    loadWorkflowModule(
      module('bad-item', 'export const workflows = [v1];\nexport const migrations = [up, { name: "x" }];'),
    ),
    'E_INVALID_INPUT',
  );
  assert.match(bad.message, /migrations array holds an item \(index 1\) not made with defineMigration\(\)/);
  const notArray = await rejectsWith(
    loadWorkflowModule(module('not-array', 'export const workflows = [v1];\nexport const migrations = up;')),
    'E_INVALID_INPUT',
  );
  assert.match(notArray.message, /`migrations` must be an array/);
  const twice = await rejectsWith(
    loadWorkflowModule(
      module(
        'twice',
        'export const workflows = [v1];\nexport const migrations = [up, ' +
          'defineMigration({ workflow: "m", from: 1, to: 2 })];',
      ),
    ),
    'E_INVALID_INPUT',
  );
  assert.match(twice.message, /two migrations named 'm v1->v2'/);
});
