import { hostname } from 'node:os';
import { InstanceRecord, JobStore } from '../stores/job-store';
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

  private readonly instanceId: string;
  /** When the scheduler started, for the list of instances. */
  private startedAt: number | null = null;

  constructor(
    options: CoordinationOptions,
    private readonly clock: Clock,
    events: EventHub,
    private readonly host: ClusterHost,
  ) {
    this.instanceId = options.instanceId ?? 'instance';
    this.local = new LocalCoordinator(host, this.learnedLead);
    const timing = clusterTiming(options.cluster);
    this.calls = options.store ? new StoreCalls(options.store, clock, events, timing.timeoutMs) : null;
    this.cluster = this.calls && options.store?.shared ? new ClusterCoordinator(this.calls, this.instanceId, clock, events, host, timing) : null;
    this.shared = this.cluster ?? this.local;
  }

  /** The coordinator that decides the job's ticks. */
  of(job: Job): Coordinator {
    return job.options.scope === 'cluster' ? this.shared : this.local;
  }

  start(): void {
    this.startedAt = this.clock.now();
    this.shared.start();
  }

  stop(): Promise<void> {
    return this.shared.stop();
  }

  /** The instances alive in the cluster; without a shared store, this one. */
  async instances(): Promise<InstanceRecord[]> {
    if (this.cluster) return this.cluster.instances();
    const { count, jobs } = this.host.activeRuns();
    const now = this.clock.now();
    return [{ id: this.instanceId, host: hostname(), pid: process.pid, startedAt: this.startedAt ?? now, running: count, runningJobs: jobs, checkedInAt: now }];
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
