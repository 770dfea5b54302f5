// What the daemon's parts share: the running config, the clock, the logger, the platform, and
// one event stream (`duet events`, metrics).
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Config } from '../config/schema.js';
import type { DuetEvent } from '../control/views.js';
import type { Platform } from './platform.js';
import type { HookQueues } from './hooks.js';

export interface DaemonContext {
  /** The config being applied or running (a reload switches it before the parts apply it). */
  readonly cfg: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly p: Platform;
  /** Notify and quorum hooks, in order per queue. */
  readonly hooks: HookQueues;
  emit(e: DuetEvent): void;
}

/** Subscribers to one kind of event; a throwing subscriber is logged and the others still run. */
export class Fanout<E> {
  private readonly fns = new Set<(e: E) => void>();
  constructor(private readonly log: Logger, private readonly what: string) {}
  on(fn: (e: E) => void): () => void { this.fns.add(fn); return () => this.fns.delete(fn); }
  emit(e: E): void {
    for (const fn of this.fns) {
      try { fn(e); } catch (err) { this.log.warn({ err: String(err) }, `${this.what} subscriber failed`); }
    }
  }
}
