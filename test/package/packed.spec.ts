import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Report } from './app/src/observations';
import { fencedBlocks, missingBlocks, topLevelKeys } from './readme-blocks';
import { installApp, lockedVersion, run } from './scratch-app';
import { danglingSourceMaps, pack, PackedPackage } from './tarball';

/**
 * The package as users get it: `npm pack`ed, installed into a new Nest project (the tsconfig of
 * `nest new`, in starter/), and used by the application in app/src, which holds every TypeScript
 * example of the README. Needs `npm run build` first (`npm test` does it).
 */

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(__dirname, 'app', 'src');
const README = path.join(ROOT, 'README.md');

/** What the application installs besides the package, at the versions of this repository's lockfile. */
const APP_DEPENDENCIES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/testing',
  '@nestjs/platform-express',
  'reflect-metadata',
  'rxjs',
  'typescript',
  '@types/node',
  '@sinonjs/fake-timers',
  // The optional peers of the README's "Operations" examples.
  '@nestjs/terminus',
  'prom-client',
  '@opentelemetry/api',
];

/** The fixture's TypeScript files, by path from the repository's root. */
function fixtureFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(FIXTURE).filter((file) => file.endsWith('.ts'))) {
    files[path.relative(ROOT, path.join(FIXTURE, name))] = readFileSync(path.join(FIXTURE, name), 'utf8');
  }
  return files;
}

describe('the README', () => {
  it('has each of its TypeScript examples in one file of the application in test/package/app', () => {
    const blocks = fencedBlocks(readFileSync(README, 'utf8'), 'ts');
    expect(blocks.length).toBeGreaterThan(0);
    expect(missingBlocks(blocks, fixtureFiles(), 'README.md')).toEqual([]);
  });
});

describe('the packed package', () => {
  let work: string;
  let packed: PackedPackage;
  let app: string;

  beforeAll(async () => {
    if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (`npm test` does).');
    work = mkdtempSync(path.join(tmpdir(), 'metronome-packed-'));
    packed = await pack(ROOT, work);
    app = path.join(work, 'app');
    mkdirSync(app);
    await installApp(app, packed.tarball, Object.fromEntries(APP_DEPENDENCIES.map((name) => [name, lockedVersion(ROOT, name)])));
  }, 150_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships a license, no source maps of sources it does not ship, and no internal helpers', async () => {
    expect(packed.files.filter((file) => /^licen[cs]e(\.(md|txt))?$/i.test(file))).toEqual(['LICENSE']);
    expect(packed.files.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(danglingSourceMaps(path.join(app, 'node_modules', 'nestjs-metronome'), packed.files)).toEqual([]);
    const { stdout } = await run(process.execPath, ['-p', "JSON.stringify(Object.keys(require('nestjs-metronome')))"], { cwd: app, timeoutMs: 30_000 });
    const exported = JSON.parse(stdout) as string[];
    expect(exported).toContain('ScheduleModule');
    expect(exported).not.toContain('describeValue');
  }, 30_000);

  it('compiles and runs in a new Nest project: handlers get their context only when they ask for it, and every README example works', async () => {
    cpSync(path.join(__dirname, 'starter'), app, { recursive: true });
    cpSync(FIXTURE, path.join(app, 'src'), { recursive: true });
    await run(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app, timeoutMs: 60_000 });
    await run(process.execPath, [path.join('dist', 'main.js'), 'observations.json'], { cwd: app, env: { TZ: 'UTC' }, timeoutMs: 60_000 });
    const seen = JSON.parse(readFileSync(path.join(app, 'observations.json'), 'utf8')) as Report;
    expectHandlerArguments(seen);
    expectReadmeExamples(seen);
  }, 120_000);
});

/** Handlers that do not ask for their context are called without it; those that ask get it. */
function expectHandlerArguments(seen: Report): void {
  const { jobs, notes } = seen.groups.handlerArguments;
  // legacy(force = false), scheduled with @Cron, @Interval and @Timeout.
  const forces = notes.forces as unknown[];
  expect({ calls: forces.length, values: [...new Set(forces)] }).toEqual({ calls: 24 + 24 + 1, values: [false] });
  expect(Object.keys(jobs).sort()).toEqual([
    'HandlerArguments.legacy',
    'HandlerArguments.legacy#2',
    'HandlerArguments.legacy#3',
    'probe.marked',
    'probe.typed',
  ]);
  const context = (name: string, scheduledAt: string) => ({ name, scheduledAt, signal: '<AbortSignal>', aborted: false, isJobContext: true });
  // typed(context: JobContext), every hour from the start.
  expect({ calls: notes.contexts, first: notes.firstContexts }).toEqual({
    calls: 24,
    first: [context('probe.typed', '2026-03-08T01:00:00.000Z'), context('probe.typed', '2026-03-08T02:00:00.000Z')],
  });
  // marked(@JobCtx() context: { ... }), at half past every hour.
  expect({ calls: notes.marked, first: notes.firstMarked }).toEqual({
    calls: 24,
    first: [context('probe.marked', '2026-03-08T00:30:00.000Z'), context('probe.marked', '2026-03-08T01:30:00.000Z')],
  });
}

/** The README's examples did what the README says, on a virtual day from 2026-03-08T00:00Z. */
function expectReadmeExamples(seen: Report): void {
  const { groups } = seen;
  const runs = (group: string) => Object.fromEntries(Object.entries(groups[group].jobs).map(([name, job]) => [name, job.runs]));

  expect(groups.quickStart.notes.built).toEqual(['2026-03-08T01:00:00.000Z']);
  expect(runs('decorators')).toMatchObject({ 'TasksService.every45thSecond': 1440, 'TasksService.noonInKolkata': 1, 'TasksService.poll': 8640, dynamic: 5760 });
  expect(groups.decorators.jobs['TasksService.newYear']).toMatchObject({ runs: 0, nextRunAt: '2027-01-01T00:00:00.000Z' });
  expect(groups.decorators.jobs.standup).toMatchObject({ runs: 0, nextRunAt: '2026-03-09T13:00:00.000Z' });
  expect(groups.decorators.notes).toEqual({
    nextDate: '2026-03-08T00:01:00.000Z',
    cronJobs: ['TasksService.every45thSecond', 'TasksService.newYear', 'TasksService.noonInKolkata', 'standup', 'sync'],
    intervals: ['TasksService.poll', 'heartbeat'],
    syncExists: false,
  });

  expect(runs('jobContext')).toMatchObject({ export: 1440, sync: 1440, 'JobContextExamples.rollup': 24 });
  expect(groups.jobContext.notes.exports).toEqual([
    { since: '2026-03-08T00:01:00.000Z', aborted: false },
    { since: '2026-03-08T00:02:00.000Z', aborted: false },
  ]);
  // startAt 2027-01-01T00:00Z, every minute: ticks from 00:01 to 00:10.
  expect(groups.jobOptions.jobs.sync).toMatchObject({ runs: 10, lastOutcome: 'succeeded' });

  expect(groups.runTimeControl.jobs['nightly-cleanup']).toMatchObject({ runs: 1, lastOutcome: 'succeeded' });
  expect(groups.runTimeControl.jobs.ping).toBeUndefined();
  expect(groups.runTimeControl.notes.pings).toEqual([true]);
  const documented = topLevelKeys(fencedBlocks(readFileSync(README, 'utf8'), 'ts').find((block) => block.lines[0]?.trim() === '{')?.lines ?? []);
  expect([...(groups.runTimeControl.notes.jobInfoKeys as string[])].sort()).toEqual([...documented].sort());

  expect(groups.offThread.notes.checksum).toEqual({ lastOutcome: 'succeeded', error: null });
  expect(groups.events.notes.alerts).toEqual([
    'flaky failed: Error: disk full (a failure the events example expects)',
    'flaky failed: Error: disk full (a failure the events example expects)',
  ]);
  expect(groups.persistent.notes.exportCalls).toEqual([['csv']]);
  expect(runs('persistent')).toMatchObject({ 'PersistentExamples.rollup': 24, 'weekly-export': 1 });

  expect(seen.testingModule.notes).toEqual({ built: ['2026-03-08T01:00:00.000Z'], now: '2026-03-09T00:00:00.000Z' });
  expect(seen.testingModule.jobs['ReportsService.nightly']).toMatchObject({ runs: 1, lastOutcome: 'succeeded', nextRunAt: '2026-03-09T01:00:00.000Z' });
  expect(seen.fakeTimers.notes.built).toEqual(['2026-03-08T01:00:00.000Z']);
  expect(seen.calledDirectly).toHaveLength(1);
  expect(seen.modules).toEqual({ asyncConfig: 'started and closed', shutdownTimeout: 'started and closed' });
}
