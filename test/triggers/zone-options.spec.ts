import { InvalidScheduleError } from '../../lib/errors';
import { DECORATOR_FIELDS, DEFINITION_FIELDS } from '../../lib/triggers/field-names';
import { fixedZone, namedZone, systemZone } from '../../lib/triggers/zone';
import { assertOneZone, zoneOf } from '../../lib/triggers/zone-options';

function errorOf(fn: () => unknown): InvalidScheduleError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidScheduleError) return error;
    throw error;
  }
  throw new Error('expected an InvalidScheduleError');
}

describe('assertOneZone', () => {
  it('takes one of timeZone and utcOffset, or neither (null is not given)', () => {
    expect(() => assertOneZone('x', {}, DECORATOR_FIELDS)).not.toThrow();
    expect(() => assertOneZone('x', { timeZone: 'UTC', utcOffset: null }, DECORATOR_FIELDS)).not.toThrow();
    expect(() => assertOneZone('x', { timeZone: undefined, utcOffset: 60 }, DECORATOR_FIELDS)).not.toThrow();
  });

  it('refuses both, naming the fields as the caller does', () => {
    expect(errorOf(() => assertOneZone('x', { timeZone: 'UTC', utcOffset: 60 }, DECORATOR_FIELDS)).message).toBe(
      'Invalid timeZone for job "x": {"timeZone":"UTC","utcOffset":60} and utcOffset are mutually exclusive; give one of them.',
    );
    const error = errorOf(() => assertOneZone('x', { timeZone: 'UTC', utcOffset: 60 }, DEFINITION_FIELDS));
    expect(error.message).toBe(
      'Invalid trigger.timeZone for job "x": {"timeZone":"UTC","utcOffset":60} and trigger.utcOffset are mutually exclusive; give one of them.',
    );
    expect(error).toMatchObject({ jobName: 'x', field: 'trigger.timeZone', value: { timeZone: 'UTC', utcOffset: 60 } });
  });
});

describe('zoneOf', () => {
  it('is the named zone, the fixed offset, or else the system zone', () => {
    expect(zoneOf('x', { timeZone: 'Europe/Paris' }, DECORATOR_FIELDS)).toBe(namedZone('Europe/Paris'));
    expect(zoneOf('x', { utcOffset: -300 }, DECORATOR_FIELDS)).toBe(fixedZone(-300));
    expect(zoneOf('x', {}, DECORATOR_FIELDS)).toBe(systemZone());
  });

  it.each([
    [{ timeZone: 'Mars/Olympus_Mons' }, 'Invalid trigger.timeZone for job "x": "Mars/Olympus_Mons" is not a known IANA time zone.'],
    [{ timeZone: 5 }, 'Invalid trigger.timeZone for job "x": 5 is not a known IANA time zone.'],
    [{ utcOffset: 1_081 }, 'Invalid trigger.utcOffset for job "x": 1081 must be a whole number of minutes between -1080 and 1080.'],
    [{ utcOffset: 1.5 }, 'Invalid trigger.utcOffset for job "x": 1.5 must be a whole number of minutes between -1080 and 1080.'],
    [{ utcOffset: '60' }, 'Invalid trigger.utcOffset for job "x": "60" must be a whole number of minutes between -1080 and 1080.'],
    [
      { timeZone: 'Nowhere', utcOffset: 60 },
      'Invalid trigger.timeZone for job "x": {"timeZone":"Nowhere","utcOffset":60} and trigger.utcOffset are mutually exclusive; give one of them.',
    ],
  ])('refuses %p', (options, message) => {
    expect(errorOf(() => zoneOf('x', options, DEFINITION_FIELDS)).message).toBe(message);
  });

  it('takes the offsets at the ends of the range', () => {
    expect(zoneOf('x', { utcOffset: 1_080 }, DECORATOR_FIELDS).name).toBe('UTC+18:00');
    expect(zoneOf('x', { utcOffset: -1_080 }, DECORATOR_FIELDS).name).toBe('UTC-18:00');
  });
});
