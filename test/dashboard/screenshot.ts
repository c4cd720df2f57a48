/**
 * Takes docs/dashboard.png: the dashboard of an application with a few real jobs, two instances
 * on Redis, one job paused and one failing. Not part of the test suite; run it with
 *   npx jest --testMatch '**\/dashboard/screenshot.ts' test/dashboard/screenshot.ts
 */
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Cron, Interval, JobContext, RedisJobStore, ScheduleDashboardModule, ScheduleModule, SchedulerRegistry } from '../../lib';
import { redisNamespace } from '../cluster/in-process';
import { uniqueName } from '../support/services';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Injectable()
class Reports {
  @Cron('0 */15 * * * *', { name: 'refresh-sales-dashboards' })
  async refresh() {
    await sleep(120 + Math.random() * 200);
  }
  @Cron('0 0 6 * * 1-5', { name: 'daily-digest-email', timeZone: 'Europe/Paris' })
  async digest() {
    await sleep(400 + Math.random() * 500);
  }
  @Cron('0 0 0 1 * *', { name: 'monthly-statements' })
  async statements() {
    await sleep(900);
  }
}

@Injectable()
class Operations {
  @Cron('0 30 2 * * *', { name: 'reconcile-invoices' })
  async reconcile() {
    await sleep(250 + Math.random() * 300);
  }
  @Interval('ping-upstreams', 30_000)
  async ping() {
    await sleep(15 + Math.random() * 30);
  }
  @Interval('sync-inventory', 300_000)
  async sync() {
    await sleep(200);
  }
  @Cron('0 */5 * * * *', { name: 'deliver-webhooks', retry: { attempts: 2, backoffMs: 50 } })
  async webhooks({ attempt }: JobContext) {
    await sleep(80 + Math.random() * 60);
    if (attempt >= 1) throw new Error('POST https://hooks.partner.example/v1/events: 502 Bad Gateway');
  }
  @Cron('0 15 3 * * *', { name: 'nightly-backup' })
  async backup() {
    await sleep(1_100);
  }
}

async function start(instanceId: string, keyPrefix: string) {
  @Module({
    imports: [
      ScheduleModule.forRoot({ store: new RedisJobStore({ url: process.env.METRONOME_REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix }), instanceId }),
      ScheduleDashboardModule.forRoot({ path: '/scheduler', allowUnauthenticated: true, title: 'Acme Billing', historyLimit: 10 }),
    ],
    providers: [Reports, Operations],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

it('takes docs/dashboard.png', async () => {
  const keyPrefix = `${uniqueName('metronome-shot')}:`;
  const a = await start('api-7f3c', keyPrefix);
  const b = await start('worker-21d9', keyPrefix);
  const registry = a.get(SchedulerRegistry);
  await registry.pauseJob('sync-inventory');
  const runs: Array<[string, number]> = [
    ['ping-upstreams', 5],
    ['refresh-sales-dashboards', 3],
    ['reconcile-invoices', 2],
    ['nightly-backup', 1],
    ['daily-digest-email', 2],
    ['deliver-webhooks', 1],
  ];
  for (const [name, times] of runs) for (let n = 0; n < times; n++) await registry.triggerJob(name);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1020 }, deviceScaleFactor: 1 });
    await page.goto(`${await a.getUrl()}/scheduler`);
    await page.locator('#live.on').waitFor();
    await page.locator('#runs-body tr').first().waitFor();
    void registry.triggerJob('nightly-backup');
    await sleep(400);
    await page.screenshot({ path: join(__dirname, '../../docs/dashboard.png'), fullPage: true });
  } finally {
    await browser.close();
    await a.close();
    await b.close();
    await redisNamespace(keyPrefix).drop();
  }
}, 60_000);
