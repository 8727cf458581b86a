import type { Command } from 'commander';
import { workflows } from '../../examples/index.js';
import { Engine, type Run, type RunStatus } from '../../index.js';
import { DB_HELP, storeLocation } from '../args.js';
import { historyTable, runsTable } from '../format.js';
import { cliName } from '../open-engine.js';
import { printableLocation } from '../../store/open.js';

interface DemoFlags {
  db?: string;
}

/** One example run the demo starts, the signals it sends and the status the run must end in. */
interface DemoRun {
  workflow: string;
  id: string;
  input: unknown;
  signals: { name: string; data: unknown }[];
  expect: RunStatus;
}

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('start the example runs, wait for them and show their runs and a history (what `npm start` runs)')
    .option('--db <store>', DB_HELP)
    .action(async (flags: DemoFlags) => {
      const location = storeLocation(flags);
      const engine = await Engine.open({ store: location, workflows, pollIntervalMs: 200 });
      try {
        await demo(engine, location, flags);
      } finally {
        await engine.close();
      }
    });
}

async function demo(engine: Engine, location: string, flags: DemoFlags): Promise<void> {
  const tag = `demo-${Date.now().toString(36)}`;
  const plan: DemoRun[] = [
    {
      workflow: 'order',
      id: `${tag}-order-approved`,
      input: { id: 'A-1001', amount: 42 },
      signals: [{ name: 'approval', data: { approved: true, by: 'ops' } }],
      expect: 'completed',
    },
    {
      workflow: 'order',
      id: `${tag}-order-unanswered`,
      input: { id: 'A-1002', amount: 15, approvalTimeout: '2s' },
      signals: [],
      expect: 'completed',
    },
    {
      workflow: 'order',
      id: `${tag}-order-invalid`,
      input: { id: 'A-1003', amount: 0 },
      signals: [],
      expect: 'failed',
    },
    {
      workflow: 'onboarding',
      id: `${tag}-onboarding`,
      input: { email: 'ada@example.com' },
      signals: [{ name: 'email_verified', data: { at: 'link' } }],
      expect: 'completed',
    },
    { workflow: 'report', id: `${tag}-report`, input: { parts: 5 }, signals: [], expect: 'completed' },
  ];

  const started = Date.now();
  for (const item of plan) {
    await engine.start(item.workflow, item.input, { id: item.id });
    // Sent at once: a signal that arrives before the run waits for it is kept until it does.
    for (const signal of item.signals) await engine.signal(item.id, signal.name, signal.data);
  }
  process.stdout.write(
    `Started ${plan.length} example runs on ${printableLocation(location)}; waiting for them to finish...\n\n`,
  );

  await Promise.allSettled(plan.map((item) => engine.result(item.id, { timeoutMs: 20_000 })));
  const runs: Run[] = [];
  for (const item of plan) runs.push(await engine.getRun(item.id));
  process.stdout.write(`${runsTable(runs)}\n\n`);

  const shown = plan[0]!;
  process.stdout.write(
    `History of run ${shown.id} (${shown.workflow}): a retried charge, a durable sleep, an early signal\n`,
  );
  process.stdout.write(`${historyTable(await engine.history(shown.id))}\n\n`);

  const wrong = plan.filter((item, i) => runs[i]!.status !== item.expect);
  if (wrong.length > 0) {
    const facts = wrong
      .map((item) => `${item.id} is ${runs[plan.indexOf(item)]!.status}, expected ${item.expect}`)
      .join('; ');
    throw new Error(`the demo runs did not end as expected: ${facts}`);
  }
  const given = location.startsWith('sqlite:') ? location.slice('sqlite:'.length) : printableLocation(location);
  const db = flags.db === undefined && process.env.WAYMARK_DB === undefined ? '' : ` --db ${given}`;
  process.stdout.write(
    `All ${plan.length} runs ended as expected in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s (the invalid order fails on purpose).\n` +
      `Look around: ${cliName()} runs list${db}  |  runs get <run>  |  runs history <run>\n`,
  );
}
