export * from './cron.decorator';
export type { CronOptions } from './cron-options';
export * from './interval.decorator';
export * from './job-handler.decorator';
export * from './timeout.decorator';
export * from './job-ctx.decorator';
