import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WaymarkError } from '../../src/core/errors.js';
import { checkNewerMigrations, readMigrationFiles } from '../../src/store/migration-files.js';
import { postgresMigrations } from '../../src/store/postgres/migrate.js';
import { sqliteMigrations } from '../../src/store/sqlite/migrate.js';
import { tempDir } from '../helpers.js';
import { ADDITIVE_SQL, NEWEST, newerFile, newerMigrations } from './upgrade-fixtures.js';

/** A migration file one number after this build's newest. */
const NOTE = newerFile(1, 'note');

/** Every migration file says whether code built before it keeps working after it; the migrator insists. */

const breaking = (files: { version: number; kind: string }[]) =>
  files.filter((f) => f.kind === 'breaking').map((f) => f.version);

test('each shipped migration has its kind; breaking: the first schema, epochs, a rename, task JSON as text', () => {
  const sqlite = sqliteMigrations();
  const postgres = postgresMigrations();
  assert.equal(sqlite.length, NEWEST);
  assert.equal(postgres.length, NEWEST);
  assert.deepEqual(
    sqlite.map((m) => m.version),
    Array.from({ length: NEWEST }, (_, i) => i + 1),
  );
  assert.deepEqual(breaking(sqlite), [1, 5, 8]);
  assert.deepEqual(breaking(postgres), [1, 4, 7, 12]);
  for (const m of [...sqlite, ...postgres]) {
    assert.equal(m.kind === 'breaking', m.reason !== null, `${m.name}: a reason exactly when breaking`);
    assert.match(m.sql, /^-- waymark: (additive|breaking — .+)\n/, m.name);
  }
  assert.equal(
    postgres.find((m) => m.version === 7)!.reason,
    'rollouts.workflow is renamed rollout_key: older code still queries workflow',
  );
});

test('a migration file without a valid kind header on its first line is refused with E_STORE naming it', () => {
  const cases: Record<string, string> = {
    'no header': 'ALTER TABLE runs ADD COLUMN note text;\n',
    'header on the second line': '-- notes\n-- waymark: additive\nALTER TABLE runs ADD COLUMN note text;\n',
    'unknown kind': '-- waymark: harmless\nALTER TABLE runs ADD COLUMN note text;\n',
    'breaking without a reason': '-- waymark: breaking\nALTER TABLE runs DROP COLUMN epoch;\n',
    'additive with words after it': '-- waymark: additive — mostly\nALTER TABLE runs ADD COLUMN note text;\n',
  };
  for (const [what, sql] of Object.entries(cases)) {
    const folder = newerMigrations('sqlite', { [NOTE]: sql });
    assert.throws(
      () => readMigrationFiles(folder),
      (e: unknown) =>
        e instanceof WaymarkError &&
        e.code === 'E_STORE' &&
        e.message ===
          `migration file ${NOTE} has no valid kind header: ` +
            "its first line must be '-- waymark: additive' or '-- waymark: breaking — <why>'",
      what,
    );
  }
  const crlf = newerMigrations('sqlite', { [NOTE]: ADDITIVE_SQL.replace(/\n/g, '\r\n') });
  assert.equal(readMigrationFiles(crlf).at(-1)!.kind, 'additive', 'a CRLF line end is fine');
  const hyphen = newerMigrations('postgres', { [NOTE]: '-- waymark: breaking - drops epoch\nSELECT 1;\n' });
  assert.equal(readMigrationFiles(hyphen).at(-1)!.reason, 'drops epoch');
});

test('two migration files with one number are refused', () => {
  const folder = tempDir();
  writeFileSync(join(folder, '001_a.sql'), ADDITIVE_SQL);
  writeFileSync(join(folder, '001_b.sql'), ADDITIVE_SQL);
  assert.throws(() => readMigrationFiles(folder), /migration files 001_a\.sql and 001_b\.sql share version 1/);
});

test('newer migrations: none is silent, additive ones warn naming them, breaking or unrecorded ones refuse', () => {
  assert.equal(checkNewerMigrations([], 12, 'database schema'), undefined);
  const additive = (version: number) => ({ version, name: `0${version}_x.sql`, kind: 'additive', reason: null });
  assert.equal(
    checkNewerMigrations([additive(13), additive(14)], 12, 'database schema')!.message,
    'database schema is version 14 but this Waymark knows up to 12: the newer migrations 13 (013_x.sql), ' +
      '14 (014_x.sql) are additive, so it keeps working; upgrade it to finish the rollout',
  );
  assert.throws(
    () => checkNewerMigrations([additive(13), { version: 14, name: null, kind: null, reason: null }], 12, 'schema'),
    (e: unknown) =>
      e instanceof WaymarkError &&
      e.code === 'E_SCHEMA_TOO_NEW' &&
      e.message.startsWith(
        'schema is version 14 but this Waymark knows up to 12, and newer migration 14 was applied by a Waymark ' +
          'that does not record whether it is additive: this Waymark cannot run against it.',
      ),
  );
  assert.throws(
    () => checkNewerMigrations([{ version: 13, name: '013_y.sql', kind: 'contract', reason: null }], 12, 'schema'),
    (e: unknown) => e instanceof WaymarkError && e.code === 'E_SCHEMA_TOO_NEW',
    'a kind this build does not know is not additive',
  );
});
