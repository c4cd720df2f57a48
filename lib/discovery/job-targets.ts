import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { getJobHandler, getSchedules } from '../decorators/schedule-metadata';
import { describeValue, InvalidScheduleError, JobTargetNotAllowedError } from '../errors';
import { JobContext } from '../engine/job-context';
import { ProviderTarget } from '../interfaces/job-definition.interface';
import { passesContext } from './handler-call';

/** A provider method a job may call, found and checked. */
export interface ResolvedTarget {
  /** `ClassName.method`, for messages and job info. */
  readonly description: string;
  /** Calls the method on the provider's live instance: `(context, ...args)` if it asked for its context, else `(...args)`. */
  invoke(context: JobContext, args: readonly unknown[]): unknown;
}

/**
 * Finds the provider method a job refers to by provider (class, class name or token) and handler
 * name. Only methods declared as job handlers — `@JobHandler()`, or a schedule decorator — may be
 * called: a job is data, and data must not be able to call arbitrary code.
 */
@Injectable()
export class JobTargets {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** Throws {@link InvalidScheduleError} if the provider or method does not exist, {@link JobTargetNotAllowedError} if it is not a handler. */
  resolve(job: string, target: ProviderTarget): ResolvedTarget {
    if (typeof target !== 'object' || target === null) {
      throw new InvalidScheduleError(job, 'target', target, 'must be { provider, method }.');
    }
    const wrapper = this.provider(job, target.provider);
    const instance = wrapper.instance as Record<string, unknown>;
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    const className = (prototype.constructor as { name?: string } | undefined)?.name || String(wrapper.name);
    const method = this.method(job, prototype, className, target.method);
    const description = `${className}.${method}`;
    const withContext = passesContext(prototype, method, description);
    return {
      description,
      invoke: (context, args) => {
        // The live instance, read at each run.
        const live = wrapper.instance as Record<string, (...params: unknown[]) => unknown>;
        return withContext ? live[method](context, ...args) : live[method](...args);
      },
    };
  }

  private provider(job: string, provider: ProviderTarget['provider']): InstanceWrapper {
    const kind = typeof provider;
    if (kind !== 'function' && kind !== 'string' && kind !== 'symbol') {
      throw new InvalidScheduleError(job, 'target.provider', provider, 'must be a provider class or an injection token.');
    }
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    let matches = wrappers.filter((wrapper) => wrapper.token === provider || (kind === 'function' && wrapper.metatype === provider));
    // A class is stored by its name: find it by name when the token is not the name itself.
    if (matches.length === 0 && kind === 'string')
      matches = wrappers.filter((wrapper) => wrapper.metatype?.name === provider && typeof wrapper.token === 'function');
    if (matches.length === 0) throw new InvalidScheduleError(job, 'target.provider', provider, 'is not a provider of this application.');
    // A transient provider has an instance per consumer, and the one Nest lists is never constructed;
    // a request-scoped one has an instance per request.
    if (matches.some((wrapper) => wrapper.isTransient)) {
      throw new InvalidScheduleError(job, 'target.provider', provider, 'is transient; jobs need a provider with one instance (the default scope).');
    }
    if (matches.some((wrapper) => !wrapper.isDependencyTreeStatic())) {
      throw new InvalidScheduleError(
        job,
        'target.provider',
        provider,
        'is request-scoped, or depends on a request-scoped provider; jobs need a provider with one instance (the default scope).',
      );
    }
    if (!matches[0].instance) throw new InvalidScheduleError(job, 'target.provider', provider, 'is not a provider of this application.');
    if (new Set(matches.map((wrapper) => wrapper.instance)).size > 1) {
      throw new InvalidScheduleError(job, 'target.provider', provider, 'names more than one provider; use its injection token.');
    }
    return matches[0];
  }

  private method(job: string, prototype: Record<string, unknown>, className: string, name: string): string {
    if (typeof name !== 'string' || name === '') throw new InvalidScheduleError(job, 'target.method', name, 'must be a handler name.');
    const methods = this.scanner.getAllMethodNames(prototype);
    const named = methods.find((method) => getJobHandler(prototype[method])?.name === name);
    if (named) return named;
    if (!methods.includes(name)) {
      throw new InvalidScheduleError(job, 'target.method', name, `is not a method of ${className}. ${handlerList(prototype, methods, className)}`);
    }
    const handler = getJobHandler(prototype[name]);
    if (handler?.name !== undefined && handler.name !== name) {
      throw new JobTargetNotAllowedError(job, `${className}.${name}`, `its handler name is ${describeValue(handler.name)}.`);
    }
    if (!handler && getSchedules(prototype[name]).length === 0) {
      throw new JobTargetNotAllowedError(
        job,
        `${className}.${name}`,
        `the method is not marked @JobHandler() nor scheduled with a decorator. ${handlerList(prototype, methods, className)}`,
      );
    }
    return name;
  }
}

/** The handler names a job may use on a provider, for messages: `Handlers of Reports: "build", "purge".` */
function handlerList(prototype: Record<string, unknown>, methods: string[], className: string): string {
  const names = methods.flatMap((method) => {
    const handler = getJobHandler(prototype[method]);
    if (handler) return [handler.name ?? method];
    return getSchedules(prototype[method]).length > 0 ? [method] : [];
  });
  if (names.length === 0) return `${className} has no job handlers: mark a method @JobHandler().`;
  return `Handlers of ${className}: ${[...new Set(names)].map((name) => JSON.stringify(name)).join(', ')}.`;
}
