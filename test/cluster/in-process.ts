import Redis from 'ioredis';
import { Pool } from 'pg';
import { SchedulerEvent } from '../../lib/events';
import { Clock, TimerHandle, TimerOptions } from '../../lib/engine/clock';
import { JobContext } from '../../lib/engine/job-context';
import { JobOptions } from '../../lib/engine/job-options';
import { Scheduler, SchedulerOptions } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { ClaimOutcome, JobStore, TickClaim } from '../../lib/stores/job-store';
import { PostgresJobStore } from '../../lib/stores/postgres.store';
import { RedisJobStore } from '../../lib/stores/redis.store';
import { Trigger } from '../../lib/triggers/trigger';
import { PG_URL, REDIS_URL, uniqueName } from '../support/services';

/**
 * Schedulers of this process sharing a real PostgreSQL or Redis, each through a connection of its
 * own as separate processes would have. A test can stall an instance's connection (its calls wait,
 * and go when it recovers) or crash the instance (its timers stop, nothing more goes out or comes
 * back, and nothing it says afterwards is heard), without reaching into the engine.
 */
export type RealStore = 'PostgresJobStore' | 'RedisJobStore';

/** A schema or key prefix on a real store, for one test file: connections to it, and its removal. */
export interface StoreNamespace {
  open(): Promise<JobStore>;
  drop(): Promise<void>;
}

export function storeNamespace(kind: RealStore): StoreNamespace {
  if (kind === 'PostgresJobStore') {
    const schema = uniqueName('metronome_guarantees');
    return {
      open: async () => {
        const store = new PostgresJobStore({ connectionString: PG_URL, schema });
        await store.connect();
        return store;
      },
      drop: async () => {
        const pool = new Pool({ connectionString: PG_URL });
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    };
  }
  return redisNamespace(`${uniqueName('metronome-guarantees')}:`);
}

/** A Redis key prefix, for tests that write keys of their own under it. */
export function redisNamespace(keyPrefix: string): StoreNamespace {
  return {
    open: async () => {
      const store = new RedisJobStore({ url: REDIS_URL, keyPrefix });
      await store.connect();
      return store;
    },
    drop: async () => {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  };
}

/** Calls to the stores still waiting for their answer, across every link. */
let callsInFlight = 0;
const never = () => new Promise<never>(() => undefined);

/** An instance's connection to the store: stall it, or kill it with its instance. */
export class Link {
  private dead = false;
  readonly store: JobStore;
  /** Told of each claim the store answered, before the instance is (a crash can follow at once). */
  onClaimed: ((claims: readonly TickClaim[], outcomes: ClaimOutcome[]) => void) | null = null;
  /** Every claim call that went to the store: the ticks it asked for. */
  readonly claims: TickClaim[][] = [];
  /** While set, calls wait for it before they go, as on a connection that stalls: they go when it heals. */
  private stalled: Promise<void> | null = null;
  private heal: (() => void) | null = null;

  constructor(readonly real: JobStore) {
    this.store = new Proxy(real, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => this.call(property, () => (value as (...a: unknown[]) => unknown).apply(target, args), args);
      },
    });
  }

  /** Holds every call back until {@link resume}, as a connection that stalls and then recovers. */
  stall(): void {
    this.stalled ??= new Promise<void>((resolve) => (this.heal = resolve));
  }

  resume(): void {
    this.heal?.();
    this.stalled = null;
    this.heal = null;
  }

  /** Nothing goes to the store any more, and no answer comes back, as when the process died. */
  kill(): void {
    this.dead = true;
  }

  private call(property: string | symbol, run: () => unknown, args: unknown[]): unknown {
    if (this.dead) return never();
    if (this.stalled) {
      const stalled = this.stalled;
      return stalled.then(() => this.call(property, run, args));
    }
    if (property === 'claim') this.claims.push([...(args[1] as TickClaim[])]);
    const answer = run();
    // A method that answers at once (settings) makes no round trip.
    if (!(answer instanceof Promise)) return answer;
    callsInFlight += 1;
    return answer.then(
      (result) => {
        callsInFlight -= 1;
        if (this.dead) return never();
        if (property === 'claim') this.onClaimed?.(args[1] as TickClaim[], result as ClaimOutcome[]);
        return result;
      },
      (error: unknown) => {
        callsInFlight -= 1;
        if (this.dead) return never();
        throw error;
      },
    );
  }
}

/** An instance's clock: a base clock (virtual or real), maybe offset, whose timers all stop when the instance crashes. */
export class InstanceClock implements Clock {
  readonly maxDelay: number;
  private readonly timers = new Set<TimerHandle>();
  private dead = false;

  constructor(
    private readonly base: Clock,
    private readonly skewMs = 0,
  ) {
    this.maxDelay = base.maxDelay;
  }

  get virtual(): boolean | undefined {
    return this.base.virtual;
  }

  now(): number {
    return this.base.now() + this.skewMs;
  }

  setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle {
    if (this.dead) return null;
    const handle = this.base.setTimer(
      () => {
        if (!options?.repeat) this.timers.delete(handle);
        if (!this.dead) callback();
      },
      delayMs,
      options,
    );
    this.timers.add(handle);
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle);
    this.base.clearTimer(handle);
  }

  /** No timer fires any more. */
  kill(): void {
    this.dead = true;
    for (const handle of this.timers) this.base.clearTimer(handle);
    this.timers.clear();
  }
}

/** A run as its handler saw it. */
export interface RunRecord {
  instance: string;
  job: string;
  tick: number;
  attempt: number;
  token: number | undefined;
  signal: AbortSignal;
}

export type Handler = (context: JobContext) => unknown;

/** One instance: a scheduler on its own clock and its own connection to the store. */
export class Member {
  readonly events: SchedulerEvent[] = [];
  private crashed = false;

  constructor(
    readonly id: string,
    readonly scheduler: Scheduler,
    readonly clock: InstanceClock,
    readonly link: Link,
    private readonly runs: RunRecord[],
  ) {
    scheduler.on((event) => {
      if (!this.crashed) this.events.push(event);
    });
  }

  /** Adds a job whose runs are recorded; `handler` then does the run's work. */
  add(name: string, trigger: Trigger, options: JobOptions = {}, handler?: Handler): void {
    this.scheduler.add({
      name,
      trigger,
      options,
      handler: (context) => {
        this.runs.push({
          instance: this.id,
          job: name,
          tick: context.scheduledAt.getTime(),
          attempt: context.attempt,
          token: context.fencingToken,
          signal: context.signal,
        });
        return handler?.(context);
      },
    });
  }

  /** Dies as a process killed with SIGKILL: no timer fires, nothing is released, nothing more is said. */
  crash(): void {
    this.crashed = true;
    this.clock.kill();
    this.link.kill();
  }

  get alive(): boolean {
    return !this.crashed;
  }

  /** Events of one type. */
  of<T extends SchedulerEvent['type']>(type: T): Array<Extract<SchedulerEvent, { type: T }>> {
    return this.events.filter((event): event is Extract<SchedulerEvent, { type: T }> => event.type === type);
  }
}

/** Instances of one test on a store namespace. Stop it after the test: live schedulers are shut down, every connection closed. */
export class InProcessCluster {
  readonly members: Member[] = [];
  readonly runs: RunRecord[] = [];

  constructor(
    private readonly namespace: StoreNamespace,
    /** The clock every instance reads, before its own skew. */
    readonly base: Clock,
    /** Moves the base clock, when it is virtual: shutting down waits for runs in flight on it. */
    private readonly time?: VirtualTime,
  ) {}

  /** Makes an instance, connected to the store; it is started by the caller, after adding its jobs. */
  async member(id: string, options: Omit<SchedulerOptions, 'store' | 'instanceId' | 'clock'> & { skewMs?: number } = {}): Promise<Member> {
    const { skewMs, ...rest } = options;
    const link = new Link(await this.namespace.open());
    const clock = new InstanceClock(this.base, skewMs);
    const scheduler = new Scheduler({ ...rest, clock, store: link.store, instanceId: id });
    const member = new Member(id, scheduler, clock, link, this.runs);
    this.members.push(member);
    return member;
  }

  /** Every event of every live instance, with the instance. */
  events<T extends SchedulerEvent['type']>(type: T): Array<Extract<SchedulerEvent, { type: T }> & { instance: string }> {
    return this.members.flatMap((member) => member.of(type).map((event) => ({ ...event, instance: member.id })));
  }

  /** The ticks of a job that ran, in order (with repeats, if a tick ran twice). */
  ticks(job: string): number[] {
    return this.runs
      .filter((run) => run.job === job)
      .map((run) => run.tick)
      .sort((a, b) => a - b);
  }

  /** The skipped ticks of a job, in order, each with its reason. */
  skipped(job: string): Array<[number, string]> {
    return this.events('run.skipped')
      .filter((event) => event.job === job)
      .map((event): [number, string] => [event.scheduledAt.getTime(), event.reason])
      .sort((a, b) => a[0] - b[0]);
  }

  async stop(): Promise<void> {
    const live = this.members.filter((member) => member.alive && member.scheduler.state === 'running');
    let stopped = false;
    const stopping = Promise.all(live.map((member) => member.scheduler.shutdown())).finally(() => (stopped = true));
    // Runs in flight are waited for, up to each scheduler's shutdownTimeout (10 s by default).
    for (let waited = 0; this.time && !stopped && waited < 60_000; waited += 1_000) await this.time.advance(1_000);
    await stopping;
    for (const member of this.members) await member.link.real.close();
  }
}

/**
 * Drives a {@link VirtualClock} over real stores: time moves from one timer to the next, and only
 * once every call to the store has been answered, so that a real round trip takes no virtual time.
 */
export class VirtualTime {
  constructor(
    readonly clock: VirtualClock,
    /** Calls to the stores still unanswered; by default those made through a {@link Link}. */
    private readonly pending: () => number = () => callsInFlight,
  ) {}

  /** Moves time forward by `ms`, timer by timer, letting the stores answer between timers. */
  async advance(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    await this.quiet();
    for (let next = this.clock.nextDue(); next !== null && next <= target; next = this.clock.nextDue()) {
      await this.clock.advanceToAsync(next);
      await this.quiet();
    }
    await this.clock.advanceToAsync(target);
    await this.quiet();
  }

  /** Moves time to an instant. */
  async to(instant: number): Promise<void> {
    await this.advance(Math.max(0, instant - this.clock.now()));
  }

  /** Resolves once no call to a store is waiting, and none was made for a few turns of the event loop. */
  async quiet(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (let calm = 0; calm < 5;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.pending() === 0) calm += 1;
      else if (Date.now() > deadline) throw new Error(`${this.pending()} calls to the store still unanswered after 10 s`);
      else {
        calm = 0;
        await new Promise<void>((resolve) => setTimeout(resolve, 1));
      }
    }
  }
}

/** Waits in real time for `test` to hold, checking every 20 ms; fails naming `what` after `timeoutMs`. */
export async function until(what: string, test: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
