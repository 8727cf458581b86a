import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore, printableLocation } from '../../src/store/open.js';
import { isLoopbackHost } from '../../src/server/server.js';
import { tempDb, tempDir, tempPgStore } from '../helpers.js';
import { cli, cliJson, spawnCli } from './cli-process.js';

/** A running `waymark server` process: its URL and everything it printed so far. */
async function startServerProcess(args: string[]) {
  const child = spawnCli(['server', '--port', '0', '--log-level', 'warn', ...args]);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const found = /listening on (https?:\/\/\S+)/.exec(stdout)?.[1];
      if (found && stdout.includes('(Ctrl-C or SIGTERM to stop)\n')) resolve(found);
    });
    void exited.then(([code]) => reject(new Error(`server exited (${code}) before listening\n${stdout}\n${stderr}`)));
  });
  return {
    url,
    output: () => stdout + stderr,
    async stop() {
      child.kill('SIGTERM');
      const [code] = await exited;
      return code as number | null;
    },
  };
}

test('`server` refuses a non-loopback --host without --auth (exit 2, with the way out) and opens nothing', async () => {
  const dir = tempDir();
  const db = join(dir, 'open.db');
  for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
    const result = await cli(['server', '--host', host, '--db', db]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`^error: refusing to listen on ${host.replace(/\./g, '\\.')} without --auth: anyone who reaches`),
    );
    assert.match(result.stderr, /Give --auth .*`waymark keys create`.*or give --insecure to serve it open anyway/);
  }
  assert.equal(existsSync(db), false, 'the store was not even opened');
  const flags = [
    [['--token-ttl', '5m'], /--token-ttl needs --auth/],
    [['--auth', '--token-ttl', '10ms'], /--token-ttl must be at least 1s/],
    [['--tls-cert', join(dir, 'cert.pem')], /--tls-cert and --tls-key go together/],
    [['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')], /cannot read --tls-cert .*no such file/],
  ] as const;
  for (const [args, message] of flags) {
    const result = await cli(['server', '--db', db, ...args]);
    assert.deepEqual([result.code, message.test(result.stderr)], [2, true], result.stderr);
  }
  assert.equal(existsSync(db), false);
});

test('`server --host 0.0.0.0 --insecure` listens, and says loudly that it is open', async () => {
  const server = await startServerProcess(['--host', '0.0.0.0', '--insecure', '--db', tempDb()]);
  try {
    assert.match(server.output(), /WARNING: no auth on 0\.0\.0\.0 \(--insecure\): anyone who reaches the port/);
    assert.equal((await fetch(`${server.url.replace('0.0.0.0', '127.0.0.1')}/v1/runs`)).status, 200);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('`keys create | list | revoke` work on the store: the secret is printed once and stored nowhere', async () => {
  const db = tempDb();
  const missing = await cli(['keys', 'list', '--db', db]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist.*\(E_STORE_NOT_FOUND\)/);
  await (await openStore(`sqlite:${db}`)).close();

  const created = await cliJson(['keys', 'create', '--role', 'operator', '--name', 'ci deploys', '--db', db]);
  assert.deepEqual(Object.keys(created), ['keyId', 'keySecret', 'role', 'name']);
  assert.deepEqual([created.role, created.name], ['operator', 'ci deploys']);
  const plain = await cli(['keys', 'create', '--role', 'reader', '--db', db]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^key wmk_\S+ \(reader\)\nsecret \S{43}\nThe secret is shown only now/);

  const listed = await cli(['keys', 'list', '--db', db]);
  assert.match(listed.stdout, /^KEY\s+ROLE\s+STATUS\s+CREATED\s+NAME\n/);
  assert.ok(listed.stdout.includes(created.keyId) && !listed.stdout.includes(created.keySecret));
  const keys = await cliJson(['keys', 'list', '--db', db]);
  assert.deepEqual(
    keys.map((k: { role: string; status: string }) => [k.role, k.status]),
    [
      ['operator', 'active'],
      ['reader', 'active'],
    ],
  );
  assert.ok(!JSON.stringify(keys).includes(created.keySecret));

  const revoked = await cli(['keys', 'revoke', created.keyId, '--db', db]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`^key ${created.keyId} revoked at \\d{4}-`));
  assert.equal((await cliJson(['keys', 'list', '--db', db]))[0].status, 'revoked');

  const unknown = await cli(['keys', 'revoke', 'wmk_nope', '--db', db]);
  assert.deepEqual([unknown.code, /no key 'wmk_nope'.*\(E_KEY_NOT_FOUND\)/.test(unknown.stderr)], [1, true]);
  const badRole = await cli(['keys', 'create', '--role', 'root', '--db', db]);
  assert.deepEqual(
    [badRole.code, /--role must be one of reader, worker, operator, admin/.test(badRole.stderr)],
    [2, true],
  );
  assert.equal((await cliJson(['keys', 'list', '--db', db])).length, 2, 'nothing made by the refused create');
});

test('`server --auth` on PostgreSQL: no password in the banner; server verbs need --key or $WAYMARK_KEY', async () => {
  const location = tempPgStore().replace('postgres://postgres@', 'postgres://postgres:hunter2@');
  const server = await startServerProcess(['--auth', '--db', location]);
  try {
    assert.ok(!server.output().includes('hunter2'), server.output());
    assert.match(server.output(), /on postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/test\?schema=/);
    assert.match(server.output(), /auth required: API keys/);
    const key = await cliJson(['keys', 'create', '--role', 'admin', '--db', location]);

    const anonymous = await cli(['task', 'list', '--server', server.url]);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /this route needs credentials.*\(give --key <keyId>:<secret> or \$WAYMARK_KEY\)/);
    const withKey = await cli(['task', 'list', '--server', server.url, '--key', `${key.keyId}:${key.keySecret}`]);
    assert.equal(withKey.code, 0, withKey.stderr);
    process.env.WAYMARK_KEY = `${key.keyId}:${key.keySecret}`;
    try {
      const fromEnv = await cli(['task', 'list', '--server', server.url, '--json']);
      assert.deepEqual([fromEnv.code, JSON.parse(fromEnv.stdout)], [0, []]);
    } finally {
      delete process.env.WAYMARK_KEY;
    }
    const wrong = await cli(['task', 'list', '--server', server.url, '--key', `${key.keyId}:guess`]);
    assert.equal(wrong.code, 1);
    assert.ok(!wrong.stderr.includes('guess'), 'the secret given is not echoed');
    const malformed = await cli(['task', 'list', '--server', server.url, '--key', 'no-colon']);
    assert.deepEqual([malformed.code, /--key must be <keyId>:<secret>/.test(malformed.stderr)], [2, true]);
    assert.ok(!malformed.stderr.includes('no-colon'));
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.ok(!server.output().includes('hunter2'), 'not in the log either');
});

test('printed store locations hide a password (in the URL or as a parameter); loopback hosts are told apart', () => {
  assert.equal(printableLocation('postgres://u:s3cr%40t@h:5432/db?schema=a'), 'postgres://u:***@h:5432/db?schema=a');
  assert.equal(
    printableLocation('postgresql://u@h/db?password=zz&schema=q'),
    'postgresql://u@h/db?password=***&schema=q',
  );
  assert.equal(printableLocation('postgres://u@h/db'), 'postgres://u@h/db', 'nothing to hide: unchanged');
  assert.equal(printableLocation('sqlite:./x.db'), 'sqlite:./x.db');
  assert.equal(printableLocation('mysql://root:pw@db/x'), 'mysql://root:***@db/x');
  for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]']) assert.equal(isLoopbackHost(host), true);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1'])
    assert.equal(isLoopbackHost(host), false);
});
