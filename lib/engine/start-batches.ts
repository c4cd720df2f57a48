import { Clock } from './clock';
import { Coordinator } from './coordinator';
import { Job } from './job';
import { TimerTask } from './runner';
import { QueueEntry, TimerQueue } from './timer-queue';

/**
 * Runs prepared ahead of their tick, flat: job, tick, fencing token, whether its lease is started
 * (1) or waits for `Coordinator.begin` (0), job… The arrays are used
 * again for later batches, keeping their room: a batch of 10,000 runs is an array large enough
 * to be allocated outside the young generation, and one each second would keep the collector busy.
 */
class PlannedRuns {
  private static readonly spare: PlannedRuns[] = [];
  /** How many items one run takes. */
  static readonly STRIDE = 4;
  private readonly items: Array<Job | number | undefined> = [];
  size = 0;
  /** How many of the runs wait for their lease to be marked started. */
  unmarked = 0;
  /** The timer that takes the batch up. */
  task: TimerTask | null = null;

  static take(): PlannedRuns {
    return PlannedRuns.spare.pop() ?? new PlannedRuns();
  }

  push(job: Job, tick: number, fencingToken: number | undefined, started: boolean): void {
    this.items[this.size++] = job;
    this.items[this.size++] = tick;
    this.items[this.size++] = fencingToken;
    this.items[this.size++] = started ? 1 : 0;
    if (!started) this.unmarked++;
  }

  job(i: number): Job {
    return this.items[i] as Job;
  }

  tick(i: number): number {
    return this.items[i + 1] as number;
  }

  fencingToken(i: number): number | undefined {
    return this.items[i + 2] as number | undefined;
  }

  started(i: number): boolean {
    return this.items[i + 3] === 1;
  }

  /** Forgets the runs (not to hold on to their jobs) and keeps the array for another batch. */
  recycle(): void {
    this.items.fill(undefined, 0, this.size);
    this.size = 0;
    this.unmarked = 0;
    this.task = null;
    if (PlannedRuns.spare.length < 4) PlannedRuns.spare.push(this);
  }
}

/** Learns how long before their tick the jobs of this instance wake: see `LocalCoordinator.lead`. */
export class LearnedLead {
  /** The most the wake-up of a job of this instance is brought forward. */
  static readonly MAX_MS = 250;
  /** How fast the lead shrinks back after wake-ups that were ready in time. */
  private static readonly DECAY = 0.99;
  value = 0;
  /** The worst lateness of a start since the last wake-up. */
  private overshoot = 0;

  constructor(
    /** The most it grows to. */
    private readonly maxMs = LearnedLead.MAX_MS,
  ) {}

  late(ms: number): void {
    if (ms > this.overshoot) this.overshoot = ms;
  }

  /** At each wake-up: lengthens the lead by what the latest starts overshot, or lets it shrink slowly when they were in time. */
  adjust(): void {
    const lead = this.overshoot > 0 ? (this.value + this.overshoot) * 1.5 : this.value * LearnedLead.DECAY;
    this.overshoot = 0;
    this.value = Math.min(this.maxMs, lead < 0.5 ? 0 : lead);
  }
}

/** What the batches need from the scheduler. */
export interface StartHost {
  /** False once shutdown began: no run starts. */
  running(): boolean;
  /** Whether the job, or the whole scheduler, is paused. */
  paused(job: Job): boolean;
  coordinator(job: Job): Coordinator;
  /** Starts the run now (under the overlap policy). */
  dispatch(job: Job, tick: number, fencingToken: number | undefined, attempt: number): void;
}

/**
 * The most the start marks of runs claimed ahead are sent before their instant, as learned from
 * their answers: a run marked started and not yet begun is lost (reported, at-most-once) if its
 * instance dies meanwhile. Besides, a batch is taken up {@link MARK_MS_PER_RUN} earlier for each
 * run whose lease it marks.
 */
export const MARK_LEAD_MAX_MS = 50;

/**
 * How much earlier a batch of runs is taken up for each run whose lease it marks: taking up a herd
 * of 30,000 runs claimed ahead takes a time of its own (about 5 µs a run), which would otherwise
 * come after their instant. About as long as taking them up, so the window in which a run is
 * marked and not begun grows no more than it does after the instant, while the batch starts.
 */
export const MARK_MS_PER_RUN = 0.005;

/**
 * Starts runs at their time, all the runs due at one instant in one pass: a job woken ahead of its
 * tick (see `Coordinator.lead`) has its run prepared here, and it starts with the others due then.
 * A run claimed ahead starts once its coordinator marked its lease started (`Coordinator.begin`);
 * the marks of the runs due at one instant are sent ahead of it by as long as their answers took
 * lately (at most {@link MARK_LEAD_MAX_MS}), and {@link MARK_MS_PER_RUN} more for each lease to
 * mark, so that the runs start at the instant itself.
 */
export class StartBatches {
  /**
   * Runs prepared ahead, by the instant they start (the tick is also `job.planned` until the run
   * starts, or the job is rescheduled); one map for jobs that keep the process alive, one for the
   * others. Taken up when their leases are to be marked: {@link markLead} before the instant.
   */
  private readonly batches = [new Map<number, PlannedRuns>(), new Map<number, PlannedRuns>()];
  /** Runs whose lease is started (marked, or won at the tick), waiting for their instant. */
  private readonly ready = [new Map<number, PlannedRuns>(), new Map<number, PlannedRuns>()];
  /** How long before their instant the leases of runs claimed ahead are marked: learned from marks answered after it. */
  private readonly markLead = new LearnedLead(MARK_LEAD_MAX_MS);

  constructor(
    private readonly clock: Clock,
    private readonly queue: TimerQueue<QueueEntry>,
    private readonly host: StartHost,
  ) {}

  /**
   * Starts the run of `tick` at `runAt`: now if that has come (by the clock, or by `wokeAt`, the
   * instant the job was woken for), else with the other runs starting then. A start that comes
   * late is reported to the job's coordinator. A run whose lease is not `started` (claimed ahead)
   * starts once the coordinator began it.
   */
  start(job: Job, tick: number, fencingToken: number | undefined, runAt: number, wokeAt: number, attempt = 1, started = true): void {
    const now = Math.max(this.clock.now(), wokeAt);
    const coordinator = this.host.coordinator(job);
    if (runAt <= now) {
      coordinator.startedLate(job, now - runAt);
      if (!started && fencingToken !== undefined) return this.begin(job, tick, fencingToken, attempt, coordinator, null);
      return this.host.dispatch(job, tick, fencingToken, attempt);
    }
    // The lease is held while the run waits for its time.
    coordinator.hold(job, fencingToken, 1);
    job.planned = tick;
    const batch = this.plan(this.batches, job, tick, fencingToken, started, runAt, this.markAt, (batches) => this.markPlanned(batches, runAt));
    // A batch with many leases to mark is taken up earlier, by the time that takes.
    const at = runAt - this.markLead.value - batch.unmarked * MARK_MS_PER_RUN;
    if (!started && batch.task && at <= batch.task.at - 1) this.queue.schedule(batch.task, at);
  }

  /** When the batch of `runAt` is taken up, as it is made: the lead learned from the marks answered so far. */
  private readonly markAt = (runAt: number): number => {
    this.markLead.adjust();
    return runAt - this.markLead.value;
  };

  /** Adds a run to the batch of its instant, made (with its timer, at `at(runAt)`) if it is the first; returns the batch. */
  private plan(
    maps: ReadonlyArray<Map<number, PlannedRuns>>,
    job: Job,
    tick: number,
    fencingToken: number | undefined,
    started: boolean,
    runAt: number,
    at: (runAt: number) => number,
    takeUp: (batches: Map<number, PlannedRuns>) => void,
  ): PlannedRuns {
    const batches = maps[job.ref ? 1 : 0];
    let batch = batches.get(runAt);
    if (!batch) {
      batches.set(runAt, (batch = PlannedRuns.take()));
      batch.task = new TimerTask(() => takeUp(batches), job.ref);
      this.queue.schedule(batch.task, at(runAt));
    }
    batch.push(job, tick, fencingToken, started);
    return batch;
  }

  /**
   * Starts a run whose lease was claimed ahead once the store marked it started; meanwhile the run
   * holds the lease. Marked before `runAt` (a run planned for then, still `job.planned`), it waits
   * for it; begun while the scheduler stops, it is handed back rather than run.
   */
  private begin(job: Job, tick: number, fencingToken: number, attempt: number, coordinator: Coordinator, runAt: number | null): void {
    coordinator.hold(job, fencingToken, 1);
    const work = { tick, from: tick, attempt };
    coordinator.begin(job, fencingToken, work, (started) => {
      if (runAt === null) {
        if (started) this.launch(job, tick, fencingToken, attempt, coordinator, true);
      } else if (job.planned === tick) {
        const late = this.clock.now() - runAt;
        if (started && late < 0 && this.host.running()) this.wait(job, tick, fencingToken, runAt, coordinator);
        else {
          job.planned = null;
          if (late > 0) this.markLead.late(late);
          if (started) this.launch(job, tick, fencingToken, attempt, coordinator, true);
        }
      }
      coordinator.hold(job, fencingToken, -1);
    });
  }

  /** Dispatches a run due now, unless the scheduler stops, its job went or is paused, or its lease is another's. */
  private launch(job: Job, tick: number, fencingToken: number | undefined, attempt: number, coordinator: Coordinator, begun: boolean): void {
    if (job.removed || !coordinator.owns(job, fencingToken)) return;
    // Begun as the scheduler stopped: the lease is started but the run is not, so it goes to another instance.
    if (!this.host.running()) {
      if (begun) coordinator.handBack(job, fencingToken, { tick, from: tick, attempt });
      return;
    }
    if (this.host.paused(job)) coordinator.pausedBeforeStart(job, tick, fencingToken);
    else this.host.dispatch(job, tick, fencingToken, attempt);
  }

  /**
   * Takes up the runs planned for `runAt`, {@link markLead} before it: a run claimed ahead has its
   * lease marked (it then waits for `runAt`); the others wait for it, or start if it has come.
   * Nothing runs of a job removed or rescheduled meanwhile.
   */
  private markPlanned(batches: Map<number, PlannedRuns>, runAt: number): void {
    this.takeUp(batches, runAt, (job, tick, fencingToken, started, coordinator) => {
      if (!started && fencingToken !== undefined && this.host.running()) return this.begin(job, tick, fencingToken, 1, coordinator, runAt);
      if (this.clock.now() < runAt) return this.wait(job, tick, fencingToken, runAt, coordinator);
      job.planned = null;
      this.launch(job, tick, fencingToken, 1, coordinator, true);
    });
  }

  /** A run whose lease is started waits for `runAt`, holding its lease. */
  private wait(job: Job, tick: number, fencingToken: number | undefined, runAt: number, coordinator: Coordinator): void {
    coordinator.hold(job, fencingToken, 1);
    this.plan(
      this.ready,
      job,
      tick,
      fencingToken,
      true,
      runAt,
      (at) => at,
      (ready) => this.startReady(ready, runAt),
    );
  }

  /** Starts the runs ready for `runAt`, unless their job was removed or rescheduled meanwhile. */
  private startReady(ready: Map<number, PlannedRuns>, runAt: number): void {
    this.takeUp(ready, runAt, (job, tick, fencingToken, started, coordinator) => {
      job.planned = null;
      this.launch(job, tick, fencingToken, 1, coordinator, true);
    });
  }

  /**
   * Hands each run of the batch of `runAt` that is still planned (its job not rescheduled) to
   * `take`, then lets go of the batch's hold on its lease (`take` holds it again if it keeps the run).
   */
  private takeUp(
    batches: Map<number, PlannedRuns>,
    runAt: number,
    take: (job: Job, tick: number, fencingToken: number | undefined, started: boolean, coordinator: Coordinator) => void,
  ): void {
    const batch = batches.get(runAt);
    if (!batch) return;
    batches.delete(runAt);
    for (let i = 0; i < batch.size; i += PlannedRuns.STRIDE) {
      const job = batch.job(i);
      const tick = batch.tick(i);
      const fencingToken = batch.fencingToken(i);
      const coordinator = this.host.coordinator(job);
      if (job.planned === tick) take(job, tick, fencingToken, batch.started(i), coordinator);
      coordinator.hold(job, fencingToken, -1);
    }
    batch.recycle();
  }

  /** Hands back the runs prepared ahead when the scheduler stops: in a cluster, another instance runs them. */
  drop(): void {
    for (const batches of [...this.batches, ...this.ready]) {
      for (const batch of batches.values()) {
        for (let i = 0; i < batch.size; i += PlannedRuns.STRIDE) {
          const job = batch.job(i);
          const tick = batch.tick(i);
          const fencingToken = batch.fencingToken(i);
          const coordinator = this.host.coordinator(job);
          if (job.planned === tick) coordinator.handBack(job, fencingToken, { tick, from: tick, attempt: 1 });
          job.planned = null;
          coordinator.hold(job, fencingToken, -1);
        }
        batch.recycle();
      }
      batches.clear();
    }
  }
}
