import { ClaimAhead, HERD_CLAIM_MS, HERD_SPREAD_MAX_MS } from '../../lib/engine/claim-ahead';
import { Job } from '../../lib/engine/job';
import { VirtualClock } from '../../lib/engine/virtual-clock';

/** How long before its tick each instance claims it: its preference, and a herd's spread. */
const T0 = Date.parse('2026-01-01T00:00:00Z');

const job = (name: string) => ({ name, nameHash: -1 }) as unknown as Job;
const FACTORS = [1, 1.25, 1.5, 1.75];

describe('ClaimAhead', () => {
  it('claims a lone tick claimAheadMs ahead, times 1 to 1.75 by a hash of the job, the instance and the tick', () => {
    const ahead = new ClaimAhead('i0', 200, new VirtualClock(T0));
    const leads = Array.from({ length: 400 }, (_, i) => ahead.lead(job(`job-${i}`), T0 + 1_000 * (i + 1), 10_000));
    expect(new Set(leads)).toEqual(new Set(FACTORS.map((f) => 200 * f)));
    // Another instance prefers other jobs.
    const other = new ClaimAhead('i1', 200, new VirtualClock(T0));
    const otherLeads = Array.from({ length: 400 }, (_, i) => other.lead(job(`job-${i}`), T0 + 1_000 * (i + 1), 10_000));
    expect(otherLeads.filter((lead, i) => lead !== leads[i]).length).toBeGreaterThan(200);
  });

  it('claims the ticks of a herd earlier by 0.05 ms for each armed before, up to 5 s more', () => {
    const ahead = new ClaimAhead('i0', 250, new VirtualClock(T0));
    const tick = T0 + 3_600_000;
    const bases = Array.from({ length: 200_000 }, (_, i) => {
      const lead = ahead.lead(job(`herd-${i}`), tick, 1_800_000);
      // Divided by the preference, the lead is the spread's.
      return FACTORS.map((f) => lead / f).find((base) => Math.abs(base - (250 + Math.min(i * HERD_CLAIM_MS, HERD_SPREAD_MAX_MS))) < 1);
    });
    expect(bases.every((base) => base !== undefined)).toBe(true);
    expect(ahead.lead(job('last'), tick, 1_800_000)).toBeGreaterThanOrEqual(250 + HERD_SPREAD_MAX_MS);
    // Another instant is a herd of its own.
    expect(FACTORS.map((f) => Math.floor(250 * f))).toContain(ahead.lead(job('alone'), tick + 1_000, 1_800_000));
  });

  it('keeps an eighth short of `most`, the preference still told apart within it', () => {
    const ahead = new ClaimAhead('i0', 200, new VirtualClock(T0));
    const tick = T0 + 1_000;
    const leads = Array.from({ length: 20_000 }, (_, i) => ahead.lead(job(`herd-${i}`), tick, 500));
    expect(Math.max(...leads)).toBeLessThanOrEqual(437.5);
    expect(FACTORS.map((f) => Math.floor(200 * f))).toContain(leads[0]);
    // Past the first thousand (200 + 1,000 × 0.05 = 250), every lead is the bound's: half of 500,
    // times the preference.
    expect(new Set(leads.slice(1_000))).toEqual(new Set(FACTORS.map((f) => Math.floor(250 * f))));
  });

  it('claims at the tick when claimAheadMs is 0', () => {
    const ahead = new ClaimAhead('i0', 0, new VirtualClock(T0));
    expect(Array.from({ length: 100 }, (_, i) => ahead.lead(job(`herd-${i}`), T0 + 1_000, 500))).toEqual(Array(100).fill(0));
  });

  it('forgets instants gone by, and instants of one tick, so that jobs due each at its own instant cost nothing each', () => {
    const clock = new VirtualClock(T0);
    const ahead = new ClaimAhead('i0', 250, clock);
    const herds = (ahead as unknown as { herds: Map<number, number> }).herds;
    for (let i = 0; i < 100_000; i++) ahead.lead(job(`interval-${i}`), T0 + 60_000 + i, 30_000);
    expect(herds.size).toBeLessThanOrEqual(256);
    // A herd is kept while it comes.
    for (let i = 0; i < 1_000; i++) ahead.lead(job(`herd-${i}`), T0 + 3_600_000, 1_800_000);
    for (let i = 0; i < 10_000; i++) ahead.lead(job(`interval-${i}`), T0 + 120_000 + i, 30_000);
    expect(herds.get(T0 + 3_600_000)).toBe(1_000);
    // Once its instant has gone by, it goes.
    clock.advance(3_600_001);
    for (let i = 0; i < 1_000; i++) ahead.lead(job(`later-${i}`), T0 + 7_200_000 + i, 30_000);
    expect(herds.has(T0 + 3_600_000)).toBe(false);
  });
});
