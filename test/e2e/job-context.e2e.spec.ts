/* eslint-disable prefer-rest-params -- what a method was called with is `arguments`: its parameters may hide it */
import { Injectable } from '@nestjs/common';
import { Cron, Interval, InvalidScheduleError, JobContext, JobCtx, JobHandler, SchedulerRegistry, Timeout } from '../../lib';
import { startApp, T0, useFakeTime } from '../support/nest';

useFakeTime();

/** What each method received: its arguments, as an array. */
const received = new Map<string, unknown[][]>();
const record = (method: string, args: IArguments | unknown[]) => {
  const list = received.get(method) ?? [];
  list.push([...args]);
  received.set(method, list);
};

beforeEach(() => received.clear());

/**
 * `@nestjs/schedule` calls a decorated method with no arguments. A method gets the run's context
 * only when it asks for it: its first parameter typed `JobContext`, or marked `@JobCtx()`.
 */
describe('JobContext, on request', () => {
  it('is a class, so that decorator metadata can name it', () => {
    expect(typeof JobContext).toBe('function');
  });

  it('is not passed to methods that do not ask: an optional parameter keeps its default', async () => {
    @Injectable()
    class Legacy {
      @Interval(1_000)
      legacy(force = false) {
        record('legacy', arguments);
        record('legacy.force', [force]);
      }
      @Cron('* * * * * *')
      sync(options?: { force: boolean }) {
        record('sync', arguments);
        record('sync.options', [options]);
      }
      @Timeout(500)
      warmUp(...rest: unknown[]) {
        record('warmUp', rest);
      }
    }
    const { app } = await startApp([Legacy]);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(received.get('legacy')).toEqual([[], [], []]);
    expect(received.get('legacy.force')).toEqual([[false], [false], [false]]);
    expect(received.get('sync')).toEqual([[], [], []]);
    expect(received.get('sync.options')).toEqual([[undefined], [undefined], [undefined]]);
    expect(received.get('warmUp')).toEqual([[]]);
    await app.close();
  });

  it('is passed first to a method whose first parameter is typed JobContext, destructured or not', async () => {
    @Injectable()
    class Asks {
      @Interval('typed', 1_000)
      typed(context: JobContext) {
        record('typed', arguments);
        expect(context.signal.aborted).toBe(false);
      }
      @Cron('*/2 * * * * *', { name: 'destructured' })
      destructured({ name, scheduledAt }: JobContext) {
        record('destructured', [name, scheduledAt.getTime() - T0]);
      }
    }
    const { app } = await startApp([Asks]);
    await jest.advanceTimersByTimeAsync(2_000);
    const typed = received.get('typed')!;
    expect(typed).toHaveLength(2);
    expect(typed[0]).toHaveLength(1);
    expect(typed[0][0]).toBeInstanceOf(JobContext);
    expect(typed[1][0]).toMatchObject({ name: 'typed', attempt: 1, scheduledAt: new Date(T0 + 2_000) });
    expect(received.get('destructured')).toEqual([['destructured', 2_000]]);
    await app.close();
  });

  it('is passed to a method whose first parameter is marked @JobCtx(), whatever its type', async () => {
    @Injectable()
    class Marked {
      @Interval('marked', 1_000)
      marked(@JobCtx() context: { name: string }) {
        record('marked', [context.name]);
      }
    }
    const { app } = await startApp([Marked]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(received.get('marked')).toEqual([['marked']]);
    await app.close();
  });

  it('is found on a method inherited from a base class', async () => {
    class Base {
      @Interval('inherited', 1_000)
      tick(context: JobContext) {
        record('inherited', [context.name]);
      }
    }
    @Injectable()
    class Derived extends Base {}
    const { app } = await startApp([Derived]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(received.get('inherited')).toEqual([['inherited']]);
    await app.close();
  });

  it('@JobCtx() on any parameter but the first is refused when the class is defined, naming the method', () => {
    const define = () => {
      class Misplaced {
        @Interval(1_000)
        run(_first: number, @JobCtx() _context: JobContext) {}
      }
      return Misplaced;
    };
    expect(define).toThrow(InvalidScheduleError);
    expect(define).toThrow(
      'Invalid @JobCtx() for job "Misplaced.run": "parameter 2" is not the first parameter: a handler receives its context as the first argument.',
    );
  });

  it('@JobCtx() on a constructor parameter is refused, naming the class', () => {
    const define = () => {
      class OnConstructor {
        constructor(@JobCtx() readonly context: JobContext) {}
      }
      return OnConstructor;
    };
    expect(define).toThrow(
      'Invalid @JobCtx() for job "OnConstructor": "constructor" marks a constructor parameter; it belongs on the first parameter of a job handler method.',
    );
  });

  it('without decorator metadata, a method with parameters is called without the context, and a warning says how to ask', async () => {
    @Injectable()
    class Untyped {
      @Interval('untyped', 1_000)
      untyped(context?: JobContext) {
        record('untyped', [context]);
      }
    }
    // What code compiled without emitDecoratorMetadata looks like.
    Reflect.deleteMetadata('design:paramtypes', Untyped.prototype, 'untyped');
    const { app, logger } = await startApp([Untyped]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(received.get('untyped')).toEqual([[undefined]]);
    expect(logger.find('warn', 'Untyped.untyped takes parameters but has no decorator metadata')).toHaveLength(1);
    expect(logger.find('warn', 'mark the first parameter @JobCtx() to receive the context')).toHaveLength(1);
    await app.close();
  });
});

describe('JobContext for jobs added at run time', () => {
  @Injectable()
  class Handlers {
    @JobHandler()
    withContext(context: JobContext, days: number) {
      record('withContext', [context.name, days]);
    }
    @JobHandler()
    argsOnly(days: number, label = 'none') {
      record('argsOnly', [days, label]);
    }
    @JobHandler()
    marked(@JobCtx() context: { attempt: number }, days: number) {
      record('marked', [context.attempt, days]);
    }
  }

  it('a @JobHandler method gets (context, ...args) if it asks for the context, else only its arguments', async () => {
    const { app } = await startApp([Handlers]);
    const registry = app.get(SchedulerRegistry);
    await registry.addJob({ name: 'a', trigger: { every: 1_000 }, target: { provider: Handlers, method: 'withContext' }, args: [30] });
    await registry.addJob({ name: 'b', trigger: { every: 1_000 }, target: { provider: Handlers, method: 'argsOnly' }, args: [7] });
    await registry.addJob({ name: 'c', trigger: { every: 1_000 }, target: { provider: Handlers, method: 'marked' }, args: [1] });
    await jest.advanceTimersByTimeAsync(1_000);
    expect(received.get('withContext')).toEqual([['a', 30]]);
    expect(received.get('argsOnly')).toEqual([[7, 'none']]);
    expect(received.get('marked')).toEqual([[1, 1]]);
    await app.close();
  });

  it('a handler function keeps its (context, ...args) signature', async () => {
    const { app } = await startApp([]);
    const registry = app.get(SchedulerRegistry);
    await registry.addJob({ name: 'fn', trigger: { every: 1_000 }, handler: (context: JobContext, x: number) => record('fn', [context.name, x]), args: [5] });
    await jest.advanceTimersByTimeAsync(1_000);
    expect(received.get('fn')).toEqual([['fn', 5]]);
    await app.close();
  });
});
