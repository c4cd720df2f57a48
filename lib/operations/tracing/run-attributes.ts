/**
 * The attributes of a run's span. Stable: dashboards and queries are written against them.
 * @publicApi
 */
export const RUN_SPAN_ATTRIBUTES = {
  /** The job's name. */
  job: 'metronome.job.name',
  /** The instant the run was scheduled for, ISO 8601. */
  scheduledAt: 'metronome.run.scheduled_at',
  /** 1 for the first attempt, counting up on retries. */
  attempt: 'metronome.run.attempt',
  /** With a store that leases runs: the run's fencing token. */
  fencingToken: 'metronome.run.fencing_token',
  /** How the run ended: `succeeded`, `failed` or `timed-out`. */
  outcome: 'metronome.run.outcome',
  /** True when the run exceeded its `timeoutMs`. */
  timedOut: 'metronome.run.timed_out',
  /** The instance that ran it (`instanceId`). */
  instance: 'metronome.instance.id',
} as const;
