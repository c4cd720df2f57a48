import { Trigger } from './trigger';

/** Fires once, `delayMs` after the anchor (the job's start): what `@Timeout` uses. */
export class DelayTrigger implements Trigger {
  readonly kind = 'delay' as const;
  readonly at = null;
  readonly periodMs = null;
  constructor(readonly delayMs: number) {}

  next(after: number, anchor: number): number | null {
    const at = anchor + this.delayMs;
    return at > after ? at : null;
  }

  toString(): string {
    return `once, ${this.delayMs} ms after start`;
  }
}
