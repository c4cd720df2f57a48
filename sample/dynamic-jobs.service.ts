import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CronJob, SchedulerRegistry } from 'nestjs-metronome';

/** A job added at run time through the registry, as with @nestjs/schedule, and the event stream. */
@Injectable()
export class DynamicJobs implements OnApplicationBootstrap {
  private readonly logger = new Logger(DynamicJobs.name);

  constructor(private readonly registry: SchedulerRegistry) {}

  onApplicationBootstrap() {
    const job = new CronJob('*/15 * * * * *', () => this.logger.log('dynamic job ran'));
    this.registry.addCronJob('dynamic', job);
    job.start();
    this.logger.log(`dynamic job added; next run at ${job.nextDate().toISO()}`);
    this.logger.log(`jobs: ${this.registry.listJobs().map((info) => `${info.name} (${info.trigger})`).join(', ')}`);

    // Every event of the scheduler is on one stream; here, its lifecycle.
    this.registry.events$.subscribe((event) => {
      if (event.type === 'scheduler.stopping') this.logger.log(`stopping; waiting for ${event.inFlight} run(s) in flight`);
      if (event.type === 'scheduler.stopped') this.logger.log('stopped; no timer left');
    });
  }
}
