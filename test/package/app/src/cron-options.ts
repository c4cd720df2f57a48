import { Injectable } from '@nestjs/common';
import { Cron, CronExpression } from 'nestjs-metronome';

// README: "`@Cron` options".

/** A cron job with every option of `@nestjs/schedule`'s `@Cron`. */
@Injectable()
export class CronOptionsService {
  @Cron(CronExpression.EVERY_MINUTE, {
    name: 'sync',               // find it in the registry by this name
    timeZone: 'Europe/Paris',   // or utcOffset (minutes), not both
    disabled: true,             // registered stopped; start with registry.getCronJob('sync').start()
    waitForCompletion: true,    // skip ticks while a run is going (the default here)
    threshold: 250,             // a tick found more than 250 ms late is reported missed, then run once
    initialDelay: 5_000,        // ticks count from 5 s after the application started
    unrefTimeout: true,         // do not keep the process alive for this job
  })
  sync() {}
}
