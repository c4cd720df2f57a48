import { CronExpression, CronExpressionParser } from 'cron-parser';
import { InvalidScheduleError } from '../errors';
import { DECORATOR_FIELDS, TriggerFieldNames } from './field-names';
import { Trigger } from './trigger';
import { Zone } from './zone';
import { CronZoneOptions, zoneOf } from './zone-options';

const SECOND = 1_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** No zone moves its clocks by more than this at once. */
const MAX_SHIFT = 3 * HOUR;

/**
 * Fires on a cron expression (5 fields, or 6 with seconds first) in a time zone.
 *
 * Matching is done on local wall-clock time, then mapped to instants with the rules of `cron` 4 and
 * Vixie cron across daylight saving time changes:
 * - a local time that does not exist (clocks spring forward) fires once, at the first instant
 *   after the gap: 02:30 on 2026-03-08 in New York fires at 03:00 EDT;
 * - a local time that happens twice (clocks fall back) fires once, at its first occurrence;
 *   expressions that fire every hour (hour field `*`) keep firing by real time through the
 *   repeated hour instead, as Vixie cron does.
 */
export class CronTrigger implements Trigger {
  readonly kind = 'cron' as const;
  readonly at = null;
  readonly periodMs = null;

  private constructor(
    /** The expression as given. */
    readonly expression: string,
    readonly zone: Zone,
    private readonly schedule: CronSchedule,
  ) {}

  /**
   * Parses and checks an expression; throws {@link InvalidScheduleError} naming `job` when the
   * expression, the time zone or the offset is invalid, or when the expression can never fire,
   * and the field as `fields` names it.
   */
  static create(job: string, expression: unknown, zoneOptions: CronZoneOptions = {}, fields: TriggerFieldNames = DECORATOR_FIELDS): CronTrigger {
    const zone = zoneOf(job, zoneOptions, fields);
    if (typeof expression !== 'string') {
      const expected = fields.cronOrDate ? 'a string or a Date' : 'a string';
      throw new InvalidScheduleError(job, fields.cron, expression, `is not a cron expression (expected ${expected}).`);
    }
    // `H` fields are hashed by job name: such a trigger is the job's own.
    const seed = expression.includes('H') ? job : '';
    const key = `${expression}\u0000${zone.name}\u0000${seed}`;
    let trigger = triggers.get(key);
    if (trigger) return trigger;
    const normalized = normalizeExpression(job, expression, fields.cron);
    const scheduleKey = `${normalized}\u0000${zone.name}\u0000${seed}`;
    let schedule = schedules.get(scheduleKey);
    if (!schedule) {
      let parsed: CronExpression;
      try {
        parsed = CronExpressionParser.parse(normalized, { tz: 'UTC', hashSeed: seed || undefined });
      } catch (error) {
        throw new InvalidScheduleError(job, fields.cron, expression, `is not a valid cron expression: ${(error as Error).message}.`, { cause: error });
      }
      schedule = new CronSchedule(parsed, zone);
      try {
        schedule.next(Date.now());
      } catch (error) {
        throw new InvalidScheduleError(job, fields.cron, expression, `never fires: ${(error as Error).message}.`, { cause: error });
      }
      remember(schedules, scheduleKey, schedule);
    }
    trigger = new CronTrigger(expression, zone, schedule);
    remember(triggers, key, trigger);
    return trigger;
  }

  next(after: number): number {
    return this.schedule.next(after);
  }

  toString(): string {
    return `cron "${this.expression}" (${this.zone.name})`;
  }
}

/**
 * Triggers and parsed schedules, shared by every job with the same expression and zone: both are
 * immutable, and a hundred thousand jobs on a few expressions cost a few parses.
 */
const triggers = new Map<string, CronTrigger>();
const schedules = new Map<string, CronSchedule>();

/** Sharing is only an optimization: a trigger keeps its schedule, so the caches may forget. */
function remember<T>(cache: Map<string, T>, key: string, value: T): void {
  if (cache.size >= 10_000) cache.clear();
  cache.set(key, value);
}

/** How many answers a schedule remembers. */
const ANSWERS_KEPT = 256;

/**
 * One expression in one zone. Jobs on the same expression ask for the same instants, so recent
 * answers are kept: ten thousand jobs on `* * * * * *` cost one computation per second, not ten
 * thousand, and jobs catching up after a suspension share their searches.
 */
class CronSchedule {
  /** The hour field allows every hour: such expressions follow real time through a repeated hour. */
  private readonly everyHour: boolean;
  private readonly answers = new Map<number, number>();

  constructor(
    private readonly expression: CronExpression,
    private readonly zone: Zone,
  ) {
    this.everyHour = expression.fields.hour.values.length === 24;
  }

  next(after: number): number {
    let next = this.answers.get(after);
    if (next === undefined) {
      next = this.compute(after);
      if (this.answers.size === ANSWERS_KEPT) this.answers.delete(this.answers.keys().next().value!);
      this.answers.set(after, next);
    }
    return next;
  }

  /** The smallest matching wall-clock time strictly after `wall` (both as if UTC). */
  private wallAfter(wall: number): number {
    this.expression.reset(new Date(wall));
    return this.expression.next().getTime();
  }

  private compute(after: number): number {
    const zone = this.zone;
    if (zone.fixed) {
      const offset = zone.offset(after);
      return this.wallAfter(after + offset) - offset;
    }
    let wall = after + zone.offset(after);
    for (let step = 0; step < 10_000; step++) {
      const matched = this.wallAfter(wall);
      const instant = this.instantFor(matched, after);
      if (instant !== null) return this.everyHour ? this.repeatedHourMatch(after, instant) : instant;
      wall = matched;
    }
    throw new Error('no matching time found');
  }

  /**
   * The earliest instant after `after` at which local time `wall` fires: its only instant; the
   * first instant after the gap if it does not exist; its first occurrence if it happens twice
   * (or either occurrence for every-hour expressions). `null` when that instant is not after `after`.
   */
  private instantFor(wall: number, after: number): number | null {
    const zone = this.zone;
    const before = zone.offset(wall - DAY);
    const later = zone.offset(wall + DAY);
    const early = wall - before;
    const late = wall - later;
    const earlyValid = zone.offset(early) === before;
    const lateValid = zone.offset(late) === later;
    let first: number;
    let second: number | null = null;
    if (earlyValid && lateValid && early !== late) {
      first = Math.min(early, late);
      second = this.everyHour ? Math.max(early, late) : null;
    } else if (earlyValid || lateValid) {
      first = earlyValid ? early : late;
    } else {
      first = this.transitionBetween(Math.min(early, late), Math.max(early, late));
    }
    if (first > after) return first;
    return second !== null && second > after ? second : null;
  }

  /**
   * For every-hour expressions: if the clocks fall back between `after` and `candidate`, the local
   * times of the repeated hour come round again; the first match among them may come sooner.
   */
  private repeatedHourMatch(after: number, candidate: number): number {
    const zone = this.zone;
    const end = Math.min(candidate, after + MAX_SHIFT);
    const offsetAfter = zone.offset(end);
    if (offsetAfter >= zone.offset(after)) return candidate;
    const shift = this.transitionBetween(after, end);
    const instant = this.wallAfter(shift + offsetAfter - 1) - offsetAfter;
    return instant > after && instant < candidate ? instant : candidate;
  }

  /** The instant the offset changes, between `low` (old offset) and `high` (new offset). */
  private transitionBetween(low: number, high: number): number {
    const target = this.zone.offset(high);
    // Offsets change on whole seconds; search at that resolution.
    let lo = Math.floor(low / SECOND);
    let hi = Math.ceil(high / SECOND);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.zone.offset(mid * SECOND) === target) hi = mid;
      else lo = mid;
    }
    return hi * SECOND;
  }
}

/** Checks the field count `cron` accepts (5, or 6 with seconds) and makes it 6 fields for the parser. */
function normalizeExpression(job: string, expression: string, field: string): string {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@') && !/\s/.test(trimmed)) return trimmed;
  const fields = trimmed === '' ? [] : trimmed.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new InvalidScheduleError(job, field, expression, `is not a valid cron expression: expected 5 or 6 fields, got ${fields.length}.`);
  }
  return fields.length === 5 ? `0 ${fields.join(' ')}` : fields.join(' ');
}
