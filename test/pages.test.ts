import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The pages for people, in a real browser (Debian's Chromium): from the landing page to
 * a process's form, a job submitted from it, its page following it live to its outputs,
 * and a job dismissed from its page. A failing test leaves a screenshot in
 * test-results/.
 */
const run = chromiumAvailable();
const SHOTS = resolve('test-results');

let s: TestServer;
let browser: Browser;
beforeAll(async () => {
  if (!run) return;
  s = await startTestServer();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

/** Runs the steps; on failure keeps a screenshot of where the page was. */
async function inBrowser(name: string, steps: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.newPage();
  try {
    await steps(page);
  } catch (err) {
    mkdirSync(SHOTS, { recursive: true });
    const file = join(SHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    throw new Error(`${(err as Error).message}\n(screenshot: ${file})`);
  } finally {
    await page.close();
  }
}

describe.runIf(run)('pages for people', () => {
  it('from the landing page to a process, its form runs it, and the job’s page follows it to its output', async () => {
    await inBrowser('run-from-form', async (page) => {
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${s.url}/`);
      await page.getByRole('link', { name: 'The processes' }).click();
      await page.getByRole('link', { name: 'Sleep' }).click();
      await page.getByLabel('Delay (optional)').fill('1');
      await page.getByRole('button', { name: 'Run Sleep' }).click();
      await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
      // Live: the job's page shows it running, then done with its output.
      await page.getByText('running', { exact: true }).waitFor({ timeout: 15_000 });
      await page.getByText('successful', { exact: true }).waitFor({ timeout: 15_000 });
      expect(await page.locator('dl').textContent()).toContain('done sleeping');
      expect(pageErrors).toEqual([]);
    });
  }, 60_000);

  it('a job is dismissed from its page; the jobs page lists it, filtered', async () => {
    await inBrowser('dismiss', async (page) => {
      await page.goto(`${s.url}/processes/sleep?f=html`);
      await page.getByLabel('Delay (optional)').fill('30');
      await page.getByRole('button', { name: 'Run Sleep' }).click();
      await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
      const id = /\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
      await page.getByRole('button', { name: 'Dismiss this job' }).click();
      await page.getByText('dismissed', { exact: true }).waitFor({ timeout: 15_000 });
      await page.goto(`${s.url}/jobs?f=html`);
      await page.getByLabel('Status').selectOption('dismissed');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/status=dismissed/);
      expect(await page.locator('tbody').textContent()).toContain(id.slice(0, 8));
    });
  }, 60_000);

  it('a value the process refuses is said on the form, and nothing is submitted', async () => {
    await inBrowser('refused', async (page) => {
      await page.goto(`${s.url}/processes/inout?f=html`);
      await page.getByLabel('Integer').fill('99');
      await page.getByLabel('Length').fill('1');
      await page.getByRole('button', { name: /^Run/ }).click();
      await page.getByRole('status').filter({ hasText: 'int_in' }).waitFor({ timeout: 10_000 });
      expect(page.url()).toContain('/processes/inout');
    });
  }, 60_000);
});
