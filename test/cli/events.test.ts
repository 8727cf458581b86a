/** `waymark server --amqp/--nats`: bad URLs are usage errors; a handler created over HTTP starts runs from RabbitMQ. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import amqp from 'amqplib';
import { tempDb } from '../helpers.js';
import { cli, sleep, spawnCli } from './cli-process.js';

const AMQP = process.env.WAYMARK_TEST_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672';

test('`server --nats/--amqp` take broker URLs: anything else is a usage error (exit 2)', async () => {
  for (const [args, message] of [
    [['--nats', 'not a url'], /--nats must be a URL/],
    [['--amqp', 'http://127.0.0.1:5672'], /--amqp must be a amqp: or amqps:\/\/ URL/],
  ] as const) {
    const result = await cli(['server', '--db', tempDb(), ...args]);
    assert.deepEqual([result.code, message.test(result.stderr)], [2, true], result.stderr);
  }
});

test('`server --amqp`: a handler created over HTTP starts a run per RabbitMQ message', async () => {
  const suffix = randomUUID().slice(0, 8);
  const queue = `cli-orders-${suffix}`;
  const definition = { name: 'noop_flow', version: 1, tasks: [{ name: 'n', taskReferenceName: 'n', type: 'NOOP' }] };
  const child = spawnCli(['server', '--port', '0', '--log-level', 'warn', '--db', tempDb(), '--amqp', AMQP]);
  child.stderr!.resume();
  const exited = once(child, 'exit');
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const found = /listening on (https?:\/\/\S+)/.exec(stdout)?.[1];
      if (found && stdout.includes('(Ctrl-C or SIGTERM to stop)\n')) resolve(found);
    });
    void exited.then(([code]) => reject(new Error(`server exited (${code}) before listening\n${stdout}`)));
  });
  const connection = await amqp.connect(AMQP);
  const channel = await connection.createConfirmChannel();
  try {
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await post('/api/metadata/workflow', definition)).status, 200);
    const handler = {
      name: `cli-${suffix}`,
      event: `amqp:${queue}`,
      actions: [{ action: 'start_workflow', start_workflow: { name: 'noop_flow', input: { n: '${n}' } } }],
    };
    assert.equal((await post('/api/event', handler)).status, 200);
    await channel.assertQueue(queue, { durable: true });
    channel.sendToQueue(queue, Buffer.from(JSON.stringify({ n: 1 })), { persistent: true, messageId: 'x1' });
    await channel.waitForConfirms();
    const runId = `evt:cli-${suffix}:x1`;
    const deadline = Date.now() + 20_000;
    let status: string | undefined;
    while (Date.now() < deadline) {
      const answer = await fetch(`${url}/api/workflow/${encodeURIComponent(runId)}`);
      if (answer.status === 200) status = ((await answer.json()) as { status: string }).status;
      if (status === 'COMPLETED') break;
      await sleep(100);
    }
    assert.equal(status, 'COMPLETED', `run ${runId} from the RabbitMQ message`);
  } finally {
    await channel.deleteQueue(queue).catch(() => {});
    await connection.close();
    child.kill('SIGTERM');
    assert.equal((await exited)[0], 0);
  }
});
