import { JobStore } from '../stores/job-store';
import { Clock } from './clock';
import { ClusterCoordinator, ClusterHost } from './cluster-coordinator';
import { ClusterTiming, clusterTiming } from './cluster-timing';
import { Coordinator, LocalCoordinator } from './coordinator';
import { EventHub } from './event-hub';
import { Job } from './job';
import { LearnedLead } from './start-batches';
import { StoreCalls } from './store-calls';

/** Where a scheduler's jobs are coordinated: its store, its name there, and the cluster's timing. */
export interface CoordinationOptions {
  /** Where jobs are coordinated with other instances. Without one, or with one that is not shared, every tick runs here. */
  store?: JobStore;
  /** This instance's name in the store. */
  instanceId?: string;
  /** Timing of the cluster protocol, with a shared store. */
  cluster?: Partial<ClusterTiming>;
}

/**
 * The coordinators of one scheduler, and which decides a job's ticks: the local one for jobs
 * scoped to the instance and for every job without a shared store; the cluster's for cluster-wide
 * jobs with a shared store. Also the calls to the store, whose outages they track together.
 */
export class Coordinators {
  /** Learned by the jobs of this instance (see {@link LocalCoordinator}); adjusted at each wake-up. */
  readonly learnedLead = new LearnedLead();
  private readonly local: Coordinator;
  private readonly shared: Coordinator;
  private readonly cluster: ClusterCoordinator | null;
  private readonly calls: StoreCalls | null;

  constructor(options: CoordinationOptions, clock: Clock, events: EventHub, host: ClusterHost) {
    this.local = new LocalCoordinator(host, this.learnedLead);
    const timing = clusterTiming(options.cluster);
    this.calls = options.store ? new StoreCalls(options.store, clock, events, timing.timeoutMs) : null;
    this.cluster =
      this.calls && options.store?.shared ? new ClusterCoordinator(this.calls, options.instanceId ?? 'instance', clock, events, host, timing) : null;
    this.shared = this.cluster ?? this.local;
  }

  /** The coordinator that decides the job's ticks. */
  of(job: Job): Coordinator {
    return job.options.scope === 'cluster' ? this.shared : this.local;
  }

  start(): void {
    this.shared.start();
  }

  stop(): Promise<void> {
    return this.shared.stop();
  }

  /** Another instance handed work back to the store: the cluster's coordinator looks for it now. */
  sweepSoon(): void {
    this.cluster?.sweepSoon();
  }

  /** Runs a call to the store for the layers above, tracking outages with the scheduler's own calls. */
  track<T>(operation: () => Promise<T>): Promise<T> {
    return this.calls ? this.calls.track(operation) : operation();
  }
}
