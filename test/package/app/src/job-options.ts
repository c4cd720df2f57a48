import { Injectable } from '@nestjs/common';
import { Interval, JobContext } from 'nestjs-metronome';

// README: "Job options".

/** A job with every job option; its window opens on 2027-01-01. */
@Injectable()
export class JobOptionsService {
  @Interval('sync', 60_000, {
    overlap: 'queue',                              // a tick while running: 'skip' (default), 'queue' one, 'allow'
    misfire: { graceMs: 5_000, policy: 'once' },   // ticks found late: 'skip', run 'once' (default), run 'all'
    jitterMs: 2_000,                               // a random delay per run, never past the next tick
    startAt: new Date('2027-01-01T00:00:00Z'),     // no tick before
    endAt: new Date('2027-02-01T00:00:00Z'),       // no tick after; the job then completes
    maxRuns: 100,                                  // then the job completes
    timeoutMs: 30_000,                             // abort the run's signal, report it timed out
    retry: { attempts: 3, backoffMs: 1_000, factor: 2 }, // 1 s, 2 s, 4 s, with attempt counting up
  })
  sync({ attempt, signal }: JobContext) {}
}
