// README: "Run history" (Operations), compiled against the packed package.
import { Injectable } from '@nestjs/common';
import { RunFeed, SchedulerRegistry } from 'nestjs-metronome';

@Injectable()
export class RunHistoryReader {
  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly runFeed: RunFeed,
  ) {}

  async read() {
const runs = await this.registry.runHistory('reports', 5); // newest first
// [{ job: 'reports', instance: 'web-2', scheduledAt, startedAt, durationMs: 812, attempt: 1, outcome: 'failed', error: 'disk full' }, …]

this.runFeed.runs$().subscribe((run) => console.log(`${run.job} ${run.outcome} on ${run.instance}`));
    return runs;
  }
}
