import { cronWords, triggerWords } from '../../lib/dashboard/trigger-words';

describe('a trigger in words', () => {
  it.each([
    ['* * * * * *', 'every second'],
    ['*/10 * * * * *', 'every 10 seconds'],
    ['* * * * *', 'every minute'],
    ['30 * * * * *', 'every minute at second 30'],
    ['*/5 * * * *', 'every 5 minutes'],
    ['0 */15 * * * *', 'every 15 minutes'],
    ['0 * * * *', 'every hour at :00'],
    ['15,45 * * * *', 'every hour at :15 and :45'],
    ['0 */6 * * *', 'every 6 hours at :00'],
    ['0 9-17 * * 1-5', 'every hour from 09:00 to 17:00 on weekdays'],
    ['0 0 * * *', 'every day at 00:00'],
    ['30 2 * * *', 'every day at 02:30'],
    ['0 30 2 * * *', 'every day at 02:30'],
    ['15 30 2 * * *', 'every day at 02:30:15'],
    ['0 8,20 * * *', 'every day at 08:00 and 20:00'],
    ['0 6 * * 1-5', 'at 06:00 on weekdays'],
    ['0 6 * * MON-FRI', 'at 06:00 on weekdays'],
    ['0 10 * * 0,6', 'at 10:00 on weekends'],
    ['0 10 * * 1', 'at 10:00 on Monday'],
    ['0 10 * * 1,4', 'at 10:00 on Monday and Thursday'],
    ['0 10 * * 7', 'at 10:00 on Sunday'],
    ['0 10 * * 2-4', 'at 10:00 from Tuesday to Thursday'],
    ['0 0 1 * *', 'at 00:00 on day 1 of the month'],
    ['0 0 1,15 * *', 'at 00:00 on days 1 and 15 of the month'],
    ['0 0 1 1 *', 'at 00:00 on 1 January'],
    ['0 0 * 7 *', 'at 00:00 in July'],
    ['0 0 1 1,7 *', 'at 00:00 on day 1 of the month in January and July'],
    ['@daily', 'every day at 00:00'],
    ['@hourly', 'every hour at :00'],
  ])('%s reads "%s"', (expression, words) => {
    expect(cronWords(expression)).toBe(words);
  });

  it.each([
    ['H * * * *', 'a hash'],
    ['0 0 L * *', 'the last day of the month'],
    ['0 0 1 * 1', 'both days of the month and of the week'],
    ['0 0-30/5 * * * *', 'a step over a range'],
    ['0 1,2,3 4,5 * * *', 'more than four times of day'],
    ['1 2 3', 'too few fields'],
    ['@reboot', 'an unknown macro'],
  ])('%s (%s) has no reading: it is shown as written', (expression) => {
    expect(cronWords(expression)).toBeNull();
    expect(triggerWords(`cron "${expression}" (UTC)`)).toEqual({ summary: expression, detail: `${expression} · UTC` });
  });

  it('reads the text of every kind of trigger', () => {
    expect(triggerWords('cron "0 6 * * 1-5" (Europe/Paris)')).toEqual({ summary: 'at 06:00 on weekdays', detail: '0 6 * * 1-5 · Europe/Paris' });
    expect(triggerWords('every 60000 ms')).toEqual({ summary: 'every minute', detail: 'every 60000 ms' });
    expect(triggerWords('every 900000 ms').summary).toBe('every 15 minutes');
    expect(triggerWords('every 7200000 ms').summary).toBe('every 2 hours');
    expect(triggerWords('every 86400000 ms').summary).toBe('every day');
    expect(triggerWords('every 1500 ms').summary).toBe('every 1.5 s');
    expect(triggerWords('every 250 ms').summary).toBe('every 250 ms');
    expect(triggerWords('at 2026-03-08T07:30:00.000Z').summary).toBe('once, at 2026-03-08 07:30:00 UTC');
    expect(triggerWords('once, 5000 ms after start').summary).toBe('once, 5 seconds after start');
    expect(triggerWords('once, 60000 ms after start').summary).toBe('once, 1 minute after start');
    expect(triggerWords('something else')).toEqual({ summary: 'something else', detail: 'something else' });
  });
});
