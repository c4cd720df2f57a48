import { Controller, Get, INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Cron, Interval, JobContext, ScheduleModule, ScheduleTestingClock, ScheduleTestingModule, SchedulerRegistry, Timeout } from '../../lib';
import { T0 } from '../support/nest';

/**
 * The same application on every kind of Nest host. Time comes from the testing clock, so the
 * platforms' own timers and sockets run on real time undisturbed.
 */
function appModule(fired: string[]) {
  @Injectable()
  class Jobs {
    @Cron('* * * * * *', { name: 'cron' })
    cron({ firedAt }: JobContext) {
      fired.push(`cron@${firedAt.getTime() - T0}`);
    }
    @Interval('interval', 1_500)
    interval({ firedAt }: JobContext) {
      fired.push(`interval@${firedAt.getTime() - T0}`);
    }
    @Timeout('timeout', 2_500)
    timeout({ firedAt }: JobContext) {
      fired.push(`timeout@${firedAt.getTime() - T0}`);
    }
  }
  @Controller()
  class Health {
    @Get('health')
    health() {
      return { ok: true };
    }
  }
  @Module({ imports: [ScheduleModule.forRoot()], providers: [Jobs], controllers: [Health] })
  class AppModule {}
  @Module({ imports: [AppModule, ScheduleTestingModule.forRoot({ now: T0 })] })
  class TestedModule {}
  return TestedModule;
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
    const fired: string[] = [];
    const { app, request } = await host(appModule(fired));
    if (request) await expect(request()).resolves.toEqual({ ok: true });
    const clock = app.get(ScheduleTestingClock);
    await clock.advanceBy('3s');
    expect(fired.sort()).toEqual(EXPECTED);
    const registry = app.get(SchedulerRegistry);
    await app.close();
    expect(registry.listJobs()).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});
