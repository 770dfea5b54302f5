// The check engine: runs every real server's checks on its own schedule, folds results through
// the pure health/weight/latency/quorum rules, and reports changes as events. It owns no I/O of
// its own: `run` performs a check (src/check/checkers in production, a fake in tests) and time
// comes from the injected clock. It runs in the check worker thread in production
// (check/worker.ts), so nothing here can delay VRRP adverts on the main thread.
import type { Clock } from '../core/clock.js';
import { destKey, serviceKey } from '../ipvs/model.js';
import { DueQueue, type Due } from './due-queue.js';
import { applyResult, INITIAL_CHECK_STATE, nextDelay, type CheckState, type Health } from './health.js';
import { addSample, INITIAL_LATENCY, type LatencyState } from './latency.js';
import { healthyWeight, quorumUp, serverVerdict, type Verdict } from './weight.js';
import type { CheckConfig, CheckedServer, CheckedService, CheckResult, CheckSpec } from './types.js';

/**
 * Runs a check. A run that waits before it really starts (check/admission.ts: past capacity) calls
 * onWaited as it starts, with how long it waited: that wait is lateness too.
 */
export type RunCheck = (spec: CheckSpec, signal: AbortSignal, onWaited?: (waitedMs: number) => void) => Promise<CheckResult>;

export type CheckEvent =
  | { kind: 'check'; service: string; server: string; check: string; from: Health; to: Health; reason: string; latencyMs: number | undefined }
  | { kind: 'weight'; service: string; server: string; from: Verdict | undefined; to: Verdict; reason: string }
  | { kind: 'quorum'; service: string; up: boolean; healthyWeight: number; quorum: number; hysteresis: number };

/**
 * What a replaced engine knew, for the one that takes over: each check's health (by checkKey),
 * and per service its quorum and each server's verdict. The new engine starts there, so taking
 * over changes no weight, runs no quorum hook and logs no change.
 */
export interface EngineSeed {
  health: ReadonlyMap<string, Health>;
  verdicts: ReadonlyMap<string, ServiceVerdicts>;
}

/** One check's key across engines: service, server and the check's name ("http#0"). */
export const checkKey = (service: string, server: string, check: string): string => `${service}|${server}|${check}`;

export interface ServiceVerdicts {
  quorumUp: boolean;
  /** By destKey; servers without an entry take their configured weight. */
  dests: Map<string, Verdict>;
}

export interface CheckStatus {
  check: string;
  health: Health;
  reason: string;
  latencyMs: number | undefined;
  checks: number;
  failures: number;
}

export interface ServerStatus {
  server: string;
  configured: number;
  verdict: Verdict;
  reason: string;
  latencyEwmaMs: number | undefined;
  checks: CheckStatus[];
}

export interface ServiceStatus {
  service: string;
  name: string;
  quorumUp: boolean;
  healthyWeight: number;
  servers: ServerStatus[];
}

/** A page of a status (statusPage). */
export interface ServiceStatusPage {
  services: ServiceStatus[];
  /** Where the next page starts; absent after the last. */
  next?: number;
}

/**
 * One page of a status: its real servers from position `from` (counted over every service, in
 * order) up to `max` of them, as service entries (the first and last may hold only part of their
 * service's servers; a service with no servers counts as one position).
 */
export function statusPage(list: readonly ServiceStatus[], from: number, max: number): ServiceStatusPage {
  const out: ServiceStatus[] = [];
  let skip = from;
  let room = max;
  for (const svc of list) {
    // A service with no servers takes one position, so it is listed exactly once.
    const size = Math.max(svc.servers.length, 1);
    if (skip >= size) { skip -= size; continue; }
    if (room <= 0) return { services: out, next: from + max };
    const servers = svc.servers.slice(skip, skip + room);
    const taken = Math.max(servers.length, 1);
    const rest = size - skip - taken;
    skip = 0;
    room -= taken;
    out.push({ ...svc, servers });
    if (rest > 0) return { services: out, next: from + max };
  }
  return { services: out };
}

/** Appends a page to what was read before it: a service split across two pages continues in the first entry of the next. */
export function appendPage(out: ServiceStatus[], page: ServiceStatusPage): void {
  page.services.forEach((svc, i) => {
    const prev = out[out.length - 1];
    if (i === 0 && prev?.service === svc.service) prev.servers.push(...svc.servers);
    else out.push({ ...svc, servers: [...svc.servers] });
  });
}

interface CheckRec extends Due {
  /** What it checks (position, type and target, not timing): a reload keeps a check with the same id. */
  readonly id: string;
  readonly name: string;
  cfg: CheckConfig;
  readonly server: ServerRec;
  state: CheckState;
  /** One per check for its whole life (aborted on stop): a signal per run would cost a listener each time. */
  readonly abort: AbortController;
  stopped: boolean;
  /** Its latency histogram (service and type never change for a check), found on its first result. */
  hist: LatencyHistogram | undefined;
  /** When the current run started (for a run that rejects). */
  startedAt: number;
  /** Made once per check, not per run: the run's fulfilment and rejection handlers. */
  readonly onResult: (r: CheckResult) => void;
  readonly onError: (e: unknown) => void;
  /** The run waited for admission (RunCheck): its lateness grows by the wait. */
  readonly onWaited: (waitedMs: number) => void;
  /** The lateness sample of the current run (its index in the ring, counted from the start). */
  lateSlot: number;
}

interface ServerRec {
  readonly key: string;
  rs: CheckedServer;
  readonly service: ServiceRec;
  checks: CheckRec[];
  latency: LatencyState;
  upSinceMs: number | undefined;
  verdict: Verdict;
  reason: string;
  cancelRamp: (() => void) | undefined;
}

interface ServiceRec {
  readonly key: string;
  cfg: CheckedService;
  servers: Map<string, ServerRec>;
  quorumUp: boolean;
}

export interface EngineOptions {
  clock: Clock;
  run: RunCheck;
  onEvent: (e: CheckEvent) => void;
  /** 0..1; spreads first runs over one interval. */
  random?: () => number;
}

/** Upper bounds (seconds) of the check latency histogram buckets (Prometheus `le`). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

/** Latency of check results by service and check type: cumulative-ready bucket counts. */
export interface LatencyHistogram {
  service: string;
  type: string;
  /** Per bucket of LATENCY_BUCKETS_S (not cumulative), plus one for +Inf. */
  counts: number[];
  sumS: number;
  count: number;
}

/** How late checks start, kept for the benchmark's p99 (a ring of the last samples). */
const LATE_SAMPLES = 16384;

/** A run that starts this much after it was due is late: 50 ms, or a tenth of its interval if more. */
export const lateThresholdMs = (intervalMs: number): number => Math.max(50, intervalMs / 10);

/**
 * Past capacity, checks run late rather than fail: how far behind they are. Totals since the
 * engine started, and the worst start delay since the last pulse() (the heartbeat reads it).
 */
export interface Lateness {
  /** Runs that started late (lateThresholdMs). */
  lateRuns: number;
  /** Timeouts with no verdict: this thread's own loop took the check's time (CheckResult.selfLateMs). */
  discounted: number;
  /** The latest start past due since the last pulse, ms (0: none due, or all on time). */
  behindMs: number;
}

export class CheckEngine {
  private services = new Map<string, ServiceRec>();
  private readonly random: () => number;
  private readonly late = new Float64Array(LATE_SAMPLES);
  private lateN = 0;
  private runs = 0;
  private lateRuns = 0;
  private discounted = 0;
  private behindMs = 0;
  private readonly hist = new Map<string, LatencyHistogram>();
  /** During configure(): health carried over from an engine that was replaced, by checkKey. */
  private seed: EngineSeed | undefined;
  /** Every check waiting for its next run, and the one timer armed for the earliest of them. */
  private readonly queue = new DueQueue<CheckRec>();
  private timerAt = Infinity;
  private cancelTimer: (() => void) | undefined;
  private readonly onTimer = (): void => this.runDue();

  constructor(private readonly o: EngineOptions) {
    this.random = o.random ?? Math.random;
  }

  /**
   * Start, keep or stop checks so they match `list`. A check whose service, server and settings
   * are unchanged keeps its state and schedule (a reload does not reset health).
   */
  configure(list: readonly CheckedService[], seed?: EngineSeed): void {
    this.seed = seed;
    const next = new Map<string, ServiceRec>();
    for (const cfg of list) {
      const key = serviceKey(cfg);
      const old = this.services.get(key);
      const svc: ServiceRec = old ?? { key, cfg, servers: new Map(), quorumUp: this.seed?.verdicts.get(key)?.quorumUp ?? true };
      svc.cfg = cfg;
      const servers = new Map<string, ServerRec>();
      for (const rs of cfg.realServers) {
        const sk = destKey(rs);
        servers.set(sk, this.configureServer(svc, old?.servers.get(sk), sk, rs));
      }
      for (const [sk, s] of svc.servers) if (!servers.has(sk)) this.stopServer(s);
      svc.servers = servers;
      next.set(key, svc);
    }
    for (const [key, s] of this.services) if (!next.has(key)) for (const srv of s.servers.values()) this.stopServer(srv);
    this.services = next;
    for (const svc of next.values()) {
      for (const srv of svc.servers.values()) this.refresh(srv, 'configured');
      this.refreshQuorum(svc);
    }
    this.seed = undefined;
  }

  private configureServer(svc: ServiceRec, old: ServerRec | undefined, key: string, rs: CheckedServer): ServerRec {
    const srv: ServerRec = old ?? {
      key, rs, service: svc, checks: [], latency: INITIAL_LATENCY, upSinceMs: undefined, verdict: this.seed?.verdicts.get(svc.key)?.dests.get(key) ?? rs.weight, reason: 'not checked yet', cancelRamp: undefined,
    };
    srv.rs = rs;
    const byId = new Map((old?.checks ?? []).map((c) => [c.id, c]));
    srv.checks = rs.checks.map((cfg, n) => {
      const id = targetId(n, cfg);
      const kept = byId.get(id);
      if (kept) {
        byId.delete(id);
        this.retime(kept, cfg);
        return kept;
      }
      const name = `${cfg.spec.type}#${n}`;
      const carried = this.seed?.health.get(checkKey(svc.key, key, name));
      // Its own object: done() updates it in place.
      const state: CheckState = carried === undefined || carried === 'unknown' ? { ...INITIAL_CHECK_STATE } : { ...INITIAL_CHECK_STATE, health: carried, reason: 'carried over from the restarted check worker' };
      const c = this.newCheck(id, name, cfg, srv, state);
      // Jittered start: thousands of checks configured at once must not fire together.
      this.schedule(c, this.o.clock.now() + Math.floor(this.random() * cfg.intervalMs));
      return c;
    });
    for (const c of byId.values()) this.stopCheck(c);
    return srv;
  }

  /**
   * A check's record. Its handlers are made here, not in configureServer: a closure there would
   * keep that call's whole scope (the old checks' map) alive for the check's life.
   */
  private newCheck(id: string, name: string, cfg: CheckConfig, server: ServerRec, state: CheckState): CheckRec {
    const c: CheckRec = {
      id, name, cfg, server, state, due: 0, slot: -1, order: 0, abort: new AbortController(), stopped: false, hist: undefined, startedAt: 0, lateSlot: 0,
      onResult: (r) => this.done(c, r),
      onError: (e) => this.done(c, { ok: false, latencyMs: this.o.clock.now() - c.startedAt, reason: `error: ${e instanceof Error ? e.message : String(e)}` }),
      onWaited: (ms) => this.waited(c, ms),
    };
    return c;
  }

  /** Current verdicts per service key (what the desired table needs). */
  verdicts(): Map<string, ServiceVerdicts> {
    const out = new Map<string, ServiceVerdicts>();
    for (const svc of this.services.values()) {
      out.set(svc.key, { quorumUp: svc.quorumUp, dests: new Map([...svc.servers].map(([k, s]) => [k, s.verdict])) });
    }
    return out;
  }

  status(): ServiceStatus[] {
    return [...this.services.values()].map((svc) => ({
      service: svc.key,
      name: svc.cfg.name,
      quorumUp: svc.quorumUp,
      healthyWeight: healthyWeight([...svc.servers.values()].map((s) => s.verdict)),
      servers: [...svc.servers.values()].map((s) => ({
        server: s.key,
        configured: s.rs.weight,
        verdict: s.verdict,
        reason: s.reason,
        latencyEwmaMs: s.latency.ewmaMs,
        checks: s.checks.map((c) => ({
          check: c.name, health: c.state.health, reason: c.state.reason, latencyMs: c.state.latencyMs, checks: c.state.checks, failures: c.state.failures,
        })),
      })),
    }));
  }

  /** Checks run so far and the p99 of how late they started (ms past due), over the last samples. */
  timing(): { runs: number; lateP99Ms: number; lateMaxMs: number } {
    const n = Math.min(this.lateN, LATE_SAMPLES);
    const xs = Array.from(this.late.subarray(0, n)).sort((a, b) => a - b);
    return { runs: this.runs, lateP99Ms: xs[Math.floor(n * 0.99)] ?? 0, lateMaxMs: xs[n - 1] ?? 0 };
  }

  /** Lateness so far; starts a new window for behindMs. */
  pulse(): Lateness {
    const r = { lateRuns: this.lateRuns, discounted: this.discounted, behindMs: this.behindMs };
    this.behindMs = 0;
    return r;
  }

  latency(): LatencyHistogram[] {
    return [...this.hist.values()].map((h) => ({ ...h, counts: [...h.counts] }));
  }

  private histogram(service: string, type: string): LatencyHistogram {
    const k = `${service} ${type}`;
    let h = this.hist.get(k);
    if (!h) this.hist.set(k, (h = { service, type, counts: new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0), sumS: 0, count: 0 }));
    return h;
  }

  private observe(h: LatencyHistogram, ms: number): void {
    const s = ms / 1000;
    let i = 0;
    while (i < LATENCY_BUCKETS_S.length && s > LATENCY_BUCKETS_S[i]!) i++;
    h.counts[i]!++;
    h.sumS += s;
    h.count++;
  }

  stop(): void {
    for (const svc of this.services.values()) for (const s of svc.servers.values()) this.stopServer(s);
    this.services.clear();
    this.queue.clear();
    this.disarm();
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Same target, maybe new timing (interval, timeout, rise, fall, retry delay): the check keeps
   * its health and counters; the new settings apply from its next run, which comes no later
   * than one new interval from now.
   */
  private retime(c: CheckRec, cfg: CheckConfig): void {
    const before = c.cfg;
    c.cfg = cfg;
    const now = this.o.clock.now();
    // Waiting for its next run (not running): it may come sooner.
    if (cfg.intervalMs < before.intervalMs && c.slot >= 0 && c.due > now + cfg.intervalMs) this.schedule(c, now + cfg.intervalMs);
  }

  private schedule(c: CheckRec, due: number): void {
    this.queue.set(c, due);
    this.arm();
  }

  /** The one timer, armed for the earliest check due (re-armed only for an earlier one). */
  private arm(): void {
    const next = this.queue.peek();
    if (next === undefined) { this.disarm(); return; }
    if (next.due >= this.timerAt) return;
    this.cancelTimer?.();
    this.timerAt = next.due;
    this.cancelTimer = this.o.clock.at(next.due, this.onTimer);
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
  }

  /** The timer: every check due by now starts, earliest first; then the timer for the next. */
  private runDue(): void {
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
    const now = this.o.clock.now();
    for (let c = this.queue.popDue(now); c !== undefined; c = this.queue.popDue(now)) this.fire(c, now);
    this.arm();
  }

  private fire(c: CheckRec, now: number): void {
    if (c.stopped) return;
    const late = now - c.due;
    c.lateSlot = this.lateN;
    this.late[this.lateN++ % LATE_SAMPLES] = late;
    this.runs++;
    if (late > this.behindMs) this.behindMs = late;
    if (late > lateThresholdMs(c.cfg.intervalMs)) this.lateRuns++;
    c.startedAt = now;
    this.o.run(c.cfg.spec, c.abort.signal, c.onWaited).then(c.onResult, c.onError);
  }

  /** The run fired at c.startedAt really started waitedMs later: it was that much later than counted. */
  private waited(c: CheckRec, waitedMs: number): void {
    const counted = c.startedAt - c.due;
    const late = counted + waitedMs;
    // Its sample from fire() when the ring still holds it, else (overwritten by now) a new one.
    if (this.lateN - c.lateSlot <= LATE_SAMPLES) this.late[c.lateSlot % LATE_SAMPLES] = late;
    else this.late[this.lateN++ % LATE_SAMPLES] = late;
    if (late > this.behindMs) this.behindMs = late;
    const threshold = lateThresholdMs(c.cfg.intervalMs);
    if (counted <= threshold && late > threshold) this.lateRuns++;
    c.startedAt += waitedMs;
  }

  private done(c: CheckRec, r: CheckResult): void {
    if (c.stopped) return;
    if (r.selfLateMs !== undefined) {
      // Our lateness, not the server's: no verdict, the health stays; the next run as usual.
      this.discounted++;
      this.schedule(c, Math.max(this.o.clock.now(), c.due + nextDelay(c.state, c.cfg)));
      return;
    }
    const srv = c.server;
    this.observe((c.hist ??= this.histogram(srv.service.key, c.cfg.spec.type)), r.latencyMs);
    const before = c.state;
    const { state, transition } = applyResult(before, r, c.cfg);
    const wasHealthDown = before.health === 'down';
    const weightInputsSame = state.weight === before.weight && state.agent === before.agent && state.weightOffset === before.weightOffset;
    // Copied into the check's own state object, not swapped for the new one: a new object per
    // result would live a whole interval and end up as old-space garbage.
    Object.assign(c.state, state);
    const lw = srv.service.cfg.latencyWeight;
    if (transition) {
      this.o.onEvent({ kind: 'check', service: srv.service.key, server: srv.key, check: c.name, ...transition, latencyMs: r.latencyMs });
      const wasDown = wasHealthDown || srv.checks.some((x) => x !== c && x.state.health === 'down');
      const isDown = state.health === 'down' || srv.checks.some((x) => x !== c && x.state.health === 'down');
      if (wasDown && !isDown) this.startRamp(srv);
      if (!wasDown && isDown) this.stopRamp(srv);
    }
    if (lw && r.ok && c === srv.checks.find((x) => x.cfg.spec.type !== 'exec' && x.cfg.spec.type !== 'file')) srv.latency = addSample(srv.latency, r.latencyMs, lw);
    // The common result (same health, nothing the weight reads changed) leaves the verdict and its
    // reason as they are: no re-evaluation, and the quorum reads verdicts only.
    const same = !transition && state.health !== 'down' && !lw && srv.upSinceMs === undefined && weightInputsSame;
    if (!same && this.refresh(srv, transition ? transition.reason : r.reason)) this.refreshQuorum(srv.service);
    const now = this.o.clock.now();
    this.schedule(c, Math.max(now, c.due + nextDelay(state, c.cfg)));
  }

  /** Slow start: after a recovery, re-evaluate the weight in steps until the ramp is over. */
  private startRamp(srv: ServerRec): void {
    const total = srv.service.cfg.slowStartMs;
    if (total <= 0) return;
    srv.upSinceMs = this.o.clock.now();
    const step = Math.max(250, Math.floor(total / 20));
    const tick = (): void => {
      srv.cancelRamp = undefined;
      const done = this.o.clock.now() - (srv.upSinceMs ?? 0) >= total;
      if (done) srv.upSinceMs = undefined;
      if (this.refresh(srv, done ? 'slow start done' : 'slow start')) this.refreshQuorum(srv.service);
      if (!done) srv.cancelRamp = this.o.clock.at(Math.min(this.o.clock.now() + step, (srv.upSinceMs ?? 0) + total), tick);
    };
    srv.cancelRamp?.();
    srv.cancelRamp = this.o.clock.at(this.o.clock.now() + step, tick);
  }

  private stopRamp(srv: ServerRec): void {
    srv.cancelRamp?.();
    srv.cancelRamp = undefined;
    srv.upSinceMs = undefined;
  }

  /** Re-evaluate a server's verdict and reason; true when the verdict changed (reported). */
  private refresh(srv: ServerRec, cause: string): boolean {
    const v = serverVerdict({
      configured: srv.rs.weight,
      inhibitOnFailure: srv.rs.inhibitOnFailure,
      checks: srv.checks.map((c) => c.state),
      latencyFactor: srv.service.cfg.latencyWeight ? srv.latency.factor : 1,
      upSinceMs: srv.upSinceMs,
      slowStartMs: srv.service.cfg.slowStartMs,
      nowMs: this.o.clock.now(),
    });
    const before = srv.verdict;
    srv.verdict = v.verdict;
    srv.reason = v.reason;
    if (before === v.verdict) return false;
    this.o.onEvent({ kind: 'weight', service: srv.service.key, server: srv.key, from: before, to: v.verdict, reason: `${v.reason} (${cause})` });
    return true;
  }

  private refreshQuorum(svc: ServiceRec): void {
    const healthy = healthyWeight([...svc.servers.values()].map((s) => s.verdict));
    const up = quorumUp(svc.quorumUp, healthy, svc.cfg);
    if (up === svc.quorumUp) return;
    svc.quorumUp = up;
    this.o.onEvent({ kind: 'quorum', service: svc.key, up, healthyWeight: healthy, quorum: svc.cfg.quorum, hysteresis: svc.cfg.hysteresis });
  }

  private stopCheck(c: CheckRec): void {
    c.stopped = true;
    this.queue.delete(c);
    if (this.queue.size === 0) this.disarm();
    c.abort.abort();
  }

  private stopServer(s: ServerRec): void {
    for (const c of s.checks) this.stopCheck(c);
    this.stopRamp(s);
  }
}

/** A check's identity across reloads: its position on the server, its type and what it targets (timing left out). */
function targetId(n: number, cfg: CheckConfig): string {
  const { timeoutMs: _timing, ...target } = cfg.spec;
  return `${n}|${JSON.stringify(target)}`;
}
