import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

/** The warning logged at start-up when the dashboard was imported without a guard or `allowUnauthenticated`. */
export const DASHBOARD_OFF_WARNING =
  'The scheduler dashboard is off: ScheduleDashboardModule.forRoot() was given neither a guard nor allowUnauthenticated: true, so none of its routes is served. ' +
  'Give it a guard (the guard option), or set allowUnauthenticated: true to serve it to anyone who can reach the application.';

/** Says at start-up that the dashboard is off, and why. */
@Injectable()
export class DashboardOffNotice implements OnModuleInit {
  private readonly logger = new Logger('ScheduleDashboard');

  onModuleInit(): void {
    this.logger.warn(DASHBOARD_OFF_WARNING);
  }
}
