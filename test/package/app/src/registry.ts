import { Injectable, Logger } from '@nestjs/common';
import { SchedulerRegistry } from 'nestjs-metronome';
import { CronJob } from 'nestjs-metronome'; // or: import { CronJob } from 'cron';

// README: "`SchedulerRegistry`", on the jobs of TasksService and CronOptionsService.

/** The registry calls of `@nestjs/schedule`, as the README makes them, recording what they return. */
@Injectable()
export class RegistryTour {
  private readonly logger = new Logger(RegistryTour.name);
  /** What the calls returned. */
  readonly notes: Record<string, unknown> = {};

  constructor(private readonly registry: SchedulerRegistry) {}

  /** The calls `@nestjs/schedule` offers. */
  compat(): void {
    this.registry.getCronJob('sync').stop();
    this.registry.getCronJob('sync').start();
    this.registry.getCronJob('sync').nextDate();          // a luxon DateTime, as in cron
    this.notes.nextDate = this.registry.getCronJob('sync').nextDate().toUTC().toISO();
    this.registry.getCronJob('sync').lastDate();
    this.registry.getCronJobs();                          // Map<string, CronJob>
    this.notes.cronJobs = [...this.registry.getCronJobs().keys()].sort();

    clearInterval(this.registry.getInterval('heartbeat')); // stops a decorated interval
    clearTimeout(this.registry.getTimeout('warm-up'));

    this.registry.deleteCronJob('sync');
    this.registry.getIntervals();                         // ['heartbeat', ...]
    this.notes.intervals = this.registry.getIntervals().sort();
    this.registry.doesExist('cron', 'sync');
    this.notes.syncExists = this.registry.doesExist('cron', 'sync');
  }

  /** Jobs added at run time: a `CronJob`, and a timer of one's own. */
  dynamic(): void {
    const job = new CronJob('*/15 * * * * *', () => this.logger.log('tick'));
    this.registry.addCronJob('dynamic', job);
    job.start();

    this.registry.addInterval('own', setInterval(() => {}, 1_000)); // your own timers, by name
  }
}
