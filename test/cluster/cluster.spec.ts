import { FIXTURE_JOBS, alignTo, expectExactlyOnce, Instance, namespace, runsOf, sleep, start, stopAll, StoreKind } from './harness';

/**
 * Three real instances of an application share PostgreSQL or Redis. Each every-second cron job
 * and each interval must run exactly once per tick across them, also when one is killed with
 * SIGKILL and restarted; an at-least-once job whose instance dies mid-run runs again elsewhere.
 */
const JOBS = FIXTURE_JOBS;

describe.each<StoreKind>(['postgres', 'redis'])('a cluster on %s', (kind) => {
  let store: ReturnType<typeof namespace>;
  let instances: Instance[] = [];
  let env: Record<string, string>;

  beforeEach(() => {
    store = namespace(kind);
    env = { STORE: kind, STORE_URL: store.url, STORE_NAMESPACE: store.name };
  });

  afterEach(async () => {
    // A long run in flight is waited for on shutdown.
    await stopAll(instances);
    instances = [];
    await store.drop();
  }, 30_000);

  it('runs each tick of every job exactly once across three instances', async () => {
    instances = start(['a', 'b', 'c'], env);
    const ready = await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    const from = Math.max(...ready.map((r) => r.at)) + 2_000;
    await sleep(20_000);
    const to = Date.now() - 1_500;
    await stopAll(instances);
    const runs = runsOf(instances);
    for (const [job, period] of JOBS) expectExactlyOnce(runs, job, period, from, to);
    expect(to - from).toBeGreaterThanOrEqual(15_000);
    // The work is shared: more than one instance won ticks.
    expect(new Set(runs.map((r) => r.instance)).size).toBeGreaterThan(1);
  }, 60_000);

  // Claiming ahead (the default), the ticks are shared out by a hash of job, instance and tick, and
  // the restarted instance wins its share. Claiming at the tick, every tick goes to the instance
  // that asks first, and a process started later, its code not yet optimized, may lose every race:
  // there it is only seen to take part, its claims answered.
  it.each([
    { claimAheadMs: 250, share: 'wins ticks of its own' },
    { claimAheadMs: 0, share: 'takes part in the claims' },
  ])(
    'still runs each tick exactly once when an instance is killed with SIGKILL and restarted (claimAheadMs $claimAheadMs): the restarted one $share',
    async ({ claimAheadMs }) => {
      env = { ...env, CLAIM_AHEAD_MS: String(claimAheadMs), RECORD_CLAIMS: '1' };
      instances = start(['a', 'b', 'c'], env);
      const ready = await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
      const from = Math.max(...ready.map((r) => r.at)) + 2_000;
      await sleep(5_000);
      // Between ticks (they fall on whole seconds), so the instance dies between runs, not in one.
      await alignTo(0.5);
      const killedAt = Date.now();
      instances[1].kill('SIGKILL');
      await instances[1].exited;
      await sleep(4_000);
      const restarted = new Instance('b-restarted', env);
      instances.push(restarted);
      await restarted.waitFor((r) => r.type === 'ready');
      await sleep(8_000);
      const to = Date.now() - 1_500;
      await stopAll(instances);
      const runs = runsOf(instances);
      // Claimed ahead, the kill may land after claims of the next ticks: such a tick is taken over
      // once the dead instance misses its check-ins, and runs late, once. Until then the store cannot
      // tell the dead instance from a slow one: a tick of the job due meanwhile finds the tick before
      // it still held, and is skipped as an overlap, and said so. (The jobs take no time: no other
      // tick overlaps, and claimed at the tick, none at all.)
      const overlaps = instances
        .flatMap((i) => i.records)
        .filter((r) => claimAheadMs > 0 && r.type === 'skipped' && r.reason === 'overlap' && r.tick! > killedAt && r.tick! < killedAt + 5_000);
      for (const [job, period] of JOBS) expectExactlyOnce(runs, job, period, from, to, overlaps);
      if (claimAheadMs > 0) expect(runs.some((r) => r.instance === 'b-restarted')).toBe(true);
      else expect(restarted.records.filter((r) => r.type === 'claimed' && r.reason !== 'unreachable').length).toBeGreaterThan(0);
    },
    60_000,
  );

  it("keeps maxRuns and overlap 'queue' across three instances: that many runs in all; one run at a time, a tick that finds it running run once after it", async () => {
    instances = start(['a', 'b', 'c'], { ...env, LIMITS: '1' });
    const ready = await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    const from = Math.max(...ready.map((r) => r.at)) + 2_000;
    await sleep(16_000);
    const to = Date.now() - 3_000;
    await stopAll(instances);
    const records = instances.flatMap((instance) => instance.records);
    // maxRuns 3, counted in the store: three runs in all, and every instance completes the job.
    expect(records.filter((r) => r.type === 'run' && r.job === 'limited')).toHaveLength(3);
    for (const instance of instances) expect(instance.records.filter((r) => r.type === 'job.completed' && r.job === 'limited')).toHaveLength(1);
    // 'queue': the runs (1.2 s each, every second) never overlap, wherever they ran…
    const runs = records.filter((r) => r.type === 'run' && r.job === 'queued').sort((x, y) => x.at - y.at);
    const done = new Map(records.filter((r) => r.type === 'done' && r.job === 'queued').map((r) => [r.tick!, r.at]));
    runs.slice(1).forEach((run, index) =>
      expect({ tick: run.tick, startedBeforePreviousEnded: run.at < done.get(runs[index].tick!)! }).toEqual({
        tick: run.tick,
        startedBeforePreviousEnded: false,
      }),
    );
    // …each tick ran at most once, and every tick in the window either ran or was reported skipped, never both.
    const ran = runs.map((r) => r.tick!);
    expect(new Set(ran).size).toBe(ran.length);
    const skipped = records.filter((r) => r.type === 'skipped' && r.job === 'queued').map((r) => r.tick!);
    expect(skipped.filter((tick) => ran.includes(tick))).toEqual([]);
    expect(new Set(skipped).size).toBe(skipped.length);
    const first = Math.min(...ran.filter((tick) => tick >= from));
    const window = Array.from({ length: Math.floor((to - first) / 1_000) + 1 }, (_, i) => first + i * 1_000);
    expect(window.filter((tick) => !ran.includes(tick) && !skipped.includes(tick))).toEqual([]);
    // …and the ticks that found a run going ran after it: more runs than skipping them would give (one in two).
    expect(ran.filter((tick) => tick >= first && tick <= to).length).toBeGreaterThan(window.length * 0.6);
    expect(runs.some((run) => run.at - run.tick! > 150)).toBe(true);
  }, 60_000);

  it('runs an at-least-once job again on another instance, attempt 2, when its instance dies mid-run', async () => {
    instances = start(['a', 'b', 'c'], { ...env, LONG_JOB: '1' });
    await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    const first = await Promise.race(instances.map((instance) => instance.waitFor((r) => r.type === 'run' && r.job === 'long')));
    const victim = instances.find((instance) => instance.name === first.instance)!;
    victim.kill('SIGKILL');
    const others = instances.filter((instance) => instance !== victim);
    const retried = await Promise.race(
      others.map((instance) => instance.waitFor((r) => r.type === 'run' && r.job === 'long' && r.tick === first.tick, 20_000)),
    );
    expect(retried).toMatchObject({ attempt: 2, tick: first.tick });
    expect(retried.instance).not.toBe(first.instance);
    expect(retried.token!).toBeGreaterThan(first.token!);
    expect(first.attempt).toBe(1);
  }, 60_000);

  it('with the default timing, runs an at-least-once run of an instance SIGKILLed mid-run again elsewhere within 10 s: the dead instance misses its check-ins', async () => {
    instances = start(['a', 'b', 'c'], { ...env, LONG_JOB: '1', DEFAULT_TIMING: '1' });
    await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    const first = await Promise.race(instances.map((instance) => instance.waitFor((r) => r.type === 'run' && r.job === 'long', 30_000)));
    const victim = instances.find((instance) => instance.name === first.instance)!;
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    const others = instances.filter((instance) => instance !== victim);
    const retried = await Promise.race(
      others.map((instance) => instance.waitFor((r) => r.type === 'run' && r.job === 'long' && r.tick === first.tick, 30_000)),
    );
    expect(retried).toMatchObject({ attempt: 2, tick: first.tick });
    // The lease is 30 s long: it went because its instance missed three check-ins of 2 s, not because it ran out.
    expect(retried.at - killedAt).toBeLessThan(10_000);
  }, 90_000);

  it('never runs an at-most-once job again when its instance dies mid-run, and reports the run lost', async () => {
    instances = start(['a', 'b', 'c'], { ...env, LONG_JOB: '1', LONG_DELIVERY: 'at-most-once' });
    await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    const first = await Promise.race(instances.map((instance) => instance.waitFor((r) => r.type === 'run' && r.job === 'long')));
    const victim = instances.find((instance) => instance.name === first.instance)!;
    victim.kill('SIGKILL');
    const others = instances.filter((instance) => instance !== victim);
    await Promise.race(others.map((instance) => instance.waitFor((r) => r.type === 'run.lost' && r.job === 'long', 20_000)));
    await sleep(1_000);
    expect(runsOf(others).filter((r) => r.job === 'long' && r.tick === first.tick)).toEqual([]);
  }, 60_000);
});
