/**
 * The calls of Jest's fake timers that the README's testing example makes, on
 * `@sinonjs/fake-timers` (what Jest's fake timers are made of), so that the example runs as it is
 * written, outside Jest. The fake clock starts at {@link FAKE_NOW}.
 */

interface InstalledClock {
  tickAsync(ms: number): Promise<number>;
  uninstall(): void;
}

interface FakeTimers {
  install(config: { now: number; toFake: string[] }): InstalledClock;
}

// The package ships no types; this is the part used here.
const FakeTimers = require('@sinonjs/fake-timers') as FakeTimers;

/** Where the fake clock starts: half a minute before 1 AM in London. */
export const FAKE_NOW = Date.parse('2026-03-08T00:59:30Z');

let installed: InstalledClock | undefined;

/** Stands for Jest's `jest` object in the README's testing example. */
export const jest = {
  /** Replaces `Date` and the global timers, as Jest's modern fake timers do. */
  useFakeTimers(): void {
    installed?.uninstall();
    const toFake = ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'];
    installed = FakeTimers.install({ now: FAKE_NOW, toFake });
  },
  /** Moves the fake clock, letting promises settle between timers. */
  async advanceTimersByTimeAsync(ms: number): Promise<void> {
    if (!installed) throw new Error('jest.useFakeTimers() was not called');
    await installed.tickAsync(ms);
  },
  /** Puts the real timers back. */
  useRealTimers(): void {
    installed?.uninstall();
    installed = undefined;
  },
};
