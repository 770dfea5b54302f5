// Monotonic milliseconds. Cores take `now` as an argument; the daemon owns the one real clock.
export interface Clock {
  now(): number;
  /**
   * Run fn when now() >= ms. Returns a cancel function. precise: fn runs within a fraction of a
   * millisecond of ms (the real clock spins the last SPIN_MS through the event loop for it), for
   * a deadline that is rare and must be kept to the µs (a backup's Master_Down_Timer).
   */
  at(ms: number, fn: () => void, o?: { precise?: boolean }): () => void;
}

/** The timer functions a clock is built on (setTimeout / clearTimeout / setImmediate in the daemon). */
export interface TimerFns<H> {
  set(fn: () => void, delayMs: number): H;
  clear(h: H): void;
  /** Run fn in the loop's next turn, after its I/O (setImmediate); returns a cancel. Without it nothing spins. */
  soon?(fn: () => void): () => void;
}

/**
 * How long before a precise deadline the clock stops trusting timers: Node's fire up to 1-2 ms
 * late (whole milliseconds on the loop's cached clock, and epoll's millisecond timeout).
 */
export const SPIN_MS = 2;

/**
 * A clock on timer functions that may wake it early: Node's timers count whole milliseconds
 * from the event loop's cached time, so a fractional deadline (Skew_Time is computed to the µs)
 * can be reached up to a millisecond before it is due. A wake-up before the deadline re-arms for
 * the rest instead of running fn early; Node's timers wait at least 1 ms, so this never spins.
 * They may also wake a millisecond or two late: a precise deadline's timer is set SPIN_MS short,
 * and the rest is spun in loop turns (setImmediate: adverts and other I/O are still read between
 * them, and one that moves the deadline cancels the spin).
 */
export function timerClock<H>(now: () => number, t: TimerFns<H>): Clock {
  return {
    now,
    at(ms, fn, o) {
      const spin = o?.precise === true ? t.soon : undefined;
      let cancel: () => void;
      const wake = (): void => { if (now() < ms) arm(); else fn(); };
      const arm = (): void => {
        const left = ms - now();
        if (spin && left <= SPIN_MS) { cancel = spin(wake); return; }
        const h = t.set(wake, Math.max(0, spin ? left - SPIN_MS : left));
        cancel = () => t.clear(h);
      };
      arm();
      return () => cancel();
    },
  };
}

export const realClock: Clock = timerClock(() => performance.now(), {
  set: (fn, delayMs) => setTimeout(fn, delayMs),
  clear: (h) => clearTimeout(h),
  soon: (fn) => { const i = setImmediate(fn); return () => clearImmediate(i); },
});
