import { Injectable } from '@nestjs/common';
import { Cron, Interval, JobContext, SchedulerEvent, SchedulerRegistry } from '../../lib';
import { startApp, T0, useFakeTime } from '../support/nest';

useFakeTime();

describe('app.close()', () => {
  it('starts no new run, aborts the signal of runs in flight and resolves only when they finish', async () => {
    const starts: number[] = [];
    let signal: AbortSignal | undefined;
    let finished = false;
    @Injectable()
    class Jobs {
      @Interval('long', 1_000, { overlap: 'allow' })
      async long(context: JobContext) {
        starts.push(Date.now() - T0);
        signal = context.signal;
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        finished = true;
      }
    }
    const { app } = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(1_000);
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    await jest.advanceTimersByTimeAsync(4_999);
    expect(signal!.aborted).toBe(true);
    expect(closed).toBe(false);
    expect(finished).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await closing;
    expect(finished).toBe(true);
    expect(starts).toEqual([1_000]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('gives up after shutdownTimeout, naming the jobs still running in a warning', async () => {
    @Injectable()
    class Jobs {
      @Cron('* * * * * *', { name: 'stuck' })
      stuck() {
        return new Promise(() => undefined);
      }
    }
    const { app, logger } = await startApp([Jobs], { shutdownTimeout: 3_000 });
    const events: SchedulerEvent[] = [];
    app.get(SchedulerRegistry).events$.subscribe((event) => events.push(event));
    await jest.advanceTimersByTimeAsync(1_000);
    const closing = app.close();
    await jest.advanceTimersByTimeAsync(3_000);
    await closing;
    expect(logger.find('warn', 'Shutdown timeout of 3000 ms reached; still running: stuck.')).toEqual([
      { level: 'warn', context: 'Scheduler', message: 'Shutdown timeout of 3000 ms reached; still running: stuck.' },
    ]);
    expect(events.map((e) => e.type)).toEqual(['run.started', 'scheduler.stopping', 'scheduler.stopped']);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('a job that fails', () => {
  let unhandled: unknown[];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('disk full');
      },
    ],
    ['rejects', () => Promise.reject(new Error('disk full'))],
  ])('%s: is logged with its name, never reaches unhandledRejection, and its next tick runs', async (_label, fail) => {
    let calls = 0;
    @Injectable()
    class Jobs {
      @Cron('* * * * * *', { name: 'backup' })
      backup() {
        calls++;
        return fail();
      }
    }
    const { app, logger } = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(2_000);
    await new Promise((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));
    expect(calls).toBe(2);
    const errors = logger.find('error', 'Job "backup" failed (attempt 1): disk full');
    expect(errors).toHaveLength(2);
    expect(errors[0].context).toBe('Scheduler');
    expect(unhandled).toEqual([]);
    expect(app.get(SchedulerRegistry).getJob('backup')).toMatchObject({ lastOutcome: 'failed', runs: 2 });
    await app.close();
  });

  it('never settles: its next ticks are skipped and reported by name, once per streak', async () => {
    let calls = 0;
    @Injectable()
    class Jobs {
      @Interval('hung', 1_000)
      hung() {
        calls++;
        return new Promise(() => undefined);
      }
    }
    const { app, logger } = await startApp([Jobs], { shutdownTimeout: 0 });
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls).toBe(1);
    expect(logger.find('warn', 'Job "hung" skipped the tick of 2026-01-01T00:00:02.000Z: its previous run is still going')).toHaveLength(1);
    expect(logger.find('debug', 'Job "hung" skipped')).toHaveLength(3);
    expect(unhandled).toEqual([]);
    await app.close();
    expect(logger.find('warn', 'still running: hung.')).toHaveLength(1);
  });

  it("never settles, with overlap 'allow': the next ticks still run", async () => {
    let calls = 0;
    @Injectable()
    class Jobs {
      @Interval('hung', 1_000, { overlap: 'allow' })
      hung() {
        calls++;
        return new Promise(() => undefined);
      }
    }
    const { app } = await startApp([Jobs], { shutdownTimeout: 0 });
    await jest.advanceTimersByTimeAsync(3_000);
    expect(calls).toBe(3);
    await app.close();
  });
});

describe('events$ at start-up', () => {
  it('does not replay: a subscription made in a constructor sees the start-up events, one made on bootstrap does not', async () => {
    const early: string[] = [];
    const late: string[] = [];
    @Injectable()
    class Jobs {
      @Interval('tick', 1_000)
      tick() {}
    }
    @Injectable()
    class Watcher {
      constructor(readonly registry: SchedulerRegistry) {
        registry.events$.subscribe((event) => early.push(event.type));
      }
      onApplicationBootstrap() {
        this.registry.events$.subscribe((event) => late.push(event.type));
      }
    }
    const { app } = await startApp([Jobs, Watcher]);
    expect(early).toEqual(['job.added', 'scheduler.started']);
    expect(late).toEqual([]);
    await app.close();
  });
});
