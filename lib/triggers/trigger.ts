/**
 * The kinds of trigger: a cron expression, a fixed interval, a single date, or a single delay after
 * the job's start (`@Timeout`).
 */
export type TriggerKind = 'cron' | 'interval' | 'date' | 'delay';

/**
 * When a job fires. A trigger is pure: it holds no state about runs and never reads the clock.
 */
export interface Trigger {
  readonly kind: TriggerKind;
  /** The instant a one-off date trigger fires at; `null` for every other kind (a delay's instant depends on the start). */
  readonly at: number | null;
  /** The period of a trigger that fires on a fixed grid (an interval); `null` for every other kind. */
  readonly periodMs: number | null;
  /**
   * The first instant strictly after `after` at which the job fires, or `null` when there is none.
   * `anchor` is the instant an interval or a delay counts from (the job's start); other kinds ignore it.
   */
  next(after: number, anchor: number): number | null;
  /** The trigger as text, e.g. `cron "0 * * * *" (Europe/London)`, `every 5000 ms`. */
  toString(): string;
}
