import { FIXTURE_JOBS, expectExactlyOnce, Instance, namespace, RunRecord, runsOf, sleep, start, stopAll, StoreKind } from './harness';

/**
 * Real processes claiming ticks ahead (250 ms): an instance SIGKILLed between winning a claim
 * made ahead and the start of its run, alone or in the middle of a herd's claims. The tick never
 * ran there, so another instance takes it over once the lease runs out and runs it, once, at its
 * first attempt — at-most-once included — and every other tick still runs exactly once.
 */
const JOBS = FIXTURE_JOBS;

/**
 * What the victim lost by dying, as the others reported it: only runs of its own, of the
 * fixture's every-second jobs, due within a second of its death — runs it was in, or whose start
 * it had marked in the last milliseconds before their tick (at-most-once: reported lost, not run
 * again; see docs/clustering.md). Nothing is missed.
 */
function lostByTheVictim(records: RunRecord[], killedAt: number): RunRecord[] {
  const lost = records.filter((r) => r.type === 'run.lost');
  const unexplained = lost.filter((r) => !(r.owner === 'victim' && JOBS.some(([job]) => job === r.job) && Math.abs(r.tick! - killedAt) <= 1_000));
  expect({ unexplained, missed: records.filter((r) => r.type === 'missed') }).toEqual({ unexplained: [], missed: [] });
  return lost;
}

describe.each<StoreKind>(['postgres', 'redis'])('claims made ahead on %s', (kind) => {
  let store: ReturnType<typeof namespace>;
  let instances: Instance[] = [];

  afterEach(async () => {
    await stopAll(instances);
    instances = [];
    await store.drop();
  }, 30_000);

  /** Two instances, then a victim that SIGKILLs itself once it wins a claim of `job` made ahead; the window starts 2 s after it is ready. */
  async function withVictim(env: Record<string, string>, job: string): Promise<{ survivors: Instance[]; victim: Instance; from: number }> {
    const survivors = start(['a', 'b'], env);
    await Promise.all(survivors.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    const [victim] = start(['victim'], { ...env, KILL_AFTER_CLAIM: job });
    instances = [...survivors, victim];
    const from = (await victim.waitFor((r) => r.type === 'ready')).at + 2_000;
    return { survivors, victim, from };
  }

  it('runs a tick claimed ahead by an instance SIGKILLed before its run started on another instance, once, attempt 1', async () => {
    store = namespace(kind);
    const env = { STORE: kind, STORE_URL: store.url, STORE_NAMESPACE: store.name, CLAIM_AHEAD_MS: '250' };
    const { survivors, victim, from } = await withVictim(env, 'cron-a');
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
    const lost = lostByTheVictim(records, killed.at);
    expect(lost.filter((r) => r.job === 'cron-a')).toEqual([]);
    for (const [job, period] of JOBS) expectExactlyOnce([...runs, ...skipped], job, period, from, to, lost, records);
  }, 90_000);

  it('runs every tick of a herd exactly once when an instance is SIGKILLed while it claims the herd ahead', async () => {
    // 2,000 jobs due together every 2 s: each instance claims them over the time before the tick,
    // its preferred share first. The victim dies as soon as it has won herd-0 ahead: it holds the
    // unstarted leases of what it won of the herd so far, which the others take over and run.
    store = namespace(kind);
    const size = 2_000;
    const env = { STORE: kind, STORE_URL: store.url, STORE_NAMESPACE: store.name, CLAIM_AHEAD_MS: '250', HERD: String(size) };
    const { victim, from } = await withVictim(env, 'herd-0');
    const killed = await victim.waitFor((r) => r.type === 'killed', 60_000);
    await sleep(8_000);
    const to = Date.now() - 2_500;
    await stopAll(instances);
    const runs = runsOf(instances);
    const records = instances.flatMap((instance) => instance.records);
    // Every job of the herd ran the killed tick once, none on the victim, at its first attempt:
    // herd-0's among them, which the victim had won, and the rest it had won before dying.
    const ofKilled = runs.filter((r) => r.job!.startsWith('herd-') && r.tick === killed.tick);
    expect(ofKilled.filter((r) => r.instance === 'victim')).toEqual([]);
    expect(new Set(ofKilled.map((r) => r.job)).size).toBe(size);
    expect(ofKilled.every((r) => r.attempt === 1)).toBe(true);
    const skipped = records.filter((r) => r.type === 'skipped');
    expect(skipped.every((r) => r.reason === 'overlap' && r.tick! > killed.at - 2_000 && r.tick! < killed.at + 10_000)).toBe(true);
    for (let i = 0; i < size; i++) expectExactlyOnce([...runs, ...skipped], `herd-${i}`, 2_000, from, to, [], records);
    const lost = lostByTheVictim(records, killed.at);
    for (const [job, period] of JOBS) expectExactlyOnce([...runs, ...skipped], job, period, from, to, lost, records);
  }, 120_000);
});
