// Admission control for check runs: past capacity, checks wait their turn instead of all starting
// at once. Without it the engine starts every due check in the turn its timer fires: thousands of
// sockets opened together (open fds went 235 -> 9,213 in one turn at 20,000 checks/s), each
// check's timeout already running while it waits behind the others, and a slower loop for it.
//
// The gate wraps the `run` the engine is given: at most `perTurn` runs start per turn of the loop
// and at most `maxInFlight` are running at once (HAProxy's tune.max-checks-per-thread queues
// checks past a count the same way). The rest wait in FIFO order and start on later turns
// (`defer`). A run is started, and its timeout armed by the checker, only when admitted: waiting
// never counts against a check. A waiting run whose signal aborts (its check stopped) leaves the
// queue and never starts. How long a run waited is handed to the caller (`onWaited`, the engine
// adds it to its lateness figures), and the gate counts what waits (stats()).
//
// Pure: the clock and the turn come from outside (performance.now and setImmediate in the worker).
import type { Clock } from '../core/clock.js';
import type { CheckResult, CheckSpec } from './types.js';

/** Runs one check; `onWaited` is told how long it waited for admission, if it did, as it starts. */
export type AdmittedRun = (spec: CheckSpec, signal: AbortSignal, onWaited?: (waitedMs: number) => void) => Promise<CheckResult>;

export interface AdmissionLimits {
  /** Runs started per turn of the loop, at most. */
  perTurn: number;
  /** Runs in flight (started, not finished), at most. */
  maxInFlight: number;
}

/**
 * Starts per turn by default. A turn that starts this many (and reads about as many results)
 * stays well under the heartbeat; fewer cost throughput on a starved CPU: at 64, 2,400 checks/s
 * on this loaded 2-core machine queued 2,928 runs (lateness p99 87 -> 361 ms), at 256 none.
 */
export const DEFAULT_PER_TURN = 256;
/** File descriptors kept for everything but checks (VRRP sockets, netlink, control, logs, the daemon's files). */
export const FD_RESERVE = 512;

/**
 * In-flight bound from the soft RLIMIT_NOFILE: a check holds at most one fd (a socket, or an exec's
 * pipe), and the process keeps a reserve (at least FD_RESERVE, or a fifth of the limit) for the rest.
 */
export function inFlightFromFdLimit(softLimit: number): number {
  if (!Number.isInteger(softLimit) || softLimit <= 0) throw new Error(`open-file limit ${softLimit}: expected a positive integer`);
  return Math.max(1, softLimit - Math.max(FD_RESERVE, Math.floor(softLimit / 5)));
}

/** What the gate holds and has held (the worker's heartbeat reports it). */
export interface AdmissionStats {
  /** Runs waiting to start now. */
  queued: number;
  /** Runs that had to wait, since the gate was made. */
  queuedTotal: number;
  /** Runs started and not finished. */
  inFlight: number;
  maxInFlight: number;
}

interface Waiting {
  spec: CheckSpec;
  signal: AbortSignal;
  onWaited: ((waitedMs: number) => void) | undefined;
  since: number;
  resolve: (r: CheckResult) => void;
  /** Set once it left the queue (started or aborted). */
  gone: boolean;
  onAbort: () => void;
}

export interface AdmissionOptions extends AdmissionLimits {
  clock: Pick<Clock, 'now'>;
  /** Runs fn on a later turn of the loop (setImmediate). */
  defer: (fn: () => void) => void;
  run: (spec: CheckSpec, signal: AbortSignal) => Promise<CheckResult>;
}

export class AdmissionGate {
  private readonly queue: Waiting[] = [];
  /** The queue's first live entry is at or after this index. */
  private head = 0;
  private queued = 0;
  private queuedTotal = 0;
  private inFlight = 0;
  /** Started since the turn began. */
  private started = 0;
  private turnScheduled = false;
  private readonly perTurn: number;
  private readonly maxInFlight: number;

  constructor(private readonly o: AdmissionOptions) {
    if (!(o.perTurn >= 1) || !(o.maxInFlight >= 1)) throw new Error(`admission limits must be at least 1 (per turn ${o.perTurn}, in flight ${o.maxInFlight})`);
    this.perTurn = Math.floor(o.perTurn);
    this.maxInFlight = o.maxInFlight;
  }

  /** The engine's `run`: starts now if admitted, else queues. */
  readonly run: AdmittedRun = (spec, signal, onWaited) => {
    if (this.queued === 0 && this.admits()) return this.start(spec, signal);
    if (signal.aborted) return Promise.resolve(aborted());
    return new Promise<CheckResult>((resolve) => {
      const w: Waiting = {
        spec, signal, onWaited, since: this.o.clock.now(), resolve, gone: false,
        onAbort: () => this.drop(w),
      };
      signal.addEventListener('abort', w.onAbort, { once: true });
      this.queue.push(w);
      this.queued++;
      this.queuedTotal++;
      // Nothing in flight to finish and make room: the next turn starts it.
      this.scheduleTurn();
    });
  };

  stats(): AdmissionStats {
    return { queued: this.queued, queuedTotal: this.queuedTotal, inFlight: this.inFlight, maxInFlight: this.maxInFlight };
  }

  private admits(): boolean {
    return this.started < this.perTurn && this.inFlight < this.maxInFlight;
  }

  private start(spec: CheckSpec, signal: AbortSignal): Promise<CheckResult> {
    this.started++;
    this.inFlight++;
    this.scheduleTurn();
    return this.o.run(spec, signal).then(this.finished, this.failed);
  }

  private readonly finished = (r: CheckResult): CheckResult => {
    this.inFlight--;
    if (this.queued > 0) this.scheduleTurn();
    return r;
  };

  private readonly failed = (e: unknown): never => {
    this.inFlight--;
    if (this.queued > 0) this.scheduleTurn();
    throw e;
  };

  /** A new turn: the per-turn count starts again, and waiting runs start while admitted. */
  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    this.o.defer(this.turn);
  }

  private readonly turn = (): void => {
    this.turnScheduled = false;
    this.started = 0;
    while (this.queued > 0 && this.admits()) {
      const w = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Waiting;
      if (w.gone) continue;
      w.gone = true;
      this.queued--;
      w.signal.removeEventListener('abort', w.onAbort);
      w.onWaited?.(this.o.clock.now() - w.since);
      this.start(w.spec, w.signal).then(w.resolve, (e: unknown) => w.resolve({ ok: false, latencyMs: 0, reason: `error: ${e instanceof Error ? e.message : String(e)}` }));
    }
    this.compact();
    // Still waiting with room in flight: the per-turn bound held them; the next turn goes on
    // (start() scheduled it). Waiting on the in-flight bound: a finishing run schedules it.
  };

  private drop(w: Waiting): void {
    if (w.gone) return;
    w.gone = true;
    this.queued--;
    w.resolve(aborted());
    this.compact();
  }

  /** Drops the consumed front of the queue (and entries of aborted runs) once it is most of it. */
  private compact(): void {
    if (this.queued === 0) {
      this.queue.length = 0;
      this.head = 0;
      return;
    }
    while (this.head < this.queue.length && this.queue[this.head]!.gone) this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

const aborted = (): CheckResult => ({ ok: false, latencyMs: 0, reason: 'aborted' });
