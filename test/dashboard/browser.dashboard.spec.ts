import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Browser, chromium, Dialog, Page } from 'playwright-core';
import { DashboardApp, eventually, startDashboardApp } from './support';

/** The browser's globals, as far as the functions run in the page use them. */
declare const window: { loaded?: string };
declare const location: { pathname: string };
declare function getComputedStyle(node: unknown): { borderRadius: string };
declare const document: { createElement(tag: 'form'): { method: string; action: string; submit(): void }; body: { appendChild(node: unknown): void } };

/**
 * The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), on
 * real time: short intervals, generous bounds, and assertions on counts and states, never on speed.
 */
const XSS = '<img src=x onerror=alert(1)>';

jest.setTimeout(20_000);

describe('the dashboard in a browser', () => {
  let browser: Browser;
  let d: DashboardApp;
  let page: Page;
  const dialogs: Array<{ type: string; message: string }> = [];
  /** Script errors and Content-Security-Policy violations on the page. */
  const problems: string[] = [];
  /** What the next confirmation is answered. */
  let confirmAnswer = true;

  const row = (name: string) => page.locator('#jobs-body tr').filter({ has: page.locator('.job-name', { hasText: name }) });

  beforeAll(async () => {
    d = await startDashboardApp('express', { path: '/scheduler', allowUnauthenticated: true });
    const job = (name: string, every: number, handler: () => unknown = () => undefined) => d.registry.addJob({ name, trigger: { every }, handler });
    await job('ticker', 200);
    await job('manual', 3_600_000);
    await job(XSS, 3_600_000, () => {
      throw new Error('<img src=y onerror=alert(2)>');
    });
    await job('doomed', 3_600_000);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    page = await browser.newPage();
    page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) problems.push(`policy violation: ${message.text()}`);
    });
    page.on('dialog', (dialog: Dialog) => {
      dialogs.push({ type: dialog.type(), message: dialog.message() });
      void (dialog.type() === 'confirm' && confirmAnswer ? dialog.accept() : dialog.dismiss());
    });
    await page.goto(d.dashboard);
    await page.locator('#live.on').waitFor();
    // Marks this load of the page: a reload would lose it.
    await page.evaluate(() => (window.loaded = 'first'));
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await d?.app.close();
  });

  const notReloaded = async () => expect(await page.evaluate(() => window.loaded)).toBe('first');

  it('shows every job with its schedule in words', async () => {
    await expect(page.locator('#jobs-body tr').count()).resolves.toBe(4);
    await expect(row('ticker').locator('td.trigger').innerText()).resolves.toContain('every 200 ms');
    await expect(row('manual').locator('td.trigger').innerText()).resolves.toContain('every hour');
    await expect(page.locator('#count-jobs').innerText()).resolves.toBe('4');
    await expect(page.locator('#count-instances').innerText()).resolves.toBe('1');
    // The page's own style and script run under its policy.
    expect(problems).toEqual([]);
    await expect(page.locator('#live').evaluate((node) => getComputedStyle(node).borderRadius)).resolves.toBe('999px');
  });

  it('pauses a job: it shows as paused, and its run count stops growing', async () => {
    await eventually(() => d.registry.getJob('ticker').runs >= 2, 'ticker to run twice');
    await row('ticker').getByRole('button', { name: 'Pause' }).click();
    await row('ticker').locator('.badge-paused').waitFor();
    await row('ticker').getByRole('button', { name: 'Resume' }).waitFor();
    expect(d.registry.getJob('ticker').paused).toBe(true);
    const runs = d.registry.getJob('ticker').runs;
    // Five periods of the interval, at least.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(d.registry.getJob('ticker').runs).toBe(runs);
    await expect(row('ticker').locator('td.runs').innerText()).resolves.toBe(String(runs));
    await notReloaded();
  });

  it('runs a job now, and the run appears without a reload', async () => {
    const manualRuns = page.locator('#runs-body tr').filter({ has: page.locator('.job-name', { hasText: 'manual' }) });
    await expect(manualRuns.count()).resolves.toBe(0);
    await row('manual').getByRole('button', { name: 'Run now' }).click();
    await manualRuns.first().waitFor();
    await expect(manualRuns.first().locator('.badge').innerText()).resolves.toBe('Succeeded');
    await eventually(async () => (await row('manual').locator('td.runs').innerText()) === '1', 'the run count of manual to show 1');
    await expect(row('manual').locator('td.last .badge').innerText()).resolves.toBe('Succeeded');
    await notReloaded();
  });

  it(`shows a job named ${XSS}, and its error, as text: no element, no dialog`, async () => {
    await expect(row(XSS).locator('.job-name').innerText()).resolves.toBe(XSS);
    await row(XSS).getByRole('button', { name: 'Run now' }).click();
    const failed = page.locator('#runs-body tr').filter({ has: page.locator('.job-name', { hasText: XSS }) });
    await failed.first().waitFor();
    await expect(failed.first().locator('td.error').innerText()).resolves.toBe('<img src=y onerror=alert(2)>');
    await row(XSS).getByRole('button', { name: 'Pause' }).click();
    await row(XSS).locator('.badge-paused').waitFor();
    expect(d.registry.getJob(XSS).paused).toBe(true);
    await expect(page.locator('main img').count()).resolves.toBe(0);
    expect(dialogs.filter((dialog) => dialog.type !== 'confirm')).toEqual([]);
  });

  it('shows the runs of the job clicked, with duration and error, and all jobs again on request', async () => {
    await row(XSS).click();
    await eventually(async () => (await page.locator('#runs-title').innerText()) === `Runs of ${XSS}`, 'the runs of the job clicked');
    const jobs = await page.locator('#runs-body td.job-name').allInnerTexts();
    expect(jobs.length).toBeGreaterThan(0);
    expect(new Set(jobs)).toEqual(new Set([XSS]));
    await expect(page.locator('#runs-body tr').first().locator('td.error').innerText()).resolves.toBe('<img src=y onerror=alert(2)>');
    await expect(page.locator('#runs-body tr').first().locator('td.num').first().innerText()).resolves.toMatch(/^\d+ ms$/);
    await page.getByRole('button', { name: 'Show all jobs' }).click();
    await eventually(async () => (await page.locator('#runs-title').innerText()) === 'Recent runs', 'the runs of every job');
    await eventually(async () => new Set(await page.locator('#runs-body td.job-name').allInnerTexts()).size >= 2, 'runs of several jobs');
  });

  it('refuses a POST without the token with 403', async () => {
    const status = await page.evaluate(() => fetch(`${location.pathname}/api/jobs/manual/pause`, { method: 'POST' }).then((response) => response.status));
    expect(status).toBe(403);
    expect(d.registry.getJob('manual').paused).toBe(false);
  });

  it('refuses a POST from another origin with 403', async () => {
    // A page of another origin (another port), whose form posts to the dashboard as a hostile page would.
    const hostile = createServer((_, response) => response.end('<!doctype html><title>elsewhere</title><body></body>'));
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    const other = await browser.newPage();
    try {
      await other.goto(`http://127.0.0.1:${(hostile.address() as AddressInfo).port}/`);
      const target = `${d.dashboard}/api/jobs/manual/pause`;
      const [response] = await Promise.all([
        other.waitForResponse(target),
        other.evaluate((action) => {
          const form = document.createElement('form');
          form.method = 'POST';
          form.action = action;
          document.body.appendChild(form);
          form.submit();
        }, target),
      ]);
      expect(response.status()).toBe(403);
      expect(((await response.json()) as { message: string }).message).toMatch(/^Refused: the Origin header \(http:\/\/127\.0\.0\.1:\d+\) is not this site/);
      expect(d.registry.getJob('manual').paused).toBe(false);
    } finally {
      await other.close();
      await new Promise((resolve) => hostile.close(resolve));
    }
  });

  it('asks before removing a job; once accepted, the job disappears', async () => {
    confirmAnswer = false;
    await row('doomed').getByRole('button', { name: 'Remove' }).click();
    expect(dialogs.at(-1)).toEqual({ type: 'confirm', message: 'Remove the job "doomed"? It stops running on every instance that shares it.' });
    expect(d.registry.listJobs().map((job) => job.name)).toContain('doomed');
    confirmAnswer = true;
    await row('doomed').getByRole('button', { name: 'Remove' }).click();
    await eventually(async () => (await row('doomed').count()) === 0, 'the row of doomed to go');
    expect(d.registry.listJobs().map((job) => job.name)).not.toContain('doomed');
    await expect(page.locator('#count-jobs').innerText()).resolves.toBe('3');
    await notReloaded();
  });

  it('is not served without a guard or allowUnauthenticated', async () => {
    const closed = await startDashboardApp('express', { path: '/scheduler' });
    const other = await browser.newPage();
    try {
      const response = await other.goto(closed.dashboard);
      expect(response?.status()).toBe(404);
      await expect(other.locator('#jobs').count()).resolves.toBe(0);
    } finally {
      await other.close();
      await closed.app.close();
    }
  });
});
