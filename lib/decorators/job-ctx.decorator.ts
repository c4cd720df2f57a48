import { InvalidScheduleError } from '../errors';
import { setContextParam } from './schedule-metadata';

/**
 * Marks a handler's first parameter as the one that receives the run's `JobContext`. Typing the
 * parameter `JobContext` does the same when decorator metadata is emitted (`emitDecoratorMetadata`,
 * as in a new Nest project); `@JobCtx()` works without it, and with any type on the parameter.
 *
 * ```ts
 * @Interval('export', 60_000)
 * async export(@JobCtx() { scheduledAt, signal }: JobContext) {}
 * ```
 *
 * A method that neither marks nor types its first parameter so is called without the context, as
 * `@nestjs/schedule` calls it. The context always comes first: marking another parameter throws an
 * {@link InvalidScheduleError} when the class is defined.
 * @publicApi
 */
export function JobCtx(): ParameterDecorator {
  return (target, key, index) => {
    if (key === undefined) {
      const owner = (target as { name?: string }).name || 'anonymous class';
      throw new InvalidScheduleError(
        owner,
        '@JobCtx()',
        'constructor',
        'marks a constructor parameter; it belongs on the first parameter of a job handler method.',
      );
    }
    const method = `${(target as { constructor?: { name?: string } }).constructor?.name || 'anonymous class'}.${String(key)}`;
    if (index !== 0) {
      throw new InvalidScheduleError(
        method,
        '@JobCtx()',
        `parameter ${index + 1}`,
        'is not the first parameter: a handler receives its context as the first argument.',
      );
    }
    setContextParam((target as Record<string | symbol, object>)[key]);
  };
}
