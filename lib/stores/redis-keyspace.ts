import { fnv1a } from '../engine/hash';
import { inBatches } from './batches';

/**
 * How many shards the keys of a store on a Redis Cluster are spread over. Never change it: a job's
 * shard is a hash of its name modulo this number, so another number would put the job's keys
 * elsewhere, and instances of two versions would each claim the job's ticks on keys of their own.
 */
export const REDIS_CLUSTER_SHARDS = 16;

/**
 * Where the keys of a {@link RedisJobStore} are. On a single Redis server, every key is under the
 * key prefix, as it always was: instances of older versions run against the same keys. On a Redis
 * Cluster, a Lua script may only touch the keys of one hash slot, so the jobs are spread over
 * {@link REDIS_CLUSTER_SHARDS} shards, each under a prefix with a hash tag of its own
 * (`<prefix>{3}:`): every key of a shard (its jobs' hashes, `names`, `leases`, `fencing`,
 * `revision`) is in one slot, and the shards spread over the masters. The cluster-wide keys (the
 * check-ins: `checkins`, `instances`, `reaped`) are in the first shard, the control shard.
 */
export class RedisKeyspace {
  private constructor(
    /** The prefix of each shard, by shard number. */
    readonly shards: readonly string[],
    /** Whether the keys are spread over the slots of a Redis Cluster. */
    readonly cluster: boolean,
  ) {}

  /** One server: the key prefix alone, unchanged. */
  static single(prefix: string): RedisKeyspace {
    return new RedisKeyspace([prefix], false);
  }

  /** A Redis Cluster: `<prefix>{0}:` to `<prefix>{15}:`. */
  static cluster(prefix: string): RedisKeyspace {
    return new RedisKeyspace(
      Array.from({ length: REDIS_CLUSTER_SHARDS }, (_, shard) => `${prefix}{${shard}}:`),
      true,
    );
  }

  /** The prefix of the shard that holds the cluster-wide keys. */
  get control(): string {
    return this.shards[0]!;
  }

  /** The prefix of a job's shard: a stable hash of its name, so that every instance finds it there. */
  prefixOf(job: string): string {
    return this.shards[this.cluster ? fnv1a(job) % REDIS_CLUSTER_SHARDS : 0]!;
  }

  /** A key of the shard, to name in a script call so that a cluster client sends it to the shard's master. */
  static routingKey(prefix: string): string {
    return `${prefix}names`;
  }

  /**
   * `call` on `items` grouped by their job's shard, at most `BATCH_SIZE` at a time: the batches of
   * one shard one after another, the shards at once. The answers, in the items' order. On one
   * server, exactly {@link inBatches}.
   *
   * With `unreachable`, on a Redis Cluster, the entries of a call that failed get that answer while
   * other calls went through: a master down (until its replica takes over) leaves the jobs of the
   * other masters alone. When every call failed, the first failure is thrown.
   */
  async byShard<T, R>(
    items: readonly T[],
    jobOf: (item: T) => string,
    call: (prefix: string, batch: readonly T[]) => Promise<R[]>,
    unreachable?: { answer: R },
  ): Promise<R[]> {
    if (!this.cluster) return inBatches(items, (batch) => call(this.shards[0]!, batch));
    const groups = new Map<string, { items: T[]; at: number[] }>();
    items.forEach((item, index) => {
      const prefix = this.prefixOf(jobOf(item));
      let group = groups.get(prefix);
      if (!group) groups.set(prefix, (group = { items: [], at: [] }));
      group.items.push(item);
      group.at.push(index);
    });
    const answers = new Array<R>(items.length);
    let calls = 0;
    const failures: unknown[] = [];
    const guarded = async (prefix: string, batch: readonly T[]): Promise<R[]> => {
      calls += 1;
      if (!unreachable) return call(prefix, batch);
      try {
        return await call(prefix, batch);
      } catch (error) {
        failures.push(error);
        return batch.map(() => unreachable.answer);
      }
    };
    await Promise.all(
      [...groups].map(async ([prefix, group]) => {
        const answer = await inBatches(group.items, (batch) => guarded(prefix, batch));
        if (answer.length !== group.items.length) throw new Error(`a shard answered ${answer.length} of ${group.items.length} entries`);
        answer.forEach((value, index) => (answers[group.at[index]!] = value));
      }),
    );
    if (calls > 0 && failures.length === calls) throw failures[0];
    return answers;
  }
}
