import { alignTo, expectExactlyOnce, Instance, namespace, recordsOf, runsOf, sleep, stopAll, StoreKind } from './harness';

/**
 * What deployments do to a cluster, with real processes: a rolling deploy replaces the instances
 * one by one with SIGTERM (a graceful stop) at the worst moments, and a run stalls its instance's
 * event loop past its lease. Every tick still runs exactly once.
 */
const JOBS: Array<[string, number]> = [
  ['cron-a', 1_000],
  ['cron-even', 2_000],
  ['interval-a', 1_000],
];

describe.each<StoreKind>(['postgres', 'redis'])('on %s', (kind) => {
  let store: ReturnType<typeof namespace>;
  let instances: Instance[] = [];
  let env: Record<string, string>;

  beforeEach(() => {
    store = namespace(kind);
    env = { STORE: kind, STORE_URL: store.url, STORE_NAMESPACE: store.name };
  });

  afterEach(async () => {
    await stopAll(instances);
    instances = [];
    await store.drop();
  }, 30_000);

  it.each([
    ['the default settings', '0'],
    ['claimAheadMs: 250', '250'],
  ])(
    'a rolling deploy runs every tick exactly once, with %s, stopping instances near the tick and inside the claim-ahead window',
    async (_label, claimAheadMs) => {
      // Claims and log lines are recorded, so that a gap says where its tick went.
      const deployEnv = { ...env, CLAIM_AHEAD_MS: claimAheadMs, RECORD_CLAIMS: '1', LOG_RECORDS: '1' };
      let live = ['a', 'b', 'c'].map((name) => new Instance(name, deployEnv));
      instances = [...live];
      const ready = await Promise.all(live.map((instance) => instance.waitFor((r) => r.type === 'ready')));
      const from = Math.max(...ready.map((r) => r.at)) + 1_500;
      await sleep(1_500);
      // Every 2.5 s the oldest instance gets SIGTERM and a replacement starts at once: just before
      // a whole second (as it claims the tick, or with the tick claimed ahead), or mid-window.
      const moments = [0.995, 0.8, 0.97, 0.7, 0.999, 0.85];
      for (const [round, moment] of moments.entries()) {
        await alignTo(moment);
        const [oldest, ...rest] = live;
        oldest.kill('SIGTERM');
        const replacement = new Instance(`r${round}`, deployEnv);
        instances.push(replacement);
        live = [...rest, replacement];
        await sleep(1_500);
      }
      await Promise.all(live.map((instance) => instance.waitFor((r) => r.type === 'ready')));
      await sleep(3_000);
      const to = Date.now() - 1_500;
      await stopAll(instances);
      const runs = runsOf(instances);
      for (const [job, period] of JOBS) expectExactlyOnce(runs, job, period, from, to, [], recordsOf(instances));
      expect(to - from).toBeGreaterThanOrEqual(10_000);
      // Nothing was reported lost or missed: what a stopping instance had claimed ran elsewhere.
      const reported = instances.flatMap((instance) => instance.records.filter((r) => r.type === 'run.lost' || r.type === 'missed'));
      expect(reported.filter((r) => JOBS.some(([job]) => job === r.job))).toEqual([]);
    },
    90_000,
  );

  it('an at-least-once job whose run stalls the event loop past its lease keeps firing every tick afterwards, alone', async () => {
    // The lease is 2 s; the first run blocks the loop for 3.5 s. The instance's own sweep then
    // takes the lease over while the stalled run still goes on: that run is its own.
    const alone = new Instance('a', { ...env, STALL_JOB: '1', STALL_MS: '3500' });
    instances = [alone];
    const stalled = await alone.waitFor((r) => r.type === 'stalled', 30_000);
    await sleep(5_000);
    const to = Date.now() - 1_500;
    await stopAll(instances);
    const runs = runsOf(instances);
    expectExactlyOnce(runs, 'stall', 1_000, stalled.at + 1_000, to);
    expect(runs.filter((r) => r.job === 'stall' && r.tick! > stalled.at).every((r) => r.attempt === 1)).toBe(true);
  }, 60_000);

  it('an at-least-once job whose run stalls the event loop past its lease keeps firing every tick afterwards, with another instance taking over', async () => {
    const stalling = new Instance('a', { ...env, STALL_JOB: '1', STALL_MS: '3500' });
    instances = [stalling];
    const first = await stalling.waitFor((r) => r.type === 'run' && r.job === 'stall', 30_000);
    const other = new Instance('b', { ...env, STALL_JOB: '1' });
    instances.push(other);
    const stalled = await stalling.waitFor((r) => r.type === 'stalled', 30_000);
    await sleep(5_000);
    const to = Date.now() - 1_500;
    await stopAll(instances);
    const runs = runsOf(instances);
    // The other instance took the stalled run over (at-least-once: it ran again, attempt 2), and
    // the stalled run was told it had lost its lease.
    expect(runs.some((r) => r.job === 'stall' && r.tick === first.tick && r.attempt === 2 && r.instance === 'b')).toBe(true);
    expect(stalled).toMatchObject({ aborted: 'LeaseLostError' });
    expectExactlyOnce(
      runs.filter((r) => r.attempt === 1),
      'stall',
      1_000,
      stalled.at + 1_000,
      to,
    );
  }, 60_000);
});
