import { Clock } from './clock';
import { fnv1a, mix } from './hash';
import { Job } from './job';

/**
 * How much earlier each tick of a herd (many ticks due at one instant) is claimed, per tick of the
 * herd already armed for that instant: about what one more claim costs an instance and the store
 * (measured with three instances and their store on two cores, see BENCHMARKS.md). 100,000 jobs
 * due together are claimed over the 5 s before their lead.
 */
export const HERD_CLAIM_MS = 0.05;
/** The most a herd moves its claims earlier. */
export const HERD_SPREAD_MAX_MS = 5_000;

/**
 * When an instance claims each tick ahead of it (`cluster.claimAheadMs`), so that the runs of one
 * tick are shared out among the instances, and a herd's claims are answered before it is due.
 */
export class ClaimAhead {
  private readonly instanceHash: number;
  /** How many ticks were armed for each instant to come: the size of the herd so far (see {@link prune}). */
  private readonly herds = new Map<number, number>();
  /** Past instants are dropped from {@link herds} when it grows beyond this. */
  private pruneAt = 256;

  constructor(
    instanceId: string,
    private readonly claimAheadMs: number,
    private readonly clock: Clock,
  ) {
    this.instanceHash = Math.imul(fnv1a(instanceId), 0x85ebca6b);
  }

  /**
   * How long before `tick` a tick of `job` is claimed, less than `most` ms: `claimAheadMs`, or up to
   * three quarters more. How much more is a hash of the job, the instance and the tick, different
   * on each instance: each claims a different part of the jobs first, so that the runs of one tick
   * are shared out among the instances instead of all going to the quickest, and a different part
   * at each tick, so that every instance gets its turn even with few jobs. (A lead learned by each
   * instance would hand every tick to the instance that had learned the longest.)
   *
   * A tick of a herd is claimed earlier still, by {@link HERD_CLAIM_MS} for each tick armed for the
   * same instant before it (at most {@link HERD_SPREAD_MAX_MS}), with the same three quarters more
   * for the jobs the instance prefers: the claims of a herd are spread over the time the instances
   * and the store take to answer them, instead of all asked at once and answered after the herd
   * was due. Where `most` cuts the lead short, the preference still holds within it, and the
   * longest lead stays an eighth of `most` short of it: a claim made too soon after the job's
   * previous tick may find that run's lease not yet released, and is then asked again at the tick,
   * late (on PostgreSQL at 3,000 ticks a second, leads up to `most` itself made p99 three times
   * later). Called once per tick armed; nothing is claimed ahead when `claimAheadMs` is 0.
   */
  lead(job: Job, tick: number, most: number): number {
    if (this.claimAheadMs <= 0) return 0;
    if (job.nameHash < 0) job.nameHash = fnv1a(job.name);
    const preference = mix(job.nameHash ^ this.instanceHash ^ Math.imul((tick % 0x1_0000_0000) | 0, 0x9e3779b1)) % 4;
    // Where the bound already decides (jobs due every second or more often), no herd is counted.
    const bound = most / 2;
    const base = this.claimAheadMs >= bound ? bound : Math.min(this.claimAheadMs + this.herd(tick), bound);
    return Math.floor(base * (1 + preference / 4));
  }

  /** How much earlier the herd of `tick` is claimed, counting this tick in it. */
  private herd(tick: number): number {
    const before = this.herds.get(tick) ?? 0;
    this.herds.set(tick, before + 1);
    if (this.herds.size > this.pruneAt) this.prune();
    return Math.min(before * HERD_CLAIM_MS, HERD_SPREAD_MAX_MS);
  }

  /**
   * Drops the instants gone by, and those with one tick (no herd so far: a tick armed for it later
   * counts from 0, 0.05 ms short), so that jobs due each at an instant of its own, such as
   * intervals counted from when each was added, keep no entry each; the next pruning waits until
   * the map has doubled.
   */
  private prune(): void {
    const now = this.clock.now();
    for (const [instant, count] of this.herds) if (instant < now || count === 1) this.herds.delete(instant);
    this.pruneAt = Math.max(256, this.herds.size * 2);
  }
}
