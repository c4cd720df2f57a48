import { FIXTURE_JOBS, expectExactlyOnce, Instance, namespace, runsOf, sleep, start, stopAll, StoreKind } from './harness';

/**
 * Real processes claiming ticks ahead (250 ms): an instance SIGKILLed between winning a claim
 * made ahead and the start of its run. The tick never ran there, so another instance takes it
 * over once the lease runs out and runs it, once, at its first attempt — at-most-once included —
 * and every other tick still runs exactly once.
 */
const JOBS = FIXTURE_JOBS;

describe.each<StoreKind>(['postgres', 'redis'])('claims made ahead on %s', (kind) => {
  let store: ReturnType<typeof namespace>;
  let instances: Instance[] = [];

  afterEach(async () => {
    await stopAll(instances);
    instances = [];
    await store.drop();
  }, 30_000);

  it('runs a tick claimed ahead by an instance SIGKILLed before its run started on another instance, once, attempt 1', async () => {
    store = namespace(kind);
    const env = { STORE: kind, STORE_URL: store.url, STORE_NAMESPACE: store.name, CLAIM_AHEAD_MS: '250' };
    const survivors = start(['a', 'b'], env);
    await Promise.all(survivors.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    const [victim] = start(['victim'], { ...env, KILL_AFTER_CLAIM: 'cron-a' });
    instances = [...survivors, victim];
    const from = (await victim.waitFor((r) => r.type === 'ready')).at + 2_000;
    const killed = await victim.waitFor((r) => r.type === 'killed', 30_000);
    const rerun = await Promise.race(
      survivors.map((instance) => instance.waitFor((r) => r.type === 'run' && r.job === 'cron-a' && r.tick === killed.tick, 30_000)),
    );
    expect(rerun.attempt).toBe(1);
    await sleep(6_000);
    const to = Date.now() - 1_500;
    await stopAll(instances);
    const runs = runsOf(instances);
    const records = instances.flatMap((instance) => instance.records);
    // The tick claimed by the victim ran once, elsewhere; the victim ran nothing of it.
    expect(runs.filter((r) => r.job === 'cron-a' && r.tick === killed.tick).map((r) => r.instance)).toEqual([rerun.instance]);
    // The victim died holding the leases of every job it had just claimed ahead: until they went, the
    // next ticks of those jobs found them held, and were skipped and said so (run.skipped). Every
    // other tick of every job ran exactly once.
    const skipped = records.filter((r) => r.type === 'skipped');
    expect(skipped.every((r) => r.reason === 'overlap' && r.tick! > killed.at - 1_000 && r.tick! < rerun.at + 1_000)).toBe(true);
    for (const [job, period] of JOBS) expectExactlyOnce([...runs, ...skipped], job, period, from, to);
    expect(records.filter((r) => r.type === 'run.lost' || r.type === 'missed')).toEqual([]);
  }, 90_000);
});
