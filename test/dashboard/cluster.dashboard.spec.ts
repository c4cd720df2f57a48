import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Browser, chromium } from 'playwright-core';
import { Cron, RedisJobStore, ScheduleDashboardModule, ScheduleModule, SchedulerRegistry } from '../../lib';
import { INestApplication } from '@nestjs/common';
import { redisNamespace } from '../cluster/in-process';
import { RecordingLogger } from '../support/nest';
import { REDIS_URL, uniqueName } from '../support/services';
import { eventually, openSession, post } from './support';

/** The browser's globals, as far as the functions run in the page use them. */
declare const window: { loaded?: string };

/**
 * Two instances of one application in this process, on one real Redis store: the dashboard of
 * instance A shows the runs instance B makes, in its JSON API and, live, in the browser.
 */
jest.setTimeout(30_000);

@Injectable()
class Reports {
  /** A cluster-wide job that never comes due during the test: only runs made on purpose happen. */
  @Cron('0 0 1 1 *', { name: 'yearly-report' })
  report() {
    return undefined;
  }
}

const keyPrefix = `${uniqueName('metronome-dashboard')}:`;

async function instance(instanceId: string): Promise<INestApplication> {
  @Module({
    imports: [
      ScheduleModule.forRoot({ store: new RedisJobStore({ url: REDIS_URL, keyPrefix }), instanceId }),
      ScheduleDashboardModule.forRoot({ path: '/scheduler', allowUnauthenticated: true }),
    ],
    providers: [Reports],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: new RecordingLogger() });
  await app.listen(0, '127.0.0.1');
  return app;
}

interface Run {
  job: string;
  instance: string;
  outcome: string;
}

describe('the dashboard of one instance in a cluster', () => {
  let a: INestApplication;
  let b: INestApplication;
  let browser: Browser | undefined;
  let dashboard: string;

  beforeAll(async () => {
    a = await instance('instance-a');
    b = await instance('instance-b');
    dashboard = `${(await a.getUrl()).replace('[::1]', '127.0.0.1')}/scheduler`;
  });

  afterAll(async () => {
    await browser?.close();
    await a?.close();
    await b?.close();
    await redisNamespace(keyPrefix).drop();
  });

  it('lists both instances', async () => {
    const instances = (await (await fetch(`${dashboard}/api/instances`)).json()) as Array<{ id: string }>;
    expect(instances.map((entry) => entry.id).sort()).toEqual(['instance-a', 'instance-b']);
  });

  it('shows in its history a run made by the other instance (JSON API)', async () => {
    await b.get(SchedulerRegistry).triggerJob('yearly-report');
    let history: Run[] = [];
    await eventually(
      async () => {
        history = ((await (await fetch(`${dashboard}/api/jobs/yearly-report`)).json()) as { history: Run[] }).history;
        return history.some((run) => run.instance === 'instance-b');
      },
      'a run of instance-b in the history instance-a serves',
      5_000,
    ).catch(() => undefined);
    expect(history).toContainEqual(expect.objectContaining({ job: 'yearly-report', instance: 'instance-b', outcome: 'succeeded' }));
    // Instance A never ran the job: its list shows the run of B as the job's last.
    expect(a.get(SchedulerRegistry).getJob('yearly-report').lastRunAt).toBeNull();
    const jobs = (await (await fetch(`${dashboard}/api/jobs`)).json()) as Array<{ name: string; lastOutcome: string | null; lastRunAt: string | null }>;
    expect(jobs).toContainEqual(expect.objectContaining({ name: 'yearly-report', lastOutcome: 'succeeded', lastRunAt: expect.any(String) }));
  });

  it('refuses to remove a job the code of every instance defines (409), and offers pause instead', async () => {
    const jobs = (await (await fetch(`${dashboard}/api/jobs`)).json()) as Array<{ name: string; removable: boolean }>;
    expect(jobs).toContainEqual(expect.objectContaining({ name: 'yearly-report', removable: false }));
    const response = await post(dashboard, '/jobs/yearly-report/remove', await openSession(dashboard));
    expect(response.status).toBe(409);
    expect(((await response.json()) as { message: string }).message).toBe(
      'Job "yearly-report" is defined in the code of every instance: removed here, it would go on running on the others. Pause it to stop it everywhere.',
    );
    for (const app of [a, b]) expect(app.get(SchedulerRegistry).doesExist('cron', 'yearly-report')).toBe(true);
  });

  it('shows a run made by the other instance in the browser, without a reload', async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const page = await browser.newPage();
    await page.goto(dashboard);
    await page.locator('#live.on').waitFor();
    await page.evaluate(() => (window.loaded = 'first'));
    const fromB = page.locator('#runs-body tr').filter({ has: page.locator('td.instance', { hasText: 'instance-b' }) });
    const before = await fromB.count();
    await b.get(SchedulerRegistry).triggerJob('yearly-report');
    await eventually(async () => (await fromB.count()) > before, 'a new run of instance-b on the page of instance-a', 5_000).catch(() => undefined);
    expect(await fromB.count()).toBeGreaterThan(before);
    expect(await page.evaluate(() => window.loaded)).toBe('first');
  });
});
