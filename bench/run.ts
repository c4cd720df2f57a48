/**
 * `npm run bench`: every scenario against this package and its peer (`@nestjs/schedule`; BullMQ
 * for the cluster on Redis), each run in a fresh process, one after another. Prints a Markdown
 * table with both, the ratio and the target; exits 1 if a scenario fails to run (a missed target
 * is reported in the table, not as a failure). With `BENCH_HERD=1`, the herd too (herd.ts: every
 * job due at second 0 of each minute, on three instances): five more runs of 2 to 4 min each;
 * `BENCH_HERD=only` runs the herd alone.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { BULLMQ_VERSION } from './bullmq';
import { IMPLS, Impl } from './common';

interface Lateness {
  p50: number;
  p99: number;
  max: number;
}
/** What the scenarios print; each sets the fields it measures. */
interface Result {
  startupMs: number;
  cpuMsPerSec: number;
  medianCpuMsPerSec: number;
  fires: number;
  expected: number;
  lateness: Lateness;
  heapBytes: number;
  rssBytes: number;
  firesPerSec: number;
  periodError: Lateness;
  runs: number;
  runsPerSec: number;
  ticksPerSec: number;
  duplicates: number;
  misses: number;
  shares: number[];
  peakRssBytes: number[];
  minutes: number;
  cpuMs: number;
  storeCpuMs?: number;
  schedulersMs?: number;
  slots: Array<{ shares: number[] }>;
  /** takeover.ts: from the SIGKILL to the run again elsewhere, its attempt, and the runs of the tick. */
  takeoverMs: number;
  attempt: number;
}

/** Runs `script.js args…` in a fresh process and returns what it printed as `RESULT {json}`. */
function measure(script: 'scenario' | 'cluster' | 'herd' | 'takeover', ...args: Array<string | number>): Result {
  const label = `${script} ${args.join(' ')}`;
  process.stderr.write(`  ${label.padEnd(40)}`);
  const started = performance.now();
  const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, `${script}.js`), ...args.map(String)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: script === 'herd' ? 420_000 : 240_000,
    maxBuffer: 1 << 26,
  });
  const line = child.stdout?.split('\n').find((text) => text.startsWith('RESULT '));
  if (!line) throw new Error(`${label} failed (exit ${child.status ?? child.signal})`);
  process.stderr.write(`${((performance.now() - started) / 1_000).toFixed(0)} s\n`);
  return JSON.parse(line.slice('RESULT '.length)) as Result;
}

const number = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number) => (value < 10 ? number(value, 1) : number(value));
/** Lateness figures; none (JSON `null`) when nothing ran. */
const late = (l: Lateness) => (l.p50 === null ? '—' : `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.max)}`);

interface Row {
  scenario: string;
  measure: string;
  ours: string;
  peer: string;
  ratio?: number;
  target?: string;
  met?: boolean;
}

function table(rows: Row[]): string {
  const lines = [
    '| Scenario | Measure | nestjs-metronome | Peer | Ours ÷ peer | Target | Met |',
    '|---|---|--:|--:|--:|---|:-:|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.measure} | ${r.ours} | ${r.peer} | ${r.ratio === undefined || !Number.isFinite(r.ratio) ? '' : number(r.ratio, r.ratio < 0.1 ? 3 : 2)} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`,
    ),
  ];
  return lines.join('\n');
}

const peer: Impl = 'nestjs-schedule';

/** Every scenario but the herd, into `rows`; returns the memory baseline. */
function scenarios(rows: Row[]): Result {
  const both = (script: 'scenario', ...args: Array<string | number>) => ({
    ours: measure(script, args[0], 'metronome', ...args.slice(1)),
    peer: measure(script, args[0], peer, ...args.slice(1)),
  });

  for (const n of [1_000, 10_000]) {
    const { ours, peer: them } = both('scenario', 'fire', n);
    const scenario = `fire, ${number(n)} jobs`;
    const cpu = ours.cpuMsPerSec / them.cpuMsPerSec;
    rows.push(
      {
        scenario,
        measure: 'CPU, ms per s',
        ours: ms(ours.cpuMsPerSec),
        peer: ms(them.cpuMsPerSec),
        ratio: cpu,
        ...(n === 10_000 && { target: 'ratio ≤ 0.1', met: cpu <= 0.1 }),
      },
      {
        scenario,
        measure: 'fires / expected',
        ours: `${number(ours.fires)} / ${number(ours.expected)}`,
        peer: `${number(them.fires)} / ${number(them.expected)}`,
      },
      {
        scenario,
        measure: 'lateness p50 / p99 / max, ms',
        ours: late(ours.lateness),
        peer: late(them.lateness),
        ratio: ours.lateness.p99 / them.lateness.p99,
        target: `p99 ≤ ${n === 1_000 ? 5 : 25} ms`,
        met: ours.lateness.p99 <= (n === 1_000 ? 5 : 25),
      },
    );
    // The same with the Prometheus metrics and a span per run: on a real SDK (ops), and with the
    // API alone (ops-nosdk: what the package itself costs); each against the plain run above.
    for (const [variant, label] of [
      ['ops', 'with metrics and tracing (OpenTelemetry SDK, batch span processor, every run sampled)'],
      ['ops-sampled', 'with metrics and tracing (OpenTelemetry SDK, 1 trace in 10 sampled)'],
      ['ops-nosdk', 'with metrics and tracing (no OpenTelemetry SDK)'],
    ] as const) {
      const ops = measure('scenario', 'fire', 'metronome', n, variant);
      const ratio = ops.cpuMsPerSec / ours.cpuMsPerSec;
      rows.push(
        {
          scenario: `${scenario}, ${label}`,
          measure: 'CPU, ms per s (peer column: this package without them; ratio: with ÷ without)',
          ours: ms(ops.cpuMsPerSec),
          peer: `without: ${ms(ours.cpuMsPerSec)}`,
          ratio,
          target: 'ratio ≤ 2',
          met: ratio <= 2,
        },
        {
          scenario: `${scenario}, ${label}`,
          measure: 'fires / expected; lateness p50 / p99 / max, ms',
          ours: `${number(ops.fires)} / ${number(ops.expected)}; ${late(ops.lateness)}`,
          peer: '—',
        },
      );
    }
  }

  const n = 100_000;
  const baseline = measure('scenario', 'memory', 'none', n);
  const memory = both('scenario', 'memory', n);
  const perJob = (r: Result, key: 'heapBytes' | 'rssBytes') => (r[key] - baseline[key]) / n;
  const heap = perJob(memory.ours, 'heapBytes') / perJob(memory.peer, 'heapBytes');
  const startup = memory.ours.startupMs / memory.peer.startupMs;
  rows.push(
    {
      scenario: 'memory, 100,000 rare jobs',
      measure: 'heap per job, bytes',
      ours: number(perJob(memory.ours, 'heapBytes')),
      peer: number(perJob(memory.peer, 'heapBytes')),
      ratio: heap,
      target: 'ratio ≤ 0.2',
      met: heap <= 0.2,
    },
    {
      scenario: 'memory, 100,000 rare jobs',
      measure: 'RSS per job, bytes',
      ours: number(perJob(memory.ours, 'rssBytes')),
      peer: number(perJob(memory.peer, 'rssBytes')),
      ratio: perJob(memory.ours, 'rssBytes') / perJob(memory.peer, 'rssBytes'),
    },
    {
      scenario: 'memory, 100,000 rare jobs',
      measure: 'start-up (`app.init()`), s',
      ours: number(memory.ours.startupMs / 1_000, 2),
      peer: number(memory.peer.startupMs / 1_000, 2),
      ratio: startup,
      target: 'ratio ≤ 0.1',
      met: startup <= 0.1,
    },
  );

  const footprint = both('scenario', 'footprint', n);
  const seen = footprint.ours.heapBytes / footprint.peer.heapBytes;
  rows.push({
    scenario: 'memory, 100,000 rare jobs',
    measure: 'heap growth per job as a user sees it (before start to 500 ms after init), bytes',
    ours: number(footprint.ours.heapBytes / n),
    peer: number(footprint.peer.heapBytes / n),
    ratio: seen,
    target: 'ratio ≤ 0.2',
    met: seen <= 0.2,
  });

  const idleNone = measure('scenario', 'idle', 'none', 10_000);
  const idle = both('scenario', 'idle', 10_000);
  const idleRatio = idle.ours.medianCpuMsPerSec / idle.peer.medianCpuMsPerSec;
  const idleCpu = (r: Result) => `${number(r.medianCpuMsPerSec, 3)} (${number(r.cpuMsPerSec, 3)})`;
  rows.push({
    scenario: 'idle, 10,000 rare jobs',
    measure: `CPU, ms per s: median second (mean); no scheduler: ${idleCpu(idleNone)}`,
    ours: idleCpu(idle.ours),
    peer: idleCpu(idle.peer),
    ratio: idleRatio,
    target: 'median ratio ≤ 1',
    met: idleRatio <= 1,
  });

  const interval = both('scenario', 'interval', 1_000);
  rows.push(
    {
      scenario: 'interval, 1,000 × `@Interval(1000)`',
      measure: 'fires per s',
      ours: number(interval.ours.firesPerSec),
      peer: number(interval.peer.firesPerSec),
    },
    {
      scenario: 'interval, 1,000 × `@Interval(1000)`',
      measure: 'CPU, ms per s',
      ours: ms(interval.ours.cpuMsPerSec),
      peer: ms(interval.peer.cpuMsPerSec),
      ratio: interval.ours.cpuMsPerSec / interval.peer.cpuMsPerSec,
    },
    {
      scenario: 'interval, 1,000 × `@Interval(1000)`',
      measure: 'period error p50 / p99 / max, ms',
      ours: late(interval.ours.periodError),
      peer: late(interval.peer.periodError),
    },
  );

  for (const [store, jobs, limit] of [
    ['redis', 10_000, 25],
    ['postgres', 3_000, 50],
  ] as const) {
    const bull = store === 'redis' ? measure('cluster', 'bullmq', jobs) : null;
    for (const claimAheadMs of ['default', 0] as const) {
      const ours = measure('cluster', store, jobs, claimAheadMs);
      const scenario = `cluster of 3 on ${STORES[store]}, ${number(jobs)} jobs, ${setting(claimAheadMs, bull)}`;
      const peerOf = peerCell(bull);
      rows.push(
        {
          scenario,
          measure: 'runs per s / ticks per s',
          ours: `${number(ours.runsPerSec)} / ${number(ours.ticksPerSec)}`,
          peer: peerOf((r) => `${number(r.runsPerSec)} / ${number(r.ticksPerSec)}`),
        },
        exactRow(scenario, ours, bull),
        latenessRow(scenario, ours, bull, limit),
        {
          scenario,
          measure: 'CPU of the 3 processes, ms per s',
          ours: ms(ours.cpuMsPerSec),
          peer: peerOf((r) => ms(r.cpuMsPerSec)),
          ...(bull && { ratio: ours.cpuMsPerSec / bull.cpuMsPerSec }),
        },
        { scenario, measure: 'share of runs per instance', ours: shares(ours), peer: peerOf(shares) },
      );
    }
    // Takeover: an at-least-once run of a process killed with SIGKILL, run again elsewhere, with the
    // library's default timing. BullMQ's peer figure is its documented stalled-job check (every 30 s).
    const takeover = measure('takeover', store);
    const scenario = `takeover on ${STORES[store]}, default timing, 3 instances`;
    rows.push({
      scenario,
      measure: 'SIGKILL mid-run to the run again elsewhere (attempt), s',
      ours: `${number(takeover.takeoverMs / 1_000, 1)} (${takeover.attempt})`,
      peer: store === 'redis' ? 'up to 30 (stalledInterval), not measured' : '—',
      target: '≤ 10 s',
      met: takeover.takeoverMs <= 10_000 && takeover.runs === 2,
    });
  }

  return baseline;
}

/** `BENCH_HERD=1` adds the herd to the other scenarios; `BENCH_HERD=only` runs it alone. */
function main(): void {
  const schedule = require('@nestjs/schedule/package.json') as { version: string };
  const rows: Row[] = [];
  process.stderr.write('Running each scenario in its own process:\n');
  const baseline = process.env.BENCH_HERD === 'only' ? null : scenarios(rows);
  if (process.env.BENCH_HERD === '1' || process.env.BENCH_HERD === 'only') herd(rows);
  const cores = cpus();
  process.stdout.write(
    [
      `nestjs-metronome against ${IMPLS[peer]} ${schedule.version} (cluster on Redis: BullMQ ${BULLMQ_VERSION}).`,
      `Node ${process.version}, ${cores.length} × ${cores[0]?.model.trim() ?? 'CPU'}, ${new Date().toISOString().slice(0, 10)}.`,
      ...(baseline
        ? [
            `Memory baseline (the same application without a scheduler): heap ${number(baseline.heapBytes / 2 ** 20, 1)} MB, RSS ${number(baseline.rssBytes / 2 ** 20, 1)} MB, start-up ${number(baseline.startupMs / 1_000, 2)} s.`,
          ]
        : []),
      '',
      table(rows),
      '',
    ].join('\n'),
  );
}

/** The share of the runs each instance made, as percentages. */
function shares(result: Result): string {
  return result.shares.map((share) => `${number(share * 100)} %`).join(' / ');
}

const STORES = { redis: 'Redis', postgres: 'PostgreSQL' };

/** The cluster settings of a scenario, and its peer. */
function setting(claimAheadMs: number | 'default', bull: Result | null): string {
  return `${claimAheadMs === 'default' ? 'default (claimAheadMs 250)' : `claimAheadMs: ${claimAheadMs}`}${bull ? ' (peer: BullMQ)' : ''}`;
}

/** A peer's cell: its figure, or a dash where there is no peer. */
function peerCell(bull: Result | null): (cell: (r: Result) => string) => string {
  return (cell) => (bull ? cell(bull) : '—');
}

/** Exactly once: no (job, tick) run twice or never. */
function exactRow(scenario: string, ours: Result, bull: Result | null): Row {
  return {
    scenario,
    measure: 'duplicates / misses',
    ours: `${number(ours.duplicates)} / ${number(ours.misses)}`,
    peer: peerCell(bull)((r) => `${number(r.duplicates)} / ${number(r.misses)}`),
    target: 'both 0',
    met: ours.duplicates === 0 && ours.misses === 0 && ours.runs === ours.expected,
  };
}

/** Lateness from the scheduled tick; the target is p99 under `limit` (if any) and below the peer's (if any). */
function latenessRow(scenario: string, ours: Result, bull: Result | null, limit?: number): Row {
  const targets = [limit !== undefined && `p99 ≤ ${number(limit)} ms`, bull && 'below the peer'].filter(Boolean);
  return {
    scenario,
    measure: 'lateness p50 / p99 / max, ms',
    ours: late(ours.lateness),
    peer: peerCell(bull)((r) => late(r.lateness)),
    ...(bull && { ratio: ours.lateness.p99 / bull.lateness.p99 }),
    ...(targets.length > 0 && {
      target: targets.join(', '),
      met: ours.runs > 0 && (limit === undefined || ours.lateness.p99 <= limit) && (!bull || ours.lateness.p99 < bull.lateness.p99),
    }),
  };
}

/** The herd: the sizes, the p99 lateness targets (ms), and the least share of the runs any instance must make (a third is fair). */
const HERD = [
  ['redis', 100_000, 1_000],
  ['postgres', 30_000, 2_000],
] as const;
const HERD_MIN_SHARE = 0.2;

/** Rows of the herd (`BENCH_HERD=1`): BullMQ once on Redis, this package with each setting. */
function herd(rows: Row[]): void {
  const mb = (bytes: number) => number(bytes / 2 ** 20);
  const peakRss = (r: Result) => Math.max(...r.peakRssBytes);
  const boundaryShare = (r: Result) => Math.min(...r.slots.flatMap((slot) => slot.shares));
  const perBoundary = (r: Result, cpuMs: number) => cpuMs / r.minutes / 1_000;
  for (const [store, jobs, p99Limit] of HERD) {
    const bull = store === 'redis' ? measure('herd', 'bullmq', jobs) : null;
    for (const claimAheadMs of ['default', 0] as const) {
      const ours = measure('herd', store, jobs, claimAheadMs);
      const scenario = `herd of 3 on ${STORES[store]}, ${number(jobs)} jobs on \`0 * * * * *\`, ${setting(claimAheadMs, bull)}`;
      const peerOf = peerCell(bull);
      const ratio = (figure: (r: Result) => number) => bull && { ratio: figure(ours) / figure(bull) };
      const fair = Math.min(...ours.shares) >= HERD_MIN_SHARE;
      rows.push(
        {
          scenario,
          measure: `runs / expected (${ours.minutes} minute boundar${ours.minutes === 1 ? 'y' : 'ies'})`,
          ours: `${number(ours.runs)} / ${number(ours.expected)}`,
          peer: peerOf((r) => `${number(r.runs)} / ${number(r.expected)}`),
        },
        exactRow(scenario, ours, bull),
        latenessRow(scenario, ours, bull, p99Limit),
        {
          scenario,
          measure: 'share of runs per instance (least in one boundary)',
          ours: `${shares(ours)} (${number(boundaryShare(ours) * 100)} %)`,
          peer: peerOf((r) => `${shares(r)} (${number(boundaryShare(r) * 100)} %)`),
          target: `each ≥ ${number(HERD_MIN_SHARE * 100)} %`,
          met: fair,
        },
        {
          scenario,
          measure: 'CPU of the 3 processes per boundary, s',
          ours: number(perBoundary(ours, ours.cpuMs), 1),
          peer: peerOf((r) => number(perBoundary(r, r.cpuMs), 1)),
          ...ratio((r) => r.cpuMs / r.minutes),
        },
        ...(store === 'redis'
          ? [
              {
                scenario,
                measure: 'CPU of the Redis server per boundary, s',
                ours: number(perBoundary(ours, ours.storeCpuMs!), 1),
                peer: peerOf((r) => number(perBoundary(r, r.storeCpuMs!), 1)),
                ...ratio((r) => r.storeCpuMs! / r.minutes),
              },
            ]
          : []),
        {
          scenario,
          measure: 'peak RSS of a process, MB',
          ours: mb(peakRss(ours)),
          peer: peerOf((r) => mb(peakRss(r))),
          ...ratio(peakRss),
        },
        {
          scenario,
          measure: `start-up: the 3 ready, s${bull ? ' (peer: + making the schedulers)' : ''}`,
          ours: number(ours.startupMs / 1_000, 1),
          peer: peerOf((r) => `${number(r.startupMs / 1_000, 1)} (+ ${number(r.schedulersMs! / 1_000, 1)})`),
        },
      );
    }
  }
}

main();
