import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { tempDb } from '../helpers.js';
import { cliJson, sleep, spawnCli } from './cli-process.js';

test(
  'a run started by a client process is executed by `waymark dev` in another process, ' +
    'which stops cleanly on SIGTERM',
  async () => {
    const db = tempDb();
    const dev = spawnCli(['dev', '--examples', '--db', db]);
    let devOut = '';
    let devErr = '';
    dev.stdout!.on('data', (chunk) => (devOut += chunk));
    dev.stderr!.on('data', (chunk) => (devErr += chunk));
    const exited = once(dev, 'exit');
    try {
      for (let i = 0; i < 100 && !devOut.includes('waymark dev:'); i++) await sleep(100);
      assert.match(devOut, /waymark dev: worker .* serving order v1, order v2, onboarding v1, report v1/, devErr);

      // A client in this process signals the order as soon as the run exists (signals are kept until the run
      // waits for them).
      const client = await Engine.open({ store: db, worker: false });
      const signalled = (async () => {
        for (;;) {
          const exists = await client.getRun('order-cli-1').then(
            () => true,
            () => false,
          );
          if (exists) return client.signal('order-cli-1', 'approval', { approved: true });
          await sleep(20);
        }
      })();
      const started = await cliJson<{ id: string; workflow: string; version: number }>([
        'start',
        'order',
        '--db',
        db,
        '--id',
        'order-cli-1',
        '--input',
        '{"id":"A-1","amount":9}',
      ]);
      assert.deepEqual([started.id, started.workflow, started.version], ['order-cli-1', 'order', 2]);
      await signalled;
      await client.close();

      let run = await cliJson<{ status: string; output?: { approved: boolean; order: string } }>([
        'runs',
        'get',
        'order-cli-1',
        '--db',
        db,
      ]);
      for (let i = 0; i < 30 && run.status !== 'completed'; i++) {
        await sleep(200);
        run = await cliJson(['runs', 'get', 'order-cli-1', '--db', db]);
      }
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.equal(run.output?.approved, true);
      assert.equal(run.output?.order, 'A-1');
      assert.match(devOut, /run order-cli-1 completed/);
    } finally {
      dev.kill('SIGTERM');
    }
    const [code] = await exited;
    assert.equal(code, 0, devErr);
    assert.match(devOut, /waymark dev: stopped/);
  },
);
