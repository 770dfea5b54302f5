// Deterministic clock for unit tests (the Clock interface of src/core/clock.ts).
import type { Clock } from '../../src/core/clock.js';

/** Deterministic clock for tests: time moves only through advance(). */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { ms: number; fn: () => void; precise: boolean }>();
  constructor(start = 0) { this.t = start; }
  now(): number { return this.t; }
  at(ms: number, fn: () => void, o?: { precise?: boolean }): () => void {
    const id = this.seq++;
    this.timers.set(id, { ms, fn, precise: o?.precise === true });
    return () => { this.timers.delete(id); };
  }
  /** The timers armed and not yet run or cancelled, in arming order. */
  pending(): { ms: number; precise: boolean }[] { return [...this.timers.values()].map(({ ms, precise }) => ({ ms, precise })); }
  /** Advance time, firing due timers in deadline order (ties in arming order). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { ms: number; fn: () => void; precise: boolean }] | undefined;
      for (const e of this.timers) if (e[1].ms <= end && (!next || e[1].ms < next[1].ms)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].ms);
      next[1].fn();
    }
    this.t = end;
  }
}
