import { DateTime } from 'luxon';
import { InvalidScheduleError } from '../../lib/errors';
import { DECORATOR_FIELDS } from '../../lib/triggers/field-names';
import { Trigger } from '../../lib/triggers/trigger';
import { createTrigger, cronTimeTrigger, storedTrigger, triggerFromDefinition, triggerFromStored } from '../../lib/triggers/trigger-factory';

const T0 = Date.UTC(2026, 0, 1);
const NEVER = Number.NEGATIVE_INFINITY;

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidScheduleError);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidScheduleError');
}

/** The first `n` ticks after `after`, from an anchor at `after`. */
function ticks(trigger: Trigger, after: number, n = 3): Array<number | null> {
  const out: Array<number | null> = [];
  for (let at: number | null = after; out.length < n && at !== null;) out.push((at = trigger.next(at, after)));
  return out;
}

describe('createTrigger', () => {
  const decorator = { fields: DECORATOR_FIELDS, now: T0 };

  it('builds each kind from its fields', () => {
    expect(createTrigger('j', 'cron', { cron: '0 * * * *', timeZone: 'Europe/Paris' }, decorator).toString()).toBe('cron "0 * * * *" (Europe/Paris)');
    expect(createTrigger('j', 'cron', { cron: '0 * * * *', utcOffset: 60 }, decorator).toString()).toBe('cron "0 * * * *" (UTC+01:00)');
    expect(createTrigger('j', 'interval', { every: 5_000 }, decorator)).toMatchObject({ kind: 'interval', periodMs: 5_000, at: null });
    expect(createTrigger('j', 'date', { at: new Date(T0 + 1) }, decorator)).toMatchObject({ kind: 'date', at: T0 + 1, periodMs: null });
    expect(createTrigger('j', 'delay', { after: 500 }, decorator)).toMatchObject({ kind: 'delay', delayMs: 500, at: null, periodMs: null });
  });

  it('names the fields as the decorators do', () => {
    expect(messageOf(() => createTrigger('poll', 'interval', { every: 0 }, decorator))).toBe(
      'Invalid interval for job "poll": 0 must be a finite number of milliseconds above 0.',
    );
    expect(messageOf(() => createTrigger('greet', 'delay', { after: '1000' }, decorator))).toBe(
      'Invalid timeout for job "greet": "1000" is not a number of milliseconds.',
    );
    expect(messageOf(() => createTrigger('c', 'cron', { cron: '61 * * * *' }, decorator))).toBe(
      'Invalid cronTime for job "c": "61 * * * *" is not a valid cron expression: Constraint error, got value 61 expected range 0-59.',
    );
  });
});

describe('cronTimeTrigger', () => {
  it('makes a cron trigger in its zone, or a one-off date', () => {
    expect(cronTimeTrigger('j', 'cron', '0 9 * * 1-5', { timeZone: 'America/New_York', utcOffset: null }, T0).toString()).toBe(
      'cron "0 9 * * 1-5" (America/New_York)',
    );
    expect(cronTimeTrigger('j', 'date', DateTime.fromMillis(T0 + 1_000), {}, T0)).toMatchObject({ kind: 'date', at: T0 + 1_000 });
  });

  it('checks the zone options of a date too', () => {
    expect(messageOf(() => cronTimeTrigger('x', 'date', new Date(T0 + 1), { timeZone: 'UTC', utcOffset: 60 }, T0))).toBe(
      'Invalid timeZone for job "x": {"timeZone":"UTC","utcOffset":60} and utcOffset are mutually exclusive; give one of them.',
    );
  });

  it('refuses a date in the past unless now is -Infinity', () => {
    expect(messageOf(() => cronTimeTrigger('x', 'date', new Date(T0 - 1_000), {}, T0))).toBe(
      'Invalid cronTime for job "x": 2025-12-31T23:59:59.000Z is in the past (now is 2026-01-01T00:00:00.000Z); it would never fire.',
    );
    expect(cronTimeTrigger('x', 'date', new Date(T0 - 1_000), {}, NEVER).at).toBe(T0 - 1_000);
  });

  it('says that cronTime takes a cron expression or a date', () => {
    expect(messageOf(() => cronTimeTrigger('x', 'date', new Date('nonsense'), {}, T0))).toBe(
      'Invalid cronTime for job "x": Invalid Date is not a cron expression nor a valid date.',
    );
    expect(messageOf(() => cronTimeTrigger('x', 'cron', 5, {}, T0))).toBe(
      'Invalid cronTime for job "x": 5 is not a cron expression (expected a string or a Date).',
    );
  });
});

describe('triggerFromDefinition', () => {
  it('builds the kind its one key names', () => {
    expect(triggerFromDefinition('j', { cron: '*/5 * * * * *', timeZone: 'UTC' }, T0).toString()).toBe('cron "*/5 * * * * *" (UTC)');
    expect(triggerFromDefinition('j', { every: 250 }, T0).toString()).toBe('every 250 ms');
    expect(triggerFromDefinition('j', { at: T0 + 1 }, T0).toString()).toBe('at 2026-01-01T00:00:00.001Z');
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'every second', 'Invalid trigger for job "bad": "every second" must be an object with one of cron, every or at.'],
    ['null', null, 'Invalid trigger for job "bad": null must be an object with one of cron, every or at.'],
    ['no kind', { timeZone: 'UTC' }, 'Invalid trigger for job "bad": {"timeZone":"UTC"} must have exactly one of cron, every or at.'],
    ['two kinds', { every: 1_000, at: T0 + 1 }, `Invalid trigger for job "bad": {"every":1000,"at":${T0 + 1}} must have exactly one of cron, every or at.`],
    ['a delay, which only @Timeout makes', { after: 1_000 }, 'Invalid trigger for job "bad": {"after":1000} must have exactly one of cron, every or at.'],
    ['a cron expression that is not a string', { cron: 5 }, 'Invalid trigger.cron for job "bad": 5 is not a cron expression (expected a string).'],
    ['an unknown zone', { cron: '* * * * *', timeZone: 'Nowhere' }, 'Invalid trigger.timeZone for job "bad": "Nowhere" is not a known IANA time zone.'],
    [
      'a zone and an offset',
      { cron: '* * * * *', timeZone: 'UTC', utcOffset: 60 },
      'Invalid trigger.timeZone for job "bad": {"timeZone":"UTC","utcOffset":60} and trigger.utcOffset are mutually exclusive; give one of them.',
    ],
    ['a period of 0', { every: 0 }, 'Invalid trigger.every for job "bad": 0 must be a finite number of milliseconds above 0.'],
    ['a date that is none', { at: 'tomorrow' }, 'Invalid trigger.at for job "bad": "tomorrow" is not a valid date.'],
    ['a date in the past', { at: T0 }, `Invalid trigger.at for job "bad": ${T0} is in the past (now is 2026-01-01T00:00:00.000Z); it would never fire.`],
  ])('refuses %s, naming the field', (_label, definition, message) => {
    expect(messageOf(() => triggerFromDefinition('bad', definition, T0))).toBe(message);
  });
});

describe('stored form', () => {
  it.each<[string, unknown, Record<string, unknown>]>([
    ['a cron expression in a zone', { cron: '0 3 * * *', timeZone: 'Europe/Paris' }, { cron: '0 3 * * *', timeZone: 'Europe/Paris' }],
    ['a cron expression at an offset', { cron: '0 3 * * *', utcOffset: 330, timeZone: null }, { cron: '0 3 * * *', utcOffset: 330 }],
    ['an interval', { every: 5_000 }, { every: 5_000 }],
    ['a date', { at: new Date(T0 + 60_000) }, { at: T0 + 60_000 }],
    ['a luxon date', { at: DateTime.fromMillis(T0 + 60_000, { zone: 'Asia/Tokyo' }) }, { at: T0 + 60_000 }],
  ])('of %s is JSON, and gives back the same trigger', (_label, definition, stored) => {
    const form = storedTrigger('job', definition);
    expect(form).toEqual(stored);
    expect(JSON.parse(JSON.stringify(form))).toEqual(form);
    const original = triggerFromDefinition('job', definition, T0);
    const restored = triggerFromStored('job', JSON.parse(JSON.stringify(form)));
    expect(restored.kind).toBe(original.kind);
    expect(restored.toString()).toBe(original.toString());
    expect(ticks(restored, T0)).toEqual(ticks(original, T0));
  });

  it('keeps only the fields of the kind', () => {
    expect(storedTrigger('job', { every: 1_000, timeZone: 'UTC', note: 'x' })).toEqual({ every: 1_000 });
  });

  it('takes a past date (a stored one-off may have fired), and the trigger is exhausted', () => {
    expect(storedTrigger('job', { at: new Date(0) })).toEqual({ at: 0 });
    const trigger = triggerFromStored('job', { at: 0 });
    expect(trigger.next(T0, T0)).toBeNull();
  });

  it('checks a definition before storing it, naming the value given', () => {
    expect(messageOf(() => storedTrigger('job', { at: 'nonsense' }))).toBe('Invalid trigger.at for job "job": "nonsense" is not a valid date.');
    expect(messageOf(() => storedTrigger('job', 'every second'))).toBe(
      'Invalid trigger for job "job": "every second" must be an object with one of cron, every or at.',
    );
  });

  it('checks stored rows as untrusted input', () => {
    expect(messageOf(() => triggerFromStored('job', { every: -1 }))).toBe(
      'Invalid trigger.every for job "job": -1 must be a finite number of milliseconds above 0.',
    );
    expect(messageOf(() => triggerFromStored('job', { cron: 'rm -rf /' }))).toMatch(
      /^Invalid trigger\.cron for job "job": "rm -rf \/" is not a valid cron expression/,
    );
  });
});
