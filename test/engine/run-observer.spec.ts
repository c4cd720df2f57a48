import { RunTimeoutError } from '../../lib/errors';
import { RunOutcome } from '../../lib/engine/job';
import { JobContext } from '../../lib/engine/job-context';
import { ObservedRun, RunObserver } from '../../lib/engine/run-observer';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

/**
 * The run observers' seam: an observer is told of each run as it starts, may call the handler
 * within a context of its own, and hears each run's outcome once; one that throws is reported,
 * and neither the run nor the other observers suffer for it.
 */
function setup() {
  const clock = new VirtualClock(0);
  const listenerErrors: unknown[] = [];
  const scheduler = new Scheduler({ clock, onListenerError: (error) => listenerErrors.push(error) });
  const log: string[] = [];
  /** An observer that logs what it sees, as `<name> ...`. */
  const observer = (name: string): RunObserver => ({
    runStarted: (run: ObservedRun) => {
      log.push(`${name} started ${run.name} #${run.attempt}`);
      return {
        around: <T>(handler: () => T): T => {
          log.push(`${name} enters`);
          try {
            return handler();
          } finally {
            log.push(`${name} leaves`);
          }
        },
        ended: (outcome: RunOutcome, error?: unknown) => log.push(`${name} ${outcome}${error ? `: ${(error as Error).message}` : ''}`),
      };
    },
  });
  const add = (handler: (context: JobContext) => unknown, options = {}) =>
    scheduler.add({ name: 'job', trigger: new IntervalTrigger(1_000), handler: (context) => handler(context), options });
  return { clock, scheduler, log, observer, add, listenerErrors };
}

describe('run observers', () => {
  it('call the handler within each observer, the first outermost, and hear the outcome', async () => {
    const { clock, scheduler, log, observer, add } = setup();
    scheduler.observeRuns(observer('a'));
    scheduler.observeRuns(observer('b'));
    add(() => void log.push('handler'));
    scheduler.start();

    await clock.advanceAsync(1_000);

    expect(log).toEqual(['a started job #1', 'b started job #1', 'a enters', 'b enters', 'handler', 'b leaves', 'a leaves', 'a succeeded', 'b succeeded']);
    await scheduler.shutdown();
  });

  it('hear a failure with its error, and stop hearing once removed', async () => {
    const { clock, scheduler, log, observer, add } = setup();
    const remove = scheduler.observeRuns(observer('a'));
    add(() => Promise.reject(new Error('disk full')));
    scheduler.start();

    await clock.advanceAsync(1_000);
    remove();
    await clock.advanceAsync(1_000);

    expect(log).toEqual(['a started job #1', 'a enters', 'a leaves', 'a failed: disk full']);
    await scheduler.shutdown();
  });

  it('hear a timeout once, when it happens, not again when the handler settles after', async () => {
    const { clock, scheduler, log, observer, add } = setup();
    scheduler.observeRuns(observer('a'));
    let finish: () => void = () => undefined;
    add(() => new Promise<void>((resolve) => (finish = resolve)), { timeoutMs: 300 });
    scheduler.start();

    await clock.advanceAsync(1_300);
    expect(log).toEqual(['a started job #1', 'a enters', 'a leaves', 'a timed-out: Job "job" timed out after 300 ms']);
    finish();
    await clock.advanceAsync(0);
    expect(log).toHaveLength(4);
    await scheduler.shutdown();
  });

  it('are told the error of a timeout as the RunTimeoutError the signal was aborted with', async () => {
    const { clock, scheduler, add } = setup();
    const errors: unknown[] = [];
    scheduler.observeRuns({ runStarted: () => ({ ended: (_outcome, error) => errors.push(error) }) });
    let signal: AbortSignal | undefined;
    add(
      (context) => {
        signal = context.signal;
        return new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
      },
      { timeoutMs: 300 },
    );
    scheduler.start();

    await clock.advanceAsync(1_300);

    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RunTimeoutError);
    expect(errors[0]).toBe(signal!.reason);
    await scheduler.shutdown();
  });

  it('that throw are reported as listener errors; the run and the other observers go on', async () => {
    const { clock, scheduler, log, observer, add, listenerErrors } = setup();
    scheduler.observeRuns({
      runStarted: () => {
        throw new Error('observer broke at start');
      },
    });
    scheduler.observeRuns({
      runStarted: () => ({
        ended: () => {
          throw new Error('observer broke at the end');
        },
      }),
    });
    scheduler.observeRuns({
      runEnded: () => {
        throw new Error('observer broke when told the outcome');
      },
    });
    scheduler.observeRuns(observer('a'));
    add(() => void log.push('handler'));
    scheduler.start();

    await clock.advanceAsync(1_000);

    expect(log).toEqual(['a started job #1', 'a enters', 'handler', 'a leaves', 'a succeeded']);
    expect(listenerErrors.map((error) => (error as Error).message)).toEqual([
      'observer broke at start',
      'observer broke at the end',
      'observer broke when told the outcome',
    ]);
    expect(scheduler.info('job')).toMatchObject({ runs: 1, lastOutcome: 'succeeded' });
    await scheduler.shutdown();
  });

  it('that return nothing leave the run alone', async () => {
    const { clock, scheduler, log, add } = setup();
    const seen: string[] = [];
    scheduler.observeRuns({ runStarted: (run) => void seen.push(run.name) });
    add(() => void log.push('handler'));
    scheduler.start();

    await clock.advanceAsync(2_000);

    expect({ seen, log }).toEqual({ seen: ['job', 'job'], log: ['handler', 'handler'] });
    await scheduler.shutdown();
  });

  it('with only runEnded are told each run as plain numbers, its outcome, duration and error', async () => {
    const { clock, scheduler, add } = setup();
    const ended: unknown[] = [];
    scheduler.observeRuns({
      runEnded: (run, outcome, durationMs, error) =>
        ended.push({
          name: run.name,
          scheduledMs: run.scheduledMs,
          firedMs: run.firedMs,
          attempt: run.attempt,
          outcome,
          durationMs,
          error: (error as Error)?.message,
        }),
    });
    let calls = 0;
    let finish: () => void = () => undefined;
    add(
      () =>
        new Promise<void>((resolve, reject) => {
          calls++;
          if (calls === 1) clock.setTimer(resolve, 200);
          else if (calls === 2) clock.setTimer(() => reject(new Error('disk full')), 100);
          // The third does not settle by itself: it times out.
          else finish = resolve;
        }),
      { timeoutMs: 500 },
    );
    scheduler.start();

    await clock.advanceAsync(3_600);

    expect(ended).toEqual([
      { name: 'job', scheduledMs: 1_000, firedMs: 1_000, attempt: 1, outcome: 'succeeded', durationMs: 200, error: undefined },
      { name: 'job', scheduledMs: 2_000, firedMs: 2_000, attempt: 1, outcome: 'failed', durationMs: 100, error: 'disk full' },
      { name: 'job', scheduledMs: 3_000, firedMs: 3_000, attempt: 1, outcome: 'timed-out', durationMs: 500, error: 'Job "job" timed out after 500 ms' },
    ]);
    finish();
    await scheduler.shutdown();
  });
});
