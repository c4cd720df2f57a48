import { Injectable } from '@nestjs/common';
import { Cron, JobContext, JobHandler, SchedulerRegistry } from 'nestjs-metronome';

/** A provider that stored jobs may call. */
@Injectable()
export class Exports {
  /** The arguments of each call. */
  readonly calls: unknown[][] = [];

  @JobHandler()
  export(format: string, ...rest: unknown[]) {
    this.calls.push([format, ...rest]);
  }
}

// README: the job options and persistent jobs of "Several instances, and persistent jobs", on the
// default store (in memory).

/** A job that is run again elsewhere if its instance dies, and a persistent job. */
@Injectable()
export class PersistentExamples {
  constructor(private readonly registry: SchedulerRegistry) {}

  @Cron('0 * * * *', { delivery: 'at-least-once' }) // re-run elsewhere if this instance dies mid-run
  async rollup({ attempt, fencingToken }: JobContext) {}

  /** Adds the persistent job, and runs it once. */
  async addWeeklyExport(): Promise<void> {
    const registry = this.registry;
    await registry.addJob({ name: 'weekly-export', trigger: { cron: '0 6 * * 1' }, target: { provider: Exports, method: 'export' }, args: ['csv'], persist: true });
    await registry.instances();
    // [{ id: 'api-7f3c', host: 'pod-2', pid: 1, startedAt, lastCheckIn, running: 1, runningJobs: ['rollup'] }, …]
    await registry.triggerJob('weekly-export');
  }
}
