/**
 * Three instances share `n` every-second jobs: `node cluster.js <redis|postgres|bullmq> <n> [claimAheadMs]`.
 * For this package, three processes of one application on a `RedisJobStore` or a
 * `PostgresJobStore`; for BullMQ, `n` job schedulers on the same Redis and three worker
 * processes (see cluster-run.ts). Over the window, every (job, second) must have run exactly
 * once. Prints `RESULT {json}`: ticks run per second, duplicates, misses, lateness from the
 * scheduled second, and the CPU of the three processes (the store server's own is not counted).
 */
import { clusterArgs, runCluster } from './cluster-run';
import { report, sleep, WARMUP_S, WINDOW_S } from './common';

async function main() {
  const { kind, n, claimAheadMs } = clusterArgs();
  const result = await runCluster(kind, n, claimAheadMs, {
    cron: '* * * * * *',
    periodMs: 1_000,
    slots: WINDOW_S,
    // The warm-up (half that of one process, to keep the whole run within ten minutes), then the
    // window, from a whole second.
    firstTick: (readyAt) => Math.ceil((readyAt + (WARMUP_S / 2) * 1_000) / 1_000) * 1_000,
    cpu: (from) => ({ from, to: from + WINDOW_S * 1_000 }),
    // Runs of the last second may come late: they still count for it.
    settle: (from) => sleep(from + WINDOW_S * 1_000 + 3_000 - Date.now()),
  });
  const { startupMs, expected, runs, duplicates, misses, lateness, cpuMsPerSec, shares, instances } = result;
  return {
    startupMs,
    ticksPerSec: n,
    runsPerSec: runs / WINDOW_S,
    expected,
    runs,
    duplicates,
    misses,
    lateness,
    cpuMsPerSec,
    shares,
    peakRssBytes: instances.map((instance) => instance.maxRssBytes),
  };
}

report(main());
