import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { CronJob } from '../compat/cron-job';
import { CronTime } from '../compat/cron-time';
import { DUPLICATE_SCHEDULER, SchedulerKind } from '../compat/messages';
import { TimerDriver } from '../compat/timer-driver';
import { CronOptions } from '../decorators/cron-options';
import { CronScheduleMetadata, DelayScheduleMetadata, getSchedules, ScheduleMetadata } from '../decorators/schedule-metadata';
import { DuplicateJobError, InvalidScheduleError } from '../errors';
import { JobContext } from '../engine/job-context';
import { JobHandler } from '../engine/job';
import { assertKnownJobOptionKeys, JobOptions } from '../engine/job-options';
import { CronTrigger } from '../triggers/cron.trigger';
import { DateTrigger, DelayTrigger, toEpochMs } from '../triggers/date.trigger';
import { validateDelay, IntervalTrigger } from '../triggers/interval.trigger';
import { SchedulerCore } from '../registry/scheduler-core';

const KIND_LABEL: Record<ScheduleMetadata['kind'], SchedulerKind> = { cron: 'Cron Job', interval: 'Interval', timeout: 'Timeout' };
const KIND_WORD: Record<ScheduleMetadata['kind'], string> = { cron: 'cron job', interval: 'interval', timeout: 'timeout' };
const CRON_ONLY_KEYS = ['name', 'timeZone', 'utcOffset', 'disabled', 'waitForCompletion', 'threshold', 'initialDelay', 'unrefTimeout'];

/** A decorated method, found on a provider or controller. */
interface Target {
  wrapper: InstanceWrapper;
  className: string;
  method: string;
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
    private readonly core: SchedulerCore,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    this.explore();
  }

  /** Registers every decorated method of the application, once. */
  explore(): void {
    if (this.core.discovered) return;
    this.core.discovered = true;
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
        const target = { wrapper, className: prototype.constructor?.name || String(wrapper.name), method };
        for (const schedule of schedules) this.register(target, schedule);
      }
    }
  }

  private enabled(kind: ScheduleMetadata['kind']): boolean {
    const { options } = this.core;
    return kind === 'cron' ? options.cronJobs : kind === 'interval' ? options.intervals : options.timeouts;
  }

  private register(target: Target, schedule: ScheduleMetadata): void {
    const explicit = schedule.kind === 'cron' ? schedule.options.name : schedule.name;
    const name = explicit ?? this.implicitName(`${target.className}.${target.method}`);
    const kind = KIND_LABEL[schedule.kind];
    const taken = this.core.scheduler.has(name) || this.core.cronJobs.has(name) || this.core.intervals.has(name) || this.core.timeouts.has(name);
    if (taken) throw new DuplicateJobError(name, DUPLICATE_SCHEDULER(kind, name));
    const handler: JobHandler = (context: JobContext) => {
      // The live instance, read at each run.
      const instance = target.wrapper.instance as Record<string, (context: JobContext) => unknown>;
      return instance[target.method](context);
    };
    const meta = { kind: schedule.kind, target: `${target.className}.${target.method}` };
    if (schedule.kind === 'cron') this.registerCron(name, schedule, handler, meta);
    else this.registerTimer(name, schedule, handler, meta);
  }

  private registerCron(name: string, { cronTime, options }: CronScheduleMetadata, handler: JobHandler, meta: Record<string, unknown>): void {
    const { timeZone, utcOffset, disabled, waitForCompletion, threshold, initialDelay, unrefTimeout, name: _name, ...jobOptions } = options as CronOptions;
    assertKnownJobOptionKeys(name, jobOptions, CRON_ONLY_KEYS);
    const scheduler = this.core.scheduler;
    const isDate = typeof cronTime !== 'string';
    const trigger = isDate ? this.dateTrigger(name, cronTime, timeZone, utcOffset) : CronTrigger.create(name, cronTime, { timeZone, utcOffset });
    for (const [field, value] of [['initialDelay', initialDelay], ['threshold', threshold]] as const) {
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
        throw new InvalidScheduleError(name, field, value, 'must be a finite number of milliseconds, 0 or more.');
      }
    }
    const merged: JobOptions = {
      ...jobOptions,
      overlap: jobOptions.overlap ?? (waitForCompletion === undefined ? undefined : waitForCompletion ? 'skip' : 'allow'),
      misfire: threshold === undefined ? jobOptions.misfire : { graceMs: threshold, ...jobOptions.misfire },
      unref: jobOptions.unref ?? unrefTimeout,
    };
    const source = isDate ? new Date((trigger as DateTrigger).at) : (cronTime as string);
    const handle = CronJob.attached(scheduler, name, { trigger, cronTime: new CronTime(source, timeZone, utcOffset), waitForCompletion: Boolean(waitForCompletion), threshold, unrefTimeout });
    // Callbacks added to the handle with addCallback() run after the method, as with cron.
    const run: JobHandler = (context) => handle.afterTick(handler(context));
    scheduler.add({ name, trigger, handler: run, options: merged, paused: disabled === true, startDelayMs: initialDelay, meta });
    this.core.cronJobs.set(name, handle);
  }

  private registerTimer(name: string, { kind, ms, options }: DelayScheduleMetadata, handler: JobHandler, meta: Record<string, unknown>): void {
    assertKnownJobOptionKeys(name, options);
    const scheduler = this.core.scheduler;
    const period = validateDelay(name, kind, ms);
    const driver = new TimerDriver(scheduler);
    const trigger = kind === 'interval' ? new IntervalTrigger(period) : new DelayTrigger(period);
    scheduler.add({ name, trigger, handler, options, waker: driver, meta });
    (kind === 'interval' ? this.core.intervals : this.core.timeouts).set(name, { driver });
  }

  private dateTrigger(name: string, cronTime: unknown, timeZone: unknown, utcOffset: unknown): DateTrigger {
    if (timeZone != null && utcOffset != null) {
      throw new InvalidScheduleError(name, 'timeZone', { timeZone, utcOffset }, 'and utcOffset are mutually exclusive; give one of them.');
    }
    const at = toEpochMs(cronTime);
    if (Number.isNaN(at)) throw new InvalidScheduleError(name, 'cronTime', cronTime, 'is not a cron expression nor a valid date.');
    const now = this.core.scheduler.clock.now();
    if (at <= now) throw new InvalidScheduleError(name, 'cronTime', cronTime, `is in the past (now is ${new Date(now).toISOString()}); it would never fire.`);
    return new DateTrigger(at);
  }

  /** `Class.method`, or `Class.method#2`… when the method carries several schedules. */
  private implicitName(base: string): string {
    const scheduler = this.core.scheduler;
    let name = base;
    for (let n = 2; scheduler.has(name); n++) name = `${base}#${n}`;
    return name;
  }
}
