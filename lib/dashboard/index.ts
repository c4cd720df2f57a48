export { ScheduleDashboardModule } from './dashboard.module';
export type { ScheduleDashboardOptions } from './dashboard-options';
export { DASHBOARD_RUN_SOURCE } from './run-source';
export type { DashboardRunSource } from './run-source';
export type { DashboardJob, DashboardJobDetail } from './dashboard-view';
export type { JobsMessage, RunsMessage } from './dashboard-stream';
export { CSRF_HEADER, CSRF_COOKIE } from './dashboard-security';
