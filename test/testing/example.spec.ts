import { INestApplication, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cron, CronExpression, JobContext, ScheduleModule, ScheduleTestingClock, ScheduleTestingModule } from '../../lib';

// The complete example of docs/testing.md, as written there (imports from the library's source).

// reports.service.ts
@Injectable()
export class Mailer {
  async send(to: string, subject: string): Promise<void> {
    throw new Error(`not in tests: would mail ${to} "${subject}"`);
  }
}

@Injectable()
export class ReportsService {
  constructor(private readonly mailer: Mailer) {}

  @Cron(CronExpression.EVERY_HOUR, { name: 'hourly-report', timeZone: 'UTC', retry: { attempts: 2, backoffMs: 60_000 } })
  async hourly({ scheduledAt }: JobContext) {
    await this.mailer.send('ops@example.com', `Report for ${scheduledAt.toISOString()}`);
  }
}

// app.module.ts
@Module({ imports: [ScheduleModule.forRoot()], providers: [Mailer, ReportsService] })
export class AppModule {}

// reports.service.spec.ts
describe('ReportsService', () => {
  let app: INestApplication;
  let clock: ScheduleTestingClock;
  const mailer = { send: jest.fn(async (_to: string, _subject: string) => undefined) };

  beforeEach(async () => {
    mailer.send.mockClear();
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule, ScheduleTestingModule.forRoot({ now: '2026-01-01T00:00:00Z' })],
    })
      .overrideProvider(Mailer)
      .useValue(mailer)
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    clock = moduleRef.get(ScheduleTestingClock);
  });

  afterEach(() => app.close());

  it('sends a report every hour', async () => {
    await clock.advanceBy('3h');
    expect(mailer.send.mock.calls).toEqual([
      ['ops@example.com', 'Report for 2026-01-01T01:00:00.000Z'],
      ['ops@example.com', 'Report for 2026-01-01T02:00:00.000Z'],
      ['ops@example.com', 'Report for 2026-01-01T03:00:00.000Z'],
    ]);
  });

  it('retries a failed report a minute later', async () => {
    mailer.send.mockRejectedValueOnce(new Error('SMTP server down'));
    await clock.advanceTo('2026-01-01T01:00:00Z');
    expect(mailer.send).toHaveBeenCalledTimes(1);
    await clock.advanceBy('59s');
    expect(mailer.send).toHaveBeenCalledTimes(1);
    await clock.advanceBy('1s');
    expect(mailer.send).toHaveBeenCalledTimes(2);
  });
});
