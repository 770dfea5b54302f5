// The measured process of bench:checks part 1: duet's check host exactly as the daemon runs it
// (workerChecks: the engine and the real checkers in a worker thread), nothing else. Run by
// bench-checks.ts in a namespace where the targets are local:
//
//   node bench-checks-load.js TCP HTTP WARMUP_S SECONDS [gate|nogate]
//
// nogate: the worker without admission bounds (check/admission.ts limits set out of reach), as
// before the gate, for the overload comparison (bench:checks --overload).
//
// Prints one JSON line (LoadResult) and exits. CPU is process.cpuUsage() (every thread of the
// process, i.e. main + check worker + V8/libuv helpers), split per thread from /proc/self/task.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { workerChecks, type CheckHost } from '../src/check/host.js';
import type { CheckEvent } from '../src/check/engine.js';
import { HTTP_PORT, loadVirtualServers } from './bench-checks-config.js';
import { activeOpens } from './bench-checks-haproxy.js';

export interface LoadResult {
  tcp: number;
  http: number;
  seconds: number;
  checksPerS: number;
  /** TCP connects started per second in the window (the namespace's ActiveOpens), as counted for HAProxy. */
  connectsPerS: number;
  /** Whole process, % of one core (200 = two cores busy). */
  cpuPct: number;
  /** The same split into user and kernel time. On loopback the kernel time includes the target
   * side's TCP work too (a loopback send runs the receiver's stack in the sender's context). */
  cpuUserPct: number;
  cpuSysPct: number;
  /** Per thread, % of one core: main thread, threads started with the check worker, the rest. */
  cpuMainPct: number;
  cpuWorkerPct: number;
  cpuOtherPct: number;
  /** The whole machine's busy time over the window, % of one core (others' work included). */
  machineBusyPct: number;
  cores: number;
  rssPeakMB: number;
  rssEndMB: number;
  /** Kernel's ru_maxrss: the process's peak since it started (config parse included). */
  maxRssMB: number;
  lateP99MaxMs: number;
  lateP99MedianMs: number;
  lateMaxMs: number;
  /** The p99 read each second (ms), and whether the readings used held window samples only. */
  lateP99Series: number[];
  lateWindowOnly: boolean;
  /** Over the whole run (warm-up included). */
  upEvents: number;
  downEvents: number;
  downReasons: Record<string, number>;
  downTcp: number;
  downHttp: number;
  engineErrors: string[];
  configureMs: number;
  /** Admission bounds in force (false: nogate). */
  gate: boolean;
  /** This process's open fds (/proc/self/fd), peak over the run (sampled every 20 ms), and at the start. */
  fdPeak: number;
  fdStart: number;
  /** Samples that found the process out of fds (EMFILE: the open-file limit reached; fdPeak is then the limit). */
  fdLimitHits: number;
  /** Runs that waited for admission over the run, and the most waiting at a heartbeat. */
  queuedTotal: number;
  queuedPeak: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

/** CPU ms per thread id, from /proc/self/task/TID/stat (utime + stime). */
function threadCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * TICK_MS);
    } catch { /* thread ended */ }
  }
  return out;
}

/** Busy and total jiffies of all CPUs together, from /proc/stat (not namespaced: the machine). */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

const mb = (bytes: number): number => bytes / (1024 * 1024);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

class Events {
  up = 0;
  down = 0;
  downHttp = 0;
  reasons: Record<string, number> = {};
  errors: string[] = [];
  on(e: CheckEvent): void {
    if (e.kind !== 'check') return;
    if (e.to === 'up') this.up++;
    if (e.to !== 'down') return;
    this.down++;
    if (e.service.endsWith(`:${HTTP_PORT}`)) this.downHttp++;
    this.reasons[e.reason] = (this.reasons[e.reason] ?? 0) + 1;
  }
}

/** The engine keeps its last 16,384 lateness samples (engine.ts LATE_SAMPLES). */
const LATE_RING = 16384;

interface Window { p99s: number[]; windowOnly: boolean; maxLate: number; rssPeak: number }

/**
 * Once a second: the engine's p99 lateness and RSS. A reading counts once the engine's ring holds
 * samples of this window only (the warm-up's first-run burst would otherwise linger in it); when
 * the window is too short for that at this rate, every reading counts (windowOnly false).
 */
async function window(host: CheckHost, seconds: number, runs0: number): Promise<Window> {
  const all: number[] = [];
  const clean: number[] = [];
  let maxLate = 0;
  let rssPeak = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, end - performance.now()));
    const t = await host.timing();
    all.push(t.lateP99Ms);
    if (t.runs - runs0 >= LATE_RING) { clean.push(t.lateP99Ms); maxLate = Math.max(maxLate, t.lateMaxMs); }
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }
  return clean.length > 0 ? { p99s: clean, windowOnly: true, maxLate, rssPeak } : { p99s: all, windowOnly: false, maxLate: NaN, rssPeak };
}

/** The soft open-file limit, read at start (at the limit, reading it would need an fd too). */
const FD_LIMIT = Number(readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))?.trim().split(/\s{2,}/)[1]);
/** Open fds; at the open-file limit (EMFILE: the listing itself needs one), the limit. */
function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EMFILE') throw e;
    fdLimitHits++;
    return FD_LIMIT;
  }
}
let fdLimitHits = 0;

/** A /proc read; out of fds (nogate at overload), tried again every 10 ms for up to 5 s. */
async function whenFds<T>(read: () => T): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return read();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EMFILE' || i >= 500) throw e;
      fdLimitHits++;
      await sleep(10);
    }
  }
}

async function main(): Promise<void> {
  const [tcp, http, warmupS, seconds] = process.argv.slice(2, 6).map(Number) as [number, number, number, number];
  const gate = process.argv[6] !== 'nogate';
  const list = await loadVirtualServers({ tcp, http });
  const ev = new Events();
  const before = new Set(threadCpu().keys());
  const fdStart = openFds();
  let fdPeak = fdStart;
  let queuedPeak = 0;
  const fdSampler = setInterval(() => { fdPeak = Math.max(fdPeak, openFds()); }, 20);
  const host = workerChecks({
    onEvent: (e) => ev.on(e), onError: (e) => ev.errors.push(e.message),
    ...(gate ? {} : { admission: { perTurn: Number.MAX_SAFE_INTEGER, maxInFlight: Number.MAX_SAFE_INTEGER } }),
  });
  const queueSampler = setInterval(() => { queuedPeak = Math.max(queuedPeak, host.liveness().late?.queued ?? 0); }, 1000);
  const c0 = performance.now();
  await host.configure(list);
  const configureMs = performance.now() - c0;
  const workerTids = new Set([...threadCpu().keys()].filter((t) => !before.has(t)));
  // Warm-up: first runs are spread over one interval; let every check run at least once.
  await sleep(warmupS * 1000);
  const runs0 = (await host.timing()).runs;
  const ao0 = await whenFds(() => activeOpens(process.pid));
  const cpu0 = process.cpuUsage();
  const th0 = threadCpu();
  const m0 = await whenFds(machineCpu);
  const t0 = performance.now();
  const w = await window(host, seconds, runs0);
  const runs1 = (await host.timing()).runs;
  const ao1 = await whenFds(() => activeOpens(process.pid));
  const cpu1 = process.cpuUsage(cpu0);
  const th1 = threadCpu();
  const m1 = await whenFds(machineCpu);
  const elapsedS = (performance.now() - t0) / 1000;
  const queuedTotal = host.liveness().late?.queuedTotal ?? 0;
  clearInterval(fdSampler);
  clearInterval(queueSampler);
  await host.close();
  const cores = availableParallelism();
  const pct = (ms: number): number => (ms / (elapsedS * 1000)) * 100;
  const split = { main: 0, worker: 0, other: 0 };
  for (const [tid, ms] of th1) {
    const d = ms - (th0.get(tid) ?? 0);
    if (tid === process.pid) split.main += d;
    else if (workerTids.has(tid)) split.worker += d;
    else split.other += d;
  }
  const r: LoadResult = {
    tcp, http, seconds: elapsedS,
    checksPerS: (runs1 - runs0) / elapsedS, connectsPerS: (ao1 - ao0) / elapsedS,
    cpuPct: pct((cpu1.user + cpu1.system) / 1000), cpuUserPct: pct(cpu1.user / 1000), cpuSysPct: pct(cpu1.system / 1000),
    cpuMainPct: pct(split.main), cpuWorkerPct: pct(split.worker), cpuOtherPct: pct(split.other),
    machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * cores * 100, cores,
    rssPeakMB: mb(w.rssPeak), rssEndMB: mb(process.memoryUsage.rss()), maxRssMB: process.resourceUsage().maxRSS / 1024,
    lateP99MaxMs: Math.max(...w.p99s), lateP99MedianMs: median(w.p99s), lateMaxMs: w.maxLate,
    lateP99Series: w.p99s.map((x) => Math.round(x * 10) / 10), lateWindowOnly: w.windowOnly,
    upEvents: ev.up, downEvents: ev.down, downReasons: ev.reasons, downTcp: ev.down - ev.downHttp, downHttp: ev.downHttp, engineErrors: ev.errors, configureMs,
    gate, fdPeak, fdStart, fdLimitHits, queuedTotal, queuedPeak,
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

main().then(() => process.exit(0), (e: unknown) => { console.error(`bench-checks-load: ${(e as Error).stack ?? String(e)}`); process.exit(1); });
