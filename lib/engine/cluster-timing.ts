/** Timing of the cluster protocol. */
export interface ClusterTiming {
  /** How long a run's lease lasts without a heartbeat; heartbeats come every third of it. Default 30 s. */
  leaseMs: number;
  /** How often the store is read again (stored jobs, paused flags) when it changed, as a safety net for missed announcements. Default 5 s. */
  syncEveryMs: number;
  /**
   * How often each instance checks in (one write), looking for expired leases and for instances
   * that missed their check-ins for three times this: those are dead, and their leases go at once.
   * Default 2 s: an at-least-once run of a killed instance runs again elsewhere within about 8 s.
   */
  checkInMs: number;
  /** A store call slower than this counts as failed. Default 5 s. */
  timeoutMs: number;
  /**
   * How long before its tick a cluster-wide tick is claimed, so that the round trip to the store
   * is over when the run is due; up to 1.75 times this for the jobs an instance prefers, and
   * earlier for a herd (see `ClaimAhead.lead`). At most seven eighths of half the time since the
   * job's previous tick. Default 250.
   */
  claimAheadMs: number;
}

const DEFAULT_TIMING: ClusterTiming = { leaseMs: 30_000, syncEveryMs: 5_000, checkInMs: 2_000, timeoutMs: 5_000, claimAheadMs: 250 };

/** How many check-ins an instance may miss before it is declared dead. */
export const MISSED_CHECK_INS = 3;

/** The timing of the cluster protocol: the defaults, with the values `given` sets (one given as `undefined` keeps its default). */
export function clusterTiming(given: Partial<ClusterTiming> = {}): ClusterTiming {
  const timing = { ...DEFAULT_TIMING };
  for (const key of Object.keys(given) as Array<keyof ClusterTiming>) if (given[key] !== undefined) timing[key] = given[key];
  return timing;
}
