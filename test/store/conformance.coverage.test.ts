/**
 * Every method of the Store interface (and of its `tasks`, `definitions`, `keys`, `audit`, `queues`, `deployReports`,
 * `schedules`, `events`) is called by the conformance suite (test/store/conformance*.test.ts), so a new method
 * cannot land without a case that runs it on every store.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const STORE_DIR = new URL('./', import.meta.url);
const TYPES = readFileSync(new URL('../../src/store/types.ts', import.meta.url), 'utf8');

/** The methods an interface of store/types.ts declares: its members written `name(` at the top level of its body. */
function methodsOf(name: string): string[] {
  const start = TYPES.indexOf(`export interface ${name} {`);
  assert.ok(start >= 0, `store/types.ts declares interface ${name}`);
  const body = TYPES.slice(start, TYPES.indexOf('\n}\n', start));
  return [...body.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]!);
}

/** The conformance suite's text: every test/store/conformance*.test.ts but this one. */
const suite = readdirSync(STORE_DIR)
  .filter((file) => /^conformance.*\.test\.ts$/.test(file) && file !== 'conformance.coverage.test.ts')
  .map((file) => readFileSync(new URL(file, STORE_DIR), 'utf8'))
  .join('\n');

test('the conformance suite calls every method of Store and of its sub-stores', () => {
  const calls = [
    ...methodsOf('Store').map((m) => `.${m}(`),
    ...methodsOf('TaskQueue').map((m) => `.tasks.${m}(`),
    ...methodsOf('DefinitionStore').map((m) => `.definitions.${m}(`),
    ...methodsOf('KeyStore').map((m) => `.keys.${m}(`),
    ...methodsOf('AuditLog').map((m) => `.audit.${m}(`),
    ...methodsOf('QueueStore').map((m) => `.queues.${m}(`),
    ...methodsOf('DeployReportStore').map((m) => `.deployReports.${m}(`),
    ...methodsOf('ScheduleStore').map((m) => `.schedules.${m}(`),
    ...methodsOf('EventStore').map((m) => `.events.${m}(`),
  ];
  for (const known of [
    '.registerWorkflowVersions(',
    '.claimRuns(',
    '.close(',
    '.tasks.poll(',
    '.definitions.saveSources(',
    '.keys.revokeKey(',
    '.audit.append(',
  ])
    assert.ok(calls.includes(known), `the interfaces are read (${known} is one of their methods)`);
  const missing = calls.filter((call) => !suite.includes(call));
  assert.deepEqual(missing, [], `no conformance case calls ${missing.join(', ')}: add one that checks what it does`);
});
