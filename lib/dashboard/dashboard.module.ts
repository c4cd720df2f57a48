import { Controller, DynamicModule, Module, Provider, Type, UseGuards, UseInterceptors } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppScheduler } from '../application/app-scheduler';
import { RunFeed } from '../application/run-feed';
import { SchedulerRegistry } from '../registry/scheduler.registry';
import { DASHBOARD_OPTIONS, DASHBOARD_SHARED_STORE } from './dashboard.constants';
import { DashboardController } from './dashboard.controller';
import { DashboardOffNotice } from './dashboard-off';
import { ResolvedDashboardOptions, resolveDashboardOptions, ScheduleDashboardOptions } from './dashboard-options';
import { HostGuard, MutationGuard } from './dashboard-security';
import { DASHBOARD_RUN_SOURCE, RegistryRunSource } from './run-source';
import { SecurityHeadersInterceptor } from './security-headers';

/** The run history: in a cluster whose store keeps one, the runs of every instance. */
const runSource: Provider = {
  provide: DASHBOARD_RUN_SOURCE,
  useFactory: (registry: SchedulerRegistry, moduleRef: ModuleRef) => new RegistryRunSource(registry, moduleRef.get(RunFeed, { strict: false })),
  inject: [SchedulerRegistry, ModuleRef],
};

/** Whether the scheduler's store is shared by instances (in a cluster, some jobs cannot be removed from one instance), asked once the application runs. */
const sharedStore: Provider = {
  provide: DASHBOARD_SHARED_STORE,
  useFactory: (moduleRef: ModuleRef) => () => moduleRef.get(AppScheduler, { strict: false }).store.shared,
  inject: [ModuleRef],
};

/**
 * A web dashboard of the scheduler: every job with its schedule, next and last run, state and
 * recent runs, the live instances, and the actions pause, resume, run now and remove; updated
 * live over server-sent events, with a JSON API behind it. Import it next to `ScheduleModule`:
 *
 * ```ts
 * ScheduleDashboardModule.forRoot({ path: '/scheduler', guard: AdminGuard })
 * ```
 *
 * It is off unless a `guard` is given or `allowUnauthenticated: true` is set. Every change is a
 * POST that must come from the page's own origin with its CSRF token. Works on Express and Fastify.
 * See docs/dashboard.md.
 * @publicApi
 */
@Module({})
export class ScheduleDashboardModule {
  /**
   * The dashboard at `options.path` (default `/scheduler`). Throws `DashboardOptionsError`
   * naming the option when an option is invalid.
   */
  static forRoot(options: ScheduleDashboardOptions = {}): DynamicModule {
    const resolved = resolveDashboardOptions(options);
    if (!resolved.guard && !resolved.allowUnauthenticated) {
      return { module: ScheduleDashboardModule, providers: [DashboardOffNotice] };
    }
    return {
      module: ScheduleDashboardModule,
      imports: resolved.imports,
      controllers: [dashboardController(resolved)],
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: resolved }, runSource, sharedStore, HostGuard, MutationGuard, SecurityHeadersInterceptor],
    };
  }
}

/** The dashboard's controller at the path given, behind the guard given: Nest reads both from decorators, so the class is made here. */
function dashboardController(options: ResolvedDashboardOptions): Type<DashboardController> {
  class ScheduleDashboardController extends DashboardController {}
  Controller(options.path)(ScheduleDashboardController);
  UseInterceptors(SecurityHeadersInterceptor)(ScheduleDashboardController);
  UseGuards(HostGuard)(ScheduleDashboardController);
  if (options.guard) UseGuards(options.guard)(ScheduleDashboardController);
  return ScheduleDashboardController;
}
