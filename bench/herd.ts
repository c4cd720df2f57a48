/**
 * The herd: `n` jobs all on `0 * * * * *`, due together at second 0 of every minute, shared by
 * three instances: `node herd.js <redis|postgres|bullmq> <n> [claimAheadMs]` (BullMQ: `n` job
 * schedulers with that pattern and three worker processes; see cluster-run.ts). The window is
 * the next `BENCH_HERD_MINUTES` (2) minute boundaries at least half the warm-up after the last
 * instance is ready; a boundary before it is a herd of warm-up. Every (job, boundary) must run
 * exactly once. Prints `RESULT {json}`: runs, duplicates, misses, lateness from the boundary, the
 * share of the runs each instance made, each process's peak RSS (over its whole life, start-up
 * and registration included), and the CPU of the three processes from 5 s before the first
 * boundary until the runs are in (and the Redis server's over the same time).
 */
import { clusterArgs, runCluster } from './cluster-run';
import { report, sleep, WARMUP_S } from './common';

const MINUTES = Number(process.env.BENCH_HERD_MINUTES ?? 2);
const MINUTE = 60_000;
/** The CPU is measured from this long before the first boundary, where claiming ahead starts. */
const CPU_LEAD_MS = 5_000;
/** Runs are awaited until this long after the last boundary, and no longer than this without a new one. */
const SETTLE_MAX_MS = 55_000;
const STALL_MS = 15_000;

async function main() {
  const { kind, n, claimAheadMs } = clusterArgs();
  const result = await runCluster(kind, n, claimAheadMs, {
    cron: '0 * * * * *',
    periodMs: MINUTE,
    slots: MINUTES,
    firstTick: (readyAt) => Math.ceil((readyAt + (WARMUP_S / 2) * 1_000) / MINUTE) * MINUTE,
    cpu: (from) => ({ from: from - CPU_LEAD_MS }),
    settle: async (from, expected, runs) => {
      const last = from + (MINUTES - 1) * MINUTE;
      await sleep(last + 1_000 - Date.now());
      let seen = -1;
      let since = Date.now();
      while (Date.now() < last + SETTLE_MAX_MS) {
        const count = await runs();
        // All in: a moment more, for a late duplicate.
        if (count >= expected) return sleep(2_000);
        if (count !== seen) [seen, since] = [count, Date.now()];
        else if (Date.now() - since >= STALL_MS) return;
        await sleep(500);
      }
    },
  });
  const { shares, cpuMs, instances } = result;
  return {
    kind,
    n,
    claimAheadMs,
    minutes: MINUTES,
    ...result,
    minShare: Math.min(...shares),
    maxShare: Math.max(...shares),
    cpuMsPerBoundary: cpuMs / MINUTES,
    peakRssBytes: instances.map((instance) => instance.maxRssBytes),
  };
}

report(main());
