/**
 * Compiles only if code written against @nestjs/schedule's public types compiles unchanged against
 * this package (checked by `npm run typecheck`; nothing here runs).
 */
import { Injectable } from '@nestjs/common';
import {
  Cron,
  CronExpression,
  CronJob,
  CronOptions,
  Interval,
  ScheduleExplorer,
  ScheduleModule,
  ScheduleModuleAsyncOptions,
  ScheduleModuleOptions,
  ScheduleModuleOptionsFactory,
  SchedulerRegistry,
  Timeout,
} from '../../lib';

@Injectable()
export class PeerStyleService {
  constructor(private readonly registry: SchedulerRegistry) {}

  @Cron(CronExpression.EVERY_30_SECONDS, { name: 'notifications', timeZone: 'Europe/Paris', waitForCompletion: true, threshold: 100 })
  handleCron() {}

  @Cron('0 0 * * *', { utcOffset: 60, disabled: true, initialDelay: 500, unrefTimeout: true })
  handleOffset() {}

  @Interval(10_000)
  handleInterval() {}

  @Interval('named', 5_000)
  handleNamedInterval() {}

  @Timeout(3_000)
  handleTimeout() {}

  @Timeout('named-timeout', 3_000)
  handleNamedTimeout() {}

  manage(): void {
    const job: CronJob = this.registry.getCronJob('notifications');
    job.stop();
    job.start();
    const next: string | null = job.nextDate().toISO();
    const last: Date | null = job.lastDate();
    void next;
    void last;
    const interval = this.registry.getInterval<NodeJS.Timeout>('named');
    clearInterval(interval);
    clearTimeout(this.registry.getTimeout('named-timeout'));
    this.registry.addInterval<NodeJS.Timeout>(
      'mine',
      setInterval(() => undefined, 1_000),
    );
    this.registry.addTimeout(
      'mine',
      setTimeout(() => undefined, 1_000),
    );
    this.registry.addCronJob('dynamic', new CronJob('* * * * * *', () => undefined));
    const jobs: Map<string, CronJob> = this.registry.getCronJobs();
    const names: string[] = [...this.registry.getIntervals(), ...this.registry.getTimeouts()];
    const exists: boolean = this.registry.doesExist('cron', 'dynamic');
    void jobs;
    void names;
    void exists;
    this.registry.deleteCronJob('dynamic');
    this.registry.deleteInterval('mine');
    this.registry.deleteTimeout('mine');
  }
}

export const options: ScheduleModuleOptions = { cronJobs: true, intervals: false, timeouts: true };
export class OptionsFactory implements ScheduleModuleOptionsFactory {
  createScheduleOptions(): ScheduleModuleOptions {
    return options;
  }
}
export const asyncOptions: ScheduleModuleAsyncOptions = { useClass: OptionsFactory };
export const modules = [ScheduleModule.forRoot(), ScheduleModule.forRoot(options), ScheduleModule.forRootAsync(asyncOptions)];
export const cronOptions: CronOptions = { name: 'x' };
export const explorer: typeof ScheduleExplorer = ScheduleExplorer;
