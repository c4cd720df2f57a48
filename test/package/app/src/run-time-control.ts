import { Injectable } from '@nestjs/common';
import { JobContext, JobHandler, SchedulerRegistry } from 'nestjs-metronome';

// README: "Run-time control".

// A provider method marked @JobHandler() (or carrying a schedule decorator), with JSON arguments:
// called as purge(context, ...args) when it asks for the context, as purge(...args) when not.
@Injectable()
export class CleanupService {
  @JobHandler('cleanup')
  async purge(context: JobContext, olderThanDays: number) {}

  @JobHandler()
  async compact(table: string) {}
}

/** The control calls of the README, made on the jobs they add. */
@Injectable()
export class ControlTour {
  /** Runs of `ping`, and whether each had a live signal. */
  readonly pings: boolean[] = [];
  /** The fields of `getJob`'s answer. */
  jobInfoKeys: string[] = [];

  constructor(private readonly registry: SchedulerRegistry) {}

  /** The work of the `ping` job. */
  ping(signal: AbortSignal): void {
    this.pings.push(signal instanceof AbortSignal && !signal.aborted);
  }

  /** Every control call, in the README's order; `nightly-cleanup` is left to run. */
  async tour(): Promise<void> {
    const registry = this.registry;
    await registry.addJob({
      name: 'nightly-cleanup',
      trigger: { cron: '0 3 * * *', timeZone: 'Europe/Paris' }, // or { every: ms }, or { at: date }
      target: { provider: CleanupService, method: 'cleanup' },   // the class, or an injection token
      args: [30],
      retry: { attempts: 2 },                                    // any job option
    });

    // A function in this process, called as handler(context, ...args).
    await registry.addJob({ name: 'ping', trigger: { every: 5_000 }, handler: (context: JobContext) => this.ping(context.signal) });

    registry.getJob('nightly-cleanup');                     // plain data, below
    // What getJob and listJobs return, as the README shows it; the spec compares the fields.
    /*
    {
      name: 'nightly-cleanup', kind: 'cron', trigger: 'cron "0 3 * * *" (Europe/Paris)',
      options: { overlap: 'skip', misfire: { graceMs: 1000, policy: 'once', maxCatchUp: 10 }, retry: {...}, ... },
      nextRunAt: Date | null,   // null when paused, completed or not started
      lastRunAt: Date | null, lastOutcome: 'succeeded', running: 0, runs: 12,
      paused: false, completed: false,
      history: [{ scheduledAt, startedAt, durationMs, attempt, outcome: 'failed', error: 'disk full' }, ...], // the last 10
      meta: { kind: 'dynamic', target: 'CleanupService.purge' },
    }
    */
    this.jobInfoKeys = Object.keys(registry.getJob('nightly-cleanup'));
    registry.listJobs();                                     // every job
    await registry.pauseJob('ping');                         // ticks stop; resumeJob catches up by the misfire policy
    await registry.resumeJob('ping');
    await registry.triggerJob('ping');                       // run now, under the overlap policy; resolves when it settles
    await registry.runHistory('ping', 5);                    // its last runs, newest first: of every instance with a shared store
    await registry.rescheduleJob('ping', { every: 10_000 });
    await registry.removeJob('ping');                        // runs in flight finish
    registry.pause();                                        // the whole scheduler; ticks in the pause follow each misfire policy
    registry.resume();
  }
}
