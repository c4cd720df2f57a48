import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { firstValueFrom, toArray, take } from 'rxjs';
import { JobNotFoundError, RunFeed, RunHistoryEntry, ScheduleModule, SchedulerRegistry, VirtualClock } from '../../lib';
import { RegistryRunSource } from '../../lib/dashboard/run-source';
import { T0 } from '../support/nest';

/** A job's runs on a virtual clock: each takes `durations[n]` ms, and the ones marked fail throw. */
describe('RegistryRunSource: the run history, here without a shared store: the runs of this instance', () => {
  let app: INestApplication;
  let clock: VirtualClock;
  let registry: SchedulerRegistry;
  let source: RegistryRunSource;

  beforeEach(async () => {
    clock = new VirtualClock(T0);
    const moduleRef = await Test.createTestingModule({ imports: [ScheduleModule.forRoot({ clock, instanceId: 'instance-1' })] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    registry = app.get(SchedulerRegistry);
    source = new RegistryRunSource(registry, app.get(RunFeed));
    let run = 0;
    await registry.addJob({
      name: 'report',
      trigger: { every: 60_000 },
      handler: async () => {
        run++;
        await new Promise<void>((resolve) => clock.setTimer(resolve, run * 100));
        if (run % 2 === 0) throw new Error(`run ${run} failed`);
      },
    });
  });

  afterEach(() => app.close());

  it('gives a job’s last runs, newest first, with this instance’s id', async () => {
    await clock.advanceAsync(3 * 60_000 + 1_000);
    const history = await source.history('report', 10);
    expect(history).toEqual([
      {
        job: 'report',
        instance: 'instance-1',
        scheduledAt: new Date(T0 + 180_000),
        startedAt: new Date(T0 + 180_000),
        durationMs: 300,
        attempt: 1,
        outcome: 'succeeded',
      },
      {
        job: 'report',
        instance: 'instance-1',
        scheduledAt: new Date(T0 + 120_000),
        startedAt: new Date(T0 + 120_000),
        durationMs: 200,
        attempt: 1,
        outcome: 'failed',
        error: 'run 2 failed',
      },
      {
        job: 'report',
        instance: 'instance-1',
        scheduledAt: new Date(T0 + 60_000),
        startedAt: new Date(T0 + 60_000),
        durationMs: 100,
        attempt: 1,
        outcome: 'succeeded',
      },
    ]);
    expect((await source.history('report', 2)).map((entry) => entry.durationMs)).toEqual([300, 200]);
  });

  it('rejects with JobNotFoundError for a name that is not a job', async () => {
    await expect(source.history('nope', 10)).rejects.toThrow(JobNotFoundError);
    await expect(source.history('nope', 10)).rejects.toThrow('No job was found with the given name (nope).');
  });

  it('reports each run as it finishes, as the history keeps it', async () => {
    const runs = firstValueFrom(source.runs$().pipe(take(2), toArray()));
    await clock.advanceAsync(2 * 60_000 + 1_000);
    const seen: RunHistoryEntry[] = await runs;
    expect(seen).toEqual([...(await source.history('report', 2))].reverse());
  });
});
