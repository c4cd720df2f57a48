import { DynamicModule, Module } from '@nestjs/common';
import { SCHEDULE_CLOCK } from '../schedule.constants';
import { parseInstant } from './instant';
import { ScheduleTestingClock } from './schedule-testing-clock';
import { ScheduleTestingOptions } from './schedule-testing-options.interface';
import { ProductionNotice } from './production-notice';

/**
 * Puts the scheduler of the application on a {@link ScheduleTestingClock}, for tests: import it
 * next to the application's module, and move time with the clock.
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [AppModule, ScheduleTestingModule.forRoot({ now: '2026-01-01T00:00:00Z' })],
 * }).compile();
 * const app = moduleRef.createNestApplication();
 * await app.init();
 * await moduleRef.get(ScheduleTestingClock).advanceBy('1h');
 * ```
 *
 * The module is global: the `ScheduleModule` the application imports, with `forRoot()` or
 * `forRootAsync()`, anywhere, takes its clock instead of the `clock` of its options. Every other
 * option stays as the application set it, the store too: a store on a server still talks to it.
 * Imported while `NODE_ENV` is `production`, it logs a warning at start-up: no job fires by itself.
 * @publicApi
 */
@Module({})
export class ScheduleTestingModule {
  /**
   * @param options where time starts, and how to keep `Date.now()` in step
   * @throws InvalidTimeError when `now` is not an instant
   */
  static forRoot(options: ScheduleTestingOptions = {}): DynamicModule {
    const now = options.now === undefined ? undefined : parseInstant(options.now, 'ScheduleTestingModule.forRoot({ now })');
    return {
      global: true,
      module: ScheduleTestingModule,
      providers: [
        { provide: ScheduleTestingClock, useFactory: () => new ScheduleTestingClock({ ...options, now }) },
        { provide: SCHEDULE_CLOCK, useExisting: ScheduleTestingClock },
        ProductionNotice,
      ],
      exports: [ScheduleTestingClock, SCHEDULE_CLOCK],
    };
  }
}
