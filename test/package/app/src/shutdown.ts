import { Module } from '@nestjs/common';
import { ScheduleModule } from 'nestjs-metronome';

// README: "Graceful shutdown".

const schedule =
  ScheduleModule.forRoot({ shutdownTimeout: 30_000 });

/** An application with that module. */
@Module({ imports: [schedule] })
export class ShutdownTimeoutModule {}
