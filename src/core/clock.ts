// Monotonic milliseconds. Cores take `now` as an argument; the daemon owns the one real clock.
export interface Clock {
  now(): number;
  /** Run fn when now() >= ms. Returns a cancel function. */
  at(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  at(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms - performance.now()));
    return () => clearTimeout(t);
  },
};
