import { DynamicModule, Module, Provider } from '@nestjs/common';
import { DiscoveryModule, ModulesContainer } from '@nestjs/core';
import { AppScheduler } from './application/app-scheduler';
import { Clock } from './engine/clock';
import { RunFeed } from './application/run-feed';
import { JobTargets } from './discovery/job-targets';
import { InvalidScheduleError } from './errors';
import { ScheduleExplorer } from './discovery/schedule.explorer';
import { ScheduleModuleAsyncOptions, ScheduleModuleOptions, ScheduleModuleOptionsFactory } from './interfaces/schedule-module-options.interface';
import { SchedulerRegistry } from './registry/scheduler.registry';
import { SCHEDULE_CLOCK, SCHEDULE_MODULE_OPTIONS } from './schedule.constants';

/** One scheduling per application, shared by every import of the module; on the clock of `ScheduleTestingModule` when one is imported. */
const appSchedulerProvider: Provider = {
  provide: AppScheduler,
  useFactory: (modules: ModulesContainer, options: ScheduleModuleOptions | undefined, targets: JobTargets, clock: Clock | undefined) =>
    AppScheduler.for(modules, options, targets, clock),
  inject: [ModulesContainer, SCHEDULE_MODULE_OPTIONS, JobTargets, { token: SCHEDULE_CLOCK, optional: true }],
};

/** The feed of finished runs, one per application. */
const runFeedProvider: Provider = { provide: RunFeed, useFactory: (app: AppScheduler) => new RunFeed(app), inject: [AppScheduler] };

/**
 * Scheduling for the application: import `ScheduleModule.forRoot()` once, in the root module.
 * The module is global: `SchedulerRegistry` can be injected anywhere. Importing it in several
 * modules is harmless: each job still runs once.
 * @publicApi
 */
@Module({ imports: [DiscoveryModule] })
export class ScheduleModule {
  static forRoot(options: ScheduleModuleOptions = {}): DynamicModule {
    return ScheduleModule.create([{ provide: SCHEDULE_MODULE_OPTIONS, useValue: options }]);
  }

  static forRootAsync(options: ScheduleModuleAsyncOptions): DynamicModule {
    return ScheduleModule.create(ScheduleModule.asyncOptionsProviders(options), options.imports ?? []);
  }

  private static create(optionsProviders: Provider[], imports: DynamicModule['imports'] = []): DynamicModule {
    return {
      global: true,
      module: ScheduleModule,
      imports,
      providers: [...optionsProviders, appSchedulerProvider, SchedulerRegistry, ScheduleExplorer, JobTargets, runFeedProvider],
      // AppScheduler for the operations modules of this package (health, metrics, tracing); not in the public API.
      exports: [SchedulerRegistry, RunFeed, AppScheduler],
    };
  }

  private static asyncOptionsProviders(options: ScheduleModuleAsyncOptions): Provider[] {
    if (options.useFactory) {
      return [{ provide: SCHEDULE_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }];
    }
    const factory = options.useClass ?? options.useExisting;
    if (!factory) {
      throw new InvalidScheduleError(
        '',
        'forRootAsync',
        Object.keys(options),
        'has none of useFactory, useClass or useExisting: give one, to make the options.',
      );
    }
    const provider: Provider = {
      provide: SCHEDULE_MODULE_OPTIONS,
      useFactory: (optionsFactory: ScheduleModuleOptionsFactory) => optionsFactory.createScheduleOptions(),
      inject: [factory],
    };
    return options.useClass ? [provider, { provide: options.useClass, useClass: options.useClass }] : [provider];
  }
}
