import { Controller, Get, INestApplication, Injectable, Module, Res } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Counter, Gauge, OpenMetricsContentType, Registry } from 'prom-client';
import {
  InvalidOperationsOptionError,
  Interval,
  MemoryJobStore,
  ScheduleMetricsModule,
  ScheduleMetricsOptions,
  ScheduleModule,
  ScheduleModuleOptions,
  SchedulerMetrics,
  SchedulerRegistry,
  Timeout,
  VirtualClock,
} from '../../lib';
import { T0 } from '../support/nest';
import { get, listenApp } from './http-app';
import { parseSamples, sample, Samples, series } from './prometheus-text';

/**
 * `ScheduleMetricsModule` in a real HTTP application: runs made on a virtual clock, then `/metrics`
 * scraped in Prometheus's text format and read back.
 */

/** Lets the runs of `hang` end, before an application closes. */
const hanging: Array<() => void> = [];

@Injectable()
class Jobs {
  @Interval('tick', 60_000)
  tick() {}

  @Interval('flaky', 60_000)
  flaky() {
    throw new Error('disk full');
  }

  /** Does not end by itself: times out, then holds its overlap slot until the test lets it go. */
  @Interval('hang', 60_000, { timeoutMs: 1_000 })
  hang() {
    return new Promise<void>((resolve) => hanging.push(resolve));
  }
}

@Injectable()
class SharedJob {
  @Interval('shared', 60_000)
  shared() {}
}

@Injectable()
class OtherJob {
  @Interval('other', 60_000)
  other() {}
}

@Injectable()
class OneShot {
  @Timeout('once', 30_000)
  once() {
    return new Promise<void>((resolve) => hanging.push(resolve));
  }
}

@Controller('metrics')
class MetricsController {
  constructor(private readonly metrics: SchedulerMetrics) {}

  @Get()
  async scrape(@Res() response: { type(contentType: string): { send(body: string): unknown } }) {
    response.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}

function metricsApp(schedule: ScheduleModuleOptions, metrics: ScheduleMetricsOptions, jobs: Array<new () => object> = [Jobs]) {
  return listenApp({
    imports: [ScheduleModule.forRoot(schedule), ScheduleMetricsModule.forRoot(metrics)],
    controllers: [MetricsController],
    providers: jobs,
  });
}

async function scrape(url: string): Promise<Samples> {
  const { status, contentType, text } = await get(url, '/metrics');
  expect({ status, contentType }).toEqual({ status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8' });
  return parseSamples(text);
}

describe('ScheduleMetricsModule', () => {
  const apps: INestApplication[] = [];

  afterEach(async () => {
    hanging.splice(0).forEach((release) => release());
    while (apps.length > 0) await apps.pop()!.close();
  });

  async function start(schedule: ScheduleModuleOptions, metrics: ScheduleMetricsOptions, jobs?: Array<new () => object>) {
    const { app, url } = await metricsApp(schedule, metrics, jobs);
    apps.push(app);
    return { app, url };
  }

  // The first test loads the HTTP stack: on a cold transform cache, that takes seconds.
  it('counts runs by job and outcome, their duration and lateness, runs in flight, skipped and missed ticks', async () => {
    const clock = new VirtualClock(T0);
    const registry = new Registry();
    const { url } = await start({ clock }, { registry });

    // Ticks at 1, 2 and 3 min: `hang` times out at 1 min 1 s and holds its slot, so the next two are skipped.
    await clock.advanceAsync(180_000);
    let samples = await scrape(url);
    expect(series(samples, 'metronome_runs_total')).toEqual({
      '{job="tick",outcome="succeeded"}': 3,
      '{job="flaky",outcome="failed"}': 3,
      '{job="hang",outcome="timed-out"}': 1,
    });
    expect(series(samples, 'metronome_ticks_skipped_total')).toEqual({ '{job="hang",reason="overlap"}': 2 });
    expect(series(samples, 'metronome_runs_in_flight')).toEqual({ '{job="tick"}': 0, '{job="flaky"}': 0, '{job="hang"}': 1 });
    // Settled runs only (a timed-out run has no duration yet); on the virtual clock they take no time.
    expect(sample(samples, 'metronome_run_duration_seconds_count', { job: 'tick' })).toBe(3);
    expect(sample(samples, 'metronome_run_duration_seconds_count', { job: 'flaky' })).toBe(3);
    expect(sample(samples, 'metronome_run_duration_seconds_count', { job: 'hang' })).toBeUndefined();
    expect(sample(samples, 'metronome_run_duration_seconds_bucket', { job: 'tick', le: '0.005' })).toBe(3);
    expect(sample(samples, 'metronome_run_start_lateness_seconds_count', { job: 'tick' })).toBe(3);
    expect(sample(samples, 'metronome_run_start_lateness_seconds_sum', { job: 'tick' })).toBe(0);

    // The process is suspended for 10.5 min: the ticks of 4 to 13 min are found late (by more than the
    // 1 s grace) and reported missed; under the misfire policy 'once', the latest runs, 30 s late.
    clock.jump(630_000);
    await clock.advanceAsync(0);
    samples = await scrape(url);
    expect(series(samples, 'metronome_ticks_missed_total')).toEqual({
      '{job="tick",reason="late"}': 10,
      '{job="flaky",reason="late"}': 10,
      '{job="hang",reason="late"}': 10,
    });
    expect(sample(samples, 'metronome_runs_total', { job: 'tick', outcome: 'succeeded' })).toBe(4);
    expect(sample(samples, 'metronome_run_start_lateness_seconds_count', { job: 'tick' })).toBe(4);
    expect(sample(samples, 'metronome_run_start_lateness_seconds_sum', { job: 'tick' })).toBe(30);
    expect(sample(samples, 'metronome_run_start_lateness_seconds_bucket', { job: 'tick', le: '15' })).toBe(3);
    expect(sample(samples, 'metronome_run_start_lateness_seconds_bucket', { job: 'tick', le: '60' })).toBe(4);
    // Nothing else was counted: only the job names label the series.
    expect([...samples.keys()].filter((name) => name.includes('job=') && !/job="(tick|flaky|hang)"/.test(name))).toEqual([]);
  }, 30_000);

  it('counts claims won and lost on a shared store, and store outages', async () => {
    const clock = new VirtualClock(T0);
    const shared = new MemoryJobStore({ shared: true, now: () => clock.now() });
    let down = false;
    // The same store, through a connection that can be cut.
    const flaky = new Proxy(shared, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || property === 'close') return value;
        return (...args: unknown[]) => (down ? Promise.reject(new Error('connection reset')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const [a, b] = [new Registry(), new Registry()];
    const first = await start({ clock, store: flaky, instanceId: 'a' }, { registry: a }, [SharedJob]);
    const second = await start({ clock, store: shared, instanceId: 'b' }, { registry: b }, [SharedJob]);

    await clock.advanceAsync(180_000);
    const [fromA, fromB] = [await scrape(first.url), await scrape(second.url)];
    const claims = (samples: Samples, outcome: string) => sample(samples, 'metronome_claims_total', { job: 'shared', outcome }) ?? 0;
    // Each of the three ticks was won by one instance and lost by the other.
    expect(claims(fromA, 'won') + claims(fromB, 'won')).toBe(3);
    expect(claims(fromA, 'lost') + claims(fromB, 'lost')).toBe(3);
    expect(claims(fromA, 'won') + claims(fromA, 'lost')).toBe(3);
    const runs = (samples: Samples) => sample(samples, 'metronome_runs_total', { job: 'shared', outcome: 'succeeded' }) ?? 0;
    expect(runs(fromA) + runs(fromB)).toBe(3);
    expect(sample(fromA, 'metronome_store_unavailable_total', { store: 'memory' })).toBeUndefined();

    // The first instance's connection fails for two ticks: one outage; its claims are not answered (none counted), and its ticks are reported missed.
    down = true;
    await clock.advanceAsync(120_000);
    down = false;
    await clock.advanceAsync(60_000);
    const after = await scrape(first.url);
    expect(sample(after, 'metronome_store_unavailable_total', { store: 'memory' })).toBe(1);
    expect(claims(after, 'won') + claims(after, 'lost')).toBe(3 + 1);
    expect(sample(after, 'metronome_ticks_missed_total', { job: 'shared', reason: 'unclaimed' })).toBe(2);
  }, 30_000);

  it('shares one registry between two applications: no error, the counts add up, and a closed one leaves the gauge', async () => {
    const clock = new VirtualClock(T0);
    const registry = new Registry();
    const first = await start({ clock }, { registry }, [SharedJob, OtherJob]);
    const second = await start({ clock }, { registry }, [SharedJob]);

    await clock.advanceAsync(120_000);
    const samples = await scrape(second.url);
    expect(sample(samples, 'metronome_runs_total', { job: 'shared', outcome: 'succeeded' })).toBe(4);
    expect(sample(samples, 'metronome_runs_total', { job: 'other', outcome: 'succeeded' })).toBe(2);
    expect(series(samples, 'metronome_runs_in_flight')).toEqual({ '{job="shared"}': 0, '{job="other"}': 0 });
    expect(first.app.get(SchedulerMetrics).registry).toBe(registry);

    await apps.shift()!.close();
    await clock.advanceAsync(60_000);
    const later = await scrape(second.url);
    expect(sample(later, 'metronome_runs_total', { job: 'shared', outcome: 'succeeded' })).toBe(5);
    expect(series(later, 'metronome_runs_in_flight')).toEqual({ '{job="shared"}': 0 });
  }, 30_000);

  it('counts each run once when two modules of one application import forRoot()', async () => {
    const clock = new VirtualClock(T0);
    const registry = new Registry();
    // Nest tells dynamic modules apart by reference: two imports make two `SchedulerMetrics`.
    @Module({ imports: [ScheduleMetricsModule.forRoot({ registry })], controllers: [MetricsController] })
    class FeatureA {}
    @Module({ imports: [ScheduleMetricsModule.forRoot({ registry })] })
    class FeatureB {}
    const { app, url } = await listenApp({
      imports: [ScheduleModule.forRoot({ clock }), FeatureA, FeatureB],
      providers: [Jobs],
    });
    apps.push(app);

    await clock.advanceAsync(120_000);
    const samples = await scrape(url);
    expect(sample(samples, 'metronome_runs_total', { job: 'tick', outcome: 'succeeded' })).toBe(2);
    expect(sample(samples, 'metronome_run_duration_seconds_count', { job: 'tick' })).toBe(2);
    expect(series(samples, 'metronome_ticks_skipped_total')).toEqual({ '{job="hang",reason="overlap"}': 1 });
    expect(series(samples, 'metronome_runs_in_flight')).toEqual({ '{job="tick"}': 0, '{job="flaky"}': 0, '{job="hang"}': 1 });
  }, 30_000);

  it("forgets a removed or completed job's series once its last run is counted, and keeps the others'", async () => {
    const clock = new VirtualClock(T0);
    const registry = new Registry();
    const { app, url } = await start({ clock }, { registry }, [SharedJob, OneShot]);
    const jobs = app.get(SchedulerRegistry);
    const gone = (samples: Samples, job: string) => [...samples.keys()].filter((name) => name.includes(`job="${job}"`));
    // What the metrics read: a job's tally is kept until its last run is counted.
    const tallies = (registry.getSingleMetric('metronome_runs_total') as unknown as Record<symbol, { jobs: Map<string, unknown> }>)[
      Symbol.for('nestjs-metronome:tallies')
    ];
    await jobs.addJob({ name: 'reminder-1', trigger: { every: 60_000 }, handler: () => {} });
    // Still running when removed: its run is counted as it ends, then forgotten.
    await jobs.addJob({ name: 'reminder-2', trigger: { every: 60_000 }, handler: () => new Promise<void>((resolve) => hanging.push(resolve)) });

    // `once` runs at 30 s and is still going when it completes; the others run at 1 min.
    await clock.advanceAsync(60_000);
    let samples = await scrape(url);
    expect(sample(samples, 'metronome_runs_total', { job: 'reminder-1', outcome: 'succeeded' })).toBe(1);
    expect(sample(samples, 'metronome_runs_in_flight', { job: 'reminder-2' })).toBe(1);
    expect(sample(samples, 'metronome_runs_in_flight', { job: 'once' })).toBe(1);

    await jobs.removeJob('reminder-1');
    await jobs.removeJob('reminder-2');
    samples = await scrape(url);
    expect(gone(samples, 'reminder-1')).toEqual([]);
    // Nothing of it was counted yet but its run in flight, which is no longer read from the scheduler.
    expect(gone(samples, 'reminder-2')).toEqual([]);
    expect(tallies.jobs.has('reminder-2')).toBe(true);

    hanging.splice(0).forEach((release) => release());
    await clock.advanceAsync(0);
    samples = await scrape(url);
    expect(gone(samples, 'reminder-2')).toEqual([]);
    expect(gone(samples, 'once')).toEqual([]);
    // The job that stays keeps its counts, and goes on counting.
    expect(sample(samples, 'metronome_runs_total', { job: 'shared', outcome: 'succeeded' })).toBe(1);
    await clock.advanceAsync(60_000);
    samples = await scrape(url);
    expect(sample(samples, 'metronome_runs_total', { job: 'shared', outcome: 'succeeded' })).toBe(2);
    expect(sample(samples, 'metronome_run_duration_seconds_count', { job: 'shared' })).toBe(2);
    expect([...samples.keys()].filter((name) => name.includes('job=') && !name.includes('job="shared"'))).toEqual([]);
    expect([...tallies.jobs.keys()]).toEqual(['shared']);
  }, 30_000);

  it("answers prom-client's other reads: JSON, OpenMetrics, and resetMetrics", async () => {
    const clock = new VirtualClock(T0);
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const { app } = await start({ clock }, { registry }, [SharedJob]);
    expect(app.get(SchedulerMetrics).registry).toBe(registry);
    await clock.advanceAsync(120_000);

    const json = await registry.getMetricsAsJSON();
    expect(json.find((metric) => metric.name === 'metronome_runs_total')).toMatchObject({
      type: 'counter',
      values: [{ labels: { job: 'shared', outcome: 'succeeded' }, value: 2 }],
    });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE metronome_runs counter');
    expect(text).toContain('metronome_runs_total{job="shared",outcome="succeeded"} 2');
    expect(text.endsWith('# EOF\n')).toBe(true);

    registry.resetMetrics();
    expect((await registry.getMetricsAsJSON()).find((metric) => metric.name === 'metronome_runs')?.values).toEqual([]);
    await clock.advanceAsync(60_000);
    expect(await registry.metrics()).toContain('metronome_runs_total{job="shared",outcome="succeeded"} 1');
  });

  it("registers on prom-client's default registry when given none, with the prefix given", async () => {
    const { register } = await import('prom-client');
    const { app } = await start({ clock: new VirtualClock(T0) }, { prefix: 'jobs_' }, [SharedJob]);
    try {
      expect(app.get(SchedulerMetrics).registry).toBe(register);
      expect(register.getSingleMetric('jobs_runs_total')).toBeDefined();
      expect(register.getSingleMetric('metronome_runs_total')).toBeUndefined();
    } finally {
      register.clear();
    }
  });

  it('refuses a registry that has a metric of the same name from something else, naming it', async () => {
    const registry = new Registry();
    new Gauge({ name: 'metronome_runs_in_flight', help: 'something else', registers: [registry] });
    const compiling = Test.createTestingModule({ imports: [ScheduleModule.forRoot(), ScheduleMetricsModule.forRoot({ registry })] }).compile();
    await expect(compiling).rejects.toThrow(InvalidOperationsOptionError);
    await expect(compiling).rejects.toThrow(
      'Invalid prefix in ScheduleMetricsModule.forRoot: "metronome_" makes the metric name "metronome_runs_in_flight", which the registry already has from something else: give another prefix, or another registry.',
    );
    // Nothing of the module was registered.
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual(['metronome_runs_in_flight']);

    const other = new Registry();
    new Counter({
      name: 'metronome_runs_total',
      help: 'the same name and labels, but not the scheduler’s',
      labelNames: ['job', 'outcome'],
      registers: [other],
    });
    await expect(
      Test.createTestingModule({ imports: [ScheduleModule.forRoot(), ScheduleMetricsModule.forRoot({ registry: other })] }).compile(),
    ).rejects.toThrow('makes the metric name "metronome_runs_total", which the registry already has from something else');
  });

  it('refuses a bad prefix or bad buckets, naming the option', () => {
    expect(() => ScheduleMetricsModule.forRoot({ prefix: '1st_' })).toThrow(InvalidOperationsOptionError);
    expect(() => ScheduleMetricsModule.forRoot({ prefix: 'my-app_' })).toThrow(
      'Invalid prefix in ScheduleMetricsModule.forRoot: "my-app_" must be the start of a Prometheus metric name: letters, digits, _ and :, not starting with a digit.',
    );
    expect(() => ScheduleMetricsModule.forRoot({ durationBuckets: [1, 0.5] })).toThrow(
      'Invalid durationBuckets in ScheduleMetricsModule.forRoot: [1,0.5] must be a non-empty list of positive numbers of seconds, in increasing order.',
    );
    expect(() => ScheduleMetricsModule.forRoot({ latenessBuckets: [] })).toThrow('Invalid latenessBuckets in ScheduleMetricsModule.forRoot: []');
  });
});
