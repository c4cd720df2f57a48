import { Logger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { writeFileSync } from 'node:fs';
import { SchedulerRegistry } from 'nestjs-metronome';
import { AsyncConfigModule } from './async-config';
import { addChecksumJob } from './checksum.worker';
import { CronOptionsService } from './cron-options';
import { TasksService } from './decorators';
import { Alerts, EventsExamples } from './events';
import { HandlerArguments } from './handler-arguments';
import { JobContextExamples } from './job-context';
import { JobOptionsService } from './job-options';
import { GroupSeen, Report, shown } from './observations';
import { Group, onVirtualClock } from './on-virtual-clock';
import { Exports, PersistentExamples } from './persistent';
import { ReportsService } from './quick-start';
import { RegistryTour } from './registry';
import { CleanupService, ControlTour } from './run-time-control';
import { ShutdownTimeoutModule } from './shutdown';
import { calledDirectly, onFakeTimers, onTestingClock } from './testing';

/** The examples on a virtual clock, by group: each group runs in an application of its own. */
const groups: Record<string, Group> = {
  handlerArguments: {
    providers: [HandlerArguments],
    notes: (app) => {
      const { forces, contexts, markedContexts } = app.get(HandlerArguments);
      return { forces, contexts: contexts.length, firstContexts: contexts.slice(0, 2), marked: markedContexts.length, firstMarked: markedContexts.slice(0, 2) };
    },
  },
  quickStart: { providers: [ReportsService], notes: (app) => ({ built: app.get(ReportsService).built }) },
  decorators: {
    providers: [TasksService, CronOptionsService, RegistryTour],
    act: async (app) => {
      app.get(RegistryTour).compat();
      app.get(RegistryTour).dynamic();
    },
    notes: (app) => app.get(RegistryTour).notes,
  },
  jobContext: { providers: [JobContextExamples], notes: (app) => ({ exports: app.get(JobContextExamples).exporter.calls.slice(0, 2) }) },
  jobOptions: { providers: [JobOptionsService], until: new Date('2027-01-01T00:10:30Z') },
  runTimeControl: {
    providers: [CleanupService, ControlTour],
    act: (app) => app.get(ControlTour).tour(),
    notes: (app) => ({ pings: app.get(ControlTour).pings, jobInfoKeys: app.get(ControlTour).jobInfoKeys }),
  },
  offThread: {
    providers: [],
    act: async (app) => {
      const registry = app.get(SchedulerRegistry);
      await addChecksumJob(registry);
      await registry.triggerJob('checksum');
      const { lastOutcome, history } = registry.getJob('checksum');
      await registry.removeJob('checksum');
      return { checksum: { lastOutcome, error: history.at(-1)?.error ?? null } };
    },
  },
  events: {
    providers: [Alerts, EventsExamples],
    act: async (app) => {
      app.get(EventsExamples).alertOnFailures();
      app.get(EventsExamples).alertOnFailuresWithATypeGuard();
      await app.get(EventsExamples).addFailingJob();
    },
    notes: (app) => ({ alerts: app.get(Alerts).sent }),
  },
  persistent: {
    providers: [Exports, PersistentExamples],
    act: (app) => app.get(PersistentExamples).addWeeklyExport(),
    notes: (app) => ({ exportCalls: app.get(Exports).calls.map((args) => args.map(shown)) }),
  },
};

/** Starts and closes an application of one module, on the real clock. */
async function startAndClose(module: Type): Promise<string> {
  const app = await NestFactory.createApplicationContext(module);
  await app.close();
  return 'started and closed';
}

/** Runs every example and writes what they did, as a {@link Report} in JSON, to `output`. */
async function main(output: string): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const seen: Record<string, GroupSeen> = {};
  for (const [name, group] of Object.entries(groups)) seen[name] = await onVirtualClock(group);
  const report: Report = {
    groups: seen,
    testingModule: await onTestingClock(),
    fakeTimers: await onFakeTimers(),
    calledDirectly: await calledDirectly(),
    modules: { asyncConfig: await startAndClose(AsyncConfigModule), shutdownTimeout: await startAndClose(ShutdownTimeoutModule) },
  };
  writeFileSync(output, JSON.stringify(report, null, 2));
}

main(process.argv[2] ?? 'observations.json').catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
