// A check's first result (from 'unknown') is not news: at start every check has one, and one log
// line each (3,000 checks: 85-140 ms of the main thread, against a 30 ms master-down interval at
// 10 ms adverts) would be a burst on the thread that sends adverts. First results are counted
// instead and logged as one summary line once they stop coming (QUIET_MS without one, or at
// the latest MAX_MS after the first): how many up and down, and the down ones by name (up to
// MAX_NAMED). Transitions after the first result are logged one by one, as before.
import type { Clock } from '../core/clock.js';

export const QUIET_MS = 1000;
export const MAX_MS = 30_000;
export const MAX_NAMED = 20;

export interface FirstResultsSummary {
  up: number;
  down: number;
  /** "service server check: reason", the first MAX_NAMED down ones. */
  downNamed: string[];
  /** Down ones beyond MAX_NAMED. */
  downMore: number;
  /** From the first result of the batch to the last, ms. */
  spanMs: number;
}

export class FirstResults {
  private batch: (FirstResultsSummary & { firstAt: number; lastAt: number }) | undefined;
  private cancel: (() => void) | undefined;

  constructor(private readonly clock: Clock, private readonly flush: (s: FirstResultsSummary) => void) {}

  /** A check's first result: counted, logged later with the others. */
  add(up: boolean, name: () => string): void {
    const now = this.clock.now();
    const b = (this.batch ??= { up: 0, down: 0, downNamed: [], downMore: 0, spanMs: 0, firstAt: now, lastAt: now });
    b.lastAt = now;
    if (up) b.up++;
    else if (b.downNamed.length < MAX_NAMED) b.downNamed.push(name());
    else b.downMore++;
    if (!up) b.down++;
    // One timer per batch: re-armed at most when it fires (not per result).
    this.cancel ??= this.clock.at(now + QUIET_MS, () => this.tick());
  }

  private tick(): void {
    this.cancel = undefined;
    const b = this.batch;
    if (!b) return;
    const now = this.clock.now();
    const quietAt = b.lastAt + QUIET_MS;
    if (now < quietAt && now < b.firstAt + MAX_MS) {
      this.cancel = this.clock.at(Math.min(quietAt, b.firstAt + MAX_MS), () => this.tick());
      return;
    }
    this.done();
  }

  /** Log what is pending now (on stop, say). */
  done(): void {
    this.cancel?.();
    this.cancel = undefined;
    const b = this.batch;
    this.batch = undefined;
    if (!b) return;
    this.flush({ up: b.up, down: b.down, downNamed: b.downNamed, downMore: b.downMore, spanMs: b.lastAt - b.firstAt });
  }
}
