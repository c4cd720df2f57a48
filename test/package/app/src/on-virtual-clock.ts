import { INestApplicationContext, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule, VirtualClock } from 'nestjs-metronome';
import { GroupSeen, jobsOf } from './observations';

/** Examples run together in one application. */
export interface Group {
  providers: Type[];
  /** Runs once the application has started, before time moves; may return notes. */
  act?(app: INestApplicationContext): Promise<Record<string, unknown> | void>;
  /** What the examples recorded, read once time has moved. */
  notes?(app: INestApplicationContext): Record<string, unknown>;
  /** Where to move time on to after the first day. */
  until?: Date;
}

@Module({})
class VirtualClockApp {}

// README: "Testing your jobs", with a virtual clock.

/**
 * Starts the group's providers on a virtual clock, lets the group act, moves time a day (and on to
 * `until`), and reports its jobs and notes. Time is virtual: the dates in the examples never pass.
 */
export async function onVirtualClock(group: Group): Promise<GroupSeen> {
  const clock = new VirtualClock(new Date('2026-03-08T00:00:00Z'));
  const schedule =
    ScheduleModule.forRoot({ clock });
  const app = await NestFactory.createApplicationContext({ module: VirtualClockApp, imports: [schedule], providers: group.providers });
  const acted = (await group.act?.(app)) ?? {};
  await clock.advanceAsync(86_400_000); // fires everything due in the day, in order
  if (group.until) await clock.advanceToAsync(group.until);
  const seen = { jobs: jobsOf(app), notes: { ...acted, ...group.notes?.(app) } };
  await app.close();
  return seen;
}
