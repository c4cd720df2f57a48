/** The three kinds `@nestjs/schedule` names in its messages. */
export type SchedulerKind = 'Cron Job' | 'Interval' | 'Timeout';

/** `@nestjs/schedule`'s message for a name that is not registered, word for word. */
export const NO_SCHEDULER_FOUND = (kind: SchedulerKind, name: string): string =>
  `No ${kind} was found with the given name (${name}). Check that you created one with a decorator or with the create API.`;

/** `@nestjs/schedule`'s message for a name that is taken, word for word. */
export const DUPLICATE_SCHEDULER = (kind: SchedulerKind, name: string): string => `${kind} with the given name (${name}) already exists. Ignored.`;
