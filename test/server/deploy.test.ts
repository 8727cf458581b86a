import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { forEachBackend, runUntil } from '../helpers.js';
import { withApi } from './api.js';

const example = (file: string) =>
  JSON.parse(readFileSync(`examples/conductor-onboarding/${file}`, 'utf8')) as Record<string, unknown>;
const support = await declarativeSupport();

forEachBackend((backend) => {
  test(
    'POST /v1/deploy/check and /plan replay in-flight runs against candidate definitions; ' +
      'bad definitions are a 400 that registers nothing',
    async () => {
      await withApi(backend.store(), { compile: support.compile }, async ({ engine, call }) => {
        support.bind(engine);
        await engine.definitions.register([
          compileWorkflowDef(parseWorkflowDef(example('customer_onboarding.v1.json')), support.env),
        ]);
        const run = await engine.start('customer_onboarding', { customerId: 'c-9' });
        await runUntil(engine, run.id, (r) => r.status === 'waiting');

        const check = await call('POST', '/v1/deploy/check', { definitions: [example('customer_onboarding.v2.json')] });
        assert.equal(check.status, 200, JSON.stringify(check.body));
        const [w] = check.body.workflows;
        assert.deepEqual(
          [
            check.body.safe,
            w.candidate.version,
            w.classification,
            w.counts.compatible,
            w.structure.from,
            w.structure.diff.kind,
          ],
          [true, 2, 'additive', 1, 1, 'additive'],
        );

        const plan = await call('POST', '/v1/deploy/plan', { definitions: [example('customer_onboarding.v2.json')] });
        assert.equal(plan.status, 200);
        assert.deepEqual(plan.body.workflows[0].inFlight, [
          {
            version: 1,
            inFlight: 1,
            upgrade: 1,
            migrate: 0,
            migrations: [],
            drain: 0,
            drainEta: null,
            waitingWithoutDeadline: 0,
          },
        ]);

        const bad = await call('POST', '/v1/deploy/check', {
          definitions: [{ name: 'customer_onboarding', version: 3, tasks: [] }],
        });
        assert.equal(bad.status, 400);
        assert.match(bad.body.message, /tasks/);
        assert.equal((await call('POST', '/v1/deploy/check', { definitions: [] })).status, 400);
        assert.deepEqual(
          (await engine.versions()).filter((v) => v.workflow === 'customer_onboarding').map((v) => v.version),
          [1],
          'checks register nothing',
        );
      });
    },
  );
});
