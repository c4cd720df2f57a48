import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

/** The warning logged at start-up when `ScheduleTestingModule` is imported while `NODE_ENV` is `production`. */
export const TESTING_IN_PRODUCTION_WARNING =
  'ScheduleTestingModule is imported while NODE_ENV is "production": the scheduler runs on a clock that moves only when a test moves it, so no job fires by itself. ' +
  'Import it in tests only (Test.createTestingModule), never in the application module.';

/** Says at start-up that the testing clock is in use where `NODE_ENV` says production: a mistaken import silently stops every job. */
@Injectable()
export class ProductionNotice implements OnModuleInit {
  private readonly logger = new Logger('ScheduleTestingModule');

  onModuleInit(): void {
    if (process.env.NODE_ENV === 'production') this.logger.warn(TESTING_IN_PRODUCTION_WARNING);
  }
}
