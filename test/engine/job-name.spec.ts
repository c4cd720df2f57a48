import { InvalidScheduleError } from '../../lib';
import { assertJobName, isJobName, MAX_JOB_NAME_LENGTH } from '../../lib/engine/job-name';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

/** Job names go into Redis keys, PostgreSQL primary keys and claim batches: one rule, checked wherever a name comes in. */
describe('job names', () => {
  it.each([
    ['a plain name', 'nightly-report'],
    ['the implicit name of a decorated method', 'ReportsService.build#2'],
    ['letters of any script, and emoji (well-formed surrogate pairs)', 'отчёт 日報 📈'],
    [`${MAX_JOB_NAME_LENGTH} UTF-16 code units`, 'x'.repeat(MAX_JOB_NAME_LENGTH)],
    ['spaces, quotes and punctuation', `a "quoted" name: {1}, 'two' & more`],
  ])('accepts %s', (_label, name) => {
    expect(isJobName(name)).toBe(true);
    expect(() => assertJobName(name)).not.toThrow();
  });

  const y40 = 'y'.repeat(40);
  it.each<[string, unknown, string, unknown, string]>([
    ['an empty name', '', '(no name)', '', 'Invalid name for job "(no name)": "" must be a non-empty string.'],
    ['a name that is not a string', 42, '42', 42, 'Invalid name for job "42": 42 must be a non-empty string.'],
    ['no name at all', undefined, 'undefined', undefined, 'Invalid name for job "undefined": undefined must be a non-empty string.'],
    ['NUL', 'a\u0000b', 'a\\u0000b', 'U+0000', 'Invalid name for job "a\\u0000b": "U+0000" at index 1 is a control character, which a job name may not hold.'],
    [
      'a newline',
      'a\nb',
      'a\\u000ab',
      'U+000A',
      'Invalid name for job "a\\u000ab": "U+000A" at index 1 is a control character, which a job name may not hold.',
    ],
    [
      'DEL',
      'del\u007f',
      'del\\u007f',
      'U+007F',
      'Invalid name for job "del\\u007f": "U+007F" at index 3 is a control character, which a job name may not hold.',
    ],
    [
      'a C1 control',
      '\u009bx',
      '\\u009bx',
      'U+009B',
      'Invalid name for job "\\u009bx": "U+009B" at index 0 is a control character, which a job name may not hold.',
    ],
    [
      'a lone high surrogate',
      'job "\ud83d"',
      'job \\"\\ud83d\\"',
      'U+D83D',
      'Invalid name for job "job \\"\\ud83d\\"": "U+D83D" at index 5 is a lone surrogate: a job name must be well-formed Unicode.',
    ],
    [
      'a lone low surrogate',
      '\ude00job',
      '\\ude00job',
      'U+DE00',
      'Invalid name for job "\\ude00job": "U+DE00" at index 0 is a lone surrogate: a job name must be well-formed Unicode.',
    ],
    [
      `${MAX_JOB_NAME_LENGTH + 1} UTF-16 code units`,
      'y'.repeat(MAX_JOB_NAME_LENGTH + 1),
      `${y40}…`,
      201,
      `Invalid name for job "${y40}…": 201 UTF-16 code units are more than 200, the most a job name may have.`,
    ],
    [
      'a name of 3 KB',
      'z'.repeat(3_000),
      `${'z'.repeat(40)}…`,
      3_000,
      `Invalid name for job "${'z'.repeat(40)}…": 3000 UTF-16 code units are more than 200, the most a job name may have.`,
    ],
  ])('refuses %s with an InvalidScheduleError that shows the name escaped, and no control character', (_label, name, shown, value, message) => {
    expect(isJobName(name)).toBe(false);
    let error: unknown;
    try {
      assertJobName(name);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect(error).toMatchObject({ code: 'INVALID_SCHEDULE', field: 'name', jobName: shown, value, message });
    // eslint-disable-next-line no-control-regex -- the message must hold none
    expect((error as Error).message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/);
  });

  it('counts UTF-16 code units: 100 emoji are 200 units and pass, 101 do not', () => {
    expect(isJobName('📈'.repeat(100))).toBe(true);
    expect(isJobName('📈'.repeat(101))).toBe(false);
  });

  it('says where a decorator declared the name', () => {
    expect(() => assertJobName('a\tb', 'Reports.build')).toThrow(
      'Invalid name for job "a\\u0009b": "U+0009" at index 1 is a control character, which a job name may not hold. It is declared on Reports.build.',
    );
  });
});

describe('Scheduler.add checks the name', () => {
  it('refuses a bad name and adds nothing; the jobs already there run on', async () => {
    const clock = new VirtualClock(0);
    const scheduler = new Scheduler({ clock });
    const runs: number[] = [];
    scheduler.add({ name: 'ok', trigger: new IntervalTrigger(1_000), handler: () => void runs.push(clock.now()) });
    scheduler.start();
    await clock.advanceAsync(1_000);
    for (const name of ['', 'nul\u0000', 'lone\udc00', 'w'.repeat(201)]) {
      expect(() => scheduler.add({ name, trigger: new IntervalTrigger(1_000), handler: () => undefined })).toThrow(InvalidScheduleError);
    }
    await clock.advanceAsync(2_000);
    expect(scheduler.names()).toEqual(['ok']);
    expect(runs).toEqual([1_000, 2_000, 3_000]);
    await scheduler.shutdown();
  });
});
