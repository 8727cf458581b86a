/** The conformance suite's event cases: the built-in queues (insert, claim, ack) and event handlers, on every store. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { forEachBackend } from '../helpers.js';

forEachBackend((backend) => {
  test('a queue message is stored once by id, claimed oldest first, hidden while claimed, then acked', async () => {
    const store = await openStore(backend.store());
    try {
      assert.equal(await store.events.publish('q1', 'm1', { n: 1 }), true);
      assert.equal(await store.events.publish('q1', 'm2', { n: 2 }), true);
      assert.equal(await store.events.publish('q1', 'm1', { n: 9 }), false, 'id taken: nothing written');
      assert.equal(await store.events.publish('q2', 'm1', { other: true }), true, 'ids are per queue');
      assert.equal(await store.events.pending('q1'), 2);
      const first = await store.events.claim('q1', 1, 60_000);
      assert.deepEqual(
        first.map((m) => [m.id, m.payload, m.attempts]),
        [['m1', { n: 1 }, 1]],
      );
      const second = await store.events.claim('q1', 10, 60_000);
      assert.deepEqual(
        second.map((m) => m.id),
        ['m2'],
        'm1 is hidden while claimed',
      );
      assert.deepEqual(await store.events.claim('q1', 10, 60_000), []);
      await store.events.release('q1', 'm2');
      assert.deepEqual(
        (await store.events.claim('q1', 10, 60_000)).map((m) => [m.id, m.attempts]),
        [['m2', 2]],
        'released: due again',
      );
      assert.equal(await store.events.ack('q1', 'm1'), true);
      assert.equal(await store.events.ack('q1', 'm1'), false, 'acked once');
      assert.equal(
        await store.events.publish('q1', 'm1', { n: 1 }),
        false,
        'an acked id is still taken: no redelivery',
      );
      assert.equal(await store.events.pending('q1'), 1);
      const expiring = await store.events.claim('q2', 10, 1);
      assert.equal(expiring.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(
        (await store.events.claim('q2', 10, 60_000)).map((m) => [m.id, m.attempts]),
        [['m1', 2]],
        'a claim that lapsed is handed out again',
      );
    } finally {
      await store.close();
    }
  });

  test('event handlers: created once by name, updated, listed by name, deleted', async () => {
    const store = await openStore(backend.store());
    try {
      const def = { name: 'b', event: 'nats:x', actions: [] };
      assert.equal(
        await store.events.putHandler({ name: 'b', event: 'nats:x', active: true, definition: def }, 'create'),
        true,
      );
      assert.equal(
        await store.events.putHandler({ name: 'b', event: 'nats:y', active: true, definition: def }, 'create'),
        false,
      );
      assert.equal(
        await store.events.putHandler({ name: 'a', event: 'amqp:y', active: false, definition: {} }, 'update'),
        false,
      );
      assert.equal(
        await store.events.putHandler({ name: 'a', event: 'amqp:y', active: false, definition: {} }, 'create'),
        true,
      );
      assert.equal(
        await store.events.putHandler({ name: 'b', event: 'nats:z', active: false, definition: def }, 'update'),
        true,
      );
      const listed = await store.events.listHandlers();
      assert.deepEqual(
        listed.map((x) => [x.name, x.event, x.active, x.definition]),
        [
          ['a', 'amqp:y', false, {}],
          ['b', 'nats:z', false, def],
        ],
      );
      assert.ok(listed[0]!.createdAt instanceof Date);
      assert.equal(await store.events.deleteHandler('a'), true);
      assert.equal(await store.events.deleteHandler('a'), false);
      assert.deepEqual(
        (await store.events.listHandlers()).map((x) => x.name),
        ['b'],
      );
    } finally {
      await store.close();
    }
  });
});
