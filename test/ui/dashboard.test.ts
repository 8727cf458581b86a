/**
 * The dashboard in a real browser (Debian's Chromium, headless) against a real server and engine, on each store:
 * every page opens, runs are filtered and opened, a run is upgraded after a dry run, a drained version's in-flight
 * count drops live when one of its runs completes, and a reader key sees no write controls. Screenshots of each
 * page are written to test-output/screenshots/<store>/.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Engine } from '../../src/index.js';
import { createKey } from '../../src/server/auth/credentials.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/open.js';
import { openEngineOnStore } from '../../src/engine.js';
import { workflows } from '../fixtures/versioned-workflows.js';
import { forEachBackend, runUntil, tempDir } from '../helpers.js';
import { builtUi, launchBrowser, newPage, SCREENSHOTS, screenshot } from './browser.js';

let browser: Browser;
let uiDir: string;
const folder = tempDir();
before(async () => {
  [browser, uiDir] = await Promise.all([launchBrowser(), builtUi(folder)]);
});
after(async () => {
  await browser?.close();
  console.log(`dashboard screenshots: ${SCREENSHOTS}`);
});

const CANDIDATE = {
  name: 'ui-candidate',
  version: 1,
  schemaVersion: 2,
  tasks: [{ name: 'greet', taskReferenceName: 'greet', type: 'SIMPLE' }],
};

/** The versions table row of versioned-order `version`. */
const versionRow = (page: Page, version: number) =>
  page.locator(`[data-workflow="versioned-order"] tr[data-version="${version}"]`);

forEachBackend((backend) => {
  test('every page, filters, a run, an upgrade after a dry run, and a live drain', async (t) => {
    const began = Date.now();
    const engine = await Engine.open({ store: backend.store(), workflows, pollIntervalMs: 50, logger: { warn() {} } });
    const server: RunningServer = await startServer({ engine, port: 0, uiDir });
    const errors: string[] = [];
    const page = await newPage(browser, errors);
    try {
      const shell = await fetch(`${server.url}/`);
      assert.equal(shell.headers.get('cache-control'), 'no-cache');
      const script = /src="(\/ui\/app-[A-Za-z0-9]+\.js)"/.exec(await shell.text())![1]!;
      const asset = await fetch(`${server.url}${script}`);
      assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.match(asset.headers.get('content-type') ?? '', /javascript/);
      assert.equal((await fetch(`${server.url}/ui/app-nothere.js`)).status, 404);

      const ids: string[] = [];
      for (const n of [1, 2, 3]) {
        const { run } = await engine.startRun(
          'versioned-order',
          { id: `o${n}` },
          { version: 1, correlationId: `c${n}` },
        );
        ids.push(run.id);
      }
      await engine.startRun('versioned-nap', {});
      for (const id of ids) await runUntil(engine, id, (r) => r.status === 'waiting');

      await page.goto(`${server.url}/`);
      await page.locator('[data-live="connected"]').waitFor();
      await versionRow(page, 1).locator('[data-field="inFlight"]', { hasText: '3' }).waitFor();
      await screenshot(page, backend.name, 'versions');

      await page.getByRole('link', { name: 'Runs' }).click();
      await page.locator('table.runs tbody tr').first().waitFor();
      await page.getByLabel('Workflow').fill('versioned-order');
      await page.getByLabel('Status').selectOption('waiting');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/status=waiting/);
      await page.waitForFunction(() => document.querySelectorAll('table.runs tbody tr').length === 3);
      await page.getByLabel('Correlation id').fill('c2');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForFunction(() => document.querySelectorAll('table.runs tbody tr').length === 1);
      assert.equal(await page.locator('table.runs tbody tr').getAttribute('data-run'), ids[1]);
      await screenshot(page, backend.name, 'runs');

      await page.locator(`tr[data-run="${ids[1]}"] a`).click();
      await page.locator('[data-field="version"]', { hasText: 'v1' }).waitFor();
      await page.locator('ol.timeline li[data-type="signal_waiting"]').waitFor();
      await screenshot(page, backend.name, 'run');

      await page.getByRole('button', { name: 'Upgrade', exact: true }).click();
      const upgrade = page.getByRole('form', { name: 'Upgrade' });
      await upgrade.getByLabel('To version').selectOption('2');
      await upgrade.getByLabel('Reason').fill('take the early check');
      await upgrade.getByRole('button', { name: 'Dry run' }).click();
      await page.locator('[data-verdict="ok"]').waitFor();
      assert.equal((await engine.getRun(ids[1]!)).version, 1, 'the dry run changed nothing');
      assert.equal(await upgrade.getByLabel('To version').inputValue(), '2', 'the form keeps the chosen version');
      assert.ok((await page.locator('[data-field="frontier"]').textContent())?.length, 'the frontier is shown');
      await screenshot(page, backend.name, 'run-upgrade-dry-run');
      await page.getByRole('button', { name: 'Apply upgrade to v2' }).click();
      await page.getByRole('button', { name: 'Upgrade to v2 now' }).click();
      await page.locator('[data-field="version"]', { hasText: 'v2' }).waitFor();
      const upgraded = (await engine.history(ids[1]!)).filter((e) => e.type === 'run_upgraded');
      assert.equal(upgraded.length, 1);
      assert.match(JSON.stringify(upgraded[0]!.data), /take the early check/);

      await page.getByRole('link', { name: 'Versions' }).click();
      await versionRow(page, 1).locator('[data-field="inFlight"]', { hasText: '2' }).waitFor();
      await page.evaluate(() => Object.assign(window, { notReloaded: true }));
      await versionRow(page, 1).getByRole('button', { name: 'Drain' }).click();
      await versionRow(page, 1).getByRole('button', { name: 'Drain now' }).click();
      await page.locator('[data-workflow="versioned-order"] tr[data-version="1"][data-status="draining"]').waitFor();
      await engine.signal(ids[0]!, 'go', { ok: true });
      await runUntil(engine, ids[0]!, (r) => r.status === 'completed');
      await versionRow(page, 1).locator('[data-field="inFlight"]', { hasText: '1' }).waitFor({ timeout: 5_000 });
      assert.equal(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded), true);
      await screenshot(page, backend.name, 'versions-drained');

      await page.getByRole('link', { name: 'Deploys' }).click();
      await page.getByLabel(/Candidate definitions/).fill(JSON.stringify(CANDIDATE));
      await page.getByRole('button', { name: 'Deploy check' }).click();
      await page.locator('[data-report="check"]').waitFor();
      await page.getByRole('button', { name: 'Deploy plan' }).click();
      await page.locator('[data-report="plan"]').waitFor();
      await page.locator('table[aria-label="Stored reports"] tbody tr', { hasText: 'plan' }).first().waitFor();
      await page.locator('table[aria-label="Stored reports"] tbody tr a').first().click();
      await page.locator('#reports ~ .report').waitFor();
      await screenshot(page, backend.name, 'deploys');

      await fetch(`${server.url}/v1/rollouts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workflow: 'versioned-order', from: 2, to: 3, percent: 10 }),
      });
      await page.getByRole('link', { name: 'Rollouts' }).click();
      await page.locator('[data-rollout="versioned-order"]').waitFor();
      await screenshot(page, backend.name, 'rollouts');

      // A worker polls for a task type: the queue and its poller show.
      await fetch(`${server.url}/api/tasks/poll/ui-task?workerid=ui-worker`, { signal: AbortSignal.timeout(5_000) });
      await page.getByRole('link', { name: 'Task queues' }).click();
      await page.locator('main h1', { hasText: 'Task queues' }).waitFor();
      await page.locator('main tr[data-queue="ui-task"]').waitFor();
      await screenshot(page, backend.name, 'queues');

      await page.goto(`${server.url}/#/runs?workflow=versioned-nap`);
      await page.getByText('Bulk action on this filter').click();
      const bulk = page.getByRole('form', { name: 'Preview bulk action' });
      await page.getByRole('button', { name: 'Preview bulk action' }).click();
      await bulk.getByLabel('Action').selectOption('cancel');
      await bulk.getByLabel('Reason').fill('nap over');
      await bulk.getByRole('button', { name: 'Preview (changes nothing)' }).click();
      const preview = page.locator('[data-field="matched"]');
      await preview.waitFor();
      assert.equal(await preview.textContent(), '1', 'the preview counts the one nap run');
      assert.equal((await engine.pageRuns({ workflow: 'versioned-nap' })).runs[0]!.status, 'waiting');
      await page.getByRole('button', { name: 'Apply to 1 runs' }).click();
      await page.locator('.progress-box[data-state="finished"]').waitFor();
      await page.locator('table.runs tr[data-status="cancelled"]').waitFor();
      await screenshot(page, backend.name, 'runs-bulk');
      assert.equal((await engine.pageRuns({ workflow: 'versioned-nap' })).runs[0]!.status, 'cancelled');
      assert.deepEqual(errors, [], 'no script error in the page');
      t.diagnostic(`${backend.name}: ${Date.now() - began} ms, screenshots in ${join(SCREENSHOTS, backend.name)}`);
    } finally {
      await page.context().close();
      await server.close();
      await engine.close();
    }
  });

  test('a reader logs in with a key and sees no write controls', async () => {
    const store = await openStore(backend.store());
    const engine = await openEngineOnStore(store, { workflows, pollIntervalMs: 50, logger: { warn() {} } });
    const server = await startServer({ engine, port: 0, auth: { store }, uiDir });
    const errors: string[] = [];
    const page = await newPage(browser, errors);
    try {
      const reader = await createKey(store.keys, { role: 'reader', name: 'ui reader' });
      const { run } = await engine.startRun('versioned-order', { id: 'r' }, { version: 1 });
      await runUntil(engine, run.id, (r) => r.status === 'waiting');
      const whoami = await fetch(`${server.url}/v1/whoami`, {
        headers: { authorization: `Bearer ${reader.keyId}:${reader.keySecret}` },
      });
      assert.deepEqual(await whoami.json(), { actor: `key:${reader.keyId} (ui reader)`, role: 'reader', auth: true });

      await page.goto(`${server.url}/`);
      await page.getByLabel('Key id').fill(reader.keyId);
      await page.getByLabel('Secret').fill(reader.keySecret);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('.who[data-role="reader"]').waitFor();
      await versionRow(page, 1).locator('[data-field="inFlight"]', { hasText: '1' }).waitFor();
      await screenshot(page, `${backend.name}-reader`, 'versions');
      assert.equal(await page.locator('main button').count(), 0, 'no write control on the versions page');

      await page.goto(`${server.url}/#/run/${encodeURIComponent(run.id)}`);
      await page.locator('[data-field="version"]', { hasText: 'v1' }).waitFor();
      assert.equal(await page.locator('main button, section.run-actions').count(), 0, 'none on the run page');
      await page.goto(`${server.url}/#/runs`);
      await page.locator(`tr[data-run="${run.id}"]`).waitFor();
      assert.equal(await page.locator('details.bulk').count(), 0, 'no bulk actions');
      await page.goto(`${server.url}/#/deploys`);
      await page.locator('main h1', { hasText: 'Deploys' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Deploy check' }).count(), 0, 'no deploy check');
      await screenshot(page, `${backend.name}-reader`, 'run');
      assert.deepEqual(errors, []);
    } finally {
      await page.context().close();
      await server.close();
      await engine.close();
      await store.close();
    }
  });
});
