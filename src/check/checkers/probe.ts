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

export abstract class Probe {
  private readonly t0 = performance.now();
  private done = false;
  private resolve: ((r: CheckResult) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private signal: AbortSignal | undefined;

  /** Arms the timeout and the abort, then starts the I/O. Never rejects. */
  run(signal: AbortSignal, timeoutMs: number): Promise<CheckResult> {
    const promise = new Promise<CheckResult>((resolve) => { this.resolve = resolve; });
    if (signal.aborted) {
      this.finish(false, 'aborted');
      return promise;
    }
    this.signal = signal;
    watch(signal, this);
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
    this.resolve!(r);
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

function onTimer(probe: Probe): void { probe.onTimeout(); }

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
