import { SchedulerEvent } from '../../lib';
import { systemClock } from '../../lib/engine/clock';
import { ClockSkew } from '../../lib/engine/clock-skew';
import { EventHub } from '../../lib/engine/event-hub';
import { VirtualClock } from '../../lib/engine/virtual-clock';

function setup(clock = systemClock) {
  const events = new EventHub((error) => {
    throw error;
  });
  const seen: SchedulerEvent[] = [];
  events.on((event) => seen.push(event));
  return { skew: new ClockSkew(events, clock), seen };
}

describe('ClockSkew', () => {
  it('says once when the clock is off by more than a second, and again only after it came back within', () => {
    const { skew, seen } = setup();
    // Sent at 10 000 and answered at 10 020 (local): the store said 8 000, so this clock is 2 010 ms ahead.
    skew.measured(8_000, 10_000, 10_020);
    skew.measured(8_100, 10_100, 10_120);
    expect(seen).toEqual([{ type: 'clock.skewed', at: new Date(10_020), offsetMs: 2_010 }]);
    skew.measured(20_010, 20_000, 20_020);
    skew.measured(33_000, 30_000, 30_020);
    expect(seen.map((event) => event.type === 'clock.skewed' && event.offsetMs)).toEqual([2_010, -2_990]);
  });

  it('says nothing within the uncertainty of a slow round trip, nor on a virtual clock', () => {
    const slow = setup();
    // 1.5 s off by the middle of a 2 s round trip: the store may have answered at either end.
    slow.skew.measured(8_500, 9_000, 11_000);
    expect(slow.seen).toEqual([]);
    const virtual = setup(new VirtualClock(0));
    virtual.skew.measured(0, 3_600_000, 3_600_010);
    expect(virtual.seen).toEqual([]);
  });
});
