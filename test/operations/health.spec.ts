import { Controller, Get, INestApplication, Injectable } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import {
  Cron,
  InvalidOperationsOptionError,
  Interval,
  JobContext,
  PostgresJobStore,
  RedisJobStore,
  ScheduleModule,
  ScheduleModuleOptions,
  SchedulerHealthIndicator,
  SchedulerRegistry,
  VirtualClock,
} from '../../lib';
import { AppScheduler } from '../../lib/application/app-scheduler';
import { namespace } from '../cluster/harness';
import { T0 } from '../support/nest';
import { OwnServer, ownRedis, until } from '../support/servers';
import { get, listenApp } from './http-app';

/**
 * `SchedulerHealthIndicator` in a real HTTP application (Express, terminus, Node's fetch): up with
 * its details while the scheduler runs and its store answers; down (503) when the store stops
 * answering, and when the scheduler is not running.
 */

let release: () => void = () => undefined;

@Injectable()
class Jobs {
  @Cron('0 0 1 1 *', { name: 'yearly' })
  yearly() {}

  @Interval('flaky', 3_600_000)
  flaky() {
    throw new Error('disk full');
  }

  @Interval('slow', 3_600_000)
  slow(context: JobContext) {
    return new Promise<void>((resolve) => {
      release = resolve;
      context.signal.addEventListener('abort', () => resolve());
    });
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly scheduler: SchedulerHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.scheduler.isHealthy('scheduler', { timeoutMs: 500 })]);
  }
}

function healthApp(options: ScheduleModuleOptions) {
  return listenApp({
    imports: [ScheduleModule.forRoot(options), TerminusModule.forRoot({ logger: false })],
    controllers: [HealthController],
    providers: [Jobs, SchedulerHealthIndicator],
  });
}

/** `GET /health` once the instance's first check-in landed in the store (it lists an instance). */
async function checkedIn(url: string): Promise<{ status: number; body: unknown }> {
  let answer: { status: number; body: unknown } | undefined;
  await until(async () => {
    answer = await get(url, '/health');
    const instances = (answer.body as { info?: { scheduler?: { instances?: unknown[] } } }).info?.scheduler?.instances ?? [];
    if (instances.length === 0) throw new Error(`no instance listed yet (status ${answer.status})`);
  }, 'the first check-in of the instance');
  return answer!;
}

describe('SchedulerHealthIndicator', () => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    release();
    await app?.close();
    app = undefined;
  });

  // The first test loads the HTTP stack: on a cold transform cache, that takes seconds.
  it('is up with the jobs, the runs in flight, the failed jobs, the store round trip and the instances', async () => {
    let url: string;
    ({ app, url } = await healthApp({ clock: new VirtualClock(T0), instanceId: 'health-test' }));
    const registry = app.get(SchedulerRegistry);
    await registry.triggerJob('flaky');
    void registry.triggerJob('slow');

    const { status, body } = await get(url, '/health');

    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      info: {
        scheduler: {
          status: 'up',
          state: 'running',
          jobs: 3,
          running: 1,
          failed: 1,
          failedJobs: ['flaky'],
          store: { kind: 'memory', roundTripMs: expect.any(Number) },
          instances: [{ id: 'health-test', running: 1, runningJobs: ['slow'] }],
        },
      },
      error: {},
    });
  }, 30_000);

  it('is down (503) when the scheduler is not running, saying so', async () => {
    let url: string;
    ({ app, url } = await healthApp({ clock: new VirtualClock(T0) }));
    await app.get(AppScheduler).scheduler.shutdown();

    const { status, body } = await get(url, '/health');

    expect(status).toBe(503);
    expect(body).toMatchObject({
      status: 'error',
      error: { scheduler: { status: 'down', state: 'stopped', jobs: 0, message: 'The scheduler is not running (state: stopped).' } },
    });
  });

  it('refuses a time limit that is not a positive number, naming it', async () => {
    ({ app } = await healthApp({ clock: new VirtualClock(T0) }));
    const indicator = app.get(SchedulerHealthIndicator);

    await expect(indicator.isHealthy('scheduler', { timeoutMs: 0 })).rejects.toThrow(InvalidOperationsOptionError);
    await expect(indicator.isHealthy('scheduler', { timeoutMs: Number.NaN })).rejects.toThrow(
      'Invalid timeoutMs in SchedulerHealthIndicator.isHealthy: NaN must be a positive number of milliseconds.',
    );
  });

  it('is up on PostgreSQL, with its round trip and this instance', async () => {
    const space = namespace('postgres');
    try {
      let url: string;
      ({ app, url } = await healthApp({ store: new PostgresJobStore({ connectionString: space.url, schema: space.name }), instanceId: 'health-pg' }));

      // The instance's first check-in goes out as the scheduler starts, and lands a moment later.
      const { status, body } = await checkedIn(url);

      expect(status).toBe(200);
      expect(body).toMatchObject({
        info: { scheduler: { status: 'up', jobs: 3, store: { kind: 'postgres', roundTripMs: expect.any(Number) }, instances: [{ id: 'health-pg' }] } },
      });
    } finally {
      await app?.close();
      app = undefined;
      await space.drop();
    }
  }, 30_000);

  describe('on Redis', () => {
    let server: OwnServer;

    beforeAll(async () => {
      server = await ownRedis();
    }, 60_000);

    afterAll(() => server?.destroy());

    it('is up while Redis answers, down (503) once it is stopped, and up again when it is back', async () => {
      let url: string;
      ({ app, url } = await healthApp({ store: new RedisJobStore({ url: server.url, keyPrefix: 'health:' }), instanceId: 'health-redis' }));

      // The instance checked in when the scheduler started; its record is in Redis.
      const up = await checkedIn(url);
      expect(up.status).toBe(200);
      expect(up.body).toMatchObject({
        info: { scheduler: { status: 'up', state: 'running', jobs: 3, store: { kind: 'redis', roundTripMs: expect.any(Number) } } },
      });
      const instances = (up.body as { info: { scheduler: { instances: Array<{ id: string }> } } }).info.scheduler.instances;
      expect(instances.map((instance) => instance.id)).toEqual(['health-redis']);

      await server.stop();
      const down = await get(url, '/health');
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({
        status: 'error',
        error: {
          scheduler: {
            status: 'down',
            state: 'running',
            store: { kind: 'redis' },
            message: expect.stringMatching(/^The job store \(redis\) did not answer: /),
          },
        },
      });
      expect((down.body as { error: { scheduler: object } }).error.scheduler).not.toHaveProperty('store.roundTripMs');

      await server.start();
      await until(async () => {
        const again = await get(url, '/health');
        if (again.status !== 200) throw new Error(`status ${again.status}`);
      }, 'the health check after Redis came back');
    }, 60_000);
  });
});
