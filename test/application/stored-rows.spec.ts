import { Injectable } from '@nestjs/common';
import { InvalidScheduleError, JobContext, JobHandler, SchedulerEvent } from '../../lib';
import { writeRow } from '../cluster/harness';
import { T0 } from '../support/nest';
import { SharedStoreApp, SharedStoreApps, StoreKind } from './shared-store';

/**
 * Rows written into a real store by hand, as anyone with access to it could: each that does not
 * pass the checks of `addJob` is rejected alone (`job.rejected`, once), and every other row is
 * applied. And `addJob({ persist: true })` writes nothing the other instances would reject.
 */
const runs: string[] = [];

@Injectable()
class Reports {
  @JobHandler()
  build(context: JobContext, kind: string) {
    runs.push(`${context.name}:${kind}@${context.scheduledAt.getTime() - T0}`);
  }
}

/** `levels` arrays, one in the other. */
function nested(levels: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}

const row = (name: string, fields: Record<string, unknown> = {}) => ({
  name,
  trigger: { every: 1_000 },
  target: { provider: 'Reports', method: 'build' },
  args: [name],
  options: {},
  ...fields,
});

/** Each tampered row, and the reason it is rejected. */
const TAMPERED: Array<[string, ReturnType<typeof row>, string]> = [
  [
    'a control character in the name',
    row('bell\u0007'),
    'Invalid name for job "bell\\u0007": "U+0007" at index 4 is a control character, which a job name may not hold.',
  ],
  [
    'a name of 3 KB',
    row('n'.repeat(3_000)),
    `Invalid name for job "${'n'.repeat(40)}…": 3000 UTF-16 code units are more than 200, the most a job name may have.`,
  ],
  [
    'arguments nested 3,000 levels deep',
    row('deep', { args: [nested(3_000)] }),
    `Invalid definition for job "deep": "{…}" nests deeper than 33 levels; a job's arguments nest at most 32.`,
  ],
  [
    'arguments nested 40 levels deep',
    row('deeper', { args: [nested(39)] }),
    `Invalid definition for job "deeper": "{…}" nests deeper than 33 levels; a job's arguments nest at most 32.`,
  ],
  [
    'arguments of 100 KB',
    row('huge', { args: ['x'.repeat(100_000)] }),
    'Invalid definition for job "huge": 100114 bytes of JSON are more than 81920, the most a stored job takes (its arguments at most 65536).',
  ],
  [
    'arguments of 70 KB',
    row('large', { args: ['x'.repeat(70_000)] }),
    'Invalid args for job "large": 70004 bytes of JSON are more than 65536 (64 KiB), the most a job\'s arguments may take: pass a reference to the data (an id, a key), not the data.',
  ],
  [
    'a million retries',
    row('retry-storm', { options: { retry: { attempts: 1_000_000 } } }),
    'Invalid retry.attempts for job "retry-storm": 1000000 must be at most 100.',
  ],
  [
    'a retry that would wait for ever',
    row('retry-never', { options: { retry: { attempts: 3, backoffMs: 1e300, factor: 1e300 } } }),
    'Invalid retry for job "retry-never": {"attempts":3,"backoffMs":1e+300,"factor":1e+300} would wait Infinity ms before its last attempt',
  ],
  [
    'a grace period that is not a number',
    row('grace', { options: { misfire: { graceMs: 'soon' } } }),
    'Invalid misfire.graceMs for job "grace": "soon" must be a finite number.',
  ],
  ['a negative maxRuns', row('runs', { options: { maxRuns: -1 } }), 'Invalid maxRuns for job "runs": -1 must be above 0.'],
  ['an instant out of the range of a Date', row('far', { options: { startAt: 1e300 } }), 'Invalid startAt for job "far": 1e+300 is not a valid date.'],
  [
    'an overlap policy that does not exist',
    row('overlap', { options: { overlap: 'sometimes' } }),
    'Invalid overlap for job "overlap": "sometimes" must be one of',
  ],
  ['options that are not an object', row('options', { options: [1, 2] as never }), 'Invalid options for job "options": [1,2] must be an object.'],
];

const rejections = (app: SharedStoreApp) =>
  app.events.flatMap((event: SchedulerEvent) => (event.type === 'job.rejected' ? [[event.job, event.reason] as [string, string]] : []));

describe.each<StoreKind>(['postgres', 'redis'])('stored rows on %s', (kind) => {
  let apps: SharedStoreApps;

  beforeEach(() => {
    apps = new SharedStoreApps(kind);
    runs.length = 0;
  });

  afterEach(async () => {
    await apps.close();
  });

  it('a tampered row is rejected alone, once, on every instance; every other row is applied', async () => {
    const a = await apps.start([Reports], 'a');
    // A row for every kind of tampering, between two good rows.
    await writeRow(kind, apps.space, row('first'));
    for (const [, tampered] of TAMPERED) await writeRow(kind, apps.space, tampered);
    if (kind === 'redis') await writeRow(kind, apps.space, row('nul\u0000'));
    await writeRow(kind, apps.space, row('last'));
    await a.scheduling.persistent.sync();
    const b = await apps.start([Reports], 'b');
    await apps.advance(3_000);
    await a.scheduling.persistent.sync();

    const expected = TAMPERED.map(([, { name }, reason]) => [name, reason]);
    if (kind === 'redis')
      expected.push(['nul\u0000', 'Invalid name for job "nul\\u0000": "U+0000" at index 3 is a control character, which a job name may not hold.']);
    const byName = ([x]: string[], [y]: string[]) => (x < y ? -1 : x > y ? 1 : 0);
    for (const app of [a, b]) {
      const seen = rejections(app).sort(byName);
      expect(seen.map(([name]) => name)).toEqual(expected.map(([name]) => name).sort());
      seen.forEach(([name, reason]) => expect({ name, reason }).toEqual({ name, reason: expect.stringContaining(expected.find(([n]) => n === name)![1]) }));
      expect(app.registry.listJobs().map((job) => job.name)).toEqual(['first', 'last']);
    }
    // A row written with anchor 0 counts from 1970: its missed ticks run once (the misfire policy), at the start.
    expect(runs.filter((run) => run.startsWith('first:')).sort()).toEqual(['first:first@0', 'first:first@1000', 'first:first@2000', 'first:first@3000']);
    expect(runs.filter((run) => run.startsWith('last:')).sort()).toEqual(['last:last@0', 'last:last@1000', 'last:last@2000', 'last:last@3000']);
    expect(runs.filter((run) => !run.startsWith('first:') && !run.startsWith('last:'))).toEqual([]);
  });

  it('addJob({ persist: true }) checks as every instance will, and writes nothing they would reject', async () => {
    const a = await apps.start([Reports], 'a');
    const add = (name: string, fields: Record<string, unknown>) =>
      a.registry.addJob({ name, trigger: { every: 1_000 }, target: { provider: Reports, method: 'build' }, args: [name], persist: true, ...fields });
    await expect(add('retry-storm', { retry: { attempts: 101 } })).rejects.toThrow('Invalid retry.attempts for job "retry-storm": 101 must be at most 100.');
    await expect(add('grace', { misfire: { graceMs: -1 } })).rejects.toThrow('Invalid misfire.graceMs for job "grace": -1 must not be negative.');
    await expect(add('huge', { args: ['x'.repeat(70_000)] })).rejects.toThrow(InvalidScheduleError);
    await expect(add('deep', { args: [nested(33)] })).rejects.toThrow('nests deeper than 32 levels, the most JSON arguments may.');
    await expect(add('bell\u0007', {})).rejects.toThrow(InvalidScheduleError);
    await add('fine', { retry: { attempts: 100, backoffMs: 1_000, factor: 1 }, args: [nested(31)] });
    expect((await a.store.loadDefinitions()).map(({ name }) => name)).toEqual(['fine']);
    expect(a.registry.listJobs().map((job) => job.name)).toEqual(['fine']);
  });
});
