import { Clock } from './clock';
import { EventHub } from './event-hub';

/** How far this instance's clock may be from the store's before it is said (`clock.skewed`). */
export const SKEW_WARNING_MS = 1_000;

/**
 * This instance's clock against the shared store's, measured at each check-in: the store's time
 * against the middle of the round trip. Over {@link SKEW_WARNING_MS} either way, one
 * `clock.skewed` event, and another only after it came back within. Leases and claims use the
 * store's clock, so skew never runs a tick twice; but cron ticks follow the local clock, so a
 * skewed instance claims them early or late. Not measured on a virtual clock (tests), which is
 * meant to differ.
 */
export class ClockSkew {
  private warned = false;

  constructor(
    private readonly events: EventHub,
    private readonly clock: Clock,
  ) {}

  /** The store said `storeNow` in answer to a call sent at `sentAt` and answered at `receivedAt`. */
  measured(storeNow: number, sentAt: number, receivedAt: number): void {
    if (this.clock.virtual || !Number.isFinite(storeNow)) return;
    const offsetMs = Math.round((sentAt + receivedAt) / 2 - storeNow);
    // Within the round trip's own uncertainty, nothing can be said.
    const skewed = Math.abs(offsetMs) > SKEW_WARNING_MS + (receivedAt - sentAt) / 2;
    if (skewed && !this.warned) this.events.emit('clock.skewed', () => ({ at: new Date(receivedAt), offsetMs }));
    this.warned = skewed;
  }
}
