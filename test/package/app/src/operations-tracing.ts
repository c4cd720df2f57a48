// README: "Tracing" (Operations), compiled against the packed package.
import { Module } from '@nestjs/common';
import { ScheduleModule, ScheduleTracingModule } from 'nestjs-metronome';

@Module({ imports: [ScheduleModule.forRoot(), ScheduleTracingModule.forRoot()] })
export class TracedModule {}
