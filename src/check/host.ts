// Where the check engine runs, seen from the daemon: in a worker thread in production (sockets,
// TLS handshakes, HTTP parsing and timers of thousands of checks stay off the thread that sends
// VRRP adverts), or in-process with an injected clock and checker in tests. Either way the
// daemon reads verdicts synchronously from a mirror kept current by the engine's events.
import { Worker } from 'node:worker_threads';
import type { Clock } from '../core/clock.js';
import { CheckEngine, appendPage, checkKey, type EngineSeed, type Lateness, type CheckEvent, type LatencyHistogram, type RunCheck, type ServiceStatus, type ServiceStatusPage as StatusPage, type ServiceVerdicts } from './engine.js';
import type { Health } from './health.js';
import type { CheckedService } from './types.js';
import type { RtOutcome, ThreadRealtime } from '../core/realtime.js';
import type { AdmissionLimits, AdmissionStats } from './admission.js';
import { checkFamiliesText } from './prom-text.js';

export interface CheckTiming {
  runs: number;
  lateP99Ms: number;
  lateMaxMs: number;
}

export interface CheckHost {
  /** Start, keep or stop checks; resolves once the engine applied it and the mirror is current. */
  configure(list: readonly CheckedService[]): Promise<void>;
  /** The mirror: per service key, quorum and per-destination verdicts. */
  verdicts(): ReadonlyMap<string, ServiceVerdicts>;
  status(): Promise<ServiceStatus[]>;
  timing(): Promise<CheckTiming>;
  latency(): Promise<LatencyHistogram[]>;
  /** The per-server check families of a scrape (prom-text.ts), written on the engine's thread. */
  metricsText(): Promise<string>;
  /** Whether the engine answers, and how often it was restarted for not answering or exiting. */
  liveness(): CheckLiveness;
  close(): Promise<void>;
}

export interface CheckLiveness {
  /** The last heartbeat was answered in time (always true in-process). */
  answering: boolean;
  restarts: number;
  /** Why the last restart happened. */
  lastRestart: string | undefined;
  /** How late checks run, as of the last heartbeat (totals of the current worker), and what waits for admission (worker only). */
  late?: Lateness & Partial<AdmissionStats>;
}

/** The worker is asked this often whether it is alive... */
export const HEARTBEAT_MS = 1000;
/** ...and restarted when an answer (or any request's) takes longer than this. */
export const HEARTBEAT_TIMEOUT_MS = 3000;
/**
 * Real servers per status page. The whole status at 10,000 servers is a ~3 MB structured clone
 * that the daemon's main thread would deserialize in one go (hundreds of ms, VRRP timers waiting);
 * in pages it is read a slice per turn of the loop.
 */
export const STATUS_PAGE = 1000;
/**
 * A new worker that has not answered anything yet is loading its modules: on a starved CPU (an
 * emulated VM running several daemons) that alone can take longer than the heartbeat timeout, and
 * restarting it then starts the same load again, in a loop. It gets this long before a missed
 * heartbeat counts; once it has answered once, the heartbeat timeout applies.
 */
export const STARTUP_GRACE_MS = 30_000;
/**
 * Events handed to the daemon per turn of the loop. 1,000 checks going down together arrive in
 * one message; the daemon logs each, emits it and schedules a reconcile: ~80 ms of the main
 * thread in one turn, twice a Master_Down_Interval at 10 ms adverts (bench:moonshot). The verdict
 * mirror takes every event at once (what the reconciler reads is never behind); only the
 * daemon's handling is spread out, in order.
 */
export const EVENTS_PER_TURN = 100;
/** Requests other than configure get this long (status, scrapes and reloads never wait forever). */
export const REQUEST_TIMEOUT_MS = 5000;
export const CONFIGURE_TIMEOUT_MS = 30_000;

/** Keeps the verdict mirror in step with engine events. */
class Mirror {
  map = new Map<string, ServiceVerdicts>();
  apply(e: CheckEvent): void {
    if (e.kind === 'weight') this.map.get(e.service)?.dests.set(e.server, e.to);
    else if (e.kind === 'quorum') {
      const s = this.map.get(e.service);
      if (s) s.quorumUp = e.up;
    }
  }
}

export function inProcessChecks(o: { clock: Clock; run: RunCheck; onEvent: (e: CheckEvent) => void; random?: () => number }): CheckHost {
  const engine = new CheckEngine({ clock: o.clock, run: o.run, onEvent: o.onEvent, ...(o.random ? { random: o.random } : {}) });
  return {
    configure: (list) => { engine.configure(list); return Promise.resolve(); },
    verdicts: () => engine.verdicts(),
    status: () => Promise.resolve(engine.status()),
    timing: () => Promise.resolve(engine.timing()),
    latency: () => Promise.resolve(engine.latency()),
    metricsText: () => checkFamiliesText(engine.status()),
    liveness: () => ({ answering: true, restarts: 0, lastRestart: undefined, late: engine.pulse() }),
    close: () => { engine.stop(); return Promise.resolve(); },
  };
}

/** Messages between the daemon and the check worker (worker.ts). */
export type ToWorker =
  | { type: 'configure'; id: number; list: readonly CheckedService[]; seed?: EngineSeed }
  | { type: 'ping'; id: number }
  /** A page of the status: from 0 takes a new one; later pages name it (snap). */
  | { type: 'status'; id: number; from: number; max: number; snap?: number }
  | { type: 'timing'; id: number }
  | { type: 'latency'; id: number }
  | { type: 'metrics-text'; id: number }
  | { type: 'stop'; id: number };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export type FromWorker =
  | { type: 'events'; events: CheckEvent[] }
  | { type: 'reply'; id: number; value: unknown }
  | { type: 'realtime'; outcome: RtOutcome };

/**
 * The engine in a worker thread, watched: every request has a deadline (an unanswered one
 * resolves as "no answer"), a heartbeat goes out every HEARTBEAT_MS, and a worker that leaves one
 * unanswered for HEARTBEAT_TIMEOUT_MS (a wedged loop) is terminated and started again, as is one
 * that exits. The new engine gets the last config and each check's last health, so a restart
 * changes no weight by itself.
 */
export function workerChecks(o: {
  onEvent: (e: CheckEvent) => void;
  onError: (err: Error) => void;
  workerUrl?: URL;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** How long a new worker may take to answer for the first time (STARTUP_GRACE_MS). */
  startupGraceMs?: number;
  /** The worker thread's real-time policy (it sets it itself, at start and after a restart). */
  realtime?: ThreadRealtime;
  /** Admission bounds (check/admission.ts); by default DEFAULT_PER_TURN and from the open-file limit. */
  admission?: Partial<AdmissionLimits>;
  /** How that went: the first outcome, then only a change (a restarted worker that fares differently). */
  onRealtime?: (r: RtOutcome) => void;
  /** Checks started running late (a heartbeat window with late runs), or are back on schedule. */
  onLate?: (late: boolean, l: Lateness & Partial<AdmissionStats>) => void;
}): CheckHost {
  const mirror = new Mirror();
  const health = new Map<string, Health>();
  const waiting = new Map<number, (v: unknown) => void>();
  let seq = 0;
  let last: readonly CheckedService[] = [];
  let closing = false;
  const live: CheckLiveness = { answering: true, restarts: 0, lastRestart: undefined };
  const hbMs = o.heartbeatMs ?? HEARTBEAT_MS;
  const hbTimeoutMs = o.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  /** undefined between a restart and the new worker's start. */
  let lastRt: boolean | undefined;
  let statusAsked: Promise<ServiceStatus[]> | undefined;
  const graceMs = o.startupGraceMs ?? STARTUP_GRACE_MS;
  /** The current worker's start, and whether it has answered anything since. */
  let spawnedAt = 0;
  let answeredOnce = false;
  let worker: Worker | undefined = spawn();
  /** Events not yet handed to onEvent (from head on), and whether a turn to hand them is due. */
  let pending: CheckEvent[] = [];
  let head = 0;
  let handing = false;

  function hand(): void {
    handing = false;
    if (closing) { pending = []; head = 0; return; }
    const end = Math.min(pending.length, head + EVENTS_PER_TURN);
    while (head < end) o.onEvent(pending[head++]!);
    if (head < pending.length) { handing = true; setImmediate(hand); return; }
    pending = [];
    head = 0;
  }

  function spawn(): Worker {
    const data = { ...(o.realtime ? { realtime: o.realtime } : {}), ...(o.admission ? { admission: o.admission } : {}) };
    const w = new Worker(o.workerUrl ?? new URL('./worker.js', import.meta.url), Object.keys(data).length > 0 ? { workerData: data } : {});
    spawnedAt = performance.now();
    answeredOnce = false;
    w.on('message', (m: FromWorker) => {
      if (w === worker) answeredOnce = true;
      if (m.type === 'realtime') {
        if (lastRt !== m.outcome.ok) o.onRealtime?.(m.outcome);
        lastRt = m.outcome.ok;
        return;
      }
      if (m.type === 'events') {
        for (const e of m.events) {
          mirror.apply(e);
          if (e.kind === 'check') health.set(checkKey(e.service, e.server, e.check), e.to);
          pending.push(e);
        }
        if (!handing) hand();
      } else waiting.get(m.id)?.(m.value);
      if (m.type === 'reply') waiting.delete(m.id);
    });
    w.on('error', (err) => o.onError(err));
    w.on('exit', (code) => {
      if (closing || w !== worker) return;
      restart(`check worker exited with code ${code}`);
    });
    return w;
  }

  /** Replace the worker: the old one is terminated (a wedged thread too), a new one configured. */
  let lastRestartAt = -Infinity;
  function restart(why: string): void {
    const old = worker;
    worker = undefined;
    live.restarts++;
    live.lastRestart = why;
    o.onError(new Error(`${why}; restarting it with the last config and health`));
    for (const r of waiting.values()) r(undefined);
    waiting.clear();
    void old?.terminate().catch(() => undefined);
    // A worker that dies again at once is not restarted in a tight loop.
    const now = performance.now();
    const delay = now - lastRestartAt < 5000 ? 1000 : 0;
    lastRestartAt = now;
    setTimeout(() => {
      if (closing) return;
      worker = spawn();
      void configure(last, true);
    }, delay).unref();
  }

  const beat = setInterval(() => {
    if (closing || !worker) return;
    const w = worker;
    void ask({ type: 'ping' }, hbTimeoutMs).then((v) => {
      if (closing || w !== worker) return;
      live.answering = v !== undefined;
      if (typeof v === 'object' && v !== null) lateness(v as Lateness & Partial<AdmissionStats>);
      if (live.answering) return;
      // Still starting (never answered, within the grace): not wedged, only slow to load.
      if (!answeredOnce && performance.now() - spawnedAt < graceMs) return;
      restart(`check worker did not answer a heartbeat in ${hbTimeoutMs} ms`);
    });
  }, hbMs);
  beat.unref();

  /** A heartbeat's lateness: kept for status, and a change between late and on time reported. */
  let wasLate = false;
  let lateRunsBefore = 0;
  function lateness(l: Lateness & Partial<AdmissionStats>): void {
    const prev = live.late;
    // A restarted worker counts from 0 again.
    lateRunsBefore = prev && l.lateRuns >= prev.lateRuns ? prev.lateRuns : 0;
    live.late = l;
    const late = l.lateRuns > lateRunsBefore;
    if (late !== wasLate) o.onLate?.(late, l);
    wasLate = late;
  }

  function ask(m: WithoutId<ToWorker>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
    const id = ++seq;
    const w = worker;
    if (!w) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { waiting.delete(id); resolve(undefined); }, timeoutMs);
      timer.unref();
      waiting.set(id, (v) => { clearTimeout(timer); resolve(v); });
      w.postMessage({ ...m, id });
    });
  }

  /** takeOver: a new worker replaces one that died or wedged, and starts where it left off. */
  async function configure(list: readonly CheckedService[], takeOver = false): Promise<void> {
    last = list;
    const seed: EngineSeed | undefined = takeOver ? { health: new Map(health), verdicts: mirror.map } : undefined;
    const snapshot = await ask({ type: 'configure', list, ...(seed ? { seed } : {}) }, CONFIGURE_TIMEOUT_MS);
    // The worker flushes its pending events before replying, so the snapshot is newer than any
    // event already applied and older than any still to come.
    if (snapshot instanceof Map) mirror.map = snapshot as Map<string, ServiceVerdicts>;
  }

  /**
   * The status, a page per request (STATUS_PAGE servers), a turn of the loop between pages. The
   * worker takes it once, at the first page; if it answers from another one (it was restarted, or
   * lost ours), that page is the first of the new one and reading goes on from there.
   */
  async function pagedStatus(): Promise<ServiceStatus[]> {
    let out: ServiceStatus[] = [];
    let snap: number | undefined;
    let from = 0;
    for (let fresh = 0; fresh < 4;) {
      const page = (await ask({ type: 'status', from, max: STATUS_PAGE, ...(snap !== undefined ? { snap } : {}) })) as (StatusPage & { snap: number }) | undefined;
      if (!page) return []; // no answer: none, rather than part of one
      if (page.snap !== snap) { out = []; fresh++; }
      snap = page.snap;
      appendPage(out, page);
      if (page.next === undefined) return out;
      from = page.next;
    }
    return [];
  }

  return {
    configure: (list) => configure(list),
    verdicts: () => mirror.map,
    // Asked at the same time (a status and a scrape's four readers): one request, one copy to
    // deserialize on this thread.
    status: () => (statusAsked ??= (async () => {
      try { return await pagedStatus(); } finally { statusAsked = undefined; }
    })()),
    timing: async () => ((await ask({ type: 'timing' })) as CheckTiming | undefined) ?? { runs: 0, lateP99Ms: 0, lateMaxMs: 0 },
    latency: async () => ((await ask({ type: 'latency' })) as LatencyHistogram[] | undefined) ?? [],
    // No answer (a wedged worker): the families with no series, rather than a failed scrape.
    metricsText: async () => { const t = await ask({ type: 'metrics-text' }); return typeof t === 'string' ? t : checkFamiliesText([]); },
    liveness: () => ({ ...live }),
    close: async () => {
      closing = true;
      clearInterval(beat);
      await ask({ type: 'stop' }, 1000);
      await worker?.terminate();
    },
  };
}
