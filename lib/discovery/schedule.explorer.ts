import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { duplicateName, SchedulerKind } from '../compat/messages';
import { CronOptions } from '../decorators/cron-options';
import { CronScheduleMetadata, DelayScheduleMetadata, getSchedules, ScheduleMetadata } from '../decorators/schedule-metadata';
import { DuplicateJobError } from '../errors';
import { assertKnownJobOptionKeys, assertMilliseconds, JobOptions } from '../engine/job-options';
import { assertJobName } from '../engine/job-name';
import { DECORATOR_FIELDS } from '../triggers/field-names';
import { createTrigger, cronTimeTrigger } from '../triggers/trigger-factory';
import { AppScheduler } from '../application/app-scheduler';
import { DecoratedJob, runDecorated } from './decorated-job';
import { passesContext } from './handler-call';

const KIND_LABEL: Record<ScheduleMetadata['kind'], SchedulerKind> = { cron: 'Cron Job', interval: 'Interval', timeout: 'Timeout' };
const KIND_WORD: Record<ScheduleMetadata['kind'], string> = { cron: 'cron job', interval: 'interval', timeout: 'timeout' };
const CRON_ONLY_KEYS = ['name', 'timeZone', 'utcOffset', 'disabled', 'waitForCompletion', 'threshold', 'initialDelay', 'unrefTimeout'];

/** A decorated method, found on a provider or controller. */
interface Target {
  wrapper: InstanceWrapper;
  method: string;
  /** `Class.method`. */
  label: string;
  /** Whether the method asked for its context. */
  withContext: boolean;
}

/**
 * Finds `@Cron`, `@Interval` and `@Timeout` methods on providers and controllers when the
 * application initializes, checks them (a bad schedule makes `app.init()` reject, naming the job),
 * and registers them as jobs. Runs once per application.
 */
@Injectable()
export class ScheduleExplorer implements OnModuleInit {
  private readonly logger = new Logger('Scheduler');

  constructor(
    private readonly app: AppScheduler,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    this.explore();
  }

  /** Registers every decorated method of the application, once. */
  explore(): void {
    if (this.app.discovered) return;
    this.app.discovered = true;
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance);
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const schedules = getSchedules(prototype[method]).filter((schedule) => this.enabled(schedule.kind));
        if (schedules.length === 0) continue;
        if (!wrapper.isDependencyTreeStatic()) {
          for (const kind of new Set(schedules.map((s) => s.kind))) {
            this.logger.warn(`Cannot register ${KIND_WORD[kind]} "${wrapper.name}@${method}" because it is defined in a non static provider.`);
          }
          continue;
        }
        // Nest lists a transient provider with an instance it never constructed: its fields and dependencies are unset.
        if (wrapper.isTransient) {
          for (const kind of new Set(schedules.map((s) => s.kind))) {
            this.logger.warn(
              `Cannot register ${KIND_WORD[kind]} "${wrapper.name}@${method}" because it is defined in a transient provider, which has no single instance to call. Give the provider the default scope.`,
            );
          }
          continue;
        }
        const label = `${prototype.constructor?.name || String(wrapper.name)}.${method}`;
        const target = { wrapper, method, label, withContext: passesContext(prototype, method, label) };
        for (const schedule of schedules) this.register(target, schedule);
      }
    }
  }

  private enabled(kind: ScheduleMetadata['kind']): boolean {
    const { options } = this.app;
    return kind === 'cron' ? options.cronJobs : kind === 'interval' ? options.intervals : options.timeouts;
  }

  private register(target: Target, schedule: ScheduleMetadata): void {
    const explicit = schedule.kind === 'cron' ? schedule.options.name : schedule.name;
    const name = explicit ?? this.implicitName(target.label);
    assertJobName(name, target.label);
    const kind = KIND_LABEL[schedule.kind];
    const holder = this.app.handles.holder(name);
    if (holder) throw new DuplicateJobError(name, duplicateName(kind, name, holder));
    // The job's meta (kind, Class.method) is what its source describes: no object of its own.
    const source = new DecoratedJob(target.wrapper, target.method, schedule, this.app.handles, target.withContext);
    if (schedule.kind === 'cron') this.registerCron(name, schedule, source);
    else this.registerTimer(name, schedule, source);
  }

  private registerCron(name: string, schedule: CronScheduleMetadata, source: DecoratedJob): void {
    const { cronTime, options } = schedule;
    const { timeZone, utcOffset, disabled, waitForCompletion, threshold, initialDelay, unrefTimeout, name: _name, ...jobOptions } = options as CronOptions;
    assertKnownJobOptionKeys(name, jobOptions, CRON_ONLY_KEYS);
    const scheduler = this.app.scheduler;
    // Anything but a string is read as a date, as `DateLike` allows.
    const kind = typeof cronTime === 'string' ? 'cron' : 'date';
    const trigger = cronTimeTrigger(name, kind, cronTime, { timeZone, utcOffset }, scheduler.clock.now());
    assertMilliseconds(name, 'initialDelay', initialDelay);
    assertMilliseconds(name, 'threshold', threshold);
    // `cron`'s options, as job options; only those given, so that most jobs share their options.
    const merged: JobOptions = { ...jobOptions };
    if (jobOptions.overlap === undefined && waitForCompletion !== undefined) merged.overlap = waitForCompletion ? 'skip' : 'allow';
    if (threshold !== undefined) merged.misfire = { graceMs: threshold, ...jobOptions.misfire };
    if (jobOptions.unref === undefined && unrefTimeout !== undefined) merged.unref = unrefTimeout;
    // The job's CronJob handle is made from its source if someone asks for it.
    scheduler.add({ name, trigger, handler: runDecorated, options: merged, paused: disabled === true, startDelayMs: initialDelay, source });
  }

  private registerTimer(name: string, { kind, ms, options }: DelayScheduleMetadata, source: DecoratedJob): void {
    assertKnownJobOptionKeys(name, options);
    const scheduler = this.app.scheduler;
    const decorator = { fields: DECORATOR_FIELDS, now: scheduler.clock.now() };
    const trigger = kind === 'interval' ? createTrigger(name, 'interval', { every: ms }, decorator) : createTrigger(name, 'delay', { after: ms }, decorator);
    scheduler.add({ name, trigger, handler: runDecorated, options, source });
    // Its Node timer is made if someone asks for it (`getInterval`, `getTimeout`).
    this.app.handles.addDecoratedTimer(kind, name);
  }

  /** `Class.method`, or `Class.method#2`… when the method carries several schedules. */
  private implicitName(base: string): string {
    const scheduler = this.app.scheduler;
    let name = base;
    for (let n = 2; scheduler.has(name); n++) name = `${base}#${n}`;
    return name;
  }
}
