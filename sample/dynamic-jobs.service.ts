import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { join } from 'node:path';
import { CronJob, SchedulerRegistry } from 'nestjs-metronome';
import { ReportsService } from './reports.service';

/** Jobs added at run time, the control calls, and the event stream. */
@Injectable()
export class DynamicJobs implements OnApplicationBootstrap {
  private readonly logger = new Logger(DynamicJobs.name);

  constructor(private readonly registry: SchedulerRegistry) {
    // Every event of the scheduler is on one stream; here, the lifecycle and the control calls.
    // The stream does not replay: subscribed in a constructor, it sees the start-up events too.
    this.registry.events$.subscribe((event) => {
      if (event.type === 'scheduler.started') this.logger.log('started');
      if (event.type === 'scheduler.stopping') this.logger.log(`stopping; waiting for ${event.inFlight} run(s) in flight`);
      if (event.type === 'scheduler.stopped') this.logger.log('stopped; no timer left');
      if (event.type.startsWith('job.') && event.type !== 'job.added' && 'job' in event) this.logger.log(`${event.type}: ${event.job}`);
    });
  }

  async onApplicationBootstrap() {
    // As with @nestjs/schedule: a CronJob added through the registry.
    const job = new CronJob('*/15 * * * * *', () => this.logger.log('dynamic cron job ran'));
    this.registry.addCronJob('dynamic', job);
    job.start();

    // A provider method marked @JobHandler, with JSON arguments.
    await this.registry.addJob({ name: 'cleanup', trigger: { cron: '*/30 * * * * *' }, target: { provider: ReportsService, method: 'cleanup' }, args: [30] });
    // A function in this process.
    await this.registry.addJob({ name: 'heartbeat', trigger: { every: 5_000 }, handler: () => this.logger.log('heartbeat'), overlap: 'allow' });
    // CPU-bound work in a worker thread; only the arguments cross.
    await this.registry.addJob({
      name: 'checksum',
      trigger: { every: 12_000 },
      worker: { module: join(__dirname, 'workers', 'checksum.js'), export: 'checksum' },
      args: [__filename, 200_000],
      timeoutMs: 10_000,
    });

    this.logger.log(
      `jobs: ${this.registry
        .listJobs()
        .map((info) => `${info.name} (${info.trigger})`)
        .join(', ')}`,
    );
    this.tour();
  }

  /** The control calls, one after another; those that return a promise are awaited. */
  private tour() {
    const wait = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1_000).unref());
    const steps = async () => {
      await wait(8);
      await this.registry.pauseJob('heartbeat');
      await wait(10);
      await this.registry.resumeJob('heartbeat'); // ticks missed in the pause run once (misfire 'once')
      await wait(2);
      await this.registry.triggerJob('cleanup'); // run now; resolves when the run settles
      await wait(2);
      await this.registry.rescheduleJob('heartbeat', { every: 3_000 });
      await wait(3);
      this.logger.log(`heartbeat: ${JSON.stringify(this.registry.getJob('heartbeat').history.slice(-2))}`);
      await wait(15);
      await this.registry.removeJob('heartbeat');
      await wait(5);
      this.registry.pause(); // the whole scheduler
      await wait(5);
      this.registry.resume();
    };
    // Stopped with Ctrl-C halfway, the tour ends on a call the stopped scheduler refuses.
    steps().catch((error: unknown) => this.logger.log(`tour ended: ${error instanceof Error ? error.message : String(error)}`));
  }
}
