import { CronExpressionParser } from 'cron-parser';
import { CronTrigger } from '../../lib/triggers/cron.trigger';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Local wall-clock time of `instant` in `zone`, as if it were UTC (independent of the code under test). */
const formats = new Map<string, Intl.DateTimeFormat>();
function wallOf(instant: number, zone: string): number {
  let format = formats.get(zone);
  if (!format) {
    const fields = { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' } as const;
    formats.set(zone, (format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', ...fields })));
  }
  const parts = format.formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
}

/**
 * The instants a minute-resolution expression must fire at in [from, to), by brute force:
 * every minute's wall time is matched; a wall time that never occurs fires at the first instant
 * after the gap; one that occurs twice fires at the first occurrence only, or at both when the
 * hour field is `*`.
 */
function reference(expression: string, zone: string, from: number, to: number): number[] {
  const parsed = CronExpressionParser.parse(`0 ${expression}`, { tz: 'UTC' });
  const everyHour = parsed.fields.hour.values.length === 24;
  const occurrences = new Map<number, number[]>();
  for (let t = from; t < to; t += MINUTE) {
    const wall = wallOf(t, zone);
    if (!occurrences.has(wall)) occurrences.set(wall, []);
    occurrences.get(wall)!.push(t);
  }
  const walls = [...occurrences.keys()].sort((a, b) => a - b);
  const fires = new Set<number>();
  for (let wall = walls[0]; wall <= walls[walls.length - 1]; wall += MINUTE) {
    if (!parsed.includesDate(new Date(wall))) continue;
    const at = occurrences.get(wall);
    if (!at) {
      // Skipped by a forward shift: the first instant whose wall time is past it.
      const after = [...occurrences.entries()].filter(([w]) => w > wall).sort((a, b) => a[0] - b[0])[0];
      fires.add(Math.min(...after[1]));
    } else if (everyHour) {
      at.forEach((t) => fires.add(t));
    } else {
      fires.add(at[0]);
    }
  }
  return [...fires].filter((t) => t >= from && t < to).sort((a, b) => a - b);
}

function fired(expression: string, zone: string, from: number, to: number): number[] {
  const trigger = CronTrigger.create('dst', expression, { timeZone: zone });
  const out: number[] = [];
  for (let t = trigger.next(from - 1); t !== null && t < to; t = trigger.next(t)) out.push(t);
  return out;
}

const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString());

const transitions: Array<[zone: string, label: string, instant: string]> = [
  ['America/New_York', 'spring forward', '2026-03-08T07:00:00Z'],
  ['America/New_York', 'fall back', '2026-11-01T06:00:00Z'],
  ['Europe/London', 'spring forward', '2026-03-29T01:00:00Z'],
  ['Europe/London', 'fall back', '2026-10-25T01:00:00Z'],
  ['Australia/Lord_Howe', 'spring forward (30 min)', '2026-10-03T15:30:00Z'],
  ['Australia/Lord_Howe', 'fall back (30 min)', '2026-04-04T15:00:00Z'],
];

const expressions = ['30 2 * * *', '30 1 * * *', '15 2 * * *', '45 1 * * *', '0 2 * * *', '*/15 * * * *', '0 * * * *', '* * * * *', '*/30 1-3 * * *'];

describe('cron across daylight saving time changes (brute-force reference)', () => {
  describe.each(transitions)('%s, %s', (zone, _label, at) => {
    const center = Date.parse(at);
    const from = center - 20 * HOUR;
    const to = center + 20 * HOUR;
    it.each(expressions)('"%s" fires exactly at the reference instants', (expression) => {
      expect(iso(fired(expression, zone, from, to))).toEqual(iso(reference(expression, zone, from, to)));
    });
  });
});

describe('the instants DESIGN.md names', () => {
  const cases: Array<[string, string, string, string, string[]]> = [
    ['America/New_York', '0 30 2 * * *', '2026-03-07T17:00:00Z', '2026-03-09T00:00:00Z', ['2026-03-08T07:00:00.000Z']],
    ['America/New_York', '0 30 1 * * *', '2026-10-31T17:00:00Z', '2026-11-02T00:00:00Z', ['2026-11-01T05:30:00.000Z']],
    ['Europe/London', '0 30 2 * * *', '2026-03-28T12:00:00Z', '2026-03-29T23:00:00Z', ['2026-03-29T01:30:00.000Z']],
    ['Europe/London', '0 30 1 * * *', '2026-03-28T12:00:00Z', '2026-03-29T23:00:00Z', ['2026-03-29T01:00:00.000Z']],
    ['Europe/London', '0 30 1 * * *', '2026-10-24T12:00:00Z', '2026-10-25T23:00:00Z', ['2026-10-25T00:30:00.000Z']],
    ['Australia/Lord_Howe', '0 30 2 * * *', '2026-10-03T00:00:00Z', '2026-10-04T12:00:00Z', ['2026-10-03T15:30:00.000Z']],
    ['Australia/Lord_Howe', '0 15 2 * * *', '2026-10-03T00:00:00Z', '2026-10-04T12:00:00Z', ['2026-10-03T15:30:00.000Z']],
    ['Australia/Lord_Howe', '0 30 1 * * *', '2026-04-04T00:00:00Z', '2026-04-05T12:00:00Z', ['2026-04-04T14:30:00.000Z']],
  ];
  it.each(cases)('%s "%s" between %s and %s fires once, at %j', (zone, expression, from, to, expected) => {
    expect(iso(fired(expression, zone, Date.parse(from), Date.parse(to)))).toEqual(expected);
  });

  it('asked afresh from inside a repeated hour, a fixed-time job does not fire a second time', () => {
    const trigger = CronTrigger.create('dst', '0 30 1 * * *', { timeZone: 'America/New_York' });
    // 01:10 EST, the second pass of the repeated hour; 01:30 EDT already happened at 05:30Z.
    expect(new Date(trigger.next(Date.parse('2026-11-01T06:10:00Z'))!).toISOString()).toBe('2026-11-02T06:30:00.000Z');
  });

  it('keeps an every-second job firing every second through both changes', () => {
    for (const [zone, , at] of transitions) {
      const center = Date.parse(at);
      const ticks = fired('* * * * * *', zone, center - 5_000, center + 5_000);
      expect(ticks).toHaveLength(10);
      ticks.forEach((t, i) => expect(t).toBe(center - 5_000 + i * 1_000));
    }
  });
});

describe('utcOffset', () => {
  it('evaluates the expression at a fixed offset in minutes', () => {
    const trigger = CronTrigger.create('offset', '0 0 9 * * *', { utcOffset: 330 });
    expect(new Date(trigger.next(Date.parse('2026-06-01T00:00:00Z'))!).toISOString()).toBe('2026-06-01T03:30:00.000Z');
    expect(trigger.toString()).toBe('cron "0 0 9 * * *" (UTC+05:30)');
  });
});
