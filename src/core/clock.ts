// Monotonic milliseconds. Cores take `now` as an argument; the daemon owns the one real clock.
export interface Clock {
  now(): number;
  /** Run fn when now() >= ms. Returns a cancel function. */
  at(ms: number, fn: () => void): () => void;
}

/** The timer functions a clock is built on (setTimeout / clearTimeout in the daemon). */
export interface TimerFns<H> {
  set(fn: () => void, delayMs: number): H;
  clear(h: H): void;
}

/**
 * A clock on timer functions that may wake it early: Node's timers count whole milliseconds
 * from the event loop's cached time, so a fractional deadline (Skew_Time is computed to the µs)
 * can be reached up to a millisecond before it is due. A wake-up before the deadline re-arms for
 * the rest instead of running fn early; Node's timers wait at least 1 ms, so this never spins.
 */
export function timerClock<H>(now: () => number, t: TimerFns<H>): Clock {
  return {
    now,
    at(ms, fn) {
      let h: H;
      const arm = (): void => { h = t.set(() => { if (now() < ms) arm(); else fn(); }, Math.max(0, ms - now())); };
      arm();
      return () => t.clear(h);
    },
  };
}

export const realClock: Clock = timerClock(() => performance.now(), {
  set: (fn, delayMs) => setTimeout(fn, delayMs),
  clear: (h) => clearTimeout(h),
});
