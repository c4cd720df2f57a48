/** The kinds of trigger: a cron expression, a fixed interval, or a single date. */
export type TriggerKind = 'cron' | 'interval' | 'date';

/**
 * When a job fires. A trigger is pure: it holds no state about runs and never reads the clock.
 */
export interface Trigger {
  readonly kind: TriggerKind;
  /**
   * The first instant strictly after `after` at which the job fires, or `null` when there is none.
   * `anchor` is the instant an interval counts from (the job's start); other kinds ignore it.
   */
  next(after: number, anchor: number): number | null;
  /** The trigger as text, e.g. `cron "0 * * * *" (Europe/London)`, `every 5000 ms`. */
  toString(): string;
}
