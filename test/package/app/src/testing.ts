import { Test } from '@nestjs/testing';
import { ScheduleTestingClock, ScheduleTestingModule } from 'nestjs-metronome';
import { jest } from './fake-jest';
import { GroupSeen, jobsOf } from './observations';
import { AppModule, ReportsService } from './quick-start';

// README: "Testing your jobs", with the testing module, with fake timers (see fake-jest.ts) and with a direct call.

/** The README's application on the testing clock, a day from midnight. */
export async function onTestingClock(): Promise<GroupSeen> {
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule, ScheduleTestingModule.forRoot({ now: '2026-03-08T00:00:00Z' })],
  }).compile();
  const app = moduleRef.createNestApplication();
  await app.init();
  const clock = moduleRef.get(ScheduleTestingClock);

  await clock.advanceBy('1d'); // runs every tick of the day, in order, and waits for each run
  const built = app.get(ReportsService).built; // ['2026-03-08T01:00:00.000Z']
  const seen = { jobs: jobsOf(app), notes: { built: [...built], now: new Date(clock.now()).toISOString() } };
  await app.close();
  return seen;
}

/** The README's application on fake timers, a minute from half a minute before 1 AM in London. */
export async function onFakeTimers(): Promise<GroupSeen> {
  jest.useFakeTimers();
  const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication();
  await app.init();
  await jest.advanceTimersByTimeAsync(60_000);
  const seen = { jobs: jobsOf(app), notes: { built: [...app.get(ReportsService).built] } };
  await app.close();
  jest.useRealTimers();
  return seen;
}

/** A handler called as a unit test calls it. */
export async function calledDirectly(): Promise<string[]> {
  const reports = new ReportsService();
  await reports.nightly({ name: 'nightly', scheduledAt: new Date(), firedAt: new Date(), attempt: 1, signal: new AbortController().signal });
  return reports.built;
}
