import { Logger } from '@nestjs/common';
import { wantsContext } from '../decorators/schedule-metadata';

const logger = new Logger('Scheduler');
/** Methods already warned about, so that a method targeted by many jobs is named once. */
const warned = new WeakSet<object>();

/**
 * Whether a handler method is called with the run's context first (it asks for it: see
 * {@link wantsContext}) or as `@nestjs/schedule` calls it, without. When that cannot be told (the
 * method takes parameters but its code has no decorator metadata), it is called without the
 * context, and a warning says how to ask for it.
 */
export function passesContext(prototype: object, method: string, label: string): boolean {
  const wants = wantsContext(prototype, method);
  if (wants !== undefined) return wants;
  const fn = (prototype as Record<string, object>)[method];
  if (!warned.has(fn)) {
    warned.add(fn);
    logger.warn(
      `${label} takes parameters but has no decorator metadata (is emitDecoratorMetadata off?), so it cannot be told whether it wants its JobContext. ` +
        'It is called without it, as @nestjs/schedule calls it; mark the first parameter @JobCtx() to receive the context.',
    );
  }
  return false;
}
