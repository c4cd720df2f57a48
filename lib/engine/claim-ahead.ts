import { fnv1a, mix } from './hash';
import { Job } from './job';

/**
 * When an instance claims each tick ahead of it (`cluster.claimAheadMs`), so that the runs of one
 * tick are shared out among the instances.
 */
export class ClaimAhead {
  private readonly instanceHash: number;

  constructor(
    instanceId: string,
    private readonly claimAheadMs: number,
  ) {
    this.instanceHash = Math.imul(fnv1a(instanceId), 0x85ebca6b);
  }

  /**
   * How long before `tick` a tick of `job` is claimed: `claimAheadMs`, or up to three quarters
   * more. How much more is a hash of the job, the instance and the tick, different on each
   * instance: each claims a different part of the jobs first, so that the runs of one tick are
   * shared out among the instances instead of all going to the quickest, and a different part at
   * each tick, so that every instance gets its turn even with few jobs. (A lead learned by each
   * instance would hand every tick to the instance that had learned the longest.)
   */
  lead(job: Job, tick: number): number {
    if (job.nameHash < 0) job.nameHash = fnv1a(job.name);
    const preference = mix(job.nameHash ^ this.instanceHash ^ Math.imul((tick % 0x1_0000_0000) | 0, 0x9e3779b1)) % 4;
    return this.claimAheadMs * (1 + preference / 4);
  }
}
