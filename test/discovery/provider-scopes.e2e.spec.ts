import { Inject, Injectable, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Interval, InvalidScheduleError, JobContext, JobHandler, SchedulerRegistry } from '../../lib';
import { startApp, useFakeTime } from '../support/nest';

useFakeTime();

/**
 * A job calls one live instance. Transient providers have an instance per consumer, and the one
 * Nest lists for discovery is never constructed (its fields and dependencies are unset);
 * request-scoped ones have an instance per request. Both are refused as targets, and their
 * decorated methods are not scheduled.
 */
const calls: string[] = [];

@Injectable()
class Clock {
  readonly label = 'clock';
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientWithDependency {
  constructor(readonly clock: Clock) {}

  @JobHandler()
  tick(_context: JobContext) {
    calls.push(`transient:${this.clock?.label}`);
  }

  @Interval('transient-interval', 1_000)
  decorated() {
    calls.push(`transient-interval:${this.clock?.label}`);
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientAlone {
  @JobHandler()
  tick(_context: JobContext) {
    calls.push('transient-alone');
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  @JobHandler()
  tick(_context: JobContext) {
    calls.push('per-request');
  }
}

@Injectable()
class NeedsTheRequest {
  constructor(@Inject(REQUEST) readonly request: unknown) {}

  @JobHandler()
  tick(_context: JobContext) {
    calls.push('needs-the-request');
  }
}

@Injectable()
class Singleton {
  constructor(readonly clock: Clock) {}

  @JobHandler()
  tick(_context: JobContext) {
    calls.push(`singleton:${this.clock.label}`);
  }
}

beforeEach(() => {
  calls.length = 0;
});

describe('provider scopes', () => {
  it.each<[string, new (...args: never[]) => unknown, string]>([
    ['a transient provider with a dependency', TransientWithDependency, 'is transient; jobs need a provider with one instance (the default scope).'],
    ['a transient provider without dependencies', TransientAlone, 'is transient; jobs need a provider with one instance (the default scope).'],
    [
      'a request-scoped provider',
      PerRequest,
      'is request-scoped, or depends on a request-scoped provider; jobs need a provider with one instance (the default scope).',
    ],
    [
      'a provider that depends on the request',
      NeedsTheRequest,
      'is request-scoped, or depends on a request-scoped provider; jobs need a provider with one instance (the default scope).',
    ],
  ])('%s is refused as a target, by reference or by name, stored or not; nothing is added', async (_label, provider, reason) => {
    const { app } = await startApp([Clock, TransientWithDependency, TransientAlone, PerRequest, NeedsTheRequest, Singleton]);
    const registry = app.get(SchedulerRegistry);
    await registry.addJob({ name: 'fine', trigger: { every: 1_000 }, target: { provider: Singleton, method: 'tick' } });
    // A stored job names its provider by its class name.
    for (const [target, persist, shown] of [
      [provider, false, `function ${provider.name}`],
      [provider, true, `"${provider.name}"`],
      [provider.name, false, `"${provider.name}"`],
    ] as const) {
      const error = await registry
        .addJob({ name: 'job', trigger: { every: 1_000 }, target: { provider: target, method: 'tick' }, persist })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidScheduleError);
      expect((error as Error).message).toBe(`Invalid target.provider for job "job": ${shown} ${reason}`);
    }
    await jest.advanceTimersByTimeAsync(2_000);
    expect(registry.listJobs().map((job) => job.name)).toEqual(['fine']);
    expect(calls).toEqual(['singleton:clock', 'singleton:clock']);
    await app.close();
  });

  it('a decorated method of a transient provider is not scheduled, with a warning; it never runs on an unconstructed instance', async () => {
    const { app, logger } = await startApp([Clock, TransientWithDependency]);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(app.get(SchedulerRegistry).listJobs()).toEqual([]);
    expect(calls).toEqual([]);
    expect(logger.find('warn', 'TransientWithDependency@decorated')).toEqual([
      {
        level: 'warn',
        context: 'Scheduler',
        message:
          'Cannot register interval "TransientWithDependency@decorated" because it is defined in a transient provider, which has no single instance to call. Give the provider the default scope.',
      },
    ]);
    await app.close();
  });
});
