import { InvalidScheduleError } from '../../lib';
import { JobOptions, MAX_RETRY_ATTEMPTS, MAX_RETRY_WAIT_MS, resolveJobOptions } from '../../lib/engine/job-options';

/**
 * Upper bounds of job options, the same for every job: decorated, added, or read from a stored row
 * (where they keep a tampered row from retrying for ever or waiting past the end of time).
 */
const refusal = (options: JobOptions) => {
  try {
    resolveJobOptions('job', options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidScheduleError);
    return (error as Error).message;
  }
  return undefined;
};

describe('option bounds', () => {
  it.each<[string, JobOptions]>([
    ['100 retries', { retry: { attempts: MAX_RETRY_ATTEMPTS, backoffMs: 1_000, factor: 1 } }],
    ['a last retry 7 days after the one before', { retry: { attempts: 2, backoffMs: MAX_RETRY_WAIT_MS / 2, factor: 2 } }],
    ['retries that wait less each time', { retry: { attempts: 100, backoffMs: 60_000, factor: 0.5 } }],
    ['no retry after the first attempt', { retry: { attempts: 0, backoffMs: 1e300 } }],
    ['maxRuns of 2^53-1', { maxRuns: Number.MAX_SAFE_INTEGER }],
    ['the last instant a Date holds', { startAt: 8.64e15, endAt: 8.64e15 }],
  ])('accepts %s', (_label, options) => {
    expect(refusal(options)).toBeUndefined();
  });

  it.each<[string, JobOptions, string]>([
    ['101 retries', { retry: { attempts: 101, factor: 1 } }, 'Invalid retry.attempts for job "job": 101 must be at most 100.'],
    [
      'a last retry more than 7 days after the one before',
      { retry: { attempts: 21, backoffMs: 1_000, factor: 2 } },
      'Invalid retry for job "job": {"attempts":21,"backoffMs":1000,"factor":2} would wait 1048576000 ms before its last attempt (backoffMs × factor^(attempts-1)); the most is 604800000 (7 days): lower attempts, backoffMs or factor.',
    ],
    [
      'a first retry more than 7 days away',
      { retry: { attempts: 1, backoffMs: MAX_RETRY_WAIT_MS + 1 } },
      'Invalid retry for job "job": {"attempts":1,"backoffMs":604800001,"factor":2} would wait 604800001 ms before its last attempt (backoffMs × factor^(attempts-1)); the most is 604800000 (7 days): lower attempts, backoffMs or factor.',
    ],
    ['maxRuns beyond 2^53-1', { maxRuns: 2 ** 60 }, 'Invalid maxRuns for job "job": 1152921504606847000 must be at most 9007199254740991.'],
    ['a startAt past what a Date holds', { startAt: 8.64e15 + 1 }, 'Invalid startAt for job "job": 8640000000000001 is not a valid date.'],
    ['an endAt before what a Date holds', { endAt: -1e300 }, 'Invalid endAt for job "job": -1e+300 is not a valid date.'],
  ])('refuses %s', (_label, options, message) => {
    expect(refusal(options)).toBe(message);
  });
});
