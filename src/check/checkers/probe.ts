// Shared plumbing for one run of one check. A run ends exactly once, whichever comes first: its
// I/O, the timeout or the caller's abort; ending clears the timer, drops the abort listener and
// releases the I/O, so a finished check leaves nothing behind.
//
// Hot path (thousands of checks per second): event listeners are module-level functions, not
// closures. A listener finds its run through a symbol property on the emitter it is called on
// (`this` is the emitter) and the timer gets the run as its argument. The one closure left per
// run is the Promise executor (Node 20 has no Promise.withResolvers).
//
// Abort: a signal is typically shared by many concurrent checks (stop, reload), so a signal gets
// one 'abort' listener, which aborts the set of runs watching it, rather than one listener per
// run (thousands of listeners on one AbortSignal: slow removal and MaxListenersExceededWarning).
import type { Socket as UdpSocket } from 'node:dgram';
import type { AgentAnswer, CheckResult } from '../types.js';

const PROBE = Symbol('duet.check.probe');
/** setTimeout wraps anything above this to 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Attach a run to an emitter so module-level listeners can find it. */
export function tag(emitter: object, probe: Probe): void {
  (emitter as { [PROBE]?: Probe })[PROBE] = probe;
}

/** The run a tagged emitter belongs to. */
export function probeOf<P extends Probe>(emitter: object): P {
  return (emitter as { [PROBE]?: Probe })[PROBE] as P;
}

/**
 * Connect a UDP socket, the callback run with the socket as `this` also on failure: node calls a
 * failed connect's callback with no `this` (the error case, e.g. ENETUNREACH or EACCES), where a
 * `this`-based handler would throw in the check worker instead of failing the check.
 */
export function connectUdp(s: UdpSocket, port: number, address: string, fn: (this: UdpSocket, err?: Error) => void): void {
  s.connect(port, address, (err?: Error) => fn.call(s, err));
}

/**
 * This thread's event-loop stall so far, ms: how much later than asked a 10 ms ticker ran, summed
 * (plus the stall of the current turn, not yet seen by the ticker). A check's timeout counts only
 * the time this thread was there to see the answer: time lost to our own loop (thousands of
 * checks past capacity, a long task) is given back to the check (see timeoutVerdict()).
 */
export function loopStallMs(): number {
  const now = performance.now();
  if (ticker === undefined) {
    lastTick = now;
    ticker = setInterval(onTick, TICK_MS);
    ticker.unref();
  }
  const d = now - lastTick - TICK_MS;
  return stalledMs + (d > 0 ? d : 0);
}

const TICK_MS = 10;
let ticker: NodeJS.Timeout | undefined;
let lastTick = 0;
let stalledMs = 0;
function onTick(): void {
  const now = performance.now();
  const d = now - lastTick - TICK_MS;
  if (d > 0) stalledMs += d;
  lastTick = now;
}

/** How often a timeout is pushed back for time our own loop took from it, at most. */
export const MAX_TIMEOUT_EXTENSIONS = 3;

export type TimeoutVerdict =
  | { kind: 'timeout' }
  | { kind: 'extend'; ms: number }
  /** Still short of its time after the extensions: no verdict (the engine does not count it). */
  | { kind: 'inconclusive' };

/**
 * A run's timer expired (and the answers already waiting were read first): elapsedMs since it
 * started, of which stallMs this thread's loop was stalled. The server had our attention for
 * elapsed - stall; short of timeoutMs by more than a slack (2 ms or 2%), the run gets the rest,
 * up to MAX_TIMEOUT_EXTENSIONS times; still short after that, the run has no verdict.
 */
export function timeoutVerdict(o: { elapsedMs: number; stallMs: number; timeoutMs: number; extensions: number }): TimeoutVerdict {
  const owed = o.timeoutMs - (o.elapsedMs - o.stallMs);
  if (owed <= Math.max(2, o.timeoutMs * 0.02)) return { kind: 'timeout' };
  if (o.extensions < MAX_TIMEOUT_EXTENSIONS) return { kind: 'extend', ms: owed };
  return { kind: 'inconclusive' };
}

export abstract class Probe {
  private readonly t0 = performance.now();
  private readonly stall0 = loopStallMs();
  private done = false;
  private resolve: ((r: CheckResult) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private signal: AbortSignal | undefined;
  private timeoutMs = 0;
  private extensions = 0;
  /** Set when the timeout had no verdict: how long this thread's loop stalled during the run. */
  private selfLateMs: number | undefined;

  /** Arms the timeout and the abort, then starts the I/O. Never rejects. */
  run(signal: AbortSignal, timeoutMs: number): Promise<CheckResult> {
    const promise = new Promise<CheckResult>((resolve) => { this.resolve = resolve; });
    if (signal.aborted) {
      this.finish(false, 'aborted');
      return promise;
    }
    this.signal = signal;
    watch(signal, this);
    this.timeoutMs = timeoutMs;
    this.timer = setTimeout(onTimer, clampTimeout(timeoutMs), this);
    try {
      this.begin();
    } catch (e) {
      // Synchronous throws (bad options) become a result: a checker never throws.
      this.finish(false, this.describeThrow(e));
    }
    return promise;
  }

  get finished(): boolean { return this.done; }

  /** The verdict; later calls are ignored (the first cause wins). */
  finish(ok: boolean, reason: string, weight?: number, agent?: AgentAnswer, weightOffset?: number): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    this.release();
    const latencyMs = performance.now() - this.t0;
    const r: { -readonly [K in keyof CheckResult]: CheckResult[K] } = { ok, latencyMs, reason };
    if (weight !== undefined) r.weight = weight;
    if (agent !== undefined) r.agent = agent;
    if (weightOffset !== undefined) r.weightOffset = weightOffset;
    if (!ok && this.selfLateMs !== undefined) r.selfLateMs = this.selfLateMs;
    this.resolve!(r);
  }

  /** The timer ran out: answers already waiting are read first (the poll phase comes after timers). */
  expired(): void {
    this.timer = undefined;
    if (!this.done) setImmediate(onExpiredAfterIo, this);
  }

  /** After that: a timeout, unless our own loop took the time (timeoutVerdict). */
  decide(): void {
    if (this.done || this.timer !== undefined) return;
    const stallMs = loopStallMs() - this.stall0;
    const v = timeoutVerdict({ elapsedMs: performance.now() - this.t0, stallMs, timeoutMs: this.timeoutMs, extensions: this.extensions });
    if (v.kind === 'extend') {
      this.extensions++;
      this.timer = setTimeout(onTimer, clampTimeout(v.ms), this);
      return;
    }
    if (v.kind === 'inconclusive') this.selfLateMs = stallMs;
    this.onTimeout();
  }

  /** The caller's signal fired. */
  aborted(): void { this.onAbort(); }

  /** The run's deadline passed. */
  onTimeout(): void { this.finish(false, 'timeout'); }

  protected onAbort(): void { this.finish(false, 'aborted'); }

  /** Stop the deadline and the abort listener without ending (exec waits for its child). */
  protected disarm(): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    if (this.signal !== undefined) { watchers.get(this.signal)?.delete(this); this.signal = undefined; }
  }

  protected describeThrow(e: unknown): string { return errnoReason(e); }

  /** Start the I/O (called once, after the timer and abort are armed). */
  protected abstract begin(): void;

  /** Destroy sockets / kill children; called once, on finish. */
  protected abstract release(): void;
}

function onTimer(probe: Probe): void { probe.expired(); }

function onExpiredAfterIo(probe: Probe): void { probe.decide(); }

/** The runs each signal would abort; weak, so a dropped signal takes its set with it. */
const watchers = new WeakMap<AbortSignal, Set<Probe>>();

function watch(signal: AbortSignal, probe: Probe): void {
  let set = watchers.get(signal);
  if (set === undefined) {
    const runs = new Set<Probe>();
    set = runs;
    watchers.set(signal, runs);
    // One closure per signal, not per run. A run leaves the set as it ends (deleting the
    // current entry while iterating a Set is safe).
    signal.addEventListener('abort', () => { for (const p of runs) p.aborted(); }, { once: true });
  }
  set.add(probe);
}

function clampTimeout(ms: number): number {
  if (!(ms > 1)) return 1;
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms;
}

/** Socket errors as short, stable reasons: refused, reset, timeout, else the errno lower-cased. */
export function errnoReason(err: unknown): string {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'refused';
    case 'ECONNRESET':
    case 'EPIPE': return 'reset';
    case 'ETIMEDOUT': return 'timeout';
  }
  return typeof code === 'string' ? code.toLowerCase() : 'error';
}

/** An errno code (ECONNRESET, EHOSTUNREACH), as opposed to ERR_*, HPE_* or X509 codes. */
export function isErrnoCode(code: unknown): boolean {
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}
