// The engine's schedule: every check's next run in one binary min-heap by due time, so the engine
// arms one timer (for the earliest) instead of one per check. A timer per check per run cost a
// Timeout object and two closures that lived a whole interval: at 12,000 checks/s they all
// outlived the young generation and became old-space garbage (heap growth, major GCs).
//
// Items carry their own heap position (`slot`), so removing or moving one is O(log n) with no
// search and no allocation. Equal due times come out in the order they were scheduled.

export interface Due {
  /** When it is due (the clock's ms). */
  due: number;
  /** Its position in the queue; -1 when not queued (owned by the queue). */
  slot: number;
  /** Tie-break: the order it was scheduled in (owned by the queue). */
  order: number;
}

export class DueQueue<T extends Due> {
  private readonly heap: T[] = [];
  private seq = 0;

  get size(): number { return this.heap.length; }

  /** The earliest, or undefined when empty. */
  peek(): T | undefined { return this.heap[0]; }

  /** Queue `x` at `due`, or move it there if it is already queued. */
  set(x: T, due: number): void {
    x.due = due;
    x.order = this.seq++;
    if (x.slot < 0) {
      x.slot = this.heap.length;
      this.heap.push(x);
    }
    this.down(this.up(x.slot));
  }

  /** Take out `x` if it is queued. */
  delete(x: T): void {
    const i = x.slot;
    if (i < 0) return;
    x.slot = -1;
    const last = this.heap.pop()!;
    if (i === this.heap.length) return;
    this.heap[i] = last;
    last.slot = i;
    this.down(this.up(i));
  }

  /** Take out and return the earliest if it is due at `now`. */
  popDue(now: number): T | undefined {
    const x = this.heap[0];
    if (x === undefined || x.due > now) return undefined;
    this.delete(x);
    return x;
  }

  clear(): void {
    for (const x of this.heap) x.slot = -1;
    this.heap.length = 0;
  }

  private before(a: T, b: T): boolean {
    return a.due < b.due || (a.due === b.due && a.order < b.order);
  }

  private up(i: number): number {
    const h = this.heap;
    const x = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!this.before(x, parent)) break;
      h[i] = parent;
      parent.slot = i;
      i = p;
    }
    h[i] = x;
    x.slot = i;
    return i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const x = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!this.before(child, x)) break;
      h[i] = child;
      child.slot = i;
      i = c;
    }
    h[i] = x;
    x.slot = i;
  }
}
