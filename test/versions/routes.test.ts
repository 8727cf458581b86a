import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineWorkflow, Engine } from '../../src/index.js';
import { forEachBackend, rejectsWith } from '../helpers.js';

const checkout = (version: number) => defineWorkflow({ name: 'checkout', version, run: async () => version });

forEachBackend((backend) => {
  test(
    'a canary route sends its share of unpinned starts to the candidate, ' +
      'within statistical bounds over 2,000 starts',
    async () => {
      const store = backend.store();
      await (await Engine.open({ store, workflows: [checkout(1), checkout(2)], worker: false })).close();
      const client = await Engine.open({ store, worker: false });
      try {
        await client.setRoute('checkout', { current: 1, candidate: 2, percent: 10 });
        const runs = await Promise.all(Array.from({ length: 2_000 }, () => client.start('checkout', null)));
        const onCandidate = runs.filter((r) => r.version === 2).length;
        // Binomial(2000, 0.1): mean 200, standard deviation 13.4; five deviations either way.
        assert.ok(onCandidate > 133 && onCandidate < 267, `${onCandidate} of 2,000 starts went to the candidate`);
        assert.equal(
          (await client.start('checkout', null, { version: 1 })).version,
          1,
          'pinned starts ignore the route',
        );

        const keyed = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            client.start('checkout', null, { routeKey: 'customer-42', id: `k-${i}` }),
          ),
        );
        assert.equal(new Set(keyed.map((r) => r.version)).size, 1, 'one route key, one version');
        const customers = await Promise.all(
          Array.from({ length: 1_000 }, (_, i) => client.start('checkout', null, { routeKey: `customer-${i}` })),
        );
        const share = customers.filter((r) => r.version === 2).length;
        assert.ok(share > 55 && share < 145, `${share} of 1,000 customers are on the candidate`);

        await client.drain('checkout', 2);
        const afterDrain = await Promise.all(Array.from({ length: 50 }, () => client.start('checkout', null)));
        assert.deepEqual(
          [...new Set(afterDrain.map((r) => r.version))],
          [1],
          'a draining candidate takes no routed starts',
        );
        await client.activate('checkout', 2);
        await client.setRoute('checkout', null);
        assert.equal((await client.start('checkout', null)).version, 2, 'without a route: the highest active version');

        await rejectsWith(client.setRoute('checkout', { current: 1, candidate: 9, percent: 5 }), 'E_UNKNOWN_VERSION');
        await rejectsWith(client.setRoute('checkout', { current: 1, candidate: 2, percent: 150 }), 'E_INVALID_INPUT');
      } finally {
        await client.close();
      }
    },
  );
});
