/** The three kinds `@nestjs/schedule` names in its messages. */
export type SchedulerKind = 'Cron Job' | 'Interval' | 'Timeout';

/**
 * `@nestjs/schedule`'s message for a name that is not registered, word for word.
 * @publicApi
 */
export const NO_SCHEDULER_FOUND = (schedulerName: string, name?: string): string =>
  name
    ? `No ${schedulerName} was found with the given name (${name}). Check that you created one with a decorator or with the create API.`
    : `No ${schedulerName} was found. Check your configuration.`;

/**
 * `@nestjs/schedule`'s message for a name that is taken, word for word.
 * @publicApi
 */
export const DUPLICATE_SCHEDULER = (schedulerName: string, name: string): string => `${schedulerName} with the given name (${name}) already exists. Ignored.`;

/** What holds a job name: its kind (`Job` for one added with `addJob`) and where it comes from. */
export interface NameHolder {
  kind: SchedulerKind | 'Job';
  /** The method or function it runs, e.g. `ReportsService.nightly`. */
  label?: string;
}

const HOLDER_WORDS: Record<NameHolder['kind'], string> = {
  'Cron Job': 'a cron job',
  Interval: 'an interval',
  Timeout: 'a timeout',
  Job: 'a job added with addJob',
};

/**
 * The message for a name that is taken: {@link DUPLICATE_SCHEDULER}, and when the name is held by
 * a job of another kind, which one: here, unlike in `@nestjs/schedule`, every kind shares one set
 * of names, so that `getJob(name)` is unambiguous.
 */
export function duplicateName(kind: NameHolder['kind'], name: string, holder: NameHolder | undefined): string {
  const message = DUPLICATE_SCHEDULER(kind, name);
  if (!holder || holder.kind === kind) return message;
  const what = `${HOLDER_WORDS[holder.kind]}${holder.label ? ` (${holder.label})` : ''}`;
  return `${message} The name is taken by ${what}: cron jobs, intervals, timeouts and jobs added with addJob share one set of names.`;
}
