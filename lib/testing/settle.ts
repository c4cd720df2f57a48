import * as timers from 'node:timers';

// Node's own, taken when this module loads: Jest's fake timers replace the global one only, and
// fake timers that replace `node:timers` too are installed after the library is loaded.
const nextTurnOf = timers.setImmediate;

/** Turns of the event loop in a row without activity that end a settle. */
const QUIET_TURNS = 3;
/** The most turns a settle takes, however busy. */
const MAX_TURNS = 10_000;

/**
 * Lets what is pending settle: waits turns of the event loop (Node's own `setImmediate`, as it was
 * before any fake timers), so that promise callbacks and code awaiting other promises run, until {@link QUIET_TURNS} turns in a row pass with `activity()` unchanged
 * (or {@link MAX_TURNS} in all). Real timers and I/O are not waited for.
 *
 * @param activity a counter that grows while things happen (timers set or cleared)
 */
export async function settle(activity: () => number): Promise<void> {
  let quiet = 0;
  for (let turn = 0; quiet < QUIET_TURNS && turn < MAX_TURNS; turn++) {
    const before = activity();
    await new Promise<void>((resolve) => nextTurnOf(resolve));
    quiet = activity() === before ? quiet + 1 : 0;
  }
}
