/** The conformance suite's key cases: API keys, the token secret and the audit trail, on every store. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { forEachBackend } from '../helpers.js';

const key = (keyId: string, role: 'reader' | 'admin' = 'reader') => ({
  keyId,
  name: `${keyId} name`,
  role,
  secretHash: `sha256:${keyId}`,
});

forEachBackend((backend) => {
  test('a key is stored once by its id, listed oldest first, revoked once (the first time is kept)', async () => {
    const store = await openStore(backend.store());
    try {
      assert.equal(await store.keys.createKey(key('k1', 'admin')), true);
      assert.equal(await store.keys.createKey({ ...key('k1'), secretHash: 'sha256:other' }), false, 'id taken');
      assert.equal(await store.keys.createKey(key('k2')), true);
      const k1 = await store.keys.getKey('k1');
      assert.deepEqual(
        { ...k1, createdAt: undefined },
        { keyId: 'k1', name: 'k1 name', role: 'admin', secretHash: 'sha256:k1', createdAt: undefined, revokedAt: null },
        'the first key kept, its hash unchanged',
      );
      assert.ok(k1!.createdAt instanceof Date && Math.abs(k1!.createdAt.getTime() - Date.now()) < 60_000);
      assert.equal(await store.keys.getKey('k3'), undefined);
      assert.deepEqual(
        (await store.keys.listKeys()).map((k) => k.keyId),
        ['k1', 'k2'],
      );

      const revoked = await store.keys.revokeKey('k2');
      assert.ok(revoked?.revokedAt instanceof Date, 'revoked now');
      const again = await store.keys.revokeKey('k2');
      assert.equal(again!.revokedAt!.getTime(), revoked!.revokedAt!.getTime(), 'the first revocation time stays');
      assert.equal(await store.keys.revokeKey('nope'), undefined, 'no such key: nothing revoked');
      assert.deepEqual(
        (await store.keys.listKeys()).map((k) => [k.keyId, k.revokedAt === null]),
        [
          ['k1', true],
          ['k2', false],
        ],
      );
    } finally {
      await store.close();
    }
  });

  test('the token secret is kept once: every later candidate, from any process of the store, gets it', async () => {
    const location = backend.store();
    const first = await openStore(location);
    const second = await openStore(location);
    try {
      const kept = await Promise.all([first.keys.tokenSecret('a'), second.keys.tokenSecret('b')]);
      assert.equal(kept[0], kept[1], 'racing processes agree');
      assert.ok(['a', 'b'].includes(kept[0]!));
      assert.equal(await first.keys.tokenSecret('c'), kept[0]);
      assert.equal(await second.keys.tokenSecret('d'), kept[0]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('the audit trail keeps entries as appended and lists the newest first, up to a limit', async () => {
    const store = await openStore(backend.store());
    try {
      assert.deepEqual(await store.audit.list(10), []);
      const entry = (n: number, note: string | null) => ({
        at: new Date(1_700_000_000_000 + n),
        actor: 'key:k1 (ops)',
        keyId: 'k1',
        action: 'POST /v1/workflows/:name/versions/:version/drain',
        target: `/v1/workflows/w/versions/${n}/drain`,
        status: 200,
        note,
      });
      await store.audit.append(entry(1, null));
      await store.audit.append(entry(2, 'actor given: bob'));
      await store.audit.append(entry(3, null));
      assert.deepEqual(await store.audit.list(2), [entry(3, null), entry(2, 'actor given: bob')]);
      assert.equal((await store.audit.list(100)).length, 3);
    } finally {
      await store.close();
    }
  });
});
