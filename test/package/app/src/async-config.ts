import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from 'nestjs-metronome';

/** Stands for `@nestjs/config`'s service: reads the environment, with a default. */
@Injectable()
export class ConfigService {
  get(key: string, fallback: number): string | number {
    return process.env[key] ?? fallback;
  }
}

/** Stands for `@nestjs/config`'s module. */
@Module({ providers: [ConfigService], exports: [ConfigService] })
export class ConfigModule {}

// README: "Async configuration".

const schedule =
  ScheduleModule.forRootAsync({
    imports: [ConfigModule],
    useFactory: (config: ConfigService) => ({
      // Environment variables are strings: options in ms must be numbers.
      shutdownTimeout: Number(config.get('SHUTDOWN_TIMEOUT', 30_000)),
    }),
    inject: [ConfigService],
  });

/** An application with that module. */
@Module({ imports: [schedule] })
export class AsyncConfigModule {}
