import { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { PostgresJobStore, RedisJobStore, ScheduleModule, ScheduleModuleOptions, SchedulerEvent, SchedulerRegistry, VirtualClock } from '../../lib';
import { AppScheduler } from '../../lib/application/app-scheduler';
import { JobStore } from '../../lib/stores/job-store';
import { namespace, StoreKind } from '../cluster/harness';
import { VirtualTime } from '../cluster/in-process';
import { T0 } from '../support/nest';

export type { StoreKind } from '../cluster/harness';

/** One application of a {@link SharedStoreApps}. */
export interface SharedStoreApp {
  app: INestApplication;
  registry: SchedulerRegistry;
  /** The application's scheduling, to drive its sync with the store directly. */
  scheduling: AppScheduler;
  /** Its connection to the store, as it uses it. */
  store: JobStore;
  events: SchedulerEvent[];
}

/**
 * Nest applications of this process sharing a real PostgreSQL or Redis namespace (a fresh schema or
 * key prefix), each through a store of its own as separate processes would have, on one
 * {@link VirtualClock}. Calls to the stores are counted, so that time moves on only once every one
 * was answered: a real round trip takes no virtual time. Close it after the test.
 */
export class SharedStoreApps {
  readonly clock = new VirtualClock(T0);
  private readonly time = new VirtualTime(this.clock, () => this.inFlight);
  readonly apps: SharedStoreApp[] = [];
  readonly space: ReturnType<typeof namespace>;
  private inFlight = 0;
  /** The calls made to the stores, by method name, in order. */
  readonly calls: string[] = [];

  constructor(readonly kind: StoreKind) {
    this.space = namespace(kind);
  }

  /** A new connection to the namespace, whose calls are counted. */
  store(): JobStore {
    const real: JobStore =
      this.kind === 'postgres'
        ? new PostgresJobStore({ connectionString: this.space.url, schema: this.space.name })
        : new RedisJobStore({ url: this.space.url, keyPrefix: this.space.name });
    return new Proxy(real, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          this.inFlight += 1;
          this.calls.push(String(property));
          const settled = () => (this.inFlight -= 1);
          const call = Promise.resolve().then(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
          call.then(settled, settled);
          return call;
        };
      },
    });
  }

  /** Starts an application with these providers on the shared store; its events are kept. */
  async start(providers: Type<unknown>[], instanceId: string, options: ScheduleModuleOptions = {}): Promise<SharedStoreApp> {
    const store = this.store();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot({ clock: this.clock, store, instanceId, cluster: { syncEveryMs: 1_000, checkInMs: 1_000, leaseMs: 3_000 }, ...options }),
      ],
      providers,
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    // Listening before init: stored rows are loaded, and rejected, as the application starts.
    const registry = app.get(SchedulerRegistry);
    const events: SchedulerEvent[] = [];
    registry.events$.subscribe((event) => events.push(event));
    await app.init();
    const started = { app, registry, scheduling: app.get(AppScheduler), store, events };
    this.apps.push(started);
    await this.quiet();
    return started;
  }

  /** Moves time forward by `ms`, timer by timer, letting the store answer between timers. */
  advance(ms: number): Promise<void> {
    return this.time.advance(ms);
  }

  /** Resolves once no call to the store is waiting, and none was made for a few turns of the event loop. */
  quiet(): Promise<void> {
    return this.time.quiet();
  }

  /** Closes every application and drops the namespace. */
  async close(): Promise<void> {
    for (const { app } of this.apps.splice(0)) await app.close();
    await this.space.drop();
  }
}

/** The ticks (ms after {@link T0}) of a job that started a run in the application. */
export function ticksRun(app: SharedStoreApp, job: string): number[] {
  return app.events.flatMap((event) => (event.type === 'run.started' && event.job === job ? [event.scheduledAt.getTime() - T0] : []));
}
