import { InvalidScheduleError } from '../errors';
import { CronTrigger } from './cron.trigger';
import { checkedInstant, DateLike, DateTrigger, toEpochMs } from './date.trigger';
import { DelayTrigger } from './delay.trigger';
import { DEFINITION_FIELDS, DECORATOR_FIELDS, TriggerFieldNames } from './field-names';
import { IntervalTrigger, validateDelay } from './interval.trigger';
import { Trigger, TriggerKind } from './trigger';
import { assertOneZone, CronZoneOptions } from './zone-options';

/** When a job added at run time fires: a cron expression, a fixed interval, or once at a date. */
export type TriggerDefinition = { cron: string; timeZone?: string; utcOffset?: number } | { every: number } | { at: DateLike };

/** A trigger definition as kept in the store: JSON, dates as ms since the epoch. */
export type StoredTrigger = Record<string, unknown>;

/** The fields each kind of trigger is made from, as given (unchecked). */
export interface TriggerSpecs {
  cron: { cron: unknown } & CronZoneOptions;
  interval: { every: unknown };
  date: { at: unknown };
  delay: { after: unknown };
}

/** Who gives a trigger's fields: how they are named in errors, and the instant dates must come after. */
export interface TriggerSource {
  fields: TriggerFieldNames;
  /** Dates at or before this instant are refused; `-Infinity` takes any date. */
  now: number;
}

/** Definitions kept in the store: named as `addJob` names them, any date taken. */
const STORED: TriggerSource = { fields: DEFINITION_FIELDS, now: Number.NEGATIVE_INFINITY };

/** Said of a `cronTime` that names no instant: the field takes a cron expression or a date. */
const NOT_CRON_NOR_DATE = 'is not a cron expression nor a valid date.';

/** How the factory makes, reads and stores one kind of trigger. */
interface TriggerKindEntry<S> {
  /** Checks the fields, throwing {@link InvalidScheduleError} that names the bad one, and builds the trigger. */
  build(job: string, spec: S, source: TriggerSource): Trigger;
  /** How a definition (`addJob`, the store) gives this kind; none for kinds only decorators make. */
  definition?: {
    /** The key that marks a definition of this kind, e.g. `every` in `{ every: 5000 }`. */
    key: string;
    /** The stored form of fields that `build` accepted. */
    store(spec: S): StoredTrigger;
  };
}

/**
 * Every kind of trigger. A new kind is a file of its own (the trigger, pure, and the check of its
 * fields), its name in `TriggerKind`, its fields in `TriggerSpecs` and an entry here.
 */
const KINDS: { [K in TriggerKind]: TriggerKindEntry<TriggerSpecs[K]> } = {
  cron: {
    build: (job, { cron, timeZone, utcOffset }, { fields }) => CronTrigger.create(job, cron, { timeZone, utcOffset }, fields),
    definition: { key: 'cron', store: ({ cron, timeZone, utcOffset }) => given({ cron, timeZone, utcOffset }) },
  },
  interval: {
    build: (job, { every }, { fields }) => new IntervalTrigger(validateDelay(job, fields.every, every)),
    definition: { key: 'every', store: ({ every }) => ({ every }) },
  },
  date: {
    build: (job, { at }, { fields, now }) => new DateTrigger(checkedInstant(job, fields.at, at, now, fields.cronOrDate ? NOT_CRON_NOR_DATE : undefined)),
    definition: { key: 'at', store: ({ at }) => ({ at: toEpochMs(at) }) },
  },
  delay: {
    build: (job, { after }, { fields }) => new DelayTrigger(validateDelay(job, fields.after, after)),
  },
};

/** The kinds a definition may give, in the order error messages list their keys. */
const DEFINED = Object.values<TriggerKindEntry<object>>(KINDS).filter((entry): entry is Required<TriggerKindEntry<object>> => entry.definition !== undefined);
const KEYS = DEFINED.map((entry) => entry.definition.key);
const ONE_OF = `${KEYS.slice(0, -1).join(', ')} or ${KEYS[KEYS.length - 1]}`;

/** Builds a trigger of `kind` from its fields; throws {@link InvalidScheduleError} naming the job, the field and the value. */
export function createTrigger<K extends TriggerKind>(job: string, kind: K, spec: TriggerSpecs[K], source: TriggerSource): Trigger {
  const entry: TriggerKindEntry<TriggerSpecs[K]> = KINDS[kind];
  return entry.build(job, spec, source);
}

/**
 * The trigger of a `cron`-style time (`@Cron`, `CronJob`, `CronTime`): a cron expression in a zone,
 * or a date for a one-off, whose zone options are checked all the same. Dates must be after `now`.
 */
export function cronTimeTrigger(job: string, kind: 'cron' | 'date', cronTime: unknown, zone: CronZoneOptions, now: number): Trigger {
  const source = { fields: DECORATOR_FIELDS, now };
  if (kind === 'cron') return createTrigger(job, 'cron', { cron: cronTime, ...zone }, source);
  assertOneZone(job, zone, DECORATOR_FIELDS);
  return createTrigger(job, 'date', { at: cronTime }, source);
}

/** The trigger of an `addJob` or `rescheduleJob` definition (`{ cron }`, `{ every }`, `{ at }`); dates must be after `now`. */
export function triggerFromDefinition(job: string, definition: unknown, now: number): Trigger {
  const { entry, spec } = readDefinition(job, definition);
  return entry.build(job, spec, { fields: DEFINITION_FIELDS, now });
}

/** The stored form of a definition, checked as a stored one is (any date is taken). */
export function storedTrigger(job: string, definition: unknown): StoredTrigger {
  const { entry, spec } = readDefinition(job, definition);
  entry.build(job, spec, STORED);
  return entry.definition.store(spec);
}

/**
 * The trigger of a stored definition. Stored rows are untrusted: checked as a definition is, except
 * that a date may be past (a stored one-off may have fired).
 */
export function triggerFromStored(job: string, stored: unknown): Trigger {
  const { entry, spec } = readDefinition(job, stored);
  return entry.build(job, spec, STORED);
}

/** The entry of a kind that definitions may give, and a definition's fields for it. */
interface ReadDefinition {
  entry: Required<TriggerKindEntry<object>>;
  spec: object;
}

/** Finds a definition's kind by its one key; throws naming the job when there is not exactly one. */
function readDefinition(job: string, definition: unknown): ReadDefinition {
  if (typeof definition !== 'object' || definition === null) {
    throw new InvalidScheduleError(job, 'trigger', definition, `must be an object with one of ${ONE_OF}.`);
  }
  const entries = DEFINED.filter((entry) => entry.definition.key in definition);
  if (entries.length !== 1) throw new InvalidScheduleError(job, 'trigger', definition, `must have exactly one of ${ONE_OF}.`);
  return { entry: entries[0], spec: definition };
}

/** `fields` without those not given (`undefined` or `null`). */
function given(fields: Record<string, unknown>): StoredTrigger {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value != null));
}
