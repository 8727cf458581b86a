/**
 * The order example end to end in one process, on an in-memory store:
 *   npx tsx examples/quickstart.ts
 */
import { Engine } from '../src/index.js';
import { order } from './index.js';

const engine = await Engine.open({ store: 'sqlite::memory:', workflows: [order] });
try {
  const run = await engine.start('order', { id: 'o-1', amount: 42 }, { id: 'order-o-1' });
  await engine.signal(run.id, 'approval', { approved: true, by: 'ops' }); // kept until the run waits for it
  console.log('output:', await engine.result(run.id, { timeoutMs: 10_000 }));
  for (const event of await engine.history(run.id)) {
    console.log(String(event.pos).padStart(3), event.type.padEnd(16), event.name ?? '');
  }
} finally {
  await engine.close();
}
