// `npm run bench:checks`: how many health checks one node keeps on schedule, and whether they
// disturb VRRP.
//
//   node build/lab/bench-checks.js [--quick] [--seconds N] [--jitter-seconds N] [--skip-scale] [--skip-vrrp] [--overload T+H]
//
// --overload T+H: past capacity instead (T TCP + H HTTP checks at 1 s, more than one core
// finishes), the check worker without admission bounds and then with them (check/admission.ts),
// side by side: open fds, checks/s achieved, lateness, false downs. Nothing else runs.
//
// Part 1 (checks): 10,000 TCP + 2,000 HTTP checks at 1 s, run by duet's check host exactly as
// the daemon runs it (workerChecks: engine + real checkers in a worker thread), in a process of
// its own (bench-checks-load.ts) so that its CPU and RSS are duet's alone. The targets are one
// TCP and one HTTP listener in a separate process (bench-checks-servers.ts); every real server
// has its own address in 198.18.0.0/15, made local on lo in the namespace (see
// bench-checks-config.ts: the config refuses 127/8 real servers). First a scaled-down step
// (2,000 + 400) to show how the figures scale. After each duet load, HAProxy checks the same
// real servers for the same window (bench-checks-haproxy.ts), side by side in the results.
// Part 2 (VRRP with checks): a duet pair (d1 priority 150, d2 100) at VRRPv3 100 ms adverts; d1
// runs with 0 checks (baseline), then with 1,000 (800 TCP + 200 HTTP at 1 s) against targets in
// its own namespace. d1's adverts are captured in d2's namespace (tcpdump, kernel timestamps);
// transitions of either daemon after the initial election are spurious. The host kernel has no
// IPVS: d1 logs one "IPVS reconcile failed" at start (its checks and VRRP are unaffected; the
// kernel side is exercised in the VM tests).
import { scriptArgs } from './args.js';
import { fileURLToPath } from 'node:url';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import {
  labWithCleanup, startDuet, pairConfig, onCleanup, runMain, captureVrrp, onLines, waitFor, sleep, nowEpoch,
  quantile, table, cleanupAll, listNamespaces,
  type Lab, type DuetNode, type VrrpCapture,
} from './lab.js';
import { virtualServersYaml, type CheckLoad } from './bench-checks-config.js';
import { localTargets, startServers } from './bench-targets.js';
import type { LoadResult } from './bench-checks-load.js';
import { tcpCheckKind } from '../src/check/checkers/tcp-native.js';
import { HAPROXY_MISSING, haproxyVersion, measureHaproxy, procTimesMs, type HaproxyResult, type HaproxyRunner } from './bench-checks-haproxy.js';

// ---------------------------------------------------------------------------------------------
// Options.

const argv = scriptArgs('bench-checks', `usage: npm run bench:checks -- [--quick] [--seconds N] [--jitter-seconds N] [--skip-scale] [--skip-vrrp] [--overload T+H]
  --seconds N         measurement window per check load, after a warm-up of 2 intervals (default 20; --quick 6)
  --jitter-seconds N  advert capture window per VRRP condition (default 20; --quick 6)
  --skip-scale        only the full load (10,000 TCP + 2,000 HTTP), not the 2,000 + 400 step
  --skip-vrrp         only part 1 (checks, duet and HAProxy), not the VRRP advert timing of part 2
  --overload T+H      only this: T TCP + H HTTP checks at 1 s (past capacity), without and with admission bounds`, {
  quick: { type: 'boolean', default: false },
  seconds: { type: 'string' },
  'jitter-seconds': { type: 'string' },
  'skip-scale': { type: 'boolean', default: false },
  'skip-vrrp': { type: 'boolean', default: false },
  overload: { type: 'string' },
});
const int = (v: string | undefined, def: number, name: string): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 3600) { console.error(`--${name}: expected a whole number 1..3600, got ${v}`); process.exit(2); }
  return n;
};
const Q = argv.quick;
function overloadArg(v: string | undefined): CheckLoad | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\+(\d+)$/.exec(v);
  if (!m || Number(m[1]) + Number(m[2]) < 1 || Number(m[1]) + Number(m[2]) > 100_000) { console.error(`--overload: expected TCP+HTTP counts, 1..100000 in all (e.g. 20000+4000), got ${v}`); process.exit(2); }
  return { tcp: Number(m[1]), http: Number(m[2]) };
}
const OVERLOAD = overloadArg(argv.overload);
/** The lab's namespace prefix: --overload has its own, so it neither removes nor is removed by a full run's lab (removeStale). */
const LAB = OVERLOAD ? 'bcov' : 'bc';
const OPT = {
  seconds: int(argv.seconds, Q ? 6 : 20, 'seconds'),
  jitterS: int(argv['jitter-seconds'], Q ? 6 : 20, 'jitter-seconds'),
  /** Two intervals: every check has run at least once and the first-run spread is over. */
  warmupS: 2,
  steps: (argv['skip-scale'] ? [] : [{ tcp: 2000, http: 400 }]).concat([{ tcp: 10_000, http: 2000 }]) as CheckLoad[],
};

const TARGETS = {
  checksPerS: 10_000,
  cpuCores: 1,
  rssMB: 150,
  jitterP99Ms: 5,
  spurious: 0,
};

/** The reference checker's version line; undefined when it is not installed (duet printed alone). */
const HAPROXY = haproxyVersion();

const LOAD_SCRIPT = fileURLToPath(new URL('./bench-checks-load.js', import.meta.url));
const D1 = '192.0.2.11';
const VRRP_LOAD: CheckLoad = { tcp: 800, http: 200 };

// ---------------------------------------------------------------------------------------------
// Processes in the lab.

const alive = (p: { exitCode: number | null; signalCode: NodeJS.Signals | null }): boolean => p.exitCode === null && p.signalCode === null;

/** One check load in its own process in the lab's `ck` namespace; its JSON result. */
async function runLoad(lab: Lab, load: CheckLoad, gate = true): Promise<LoadResult> {
  const args = [String(load.tcp), String(load.http), String(OPT.warmupS), String(OPT.seconds), gate ? 'gate' : 'nogate'];
  const proc = lab.spawn('ck', [process.execPath, LOAD_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => { if (alive(proc)) proc.kill('SIGKILL'); });
  let out = '';
  let err = '';
  onLines(proc.stdout, (l) => { out = l; });
  onLines(proc.stderr, (l) => { err += `${l}\n`; });
  // 'close', not 'exit': stdout may still hold the result line when the process exits.
  const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
  if (code !== 0 || !out.startsWith('{')) throw new Error(`check load ${load.tcp}+${load.http} exited ${code}: ${err.trim().slice(-2000)}`);
  return JSON.parse(out) as LoadResult;
}

// ---------------------------------------------------------------------------------------------
// Part 1.

interface Step { r: LoadResult; served: number; serverCpuPct: number; hap: HaproxyResult | undefined }

async function part1(lab: Lab): Promise<Step[]> {
  await localTargets(lab, 'ck');
  const servers = await startServers(lab, 'ck');
  const hapRunner: HaproxyRunner = {
    spawn: (argv) => {
      const p = lab.spawn('ck', argv, { stdio: ['ignore', 'ignore', 'inherit'] });
      onCleanup(() => { if (alive(p)) p.kill('SIGKILL'); });
      return p;
    },
    sleep,
  };
  const out: Step[] = [];
  for (const load of OPT.steps) {
    console.log(`  duet: ${load.tcp} TCP + ${load.http} HTTP checks at 1 s: warm-up ${OPT.warmupS} s, window ${OPT.seconds} s ...`);
    const s0 = await servers.stats();
    const t0 = performance.now();
    const r = await runLoad(lab, load);
    const s1 = await servers.stats();
    const wall = performance.now() - t0;
    const step: Step = { r, served: s1.tcpAccepted + s1.httpServed - s0.tcpAccepted - s0.httpServed, serverCpuPct: ((s1.cpuMs - s0.cpuMs) / wall) * 100, hap: undefined };
    console.log(`    ${fmtStep(step)}`);
    console.log(`    lateness p99 per second (ms)${r.lateWindowOnly ? '' : ' (ring still holding warm-up samples)'}: ${r.lateP99Series.join(' ')}`);
    if (HAPROXY !== undefined) {
      console.log(`  HAProxy: the same ${load.tcp} TCP + ${load.http} HTTP servers, check inter 1s: warm-up ${OPT.warmupS} s, window ${OPT.seconds} s ...`);
      step.hap = await measureHaproxy(load, OPT.warmupS, OPT.seconds, hapRunner);
      console.log(`    ${fmtHap(step.hap)}`);
    }
    out.push(step);
  }
  return out;
}

const f1 = (x: number): string => x.toFixed(1);
const f0 = (x: number): string => x.toFixed(0);

function fmtStep(s: Step): string {
  const r = s.r;
  return `${f0(r.checksPerS)} checks/s, CPU ${f1(r.cpuPct)}% of one core (main ${f1(r.cpuMainPct)}, check worker ${f1(r.cpuWorkerPct)}, other threads ${f1(r.cpuOtherPct)}), ` +
    `RSS peak ${f0(r.rssPeakMB)} MB, late p99 ${f1(r.lateP99MaxMs)} ms, down ${r.downEvents}`;
}

function fmtHap(h: HaproxyResult): string {
  return `${f0(h.checksPerS)} checks/s (targets' count), CPU ${f1(h.cpuPct)}% of one core (user ${f1(h.cpuUserPct)}, kernel ${f1(h.cpuSysPct)}), ` +
    `RSS peak ${f0(h.rssPeakMB)} MB, servers up ${h.up}, not up ${h.notUp}`;
}

/** --overload: the same load without, then with, admission bounds. */
async function overload(lab: Lab, load: CheckLoad): Promise<LoadResult[]> {
  await localTargets(lab, 'ck');
  await startServers(lab, 'ck');
  const out: LoadResult[] = [];
  for (const gate of [false, true]) {
    console.log(`  ${gate ? 'with' : 'without'} admission bounds: ${load.tcp} TCP + ${load.http} HTTP at 1 s, warm-up ${OPT.warmupS} s, window ${OPT.seconds} s ...`);
    const r = await runLoad(lab, load, gate);
    console.log(`    ${fmtStep({ r, served: 0, serverCpuPct: 0, hap: undefined })}, open fds peak ${r.fdPeak}`);
    out.push(r);
  }
  return out;
}

const restarts = (r: LoadResult): number => r.engineErrors.filter((e) => e.includes('restarting it')).length;

function overloadTable(rs: LoadResult[]): string {
  const row = (label: string, f: (r: LoadResult) => string): string[] => [label, ...rs.map(f)];
  return table([
    ['', ...rs.map((r) => (r.gate ? 'with admission bounds' : 'without (as before)'))],
    row('checks scheduled per second', (r) => f0(r.tcp + r.http)),
    // A restarted worker counts its runs from 0 again: its rate over the window means nothing.
    row('checks run per second (achieved)', (r) => (restarts(r) > 0 ? 'n/a (restarted)' : f0(r.checksPerS))),
    row('check worker restarts (missed heartbeat)', (r) => String(restarts(r))),
    row('open fds, peak (at start)', (r) => `${r.fdPeak} (${r.fdStart})${r.fdLimitHits > 0 ? `: the limit, EMFILE in ${r.fdLimitHits} samples` : ''}`),
    row('lateness p99: worst / median second (ms)', (r) => `${f0(r.lateP99MaxMs)} / ${f0(r.lateP99MedianMs)}${r.lateWindowOnly ? '' : ' *'}`),
    row('runs that waited for admission; most waiting', (r) => `${r.queuedTotal}; ${r.queuedPeak}`),
    row('false downs (TCP / HTTP)', (r) => `${r.downEvents} (${r.downTcp} / ${r.downHttp})`),
    row('CPU, whole process, % of one core', (r) => f1(r.cpuPct)),
    row('RSS peak in the window', (r) => `${f0(r.rssPeakMB)} MB`),
  ], ' | ');
}

// ---------------------------------------------------------------------------------------------
// Part 2.

interface JitterResult {
  checks: number;
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** p99 of |interval - 100 ms|. */
  jitterP99: number;
  spurious: number;
  d1State: string;
  d1CpuPct: number;
  checksUp: number;
  checksDown: number;
  ipvsErrors: number;
}

/** utime + stime of a process in ms (`ip netns exec` execs, so the pid is node's). */
const procCpuMs = (pid: number): number => { const t = procTimesMs(pid); return t.user + t.sys; };

function d1Yaml(lab: Lab, load: CheckLoad): string {
  // Top-level virtual_servers after the instance (pairConfig's `extra` is appended at the end).
  return pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150, version: 3, advertInt: 0.1, vip: '192.0.2.100/24', extra: virtualServersYaml(load) })
    .replace('level: debug', 'level: info');
}

async function startPair(lab: Lab, load: CheckLoad): Promise<{ d1: DuetNode; d2: DuetNode }> {
  const d1 = await startDuet(lab, 'd1', d1Yaml(lab, load));
  onCleanup(() => d1.cleanup());
  const d2 = await startDuet(lab, 'd2', pairConfig('d2', { ifname: lab.host('d2').ifname, priority: 100, version: 3, advertInt: 0.1 }).replace('level: debug', 'level: info'));
  onCleanup(() => d2.cleanup());
  await d1.waitState('VI_1', 'master', 15_000);
  await d2.waitState('VI_1', 'backup', 15_000);
  return { d1, d2 };
}

async function stopPair(p: { d1: DuetNode; d2: DuetNode }): Promise<void> {
  for (const n of [p.d1, p.d2]) n.kill('SIGTERM');
  for (const n of [p.d1, p.d2]) { await Promise.race([n.exited(), sleep(5000)]); n.cleanup(); }
}

function intervals(ts: number[]): number[] {
  const r: number[] = [];
  for (let i = 1; i < ts.length; i++) r.push(ts[i]! - ts[i - 1]!);
  return r;
}

async function measureVrrp(lab: Lab, cap: VrrpCapture, load: CheckLoad): Promise<JitterResult> {
  const pair = await startPair(lab, load);
  try {
    // Transitions from here on are spurious: the election is over. The warm-up covers the checks'
    // first runs (spread over one interval) and their burst of first results.
    const before = pair.d1.transitions().length + pair.d2.transitions().length;
    await sleep(OPT.warmupS * 1000);
    const cpu0 = procCpuMs(pair.d1.proc.pid!);
    const t0 = performance.now();
    const from = nowEpoch();
    await sleep(OPT.jitterS * 1000);
    const to = nowEpoch();
    const d1CpuPct = ((procCpuMs(pair.d1.proc.pid!) - cpu0) / (performance.now() - t0)) * 100;
    const iv = intervals(cap.from(D1, from, to, 51).map((p) => p.at));
    const changed = pair.d1.logs.filter((l) => l.msg === 'check state changed');
    // First results come as summaries ("first check results: N up, M down"), later changes one by one.
    const firsts = pair.d1.logs.filter((l) => l.msg.startsWith('first check results'));
    const firstSum = (k: 'up' | 'down'): number => firsts.reduce((n, l) => n + Number(l[k] ?? 0), 0);
    return {
      checks: load.tcp + load.http,
      n: iv.length, p50: quantile(iv, 0.5), p99: quantile(iv, 0.99), max: Math.max(...iv),
      jitterP99: quantile(iv.map((x) => Math.abs(x - 100)), 0.99),
      spurious: pair.d1.transitions().length + pair.d2.transitions().length - before,
      d1State: (await pair.d1.instance('VI_1'))?.state ?? 'none',
      d1CpuPct,
      checksUp: firstSum('up') + changed.filter((l) => l['to'] === 'up').length,
      checksDown: firstSum('down') + changed.filter((l) => l['to'] === 'down').length,
      ipvsErrors: pair.d1.logs.filter((l) => l.msg === 'IPVS reconcile failed').length,
    };
  } finally {
    await stopPair(pair);
  }
}

async function part2(lab: Lab): Promise<JitterResult[]> {
  await localTargets(lab, 'd1');
  await startServers(lab, 'd1');
  const cap = await captureVrrp(lab, 'd2');
  const out: JitterResult[] = [];
  for (const load of [{ tcp: 0, http: 0 }, VRRP_LOAD]) {
    console.log(`  d1 with ${load.tcp + load.http} checks: warm-up ${OPT.warmupS} s, capture ${OPT.jitterS} s ...`);
    const j = await measureVrrp(lab, cap, load);
    console.log(`    ${fmtJitter(j)}`);
    out.push(j);
    cap.prune(nowEpoch());
  }
  return out;
}

function fmtJitter(j: JitterResult): string {
  return `intervals p50 ${f1(j.p50)} / p99 ${f1(j.p99)} / max ${f1(j.max)} ms (n=${j.n}), |interval-100| p99 ${f1(j.jitterP99)} ms, ` +
    `${j.spurious} spurious transitions, d1 ${j.d1State}, d1 CPU ${f1(j.d1CpuPct)}%`;
}

// ---------------------------------------------------------------------------------------------
// Report.

const verdict = (ok: boolean): string => (ok ? 'MET' : 'MISSED');
/** Marks lateness read while the engine's ring still held warm-up samples (short window). */
const late = (s: Step): string => (s.r.lateWindowOnly ? '' : ' *');
const perTenK = (r: { cpuPct: number; checksPerS: number }): number => (r.cpuPct / r.checksPerS) * 10_000;

function checksTable(steps: Step[]): string {
  const head = ['', ...steps.map((s) => `${s.r.tcp} TCP + ${s.r.http} HTTP`), 'target (full load)'];
  const row = (label: string, f: (s: Step) => string, target = ''): string[] => [label, ...steps.map(f), target];
  const full = steps.at(-1)!.r;
  const rows = [
    head,
    row('checks scheduled per second', (s) => f0(s.r.tcp + s.r.http)),
    row('checks run per second (achieved)', (s) => f0(s.r.checksPerS), `>= ${TARGETS.checksPerS}: ${verdict(full.checksPerS >= TARGETS.checksPerS)}`),
    row('CPU, whole process, % of one core', (s) => f1(s.r.cpuPct)),
    row('  user / kernel', (s) => `${f1(s.r.cpuUserPct)} / ${f1(s.r.cpuSysPct)}`),
    row('  main thread', (s) => f1(s.r.cpuMainPct)),
    row('  check worker thread', (s) => f1(s.r.cpuWorkerPct)),
    row('  other threads (V8 GC, libuv)', (s) => f1(s.r.cpuOtherPct)),
    // The target is a rate on one core: CPU normalised to 10,000 checks/s, whatever rate was reached.
    row('CPU per 10,000 checks/s, % of one core', (s) => f1(perTenK(s.r)), cpuTarget(steps.at(-1)!)),
    row('RSS peak in the window (sampled 1/s)', (s) => `${f0(s.r.rssPeakMB)} MB`, `< ${TARGETS.rssMB} MB: ${verdict(full.rssPeakMB < TARGETS.rssMB)}`),
    row('RSS peak since start (ru_maxrss)', (s) => `${f0(s.r.maxRssMB)} MB`, `< ${TARGETS.rssMB} MB: ${verdict(full.maxRssMB < TARGETS.rssMB)}`),
    row('lateness past due, p99 (worst second)', (s) => `${f1(s.r.lateP99MaxMs)} ms${late(s)}`, '(no target set)'),
    row('lateness past due, p99 (median second)', (s) => `${f1(s.r.lateP99MedianMs)} ms${late(s)}`),
    row('lateness past due, max', (s) => (s.r.lateWindowOnly ? `${f1(s.r.lateMaxMs)} ms` : 'n/a (window too short)')),
    row('failed: checks that went down (TCP / HTTP)', (s) => `${s.r.downTcp} / ${s.r.downHttp}${s.r.downEvents ? ` ${JSON.stringify(s.r.downReasons)}` : ''}`, `0: ${verdict(full.downEvents === 0)}`),
    row('checks that came up (of configured)', (s) => `${s.r.upEvents} of ${s.r.tcp + s.r.http}`),
    row('connections served by the targets (whole run)', (s) => f0(s.served)),
    row('configure() (worker receives 1 list)', (s) => `${f0(s.r.configureMs)} ms`),
    row('target servers\' CPU (other process)', (s) => `${f1(s.serverCpuPct)}%`),
    row('whole machine busy in the window', (s) => `${f0(s.r.machineBusyPct)}% of ${s.r.cores * 100}%`),
  ];
  return table(rows, ' | ');
}

/** The CPU target: no more per 10,000 checks/s than HAProxy's in the same run (one core without it). */
function cpuTarget(full: Step): string {
  // A worker restarted in the window (its heartbeat unanswered) resets the engine's count: no figure.
  if (restarted(full.r)) return `no valid duet figure (check worker restarted): ${verdict(false)}`;
  const duet = perTenK(full.r);
  if (full.hap === undefined) return `<= ${TARGETS.cpuCores * 100}% (no HAProxy to compare): ${verdict(duet <= TARGETS.cpuCores * 100)}`;
  const hap = perTenK(full.hap);
  return `<= HAProxy's ${f1(hap)}%: ${verdict(duet <= hap)}`;
}

const restarted = (r: LoadResult): boolean => r.engineErrors.length > 0 || !(r.checksPerS > 0);

/** duet and HAProxy side by side per load: the same targets, counts and window. */
function versusTable(steps: Step[]): string {
  const cols = steps.flatMap((s) => [{ label: `duet ${s.r.tcp}+${s.r.http}`, d: s.r, h: undefined }, { label: `HAProxy ${s.r.tcp}+${s.r.http}`, d: undefined, h: s.hap }]);
  type Col = (typeof cols)[number];
  const cell = (c: Col, d: (r: LoadResult) => string, h: (r: HaproxyResult) => string): string => (c.d ? d(c.d) : c.h ? h(c.h) : 'n/a');
  const row = (label: string, d: (r: LoadResult) => string, h: (r: HaproxyResult) => string, target = ''): string[] => [label, ...cols.map((c) => cell(c, d, h)), target];
  const full = steps.at(-1)!;
  return table([
    ['', ...cols.map((c) => c.label), 'target (full load)'],
    row('checks run per second', (r) => f0(r.checksPerS), (h) => f0(h.checksPerS)),
    row('  TCP connects per second (ActiveOpens)', (r) => f0(r.connectsPerS), (h) => f0(h.checksPerS)),
    row('CPU, % of one core', (r) => f1(r.cpuPct), (h) => f1(h.cpuPct)),
    row('  user / kernel', (r) => `${f1(r.cpuUserPct)} / ${f1(r.cpuSysPct)}`, (h) => `${f1(h.cpuUserPct)} / ${f1(h.cpuSysPct)}`),
    row('CPU per 10,000 checks/s, % of one core', (r) => f1(perTenK(r)), (h) => f1(perTenK(h)), cpuTarget(full)),
    row('CPU per check, us', (r) => f0((r.cpuPct / 100 / r.checksPerS) * 1e6), (h) => f0((h.cpuPct / 100 / h.checksPerS) * 1e6)),
    row('RSS peak in the window', (r) => `${f0(r.rssPeakMB)} MB`, (h) => `${f0(h.rssPeakMB)} MB`, `< ${TARGETS.rssMB} MB: ${verdict(full.r.rssPeakMB < TARGETS.rssMB)}`),
    row('RSS peak since start', (r) => `${f0(r.maxRssMB)} MB`, (h) => `${f0(h.maxRssMB)} MB`),
    row('check worker restarts (heartbeat unanswered)', (r) => String(r.engineErrors.length), () => 'n/a'),
    row('checks down (duet: went down; HAProxy: not UP at the end)', (r) => String(r.downEvents), (h) => `${h.notUp}${h.notUp ? ` ${JSON.stringify(h.notUpStates)}` : ''}`),
  ], ' | ');
}

function vrrpTable(j: JitterResult[]): string {
  const withChecks = j.at(-1)!;
  const rows = [
    ['d1 (master) runs', ...j.map((x) => `${x.checks} checks`), 'target (with checks)'],
    ['advert interval p50 / p99 / max (nominal 100 ms)', ...j.map((x) => `${f1(x.p50)} / ${f1(x.p99)} / ${f1(x.max)} ms`), ''],
    ['advert jitter p99, |interval - 100 ms|', ...j.map((x) => `${f1(x.jitterP99)} ms`), `< ${TARGETS.jitterP99Ms} ms: ${verdict(withChecks.jitterP99 < TARGETS.jitterP99Ms)}`],
    ['adverts captured (intervals)', ...j.map((x) => String(x.n)), ''],
    ['spurious transitions (d1 + d2, after the election)', ...j.map((x) => String(x.spurious)), `${TARGETS.spurious}: ${verdict(withChecks.spurious === TARGETS.spurious && withChecks.d1State === 'master')}`],
    ['d1 state at the end', ...j.map((x) => x.d1State), ''],
    ['d1 checks up / down (log)', ...j.map((x) => `${x.checksUp} / ${x.checksDown}`), ''],
    ['d1 daemon CPU, % of one core', ...j.map((x) => f1(x.d1CpuPct)), ''],
    ['d1 "IPVS reconcile failed" log lines (no IPVS here)', ...j.map((x) => String(x.ipvsErrors)), ''],
  ];
  return table(rows, ' | ');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const t0 = performance.now();
  console.log('bench:checks: health checks at scale on one node, and VRRP advert timing with checks running');
  console.log(`machine: ${availableParallelism()} CPU(s) (${cpus()[0]?.model ?? '?'}), Linux ${release()}, Node ${process.version}, ` +
    `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine makes figures noisy)`);
  console.log(`options: window ${OPT.seconds} s per check load after ${OPT.warmupS} s warm-up, jitter capture ${OPT.jitterS} s per condition`);
  const lab = await labWithCleanup(LAB, [{ name: 'ck', addr: '192.0.2.5' }, { name: 'd1', addr: D1 }, { name: 'd2', addr: '192.0.2.12' }]);

  const kind = tcpCheckKind();
  console.log(`duet's TCP checks: ${kind.kind === 'native' ? 'the native connect core (native/tcp_core.c)' : `net.Socket (tcp.ts): ${kind.why}`}`);
  console.log(HAPROXY === undefined ? HAPROXY_MISSING : `reference: ${HAPROXY} (nbthread 1), the same targets after each duet load`);

  if (OVERLOAD) {
    console.log('\nPast capacity: the check worker without, then with, admission bounds (check/admission.ts)');
    const rs = await overload(lab, OVERLOAD);
    console.log(`\n${'='.repeat(100)}\nRESULTS (${f0((performance.now() - t0) / 1000)} s)\n`);
    console.log(overloadTable(rs));
    console.log('Open fds: the load process\'s /proc/self/fd, sampled every 20 ms. Lateness: the engine\'s start time minus due time');
    console.log('(admission waits included), p99 over its last 16,384 runs read each second (* = warm-up samples still in the ring).');
    console.log('False downs: every target answers; a down is a check failed for the checker\'s own lateness.');
    return 0;
  }
  console.log('\nPart 1: checks through workerChecks (engine + real checkers in the worker thread), own process, targets in another');
  const steps = await part1(lab);
  let jit: JitterResult[] = [];
  if (!argv['skip-vrrp']) {
    console.log('\nPart 2: duet pair, VRRPv3 100 ms adverts; d1 master with 0, then 1,000 checks (800 TCP + 200 HTTP at 1 s)');
    jit = await part2(lab);
  }

  console.log(`\n${'='.repeat(100)}\nRESULTS (${f0((performance.now() - t0) / 1000)} s)\n`);
  console.log(`Checks: interval 1 s, timeout 0.9 s, targets on loopback (198.18.0.0/15 local on lo); window ${OPT.seconds} s`);
  console.log(checksTable(steps));
  console.log('CPU is process.cpuUsage() over the window (every thread of the process); 100% = one core busy. On loopback the');
  console.log('kernel share includes the targets\' side of each TCP exchange (loopback delivery runs in the sender\'s context).');
  console.log('Lateness is the engine\'s own figure (timing(): start time minus due time over its last 16,384 checks), read every second,');
  console.log('counting readings once those 16,384 all fell in the window (* = window too short for that: warm-up samples included).');
  console.log(`\nduet and ${HAPROXY ?? 'HAProxy (not installed: apt-get install haproxy)'}, the same real servers one after the other; window ${OPT.seconds} s each`);
  console.log(versusTable(steps));
  console.log('duet: checks started per second (engine), CPU of its whole process (process.cpuUsage()). HAProxy: TCP connects per second');
  console.log('(the namespace\'s ActiveOpens), CPU from /proc/PID/stat (utime, stime; 10 ms ticks), nbthread 1. Both pay the targets\' side of the');
  console.log('loopback TCP exchange in their kernel time. Figures on a shared machine move with its load (see the load average above).');
  if (jit.length > 0) {
    console.log(`\nVRRP: d1 adverts as captured in d2's namespace (tcpdump, kernel timestamps); window ${OPT.jitterS} s after ${OPT.warmupS} s warm-up`);
    console.log(vrrpTable(jit));
    console.log('The host kernel has no IPVS: d1 logs "IPVS reconcile failed" when it reconciles; its checks and VRRP are unaffected');
    console.log('(the kernel side of the table is exercised in the VM tests, test/vm).');
  }
  return 0;
}

const estS = 60 + OPT.steps.length * 2 * (OPT.warmupS + OPT.seconds + 15) + (argv['skip-vrrp'] ? 0 : 2 * (OPT.warmupS + OPT.jitterS + 15));
runMain(async () => {
  const code = await main();
  await cleanupAll();
  const left = (await listNamespaces()).filter((n) => n.startsWith(`${LAB}-`));
  if (left.length > 0) { console.error(`WARNING: namespaces left: ${left.join(' ')}`); return 1; }
  return code;
}, { deadlineMs: Math.max(180, 2 * estS) * 1000, name: 'bench:checks' });
