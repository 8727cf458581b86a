import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startWorker } from '../../examples/conductor-onboarding/worker.js';
import { ROOT } from '../cli/cli-process.js';
import { tempDb } from '../helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const example = (file: string) =>
  JSON.parse(readFileSync(`${ROOT}/examples/conductor-onboarding/${file}`, 'utf8')) as unknown;

interface ConductorTask {
  taskDefName: string;
  referenceTaskName: string;
  status: string;
  outputData: Record<string, unknown>;
}
interface ConductorWorkflow {
  workflowId: string;
  status: string;
  workflowVersion: number;
  output: Record<string, unknown>;
  tasks: ConductorTask[];
}

/** Starts `waymark server` on a fresh SQLite file; resolves with its URL and a stop function. */
async function startServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, 'server', '--port', '0', '--db', `sqlite:${tempDb()}`, '--log-level', 'warn'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stderr!.on('data', (chunk) => (out += chunk));
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const found = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (found) resolve(found);
    });
    void exited.then(() => reject(new Error(`waymark server exited before listening:\n${out}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0, out);
    },
  };
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<Response> {
  const response = await fetch(`${url}/api${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status >= 300)
    throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
  return response;
}

/** Resolves with the workflow once it is COMPLETED (it fails on FAILED or after 15 s). */
async function completed(url: string, id: string): Promise<ConductorWorkflow> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const workflow = (await (await call(url, 'GET', `/workflow/${id}`)).json()) as ConductorWorkflow;
    if (workflow.status === 'COMPLETED') return workflow;
    if (workflow.status !== 'RUNNING' || Date.now() > deadline)
      throw new Error(`workflow ${id} is ${workflow.status}: ${JSON.stringify(workflow)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const taskNames = (workflow: ConductorWorkflow) => workflow.tasks.map((t) => t.taskDefName);

test(
  'the migration window: pinned v1 stays v1, unpinned starts run v2 for legacy and v2 payloads, ' +
    'restart keeps v1 unless useLatestDefinitions',
  async () => {
    const server = await startServer();
    const worker = startWorker(server.url, 'onboarding-test-worker');
    try {
      await call(server.url, 'POST', '/metadata/taskdefs', example('taskdefs.json'));
      await call(server.url, 'POST', '/metadata/workflow', example('customer_onboarding.v1.json'));
      await call(server.url, 'POST', '/metadata/workflow', example('customer_onboarding.v2.json'));
      const start = async (input: unknown, version?: number) => {
        const response = await call(
          server.url,
          'POST',
          `/workflow/customer_onboarding${version ? `?version=${version}` : ''}`,
          input,
        );
        assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
        return response.text();
      };
      const legacy = { legacyCustomerId: '1001', email: ' Ada@Example.com ', country: 'de' };
      const current = {
        customerId: 'c-2002',
        contact: { email: 'grace@example.com', phone: '+1-555-0100' },
        region: 'us',
        loyaltyTier: 'Gold',
      };

      const pinned = await completed(server.url, await start(legacy, 1));
      assert.equal(pinned.workflowVersion, 1);
      assert.deepEqual(taskNames(pinned), ['normalize_customer_profile'], 'v1 has no risk task');
      assert.deepEqual(pinned.output, {
        profile: {
          customerId: 'legacy-1001',
          email: 'ada@example.com',
          phone: null,
          region: 'DE',
          loyaltyTier: 'standard',
          source: 'legacy',
        },
      });

      for (const [input, tier] of [
        [legacy, 'medium'],
        [current, 'low'],
      ] as const) {
        const routed = await completed(server.url, await start(input));
        assert.equal(routed.workflowVersion, 2, 'unpinned starts take the latest version');
        assert.deepEqual(taskNames(routed), ['normalize_customer_profile', 'assign_risk_tier']);
        assert.equal(routed.output.riskTier, tier);
      }

      await call(server.url, 'POST', `/workflow/${pinned.workflowId}/restart`);
      const again = await completed(server.url, pinned.workflowId);
      assert.deepEqual(
        [again.workflowVersion, taskNames(again)],
        [1, ['normalize_customer_profile']],
        'a restart keeps v1',
      );

      await call(server.url, 'POST', `/workflow/${pinned.workflowId}/restart?useLatestDefinitions=true`);
      const latest = await completed(server.url, pinned.workflowId);
      assert.deepEqual(
        [latest.workflowVersion, taskNames(latest)],
        [2, ['normalize_customer_profile', 'assign_risk_tier']],
        'useLatestDefinitions runs v2',
      );
      assert.equal(latest.output.riskTier, 'medium');
      assert.ok(worker.completed() >= 7, 'every task was executed by the polling worker');
    } finally {
      await worker.stop();
      await server.stop();
    }
  },
);
