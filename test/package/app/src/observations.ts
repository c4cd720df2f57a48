import type { INestApplicationContext } from '@nestjs/common';
import { SchedulerRegistry } from 'nestjs-metronome';

/** What the application saw of one job. */
export interface JobSeen {
  runs: number;
  lastOutcome: string | null;
  nextRunAt: string | null;
  completed: boolean;
}

/** What one group of examples saw: its jobs, and what its code recorded. */
export interface GroupSeen {
  jobs: Record<string, JobSeen>;
  notes: Record<string, unknown>;
}

/** What the application reports, as JSON (see main.ts). */
export interface Report {
  /** The groups of examples run on a virtual clock, by name. */
  groups: Record<string, GroupSeen>;
  /** The README's application on the testing module's clock. */
  testingModule: GroupSeen;
  /** The README's application on fake timers. */
  fakeTimers: GroupSeen;
  /** What a handler called directly built. */
  calledDirectly: string[];
  /** Modules that were only started and closed. */
  modules: Record<string, string>;
}

/** Every job of the application, by name. */
export function jobsOf(app: INestApplicationContext): Record<string, JobSeen> {
  const jobs: Record<string, JobSeen> = {};
  for (const job of app.get(SchedulerRegistry).listJobs()) {
    jobs[job.name] = { runs: job.runs, lastOutcome: job.lastOutcome, nextRunAt: job.nextRunAt?.toISOString() ?? null, completed: job.completed };
  }
  return jobs;
}

/** A value as the report shows it: JSON values as they are, anything else named by its type. */
export function shown(value: unknown): unknown {
  if (value === null || ['boolean', 'number', 'string', 'undefined'].includes(typeof value)) return value ?? null;
  if (value instanceof Date) return value.toISOString();
  const type = (value as { constructor?: { name?: string } }).constructor?.name ?? typeof value;
  return `<${type}>`;
}
