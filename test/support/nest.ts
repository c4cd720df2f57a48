import { INestApplication, LoggerService, ModuleMetadata, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ScheduleModule, ScheduleModuleOptions } from '../../lib';

export const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A logger that keeps what it is given, to assert on messages and their context. */
export class RecordingLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: string; context?: string }> = [];
  log(message: unknown, context?: string) {
    this.push('log', message, context);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.push('error', message, rest[rest.length - 1] as string | undefined);
  }
  warn(message: unknown, context?: string) {
    this.push('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    this.push('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.push('verbose', message, context);
  }
  /** Lines of a level whose message contains `text`. */
  find(level: string, text: string) {
    return this.lines.filter((line) => line.level === level && line.message.includes(text));
  }
  private push(level: string, message: unknown, context?: string) {
    this.lines.push({ level, message: String(message), context });
  }
}

/**
 * An initialized application with `ScheduleModule.forRoot(options)` and the given providers,
 * on Jest fake timers starting at {@link T0}. Close it with `app.close()`.
 */
export async function startApp(
  providers: Type<unknown>[],
  options: ScheduleModuleOptions = {},
  extra: ModuleMetadata = {},
): Promise<{ app: INestApplication; logger: RecordingLogger }> {
  const moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(options), ...(extra.imports ?? [])],
    providers: [...providers, ...(extra.providers ?? [])],
    controllers: extra.controllers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  const logger = new RecordingLogger();
  app.useLogger(logger);
  await app.init();
  return { app, logger };
}

/** Installs Jest fake timers at {@link T0} for each test of the file, and removes them after. */
export function useFakeTime(): void {
  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });
}

/** Closes the application while letting fake time run, so runs in flight can finish. */
export async function closeWhileRunning(app: INestApplication, advanceMs = 10_000): Promise<void> {
  const closing = app.close();
  await jest.advanceTimersByTimeAsync(advanceMs);
  await closing;
}
