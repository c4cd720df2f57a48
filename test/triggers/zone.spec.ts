import { fixedZone, isValidTimeZone, namedZone, systemTimeZone, systemZone } from '../../lib/triggers/zone';

const HOUR = 3_600_000;
const WINTER = Date.UTC(2026, 0, 15);
const SUMMER = Date.UTC(2026, 6, 15);

describe('fixedZone', () => {
  it('has one offset, in ms, and a UTC±hh:mm name', () => {
    const kolkata = fixedZone(330);
    expect(kolkata).toMatchObject({ name: 'UTC+05:30', fixed: true });
    expect(kolkata.offset(WINTER)).toBe(5.5 * HOUR);
    expect(kolkata.offset(SUMMER)).toBe(5.5 * HOUR);
    expect(fixedZone(-90).name).toBe('UTC-01:30');
    expect(fixedZone(0).name).toBe('UTC');
  });

  it('is one object per offset', () => {
    expect(fixedZone(60)).toBe(fixedZone(60));
  });
});

describe('namedZone', () => {
  it('follows daylight saving time', () => {
    const london = namedZone('Europe/London');
    expect(london).toMatchObject({ name: 'Europe/London', fixed: false });
    expect(london.offset(WINTER)).toBe(0);
    expect(london.offset(SUMMER)).toBe(HOUR);
    expect(namedZone('America/New_York').offset(WINTER)).toBe(-5 * HOUR);
    expect(namedZone('Australia/Lord_Howe').offset(WINTER)).toBe(11 * HOUR);
    expect(namedZone('Australia/Lord_Howe').offset(SUMMER)).toBe(10.5 * HOUR);
  });

  it('serves the names of UTC as the fixed zone of offset 0', () => {
    for (const name of ['UTC', 'Etc/UTC', 'GMT', 'Zulu']) expect(namedZone(name)).toBe(fixedZone(0));
  });

  it('is one object per name', () => {
    expect(namedZone('Asia/Tokyo')).toBe(namedZone('Asia/Tokyo'));
  });
});

describe('isValidTimeZone', () => {
  it('knows IANA names and refuses others', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});

describe('systemTimeZone', () => {
  it("is the process's zone, as Intl gives it", () => {
    expect(systemTimeZone()).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(systemZone()).toBe(namedZone(systemTimeZone()));
  });
});
