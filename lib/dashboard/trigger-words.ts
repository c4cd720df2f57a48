/**
 * A job's trigger in words, from the text `JobInfo.trigger` gives (`cron "0 6 * * 1-5" (UTC)`,
 * `every 900000 ms`, `at 2026-…Z`, `once, 5000 ms after start`). Common cron shapes are put in
 * words (`at 06:00 on weekdays`, `every 5 minutes`); any other expression is shown as written.
 */

/** A trigger as the dashboard shows it. */
export interface TriggerWords {
  /** In words, e.g. `every 15 minutes`, or the expression as written when it has no simple reading. */
  summary: string;
  /** The exact trigger, e.g. `0 6 * * 1-5 · UTC`. */
  detail: string;
}

const CRON = /^cron "(.*)" \((.*)\)$/;
const INTERVAL = /^every (\d+(?:\.\d+)?) ms$/;
const DATE = /^at (\d{4}-\d\d-\d\dT[\d:.]+Z)$/;
const DELAY = /^once, (\d+(?:\.\d+)?) ms after start$/;

/** Puts the text of a job's trigger in words. */
export function triggerWords(text: string): TriggerWords {
  let match = CRON.exec(text);
  if (match) {
    const [, expression, zone] = match;
    return { summary: cronWords(expression) ?? expression, detail: `${expression} · ${zone}` };
  }
  match = INTERVAL.exec(text);
  if (match) return { summary: `every ${duration(Number(match[1]), true)}`, detail: text };
  match = DATE.exec(text);
  if (match) return { summary: `once, at ${match[1].replace('T', ' ').replace(/\.000Z$|Z$/, '')} UTC`, detail: text };
  match = DELAY.exec(text);
  if (match) return { summary: `once, ${duration(Number(match[1]), false)} after start`, detail: text };
  return { summary: text, detail: text };
}

const UNITS: Array<[ms: number, one: string, many: string]> = [
  [86_400_000, 'day', 'days'],
  [3_600_000, 'hour', 'hours'],
  [60_000, 'minute', 'minutes'],
  [1_000, 'second', 'seconds'],
];

/** `900000` → `15 minutes`; with `every`, `60000` → `minute` (as in "every minute"). */
function duration(ms: number, every: boolean): string {
  for (const [size, one, many] of UNITS) {
    if (ms >= size && ms % size === 0) {
      const count = ms / size;
      return count === 1 ? (every ? one : `1 ${one}`) : `${count} ${many}`;
    }
  }
  return ms >= 1_000 ? `${ms / 1_000} s` : `${ms} ms`;
}

const MACROS: Record<string, string> = {
  '@yearly': 'every year, on 1 January at 00:00',
  '@annually': 'every year, on 1 January at 00:00',
  '@monthly': 'on day 1 of the month at 00:00',
  '@weekly': 'every Sunday at 00:00',
  '@daily': 'every day at 00:00',
  '@midnight': 'every day at 00:00',
  '@hourly': 'every hour at :00',
};

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

const NUMBER = /^\d{1,2}$/;
const LIST = /^\d{1,2}(,\d{1,2})+$/;
const RANGE = /^(\d{1,2})-(\d{1,2})$/;
const STEP = /^(?:\*|0)\/(\d{1,2})$/;

/**
 * A cron expression (5 or 6 fields, or a macro such as `@daily`) in words, or `null` when it has
 * no short, exact reading (hashes, `L`/`W`/`#`, steps over ranges, both days of month and of week).
 */
export function cronWords(expression: string): string | null {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) return MACROS[trimmed.toLowerCase()] ?? null;
  const fields = trimmed.split(/\s+/);
  if (fields.length === 5) fields.unshift('0');
  if (fields.length !== 6) return null;
  const [second, minute, hour, dayOfMonth, month, dayOfWeek] = fields;
  const days = daysPart(any(dayOfMonth) ? '*' : dayOfMonth, names(month, MONTH_NAMES, 1), names(dayOfWeek, DAY_NAMES, 0));
  if (days === null) return null;
  const time = timePart(second, minute, hour);
  if (time === null) return null;
  if (time.at) return days === '' ? `every day ${time.text}` : `${time.text} ${days}`;
  return days === '' ? time.text : `${time.text} ${days}`;
}

function any(field: string): boolean {
  return field === '*' || field === '?';
}

/** A month or weekday field with its names (`MON-FRI`) turned into numbers. */
function names(field: string, list: string[], first: number): string {
  return field.toUpperCase().replace(/[A-Z]{3}/g, (name) => {
    const index = list.indexOf(name);
    return index < 0 ? name : String(index + first);
  });
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

function numbers(field: string): number[] | null {
  if (NUMBER.test(field) || LIST.test(field)) return field.split(',').map(Number);
  return null;
}

/** `a`, `a and b`, `a, b and c`. */
function joined(items: string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** The time of day part. `at` is true for fixed times of day ("at 06:00"), which read "every day at …" alone. */
function timePart(second: string, minute: string, hour: string): { text: string; at: boolean } | null {
  const seconds = numbers(second);
  if (any(second) && any(minute) && any(hour)) return { text: 'every second', at: false };
  const secondStep = STEP.exec(second);
  if (secondStep && any(minute) && any(hour)) return { text: `every ${secondStep[1]} seconds`, at: false };
  if (!seconds || seconds.length !== 1) return null;
  const [s] = seconds;
  const atSecond = s === 0 ? '' : ` at second ${s}`;
  if (any(minute) && any(hour)) return { text: `every minute${atSecond}`, at: false };
  const minuteStep = STEP.exec(minute);
  if (minuteStep && any(hour)) return { text: `every ${minuteStep[1]} minutes${atSecond}`, at: false };
  const minutes = numbers(minute);
  if (!minutes) return null;
  const clock = (h: number, m: number) => `${pad(h)}:${pad(m)}${s === 0 ? '' : `:${pad(s)}`}`;
  const past = (m: number) => `:${pad(m)}${s === 0 ? '' : `:${pad(s)}`}`;
  if (any(hour)) return { text: `every hour at ${joined(minutes.map(past))}`, at: false };
  const hourStep = STEP.exec(hour);
  if (hourStep && minutes.length === 1) return { text: `every ${hourStep[1]} hours at ${past(minutes[0])}`, at: false };
  const hourRange = RANGE.exec(hour);
  if (hourRange && minutes.length === 1) {
    return { text: `every hour from ${clock(Number(hourRange[1]), minutes[0])} to ${clock(Number(hourRange[2]), minutes[0])}`, at: false };
  }
  const hours = numbers(hour);
  if (!hours || hours.length * minutes.length > 4) return null;
  const times = hours.flatMap((h) => minutes.map((m) => clock(h, m)));
  return { text: `at ${joined(times)}`, at: true };
}

/** The days part: `''` for every day, `null` when it has no short reading. */
function daysPart(dayOfMonth: string, month: string, dayOfWeek: string): string | null {
  const parts: string[] = [];
  const anyMonthDay = any(dayOfMonth);
  const anyWeekDay = any(dayOfWeek);
  if (!anyMonthDay && !anyWeekDay) return null;
  if (!anyWeekDay) {
    const week = weekdays(dayOfWeek);
    if (week === null) return null;
    parts.push(week);
  }
  const months = any(month) ? [] : numbers(month);
  if (months === null || months.some((m) => m < 1 || m > 12)) return null;
  if (!anyMonthDay) {
    const monthDays = numbers(dayOfMonth);
    if (!monthDays) return null;
    if (months.length === 1 && monthDays.length === 1) return `on ${monthDays[0]} ${MONTHS[months[0] - 1]}`;
    parts.push(`on day${monthDays.length > 1 ? 's' : ''} ${joined(monthDays.map(String))} of the month`);
  }
  if (months.length > 0) parts.push(`in ${joined(months.map((m) => MONTHS[m - 1]))}`);
  return parts.join(' ');
}

function weekdays(field: string): string | null {
  const range = RANGE.exec(field);
  if (range) {
    const [from, to] = [Number(range[1]) % 7, Number(range[2]) % 7];
    if (from === 1 && to === 5) return 'on weekdays';
    if (from > 6 || to > 6) return null;
    return `${DAYS[from]} to ${DAYS[to]}`.replace(/^/, 'from ');
  }
  const days = numbers(field);
  if (!days || days.some((d) => d > 7)) return null;
  const set = [...new Set(days.map((d) => d % 7))].sort();
  if (set.length === 2 && set[0] === 0 && set[1] === 6) return 'on weekends';
  return `on ${joined(set.map((d) => DAYS[d]))}`;
}
