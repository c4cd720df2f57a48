import { MessageEvent } from '@nestjs/common';
import { Subject, Subscription } from 'rxjs';
import { dashboardStream } from '../../lib/dashboard/dashboard-stream';
import { RunHistoryEntry } from '../../lib/dashboard/run-source';
import { SchedulerEvent } from '../../lib/events';
import { T0 } from '../support/nest';

const at = new Date(T0);
const run = (job: string, n: number): RunHistoryEntry => ({
  job,
  instance: 'i',
  scheduledAt: at,
  startedAt: at,
  durationMs: n,
  attempt: 1,
  outcome: 'succeeded',
});

describe('the dashboard’s event stream', () => {
  let events: Subject<SchedulerEvent>;
  let runs: Subject<RunHistoryEntry>;
  let sent: MessageEvent[];
  let subscription: Subscription;

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
    events = new Subject();
    runs = new Subject();
    sent = [];
    subscription = dashboardStream(events, runs, { batchMs: 250, pingMs: 20_000, maxNames: 3, maxRuns: 2 }).subscribe((message) => sent.push(message));
  });

  afterEach(() => {
    subscription.unsubscribe();
    jest.useRealTimers();
  });

  it('gathers the jobs that changed over a batch into one `jobs` event, each name once', () => {
    events.next({ type: 'job.paused', at, job: 'a' });
    events.next({ type: 'run.started', at, job: 'b', scheduledAt: at, attempt: 1 });
    events.next({ type: 'run.succeeded', at, job: 'b', scheduledAt: at, attempt: 1, durationMs: 3 });
    events.next({ type: 'scheduler.paused', at });
    expect(sent).toEqual([]);
    jest.advanceTimersByTime(250);
    expect(sent).toEqual([{ type: 'jobs', data: { names: ['a', 'b'], all: false } }]);
    jest.advanceTimersByTime(1_000);
    expect(sent).toHaveLength(1);
  });

  it('asks for a full reload when more jobs changed than one event lists', () => {
    for (const job of ['a', 'b', 'c', 'd']) events.next({ type: 'job.added', at, job });
    jest.advanceTimersByTime(250);
    expect(sent).toEqual([{ type: 'jobs', data: { names: [], all: true } }]);
  });

  it('sends finished runs in batches, the latest ones, counting those left out', () => {
    runs.next(run('a', 1));
    jest.advanceTimersByTime(250);
    for (let n = 2; n <= 5; n++) runs.next(run('a', n));
    jest.advanceTimersByTime(250);
    expect(sent).toEqual([
      { type: 'runs', data: { entries: [run('a', 1)], dropped: 0 } },
      { type: 'runs', data: { entries: [run('a', 4), run('a', 5)], dropped: 2 } },
    ]);
  });

  it('pings every pingMs to keep the connection open', () => {
    jest.advanceTimersByTime(60_000);
    expect(sent).toEqual([
      { type: 'ping', data: '' },
      { type: 'ping', data: '' },
      { type: 'ping', data: '' },
    ]);
  });
});
