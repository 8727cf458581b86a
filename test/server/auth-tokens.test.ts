/**
 * Tokens and keys: expiry, revocation within the key cache, tampering, raw keys; tokens of one server accepted
 * by another on the same store; the audit trail and run histories naming the key that acted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuthOutcome, Authenticator } from '../../src/server/auth/authenticator.js';
import { createKey, credentialOf, hashSecret, secretMatches } from '../../src/server/auth/credentials.js';
import { signToken, verifyToken } from '../../src/server/auth/tokens.js';
import { openEngineOnStore } from '../../src/engine.js';
import { startServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/open.js';
import { forEachBackend, runUntil, tempDb } from '../helpers.js';
import { authServer, raw, send, tokenFor } from './auth-fixtures.js';
import { workflows } from './fixtures/server-workflows.js';

const who = (outcome: AuthOutcome) => (outcome.ok ? outcome.identity.role : outcome.error);

test('a token is accepted until it expires; a revoked key stops working once its cached record is older', async () => {
  const store = await openStore(`sqlite:${tempDb()}`);
  try {
    let now = 1_800_000_000_000;
    const auth = new Authenticator({ store, tokenTtlMs: 60_000, keyCacheMs: 2_000 }, () => now);
    const key = await createKey(store.keys, { role: 'operator', name: 'ci' });
    const issued = await auth.issueToken(key.keyId, key.keySecret);
    assert.ok('token' in issued);
    assert.deepEqual(issued.identity, { keyId: key.keyId, name: 'ci', role: 'operator' });
    assert.equal(issued.expiresAt.getTime(), now + 60_000);
    const token = { kind: 'token' as const, token: issued.token };
    const rawKey = { kind: 'key' as const, keyId: key.keyId, keySecret: key.keySecret };
    assert.equal(who(await auth.authenticate(token)), 'operator');
    assert.equal(who(await auth.authenticate(rawKey)), 'operator');

    now += 59_999;
    assert.equal(who(await auth.authenticate(token)), 'operator', 'still valid a ms before it expires');
    now += 1;
    const late = await auth.authenticate(token);
    assert.equal(who(late), 'EXPIRED_TOKEN');
    assert.match((late as { message: string }).message, /expired: get a new one from POST \/api\/token/);

    const fresh = await auth.issueToken(key.keyId, key.keySecret);
    assert.ok('token' in fresh);
    await store.keys.revokeKey(key.keyId);
    assert.equal(who(await auth.authenticate({ kind: 'token', token: fresh.token })), 'operator', 'cached');
    assert.ok('ok' in (await auth.issueToken(key.keyId, key.keySecret)), 'no new token: issuing reads the key afresh');
    now += 2_000;
    assert.equal(who(await auth.authenticate({ kind: 'token', token: fresh.token })), 'INVALID_TOKEN');
    assert.equal(who(await auth.authenticate(rawKey)), 'INVALID_TOKEN');
  } finally {
    await store.close();
  }
});

test('a token changed, signed by another store, or malformed is refused; so is a wrong secret', async () => {
  const store = await openStore(`sqlite:${tempDb()}`);
  const other = await openStore(`sqlite:${tempDb()}`);
  try {
    const auth = new Authenticator({ store });
    const key = await createKey(store.keys, { role: 'reader' });
    const admin = await createKey(store.keys, { role: 'admin' });
    const issued = await auth.issueToken(key.keyId, key.keySecret);
    assert.ok('token' in issued);
    const [header, payload, signature] = issued.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: admin.keyId })).toString('base64url');
    const foreign = signToken(claims, await other.keys.tokenSecret('another store'));
    for (const token of [`${header}.${forged}.${signature}`, foreign, 'not-a-token', `${issued.token}x`, '..'])
      assert.equal(who(await auth.authenticate({ kind: 'token', token })), 'INVALID_TOKEN', token);
    assert.equal(who(await auth.authenticate({ kind: 'key', keyId: key.keyId, keySecret: 'guess' })), 'INVALID_TOKEN');
    assert.equal(who(await auth.authenticate({ kind: 'key', keyId: 'wmk_none', keySecret: 'x' })), 'INVALID_TOKEN');
    assert.equal(who(await auth.authenticate({ kind: 'key', keyId: 'a\u0000b', keySecret: 'x' })), 'INVALID_TOKEN');
    assert.equal(verifyToken(issued.token, 'wrong secret'), undefined);
    assert.deepEqual(verifyToken(issued.token, await store.keys.tokenSecret('x')), claims);
  } finally {
    await store.close();
    await other.close();
  }
});

test('keys: a secret is kept only as its sha256, compared in full; a bad role or name is refused', async () => {
  const store = await openStore(`sqlite:${tempDb()}`);
  try {
    const key = await createKey(store.keys, { role: 'worker', name: '  fleet  ' });
    assert.match(key.keyId, /^wmk_[A-Za-z0-9_-]{12}$/);
    assert.equal(Buffer.from(key.keySecret, 'base64url').length, 32, '32 random bytes');
    const stored = (await store.keys.getKey(key.keyId))!;
    assert.deepEqual([stored.name, stored.role, stored.secretHash], ['fleet', 'worker', hashSecret(key.keySecret)]);
    assert.ok(!JSON.stringify(await store.keys.listKeys()).includes(key.keySecret), 'the secret is nowhere');
    assert.equal(secretMatches(key.keySecret, stored.secretHash), true);
    assert.equal(secretMatches(`${key.keySecret}x`, stored.secretHash), false);
    assert.equal(secretMatches(key.keySecret.slice(0, -1), stored.secretHash), false);
    await assert.rejects(
      createKey(store.keys, { role: 'root' }),
      /role must be one of reader, worker, operator, admin/,
    );
    await assert.rejects(createKey(store.keys, { role: 'reader', name: 'a\u0000' }), /key name contains a NUL/);
    assert.equal((await store.keys.listKeys()).length, 1, 'nothing stored for the refused ones');
  } finally {
    await store.close();
  }
});

test('credentials: X-Authorization (Bearer or not) first, else Authorization: Bearer; a colon means a raw key', () => {
  assert.deepEqual(credentialOf({ 'x-authorization': 'tok' }), { kind: 'token', token: 'tok' });
  assert.deepEqual(credentialOf({ 'x-authorization': 'Bearer tok' }), { kind: 'token', token: 'tok' });
  assert.deepEqual(credentialOf({ authorization: 'Bearer k:s:t' }), { kind: 'key', keyId: 'k', keySecret: 's:t' });
  assert.deepEqual(credentialOf({ authorization: 'bearer  tok ', 'x-authorization': 'first' }), {
    kind: 'token',
    token: 'first',
  });
  assert.equal(credentialOf({ authorization: 'Basic a2V5OnNlY3JldA==' }), undefined, 'only Bearer');
  assert.equal(credentialOf({ authorization: 'Bearer' }), undefined);
  assert.equal(credentialOf({}), undefined);
});

forEachBackend((backend) => {
  test('two servers on one store accept each other’s tokens; a revoked key is refused by both', async () => {
    const location = backend.store();
    const a = await authServer(location, {}, { keyCacheMs: 0 });
    const bStore = await openStore(location);
    const bEngine = await openEngineOnStore(bStore, { worker: false });
    const b = await startServer({ engine: bEngine, port: 0, auth: { store: bStore, keyCacheMs: 0 } });
    try {
      const fromA = await tokenFor(a.url, a.keys.reader);
      const fromB = await tokenFor(b.url, a.keys.operator);
      assert.equal((await send(b.url, 'GET', '/v1/runs', { 'x-authorization': fromA })).status, 200);
      assert.equal(
        (await send(a.url, 'GET', '/api/workflow/search', { authorization: `Bearer ${fromB}` })).status,
        200,
      );
      await a.store.keys.revokeKey(a.keys.reader.keyId);
      for (const url of [a.url, b.url]) {
        const refused = await send(url, 'GET', '/v1/runs', { 'x-authorization': fromA });
        assert.deepEqual([refused.status, refused.body.error], [401, 'INVALID_TOKEN']);
      }
    } finally {
      await b.close();
      await bEngine.close();
      await bStore.close();
      await a.close();
    }
  });
});

test(
  'with auth, the key is the actor of every run action (a given actor kept as a note in the reason), and each ' +
    'change an operator or admin makes is in the audit trail with its key; starts are not',
  async () => {
    const auth = await authServer(`sqlite:${tempDb()}`, { workflows, worker: true, pollIntervalMs: 50 });
    try {
      const operator = { authorization: `Bearer ${raw(auth.keys.operator)}` };
      const admin = { 'x-authorization': await tokenFor(auth.url, auth.keys.admin) };
      const started = await send(auth.url, 'POST', '/v1/runs', operator, { workflow: 'hold', id: 'h1', input: {} });
      assert.equal(started.status, 201);
      await runUntil(auth.engine, 'h1', (r) => r.status === 'waiting');
      assert.equal((await send(auth.url, 'PUT', '/api/workflow/h1/pause', operator)).status, 200);
      const resumed = await send(auth.url, 'POST', '/v1/runs/h1/actions/resume', operator, {
        actor: 'bob',
        reason: 'go on',
      });
      assert.equal(resumed.status, 200);
      assert.equal((await send(auth.url, 'DELETE', '/api/workflow/h1?reason=done', operator)).status, 200);
      // A cancel may be handed to the worker executing the run: it records it.
      await runUntil(auth.engine, 'h1', (r) => r.status === 'cancelled');
      const taskDefs = [{ name: 'audited_task', retryCount: 0, timeoutSeconds: 60, totalTimeoutSeconds: 0 }];
      assert.equal((await send(auth.url, 'POST', '/api/metadata/taskdefs', admin, taskDefs)).status, 200);

      const by = `key:${auth.keys.operator.keyId} (operator key)`;
      const actions = (await auth.engine.history('h1'))
        .filter((e) => e.type === 'operator_action')
        .map((e) => [e.data?.action, e.data?.actor, e.data?.reason]);
      assert.deepEqual(actions, [
        ['pause', by, 'requested over the Conductor API'],
        ['resume', by, 'go on (actor given: bob)'],
        ['cancel', by, 'done'],
      ]);

      const trail = await send(auth.url, 'GET', '/v1/audit', { authorization: `Bearer ${raw(auth.keys.reader)}` });
      assert.equal(trail.status, 200);
      assert.deepEqual(
        (trail.body.entries as { actor: string; action: string; target: string; status: number; note: string }[])
          .reverse()
          .map((e) => [e.actor, e.action, e.target, e.status, e.note]),
        [
          [by, 'PUT /api/workflow/:id/pause', '/api/workflow/h1/pause', 200, null],
          [by, 'POST /v1/runs/:id/actions/resume', '/v1/runs/h1/actions/resume', 200, 'actor given: bob'],
          [by, 'DELETE /api/workflow/:id', '/api/workflow/h1', 200, null],
          [
            `key:${auth.keys.admin.keyId} (admin key)`,
            'POST /api/metadata/taskdefs',
            '/api/metadata/taskdefs',
            200,
            null,
          ],
        ],
      );
    } finally {
      await auth.close();
    }
  },
);

test('POST /api/token: a wrong secret is 401 INVALID_CREDENTIALS and nothing of the body is echoed', async () => {
  const auth = await authServer(`sqlite:${tempDb()}`);
  try {
    const wrong = await send(
      auth.url,
      'POST',
      '/api/token',
      {},
      { keyId: auth.keys.admin.keyId, keySecret: 'hunter2' },
    );
    assert.deepEqual(
      [wrong.status, wrong.body.error, wrong.body.code],
      [401, 'INVALID_CREDENTIALS', 'E_UNAUTHENTICATED'],
    );
    assert.ok(!JSON.stringify(wrong.body).includes('hunter2'));
    const missing = await send(auth.url, 'POST', '/api/token', {}, { keyId: auth.keys.admin.keyId });
    assert.deepEqual([missing.status, missing.body.validationErrors[0].path], [400, 'keySecret']);
    const text = await send(auth.url, 'POST', '/api/token', {}, 'hunter2');
    assert.equal(text.status, 400);
    assert.ok(!JSON.stringify(text.body).includes('hunter2'));
  } finally {
    await auth.close();
  }
});

test('without auth, POST /api/token is 404 (what Conductor SDKs take as no auth) and every route is open', async () => {
  const store = await openStore(`sqlite:${tempDb()}`);
  const engine = await openEngineOnStore(store, { worker: false });
  const server = await startServer({ engine, port: 0 });
  try {
    const token = await send(server.url, 'POST', '/api/token', {}, { keyId: 'k', keySecret: 's' });
    assert.deepEqual([token.status, token.body.status], [404, 404]);
    assert.equal((await send(server.url, 'GET', '/v1/runs')).status, 200);
    assert.equal((await send(server.url, 'GET', '/v1/audit')).status, 404, 'no audit trail without auth');
  } finally {
    await server.close();
    await engine.close();
    await store.close();
  }
});
