import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { forEachBackend } from '../helpers.js';
import { ADDITIVE_SQL, NEWEST, newerFile, newerMigrations, query, schemaRows, target } from './upgrade-fixtures.js';

/**
 * The schema table under processes of two releases: opened at once they apply each migration exactly once
 * and record its kind; a table written before kinds were recorded gets them filled in.
 */

/** A process of this release opening the store, or of a newer one (its migrations in argv[2]) migrating it. */
const SCRIPT = `import { openStore } from './src/store/open.ts';
  import { migrateAsNewer } from './test/store/upgrade-fixtures.ts';
  const [location, folder] = process.argv.slice(1);
  if (folder) await migrateAsNewer(location, folder);
  else await (await openStore(location)).close();`;

function openInChild(location: string, folder?: string): Promise<number | null> {
  const child = fork('--input-type=module', folder ? [location, folder] : [location], {
    execArgv: ['--import', 'tsx', '-e', SCRIPT],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve) => child.once('exit', resolve));
}

forEachBackend((backend) => {
  test('processes of two releases opening a fresh store at once apply each migration once', async () => {
    const store = backend.store();
    const folder = newerMigrations(backend.name, { [newerFile(1, 'notes')]: ADDITIVE_SQL });
    const codes = await Promise.all([
      openInChild(store, folder),
      openInChild(store),
      openInChild(store, folder),
      openInChild(store),
    ]);
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const rows = await schemaRows(store);
    assert.deepEqual(
      rows.map((r) => r.version),
      Array.from({ length: NEWEST + 1 }, (_, i) => i + 1),
    );
    assert.deepEqual(rows.at(-1), { version: NEWEST + 1, name: newerFile(1, 'notes'), kind: 'additive' });
    assert.ok(
      rows.every((r) => r.kind === 'additive' || r.kind === 'breaking'),
      'every row records its kind',
    );
  });

  test('a schema table written before kinds were recorded gets them filled in for the migrations known', async () => {
    const store = backend.store();
    await (await openStore(store)).close();
    const recorded = await schemaRows(store);
    const drop = 'file' in target(store) ? 'ALTER TABLE waymark_schema DROP COLUMN' : 'ALTER TABLE waymark_schema DROP';
    await query(store, `${drop} name; ${drop} kind; ${drop} reason;`, true);
    assert.deepEqual(
      (await query<{ version: number }>(store, 'SELECT * FROM waymark_schema ORDER BY version')).map((r) =>
        Object.keys(r),
      )[0],
      ['version', 'applied_at'],
    );

    const reopened = await openStore(store);
    await reopened.close();
    assert.deepEqual(await schemaRows(store), recorded);
    const reasons = await query<{ version: number; reason: string | null }>(
      store,
      "SELECT version, reason FROM waymark_schema WHERE kind = 'breaking' ORDER BY version",
    );
    assert.equal(reasons[0]!.reason, 'the first schema: no Waymark before it opens a store');
  });
});
