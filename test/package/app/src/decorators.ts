import { Injectable } from '@nestjs/common';
import { Cron, Interval, Timeout } from 'nestjs-metronome';

// README: "Decorators".

/** One job of each kind of schedule. */
@Injectable()
export class TasksService {
  @Cron('45 * * * * *')                       // 6 fields: seconds first
  every45thSecond() {}

  @Cron('0 9 * * 1-5', { name: 'standup', timeZone: 'America/New_York' })
  standup() {}

  @Cron('0 0 12 * * *', { utcOffset: 330 })   // a fixed offset, in minutes
  noonInKolkata() {}

  @Cron(new Date('2027-01-01T00:00:00Z'))     // once, at a date
  newYear() {}

  @Interval(10_000)                           // every 10 s, on a grid: it never drifts
  poll() {}

  @Interval('heartbeat', 5_000)
  heartbeat() {}

  @Timeout('warm-up', 3_000)                  // once, 3 s after start; any delay, even 40 days
  warmUp() {}
}
