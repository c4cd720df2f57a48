import { IANAZone } from 'luxon';

/** A time zone as the cron trigger needs it: the UTC offset in force at an instant. */
export interface Zone {
  /** IANA name, or `UTC±hh:mm` for a fixed offset. */
  readonly name: string;
  /** True when the offset never changes (no daylight saving time). */
  readonly fixed: boolean;
  /** The offset at `instant`, in ms to add to UTC to get local wall-clock time. */
  offset(instant: number): number;
}

const MINUTE = 60_000;

class FixedZone implements Zone {
  readonly fixed = true;
  readonly name: string;
  constructor(private readonly offsetMs: number) {
    const minutes = Math.abs(offsetMs / MINUTE);
    const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
    const mm = String(minutes % 60).padStart(2, '0');
    this.name = offsetMs === 0 ? 'UTC' : `UTC${offsetMs < 0 ? '-' : '+'}${hh}:${mm}`;
  }
  offset(): number {
    return this.offsetMs;
  }
}

class NamedZone implements Zone {
  readonly fixed = false;
  private readonly zone: IANAZone;
  constructor(readonly name: string) {
    this.zone = IANAZone.create(name);
  }
  offset(instant: number): number {
    return this.zone.offset(instant) * MINUTE;
  }
}

/** Zone names that never observe daylight saving time, served without Intl look-ups. */
const UTC_NAMES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'etc/universal', 'universal', 'zulu', 'etc/zulu']);

/** Zones are immutable: one object per name or offset, however many jobs use it. */
const zones = new Map<string | number, Zone>();

/** Whether `name` is an IANA time zone this runtime knows. */
export function isValidTimeZone(name: string): boolean {
  return zones.has(name) || IANAZone.isValidZone(name);
}

/** A zone from an IANA name; the caller validates the name first. */
export function namedZone(name: string): Zone {
  let zone = zones.get(name);
  if (!zone) {
    zone = UTC_NAMES.has(name.toLowerCase()) ? fixedZone(0) : new NamedZone(name);
    zones.set(name, zone);
  }
  return zone;
}

/** A zone with a fixed offset from UTC, in minutes (as `utcOffset` in `cron`). */
export function fixedZone(offsetMinutes: number): Zone {
  let zone = zones.get(offsetMinutes);
  if (!zone) zones.set(offsetMinutes, (zone = new FixedZone(offsetMinutes * MINUTE)));
  return zone;
}

let system: { tz: string | undefined; name: string } | undefined;

/**
 * The IANA name of the process's own time zone. Asking Intl costs a tenth of a millisecond, so the
 * answer is kept until `process.env.TZ` changes.
 */
export function systemTimeZone(): string {
  const tz = process.env.TZ;
  if (!system || system.tz !== tz) system = { tz, name: Intl.DateTimeFormat().resolvedOptions().timeZone };
  return system.name;
}

/** The process's own time zone, which `cron` uses when neither `timeZone` nor `utcOffset` is given. */
export function systemZone(): Zone {
  return namedZone(systemTimeZone());
}
