import { InvalidScheduleError } from '../errors';

/**
 * The most UTF-16 code units a job name may have. Names go into Redis keys, PostgreSQL primary
 * keys, claim batches and log lines: 200 is room for any name a person writes, `Class.method#2`
 * included, and keeps a batch of thousands of claims small.
 */
export const MAX_JOB_NAME_LENGTH = 200;

/** C0 controls (NUL among them), DEL and C1 controls. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** What a message escapes of a name: controls, lone surrogates, and the quote and backslash. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const ESCAPED = /[\u0000-\u001f\u007f-\u009f"\\]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** How much of a refused name its error shows. */
const SHOWN = 40;

/** What is wrong with a name: the value refused (the name, its length, the code of a bad character) and why. */
interface Problem {
  value: unknown;
  reason: string;
}

/**
 * What is wrong with a job name, or `undefined` for a valid one: a non-empty string of at most
 * {@link MAX_JOB_NAME_LENGTH} UTF-16 code units, without control characters (U+0000–U+001F,
 * U+007F–U+009F), well-formed Unicode (no lone surrogate).
 */
function problemOf(name: unknown): Problem | undefined {
  if (typeof name !== 'string' || name === '') return { value: name, reason: 'must be a non-empty string.' };
  if (name.length > MAX_JOB_NAME_LENGTH) {
    return { value: name.length, reason: `UTF-16 code units are more than ${MAX_JOB_NAME_LENGTH}, the most a job name may have.` };
  }
  const control = CONTROL.exec(name);
  if (control) return { value: codePoint(control[0]), reason: `at index ${control.index} is a control character, which a job name may not hold.` };
  const lone = LONE_SURROGATE.exec(name);
  if (lone) return { value: codePoint(lone[0]), reason: `at index ${lone.index} is a lone surrogate: a job name must be well-formed Unicode.` };
  return undefined;
}

/** Whether `name` is a valid job name (see {@link assertJobName}). */
export function isJobName(name: unknown): name is string {
  return problemOf(name) === undefined;
}

/**
 * The one rule for every job name, wherever it comes in: decorators (checked at discovery),
 * `addJob`, `addCronJob`, `addInterval`, `addTimeout`, `Scheduler.add`, and the names of stored
 * rows. A name is a non-empty string of at most {@link MAX_JOB_NAME_LENGTH} UTF-16 code units,
 * without control characters (U+0000–U+001F, DEL, U+0080–U+009F) and well-formed (no lone
 * surrogate). Throws {@link InvalidScheduleError} (field `name`) otherwise; its `jobName` is the
 * name escaped (`a\u0000b`), cut after 40 units. `declaredOn` says where the name comes from
 * (`Reports.build` for a decorator).
 */
export function assertJobName(name: unknown, declaredOn?: string): asserts name is string {
  const problem = problemOf(name);
  if (problem === undefined) return;
  const shown = typeof name !== 'string' ? String(name) : name === '' ? '(no name)' : printable(name);
  throw new InvalidScheduleError(shown, 'name', problem.value, declaredOn ? `${problem.reason} It is declared on ${declaredOn}.` : problem.reason);
}

/** A name as a message can show it: controls, lone surrogates, quotes and backslashes escaped, cut after {@link SHOWN} units. */
function printable(name: string): string {
  const head = name.length > SHOWN ? `${name.slice(0, SHOWN)}…` : name;
  return head.replace(ESCAPED, (char) => (char === '"' || char === '\\' ? `\\${char}` : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

function codePoint(char: string): string {
  return `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}
