/** Timing of the cluster protocol. */
export interface ClusterTiming {
  /** How long a run's lease lasts without a heartbeat; heartbeats come every third of it. Default 30 s. */
  leaseMs: number;
  /** How often expired leases are looked for (and a lost store retried). Default 5 s. */
  syncEveryMs: number;
  /** A store call slower than this counts as failed. Default 5 s. */
  timeoutMs: number;
  /**
   * How long before its tick a cluster-wide tick is claimed, so that the round trip to the store
   * is over when the run is due; up to 1.75 times this for the jobs an instance prefers (see
   * `lead`). At most half the time since the job's previous tick. Default 250.
   */
  claimAheadMs: number;
}

const DEFAULT_TIMING: ClusterTiming = { leaseMs: 30_000, syncEveryMs: 5_000, timeoutMs: 5_000, claimAheadMs: 250 };

/** The timing of the cluster protocol: the defaults, with the values `given` sets (one given as `undefined` keeps its default). */
export function clusterTiming(given: Partial<ClusterTiming> = {}): ClusterTiming {
  const timing = { ...DEFAULT_TIMING };
  for (const key of Object.keys(given) as Array<keyof ClusterTiming>) if (given[key] !== undefined) timing[key] = given[key];
  return timing;
}
