import { Injectable } from '@nestjs/common';
import { Cron, Interval, JobContext, JobCtx } from 'nestjs-metronome';

/** Stands for a service that exports data: records what it was asked. */
export class Exporter {
  readonly calls: Array<{ since: string; aborted: boolean }> = [];

  async run({ since, signal }: { since: Date; signal: AbortSignal }): Promise<void> {
    this.calls.push({ since: since.toISOString(), aborted: signal.aborted });
  }
}

// README: "The job's context".

/** Handlers that ask for their context, and one that does not. */
@Injectable()
export class JobContextExamples {
  readonly exporter = new Exporter();

  @Interval('export', 60_000)
  async export({ name, scheduledAt, firedAt, attempt, signal }: JobContext) {
    // scheduledAt is the tick this run is for, firedAt when it started.
    // signal is aborted when the application shuts down.
    await this.exporter.run({ since: scheduledAt, signal });
  }

  @Interval('sync', 60_000)
  async sync(force = false) {} // called as sync(): force is false

  @Cron('0 * * * *')
  rollup(@JobCtx() { attempt }: Pick<JobContext, 'attempt'>) {} // any type: @JobCtx() asks for the context
}
