/** What the dashboard's browser tests share: Debian's Chromium driven headless, a built dashboard, screenshots. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildDashboard } from '../../src/server/dashboard-build.js';

/** The browser the tests drive. (Default: /usr/bin/chromium, or $WAYMARK_TEST_CHROMIUM) */
export const CHROMIUM = process.env.WAYMARK_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots go: test-output/screenshots/<group>/<page>.png under the repository. */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/** Launches headless Chromium with nothing running in the background (no network of its own). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/** Builds the dashboard with the build `npm run build` uses, into `dir` (e.g. a tempDir()); its path. */
export async function builtUi(dir: string): Promise<string> {
  return (await buildDashboard(join(dir, 'ui'))).outDir;
}

/** Saves a full-page screenshot as <group>/<name>.png; its path. */
export async function screenshot(page: Page, group: string, name: string): Promise<string> {
  const dir = join(SCREENSHOTS, group);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A page that fails the test on any script error the dashboard throws. */
export async function newPage(browser: Browser, errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(String(error)));
  return page;
}
