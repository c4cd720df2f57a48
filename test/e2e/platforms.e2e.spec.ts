import { Controller, Get, INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Cron, Interval, ScheduleModule, SchedulerRegistry, Timeout, VirtualClock } from '../../lib';
import { T0 } from '../support/nest';

/**
 * The same application on every kind of Nest host. Time comes from a VirtualClock, so the
 * platforms' own timers and sockets run on real time undisturbed.
 */
function appModule(clock: VirtualClock, fired: string[]) {
  @Injectable()
  class Jobs {
    @Cron('* * * * * *', { name: 'cron' })
    cron() {
      fired.push(`cron@${clock.now() - T0}`);
    }
    @Interval('interval', 1_500)
    interval() {
      fired.push(`interval@${clock.now() - T0}`);
    }
    @Timeout('timeout', 2_500)
    timeout() {
      fired.push(`timeout@${clock.now() - T0}`);
    }
  }
  @Controller()
  class Health {
    @Get('health')
    health() {
      return { ok: true };
    }
  }
  @Module({ imports: [ScheduleModule.forRoot({ clock })], providers: [Jobs], controllers: [Health] })
  class AppModule {}
  return AppModule;
}

const EXPECTED = ['cron@1000', 'cron@2000', 'cron@3000', 'interval@1500', 'interval@3000', 'timeout@2500'];

type Host = (module: unknown) => Promise<{ app: INestApplicationContext; request?: () => Promise<unknown> }>;

const hosts: Array<[string, Host]> = [
  [
    'an Express app (listening)',
    async (module) => {
      const app = await NestFactory.create(module as never, new ExpressAdapter(), { logger: false });
      await app.listen(0, '127.0.0.1');
      return { app, request: async () => (await fetch(`${await app.getUrl()}/health`)).json() };
    },
  ],
  [
    'a Fastify app (listening)',
    async (module) => {
      const app = await NestFactory.create(module as never, new FastifyAdapter(), { logger: false });
      await app.listen(0, '127.0.0.1');
      return { app, request: async () => (await fetch(`${await app.getUrl()}/health`)).json() };
    },
  ],
  [
    'an Express app after init() without listen()',
    async (module) => {
      const app = await NestFactory.create(module as never, new ExpressAdapter(), { logger: false });
      await app.init();
      return { app };
    },
  ],
  [
    'a standalone application context',
    async (module) => {
      const app = await NestFactory.createApplicationContext(module as never, { logger: false });
      await app.init();
      return { app };
    },
  ],
  [
    'a microservice after init()',
    async (module) => {
      const app = await NestFactory.createMicroservice(module as never, { transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 }, logger: false });
      await app.init();
      return { app };
    },
  ],
];

describe.each(hosts)('on %s', (_label, host) => {
  it('jobs fire the same, and stop with the app', async () => {
    const clock = new VirtualClock(T0);
    const fired: string[] = [];
    const { app, request } = await host(appModule(clock, fired));
    if (request) await expect(request()).resolves.toEqual({ ok: true });
    await clock.advanceAsync(3_000);
    expect(fired.sort()).toEqual(EXPECTED);
    const registry = app.get(SchedulerRegistry);
    await app.close();
    expect(registry.listJobs()).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});
