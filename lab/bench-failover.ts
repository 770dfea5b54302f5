// `npm run bench:failover`: a keepalived pair and a duet pair on the same lab and settings,
// side by side.
//
//   node build/lab/bench-failover.js [--quick] [--trials N] [--v2-trials N]
//                                       [--jitter-seconds N] [--soak-seconds N] [--skip-v2]
//
// Lab 'bf': d1 (192.0.2.11, priority 150), d2 (192.0.2.12, priority 100), cl (192.0.2.50).
// Each director runs a UDP echo responder on 0.0.0.0:7007; a prober in cl sends a UDP probe to
// the VIP every 10 ms and records every reply.
//
// Measured, the same way for both implementations:
//  (a) takeover: from the hard kill of the master (SIGKILL of every process of it, and its link
//      set down through an `ip -b -` already running in its namespace, in the same instant) to
//      the VIP appearing on the backup, as timestamped by `ip -ts monitor address` started in the
//      backup's namespace before the kill (no polling). Cross-check: the first advert the new
//      master sends (tcpdump -tt in the backup's namespace).
//  (b) client gap: the longest time between consecutive probe replies around the event.
//  (c) the same two on a clean stop (SIGTERM of the master: both send priority 0).
//  (d) duet only: `duet failover` on the master (make-before-break: priority 0, VIP kept until
//      the new master's first advert), from the CLI's start; then `failover --clear` hands back.
// Advert jitter: intervals between the master's adverts as captured (kernel timestamps) in the
// backup's namespace, idle, with CPU burners beside the master, and (duet) with the master's own
// event loop kept busy by a preload (lab/busy-loop.ts, NODE_OPTIONS=--import; the daemon
// source is untouched). Soak: both pairs at once at 20 ms adverts (different VRIDs and VIPs),
// counting transitions after the initial election.
import { scriptArgs } from './args.js';
import { cpus, loadavg, release } from 'node:os';
import { cli } from './duet-node.js';
import {
  labWithCleanup, startDuet, pairConfig, startKeepalived, keepalivedConfig, startAgent, onCleanup, runMain,
  watchAddresses, captureVrrp, captureArp, ipShell, setLink, waitLinkUp, hasAddr, flushAddr, waitFor, sleep, nowEpoch,
  Prober, killKeepalivedHard, keepalivedState, keepalivedTransitions, quantile, fmtRange, table, cleanupAll,
  listNamespaces, BUSY_LOOP,
  type Lab, type DuetNode, type KeepalivedNode, type AddrWatch, type VrrpCapture, type ArpCapture, type Agent,
} from './lab.js';

// ---------------------------------------------------------------------------------------------
// Options.

const argv = scriptArgs('bench-failover', `usage: npm run bench:failover -- [--quick] [--trials N] [--v2-trials N] [--jitter-seconds N] [--soak-seconds N] [--skip-v2]
  --trials N          trials per implementation and event at VRRPv3 / 100 ms (default 10; --quick 3)
  --v2-trials N       trials at VRRPv2 / 1 s (default 3; --quick 1); 0 skips v2
  --jitter-seconds N  capture window per advert-jitter condition (default 15; --quick 5)
  --soak-seconds N    the 20 ms advert soak (default 120; --quick 15); 0 skips it`, {
  quick: { type: 'boolean', default: false },
  trials: { type: 'string' },
  'v2-trials': { type: 'string' },
  'jitter-seconds': { type: 'string' },
  'soak-seconds': { type: 'string' },
  'skip-v2': { type: 'boolean', default: false },
});
const int = (v: string | undefined, def: number, name: string): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1000) { console.error(`--${name}: expected a whole number 0..1000, got ${v}`); process.exit(2); }
  return n;
};
const Q = argv.quick;
const OPT = {
  trials: int(argv.trials, Q ? 3 : 10, 'trials'),
  v2Trials: argv['skip-v2'] ? 0 : int(argv['v2-trials'], Q ? 1 : 3, 'v2-trials'),
  jitterS: int(argv['jitter-seconds'], Q ? 5 : 15, 'jitter-seconds'),
  soakS: int(argv['soak-seconds'], Q ? 15 : 120, 'soak-seconds'),
};

// ---------------------------------------------------------------------------------------------
// The two implementations behind one interface.

type Impl = 'keepalived' | 'duet';
const IMPLS: Impl[] = ['keepalived', 'duet'];
const LABEL: Record<Impl, string> = { keepalived: 'keepalived 2.2.7', duet: 'duet' };

interface Settings { version: 2 | 3; advertS: number; vrid: number; vip: string }

interface PairNode {
  impl: Impl;
  host: string;
  /** Every process of it SIGKILLed now (no goodbye). */
  kill9(): void;
  /** A clean stop (SIGTERM: priority 0, VIP removed). */
  term(): void;
  /** `duet failover` and `duet failover --clear` (duet only: keepalived has no operator handover). */
  failover?(clear: boolean): Promise<void>;
  state(): Promise<string>;
  transitions(): number;
  alive(): boolean;
  exited(): Promise<unknown>;
  cleanup(): Promise<void>;
}

async function startNode(impl: Impl, lab: Lab, host: string, priority: number, s: Settings, o: { busyLoop?: boolean; advertThread?: boolean } = {}): Promise<PairNode> {
  const ifname = lab.host(host).ifname;
  if (impl === 'duet') {
    const yaml = pairConfig(host, { ifname, priority, version: s.version, advertInt: s.advertS, vrid: s.vrid, vip: `${s.vip}/24`, preempt: true })
      .replace('level: debug', 'level: info') + (o.advertThread ? 'realtime: { advert_thread: true }\n' : '');
    // startDuet spawns synchronously before its first await, with this process's environment.
    const saved = process.env['NODE_OPTIONS'];
    if (o.busyLoop) process.env['NODE_OPTIONS'] = `${saved ?? ''} --import=${BUSY_LOOP}`.trim();
    const p = startDuet(lab, host, yaml);
    if (o.busyLoop) { if (saved === undefined) delete process.env['NODE_OPTIONS']; else process.env['NODE_OPTIONS'] = saved; }
    const n: DuetNode = await p;
    const node: PairNode = {
      impl, host,
      kill9: () => n.kill('SIGKILL'),
      term: () => n.kill('SIGTERM'),
      failover: async (clear) => {
        const r = await cli(n, clear ? ['failover', '--clear'] : ['failover']);
        if (r.code !== 0) throw new Error(`duet failover${clear ? ' --clear' : ''}: exit ${r.code}: ${r.stderr.trim()}`);
      },
      state: async () => (await n.instance('VI_1'))?.state ?? 'none',
      transitions: () => n.transitions().length,
      alive: () => n.proc.exitCode === null && n.proc.signalCode === null,
      exited: () => n.exited(),
      cleanup: async () => { n.cleanup(); },
    };
    onCleanup(node.cleanup);
    return node;
  }
  const conf = keepalivedConfig({ ifname, priority, version: s.version, advertInt: s.advertS, vrid: s.vrid, vip: `${s.vip}/24` })
    .replace('  log_unknown_vrids\n', '');
  const k: KeepalivedNode = await startKeepalived(lab, host, conf);
  const node: PairNode = {
    impl, host,
    kill9: () => killKeepalivedHard(k),
    term: () => k.kill('SIGTERM'),
    state: async () => keepalivedState(k),
    transitions: () => keepalivedTransitions(k),
    alive: () => k.proc.exitCode === null && k.proc.signalCode === null,
    exited: () => k.exited(),
    cleanup: async () => { killKeepalivedHard(k); await k.cleanup(); },
  };
  onCleanup(node.cleanup);
  return node;
}

/** d1 (150) and d2 (100) of one implementation; d1 is the master at the start of each trial. */
class Pair {
  d1: PairNode | undefined;
  d2: PairNode | undefined;
  constructor(readonly lab: Lab, readonly impl: Impl, readonly s: Settings) {}

  async ensure(o: { busyLoop?: boolean; advertThread?: boolean } = {}): Promise<void> {
    const { lab, s } = this;
    const advMs = s.advertS * 1000;
    if (!this.d1?.alive()) {
      // A crashed host comes back: no stale VIP (as after a reboot), link up.
      if (this.d1) { await this.d1.exited(); await this.d1.cleanup(); }
      await flushAddr(lab, 'd1', s.vip);
      await setLink(lab, 'd1', true);
      await waitLinkUp(lab, 'd1');
      this.d1 = await startNode(this.impl, lab, 'd1', 150, s, o);
    }
    if (!this.d2?.alive()) {
      if (this.d2) { await this.d2.exited(); await this.d2.cleanup(); }
      await flushAddr(lab, 'd2', s.vip);
      this.d2 = await startNode(this.impl, lab, 'd2', 100, s);
    }
    const d1 = this.d1;
    const d2 = this.d2;
    await waitFor(async () => (await d1.state()) === 'master' && (await d2.state()) === 'backup'
      && (await hasAddr(lab, 'd1', s.vip)) && !(await hasAddr(lab, 'd2', s.vip)),
    { timeoutMs: 8 * advMs + 10_000, intervalMs: 25, what: `${this.impl}: d1 master, d2 backup, VIP on d1 only` });
  }

  async stop(): Promise<void> {
    for (const n of [this.d1, this.d2]) if (n?.alive()) n.term();
    for (const n of [this.d1, this.d2]) if (n) { await Promise.race([n.exited(), sleep(5000)]); await n.cleanup(); }
    this.d1 = this.d2 = undefined;
    await flushAddr(this.lab, 'd1', this.s.vip);
    await flushAddr(this.lab, 'd2', this.s.vip);
    await setLink(this.lab, 'd1', true);
  }
}

// ---------------------------------------------------------------------------------------------
// The lab and its observers.

interface Env {
  lab: Lab;
  prober: Prober;
  watch2: AddrWatch;
  cap2: VrrpCapture;
  arp2: ArpCapture;
  d1ip: { send(line: string): void };
}

const VIP = '192.0.2.100';
const VIP_SOAK_KA = '192.0.2.101';
const ECHO_PORT = 7007;
const D1 = '192.0.2.11';
const D2 = '192.0.2.12';

async function setup(): Promise<Env> {
  const lab = await labWithCleanup('bf', [{ name: 'd1', addr: `${D1}` }, { name: 'd2', addr: `${D2}` }, { name: 'cl', addr: '192.0.2.50' }]);
  await Promise.all(['d1', 'd2'].map((h) => startAgent(lab, h, ['udp-echo', h, String(ECHO_PORT)])));
  const prober = new Prober(await startAgent(lab, 'cl', ['udp-probe', VIP, String(ECHO_PORT), '10']));
  const watch2 = await watchAddresses(lab, 'd2');
  const cap2 = await captureVrrp(lab, 'd2');
  const arp2 = await captureArp(lab, 'd2');
  const d1ip = ipShell(lab, 'd1');
  return { lab, prober, watch2, cap2, arp2, d1ip };
}

// ---------------------------------------------------------------------------------------------
// One failover trial.

interface TrialResult {
  takeoverMs: number;
  advertMs: number;
  gapMs: number;
  /** From the old master's last advert (priority 0 on a clean stop) seen in the backup's namespace to the VIP there. */
  fromLastMs: number;
  /** fromLastMs less the RFC deadline (Master_Down_Interval after a kill, Skew_Time after priority 0). */
  lateMs: number;
  /** Clean stop: from SIGTERM to the old master's priority-0 advert seen in the backup's namespace. */
  prio0Ms: number;
  /** From the VIP appearing on the new master (ip monitor) to its first gratuitous ARP (tcpdump there). */
  garpMs: number;
  note?: string;
}

type Kind = 'kill' | 'stop' | 'failover';

async function trial(env: Env, pair: Pair, kind: Kind): Promise<TrialResult> {
  const { prober, watch2, cap2, lab } = env;
  const advMs = pair.s.advertS * 1000;
  await pair.ensure();
  await prober.waitFlowing({ since: nowEpoch(), name: 'd1', forMs: 300, timeoutMs: 5000 });
  // A random phase between adverts, and at least one full advert interval in steady state.
  await sleep(advMs + Math.random() * advMs);
  const d1 = pair.d1!;
  const t0 = nowEpoch();
  // failover: the CLI is started at t0; its own start-up (~100 ms of node) is part of the figure.
  let handover: Promise<void> | undefined;
  if (kind === 'kill') {
    env.d1ip.send(`link set ${lab.host('d1').ifname} down`);
    d1.kill9();
  } else if (kind === 'stop') {
    d1.term();
  } else {
    handover = d1.failover!(false);
  }
  const added = await watch2.added(pair.s.vip, t0, 4 * advMs + 5000);
  const res: TrialResult = { takeoverMs: added === undefined ? NaN : added - t0, advertMs: NaN, gapMs: NaN, fromLastMs: NaN, lateMs: NaN, prio0Ms: NaN, garpMs: NaN };
  if (added !== undefined) {
    const last = cap2.packets.filter((p) => p.src === D1 && p.vrid === pair.s.vrid && p.at <= added).at(-1);
    if (last) {
      res.fromLastMs = added - last.at;
      const t = rfcTimers(pair.s);
      res.lateMs = res.fromLastMs - (last.prio === 0 ? t.skew : t.down);
    }
    if (kind === 'stop' && last?.prio === 0 && last.at >= t0) res.prio0Ms = last.at - t0;
  }
  if (added === undefined) res.note = 'VIP never appeared on d2';
  const flowing = await prober.waitFlowing({ since: added ?? t0, name: 'd2', forMs: 300, timeoutMs: 5000 });
  if (flowing) res.gapMs = (await prober.gap(t0, nowEpoch())).gapMs;
  if (added !== undefined) {
    // Looked up once tcpdump's output has caught up. ip monitor stamps the add when it reads the
    // notification: a GARP sent right with the add may precede it (a negative figure).
    const garp = env.arp2.first(pair.s.vip, added - 50);
    if (garp) res.garpMs = garp.at - added;
  }
  else res.note = `${res.note ? `${res.note}; ` : ''}client replies did not resume from d2`;
  const adv = cap2.packets.find((p) => p.src === D2 && p.vrid === pair.s.vrid && p.at >= t0 && p.prio > 0);
  if (adv) res.advertMs = adv.at - t0;
  const st = await pair.d2!.state();
  if (st !== 'master') res.note = `${res.note ? `${res.note}; ` : ''}d2 is ${st}, not master`;
  if (handover) {
    // d1 hands back (its override cleared; preempt): the pair is as before for the next trial.
    await handover;
    await d1.failover!(true);
    await waitFor(async () => (await d1.state()) === 'master' && (await pair.d2!.state()) === 'backup', { timeoutMs: 10_000, intervalMs: 25, what: 'd1 master again after failover --clear' });
  } else await Promise.race([d1.exited(), sleep(5000)]);
  cap2.prune(nowEpoch() - 60_000);
  env.arp2.prune(nowEpoch() - 60_000);
  return res;
}

interface Block { kill: TrialResult[]; stop: TrialResult[]; failover: TrialResult[] }

async function runSetting(env: Env, s: Settings, n: number, label: string): Promise<Record<Impl, Block>> {
  const out = {} as Record<Impl, Block>;
  for (const impl of IMPLS) {
    const pair = new Pair(env.lab, impl, s);
    const b: Block = { kill: [], stop: [], failover: [] };
    out[impl] = b;
    try {
      for (const kind of (impl === 'duet' ? ['kill', 'stop', 'failover'] : ['kill', 'stop']) as Kind[]) {
        for (let i = 1; i <= n; i++) {
          const r = await trial(env, pair, kind).catch((e: unknown): TrialResult => ({ takeoverMs: NaN, advertMs: NaN, gapMs: NaN, fromLastMs: NaN, lateMs: NaN, prio0Ms: NaN, garpMs: NaN, note: (e as Error).message.split('\n')[0] }));
          b[kind].push(r);
          const unit = s.advertS >= 1 ? 1000 : 1;
          const f = (x: number): string => (Number.isFinite(x) ? (unit === 1 ? `${x.toFixed(0)} ms` : `${(x / 1000).toFixed(2)} s`) : '—');
          console.log(`  ${label} ${impl.padEnd(10)} ${kind === 'kill' ? 'kill -9 ' : kind === 'stop' ? 'SIGTERM ' : 'failover'} #${i}: takeover ${f(r.takeoverMs).padStart(7)}  first advert ${f(r.advertMs).padStart(7)}  from last advert ${f(r.fromLastMs).padStart(7)} (deadline ${r.lateMs >= 0 ? '+' : ''}${r.lateMs.toFixed(2)} ms)  client gap ${f(r.gapMs).padStart(7)}${kind === 'stop' ? `  SIGTERM->prio 0 ${r.prio0Ms.toFixed(2)} ms` : ''}  VIP->GARP ${r.garpMs.toFixed(2)} ms${r.note ? `  (${r.note})` : ''}`);
        }
      }
    } finally {
      await pair.stop();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Advert jitter.

interface Jitter { n: number; p50: number; p99: number; max: number; spurious: number }

function intervals(ts: number[]): number[] {
  const r: number[] = [];
  for (let i = 1; i < ts.length; i++) r.push(ts[i]! - ts[i - 1]!);
  return r;
}

async function measureJitter(env: Env, pair: Pair, seconds: number): Promise<Jitter> {
  const before = pair.d2!.transitions() + pair.d1!.transitions();
  const from = nowEpoch();
  await sleep(seconds * 1000);
  const to = nowEpoch();
  const iv = intervals(env.cap2.from(D1, from, to, pair.s.vrid).map((p) => p.at));
  const spurious = pair.d2!.transitions() + pair.d1!.transitions() - before;
  return { n: iv.length, p50: quantile(iv, 0.5), p99: quantile(iv, 0.99), max: Math.max(...iv), spurious };
}

type JitterCond = 'idle' | 'burn' | 'loop' | 'loopThread';
async function runJitter(env: Env): Promise<Record<Impl, Partial<Record<JitterCond, Jitter>>>> {
  const s: Settings = { version: 3, advertS: 0.1, vrid: 51, vip: VIP };
  const out = { keepalived: {}, duet: {} } as Record<Impl, Partial<Record<JitterCond, Jitter>>>;
  const nBurn = Math.max(1, cpus().length);
  for (const impl of IMPLS) {
    const pair = new Pair(env.lab, impl, s);
    try {
      await pair.ensure();
      await sleep(500);
      out[impl].idle = await measureJitter(env, pair, OPT.jitterS);
      console.log(`  ${impl.padEnd(10)} idle: ${fmtJ(out[impl].idle)}`);
      const burners: Agent[] = [];
      for (let i = 0; i < nBurn; i++) burners.push(await startAgent(env.lab, 'd1', ['burn']));
      await sleep(300);
      out[impl].burn = await measureJitter(env, pair, OPT.jitterS);
      for (const b of burners) await b.stop();
      console.log(`  ${impl.padEnd(10)} ${nBurn} CPU burners beside the master: ${fmtJ(out[impl].burn)}`);
      if (impl === 'duet') {
        // Restart the master with its event loop kept busy (preload), let it preempt back.
        pair.d1!.term();
        await pair.d1!.exited();
        await pair.ensure({ busyLoop: true });
        await sleep(500);
        out[impl].loop = await measureJitter(env, pair, OPT.jitterS);
        console.log(`  ${impl.padEnd(10)} master's event loop busy: ${fmtJ(out[impl].loop)}`);
        // The same with realtime.advert_thread: the adverts leave from a thread of their own.
        pair.d1!.term();
        await pair.d1!.exited();
        await pair.ensure({ busyLoop: true, advertThread: true });
        await sleep(500);
        out[impl].loopThread = await measureJitter(env, pair, OPT.jitterS);
        console.log(`  ${impl.padEnd(10)} master's event loop busy, advert thread: ${fmtJ(out[impl].loopThread)}`);
      }
    } finally {
      await pair.stop();
    }
  }
  return out;
}

const fmtJ = (j: Jitter | undefined): string =>
  j ? `p50 ${j.p50.toFixed(1)} / p99 ${j.p99.toFixed(1)} / max ${j.max.toFixed(1)} ms (n=${j.n})${j.spurious ? `, ${j.spurious} transitions!` : ''}` : 'n/a';

// ---------------------------------------------------------------------------------------------
// Soak: both pairs at once at 20 ms adverts.

interface Soak { seconds: number; spurious: number; n: number; p50: number; p99: number; max: number; overDown: number; downMs: number }

async function runSoak(env: Env): Promise<Record<Impl, Soak>> {
  const advertS = 0.02;
  const settings: Record<Impl, Settings> = {
    keepalived: { version: 3, advertS, vrid: 52, vip: VIP_SOAK_KA },
    duet: { version: 3, advertS, vrid: 51, vip: VIP },
  };
  const pairs = IMPLS.map((impl) => new Pair(env.lab, impl, settings[impl]));
  try {
    await Promise.all(pairs.map((p) => p.ensure()));
    await sleep(1000);
    const before = pairs.map((p) => p.d1!.transitions() + p.d2!.transitions());
    const from = nowEpoch();
    const step = 15;
    for (let left = OPT.soakS; left > 0; left -= step) {
      await sleep(Math.min(step, left) * 1000);
      if (left > step) process.stdout.write(`  ... ${OPT.soakS - left + step} s\n`);
    }
    const to = nowEpoch();
    const out = {} as Record<Impl, Soak>;
    pairs.forEach((p, i) => {
      const iv = intervals(env.cap2.from(D1, from, to, p.s.vrid).map((x) => x.at));
      const downMs = 3 * advertS * 1000 + ((256 - 100) / 256) * advertS * 1000;
      out[p.impl] = {
        seconds: (to - from) / 1000,
        spurious: p.d1!.transitions() + p.d2!.transitions() - before[i]!,
        n: iv.length, p50: quantile(iv, 0.5), p99: quantile(iv, 0.99), max: Math.max(...iv),
        overDown: iv.filter((x) => x > downMs).length, downMs,
      };
    });
    return out;
  } finally {
    for (const p of pairs) await p.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report.

const REF = {
  v3: { kill: '294-312 ms', killGap: '299-320 ms', stop: '62-65 ms', stopGap: '69-79 ms' },
  v2: { kill: '2.8-2.9 s', killGap: '(not given)', stop: '0.61 s', stopGap: '(not given)' },
};

/** The backup's (priority 100) RFC 5798 timers in ms: Skew_Time and Master_Down_Interval. */
function rfcTimers(s: Settings): { adv: number; skew: number; down: number } {
  const adv = s.advertS * 1000;
  const skew = ((256 - 100) / 256) * (s.version === 3 ? adv : 1000);
  return { adv, skew, down: 3 * adv + skew };
}

function expected(s: Settings): { kill: string; stop: string; down: string } {
  const { adv, skew, down } = rfcTimers(s);
  const v = (x: number): string => (s.advertS >= 1 ? (x / 1000).toFixed(2) : x.toFixed(0));
  const u = s.advertS >= 1 ? 's' : 'ms';
  return { kill: `${v(down - adv)}-${v(down)} ${u}`, stop: `${v(skew)} ${u} (Skew_Time)`, down: `${v(down)} ${u} (Master_Down_Interval)` };
}

function settingTable(title: string, s: Settings, r: Record<Impl, Block>, ref: typeof REF.v3, n: number): string {
  const unit = s.advertS >= 1 ? 's' : 'ms';
  const col = (impl: Impl, kind: Kind, k: keyof TrialResult, u: 'ms' | 's' = unit): string => fmtRange(r[impl][kind].map((x) => x[k] as number), u);
  const fine = (impl: Impl, kind: 'kill' | 'stop', k: 'prio0Ms' | 'garpMs' | 'lateMs'): string => {
    const xs = r[impl][kind].map((x) => x[k]).filter(Number.isFinite).sort((a, b) => a - b);
    return xs.length ? `${xs[0]!.toFixed(2)} / ${quantile(xs, 0.5).toFixed(2)} / ${xs.at(-1)!.toFixed(2)} ms` : '—';
  };
  const e = expected(s);
  const rows = [
    ['', LABEL.keepalived, LABEL.duet, 'reference (LAB-NOTES, keepalived)', 'RFC timers'],
    ['(a) kill -9 + link down: backup -> master', col('keepalived', 'kill', 'takeoverMs'), col('duet', 'kill', 'takeoverMs'), ref.kill, e.kill],
    ['    cross-check: first advert of the new master', col('keepalived', 'kill', 'advertMs'), col('duet', 'kill', 'advertMs'), '', ''],
    ['    from the last advert the backup saw', col('keepalived', 'kill', 'fromLastMs'), col('duet', 'kill', 'fromLastMs'), '', e.down],
    ['    past that deadline (VIP seen by ip monitor)', fine('keepalived', 'kill', 'lateMs'), fine('duet', 'kill', 'lateMs'), '', ''],
    ['(b) client gap (UDP probe every 10 ms)', col('keepalived', 'kill', 'gapMs'), col('duet', 'kill', 'gapMs'), ref.killGap, ''],
    ['(c) clean stop (priority 0): backup -> master', col('keepalived', 'stop', 'takeoverMs'), col('duet', 'stop', 'takeoverMs'), ref.stop, e.stop],
    ['    cross-check: first advert of the new master', col('keepalived', 'stop', 'advertMs'), col('duet', 'stop', 'advertMs'), '', ''],
    ['    from the priority-0 advert the backup saw', col('keepalived', 'stop', 'fromLastMs'), col('duet', 'stop', 'fromLastMs'), '', e.stop],
    ['    past that deadline (VIP seen by ip monitor)', fine('keepalived', 'stop', 'lateMs'), fine('duet', 'stop', 'lateMs'), '', ''],
    ['    client gap (duet: make-before-break; target < 30 ms, <= keepalived)', col('keepalived', 'stop', 'gapMs'), col('duet', 'stop', 'gapMs'), ref.stopGap, ''],
    ['    SIGTERM to the priority-0 advert (seen by the backup)', fine('keepalived', 'stop', 'prio0Ms'), fine('duet', 'stop', 'prio0Ms'), '', ''],
    ['(d) `duet failover` (make-before-break): backup -> master', 'n/a (no operator handover)', col('duet', 'failover', 'takeoverMs'), '', ''],
    ['    client gap; target: < 30 ms and <= keepalived\'s clean stop', `(clean stop: ${col('keepalived', 'stop', 'gapMs')})`, col('duet', 'failover', 'gapMs'), '', ''],
    ['VIP added to first GARP (new master; kill / stop)', `${fine('keepalived', 'kill', 'garpMs')}; ${fine('keepalived', 'stop', 'garpMs')}`, `${fine('duet', 'kill', 'garpMs')}; ${fine('duet', 'stop', 'garpMs')}`, '', ''],
  ];
  return `${title}: ${n} trial${n === 1 ? '' : 's'} per implementation and event; min / median / max\n${table(rows, ' | ')}`;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const t0 = performance.now();
  console.log('bench:failover: keepalived pair vs duet pair, same lab, same settings');
  console.log(`machine: ${cpus().length} CPU(s), Linux ${release()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine makes figures noisy)`);
  console.log(`options: v3 trials ${OPT.trials}, v2 trials ${OPT.v2Trials}, jitter window ${OPT.jitterS} s, soak ${OPT.soakS} s`);
  console.log('method: takeover = hard kill (every process SIGKILLed + link down in the same instant) or SIGTERM of the master,');
  console.log('        to the VIP appearing on the backup per `ip -ts monitor address` in its namespace (same for both);');
  console.log('        client gap = longest time between replies to a UDP probe sent to the VIP every 10 ms from the client.');
  const env = await setup();
  const sections: string[] = [];

  const v3: Settings = { version: 3, advertS: 0.1, vrid: 51, vip: VIP };
  if (OPT.trials > 0) {
    console.log('\nVRRPv3, advert 100 ms');
    const r = await runSetting(env, v3, OPT.trials, 'v3/100ms');
    sections.push(settingTable('VRRPv3, advert 100 ms', v3, r, REF.v3, OPT.trials));
  }
  const v2: Settings = { version: 2, advertS: 1, vrid: 51, vip: VIP };
  if (OPT.v2Trials > 0) {
    console.log('\nVRRPv2, advert 1 s');
    const r = await runSetting(env, v2, OPT.v2Trials, 'v2/1s');
    sections.push(settingTable('VRRPv2, advert 1 s', v2, r, REF.v2, OPT.v2Trials));
  }
  if (OPT.jitterS > 0) {
    console.log(`\nAdvert jitter, VRRPv3 100 ms, ${OPT.jitterS} s per condition (intervals between the master's adverts, captured in the backup's namespace)`);
    const j = await runJitter(env);
    const nBurn = Math.max(1, cpus().length);
    const rows = [
      ['master condition', LABEL.keepalived, LABEL.duet],
      ['idle', fmtJ(j.keepalived.idle), fmtJ(j.duet.idle)],
      [`${nBurn} CPU-burning processes beside the master`, fmtJ(j.keepalived.burn), fmtJ(j.duet.burn)],
      ['master\'s own event loop busy (preload)', 'n/a (not Node)', fmtJ(j.duet.loop)],
      ['the same, realtime.advert_thread: true', 'n/a (not Node)', fmtJ(j.duet.loopThread)],
    ];
    sections.push(`Advert intervals at 100 ms adverts (nominal 100.0 ms), p50 / p99 / max, as seen by the backup:\n${table(rows, ' | ')}\n` +
      '(event loop busy: a preload spins 0-20 ms at random every 20 ms idle in the duet master; transitions during a window are spurious)');
  }
  if (OPT.soakS > 0) {
    console.log(`\nSoak: both pairs at once, VRRPv3 20 ms adverts, ${OPT.soakS} s (keepalived vrid 52, duet vrid 51)`);
    const s = await runSoak(env);
    const f = (x: Soak): string[] => [
      `${x.spurious}`,
      `${x.p50.toFixed(1)} / ${x.p99.toFixed(1)} / ${x.max.toFixed(1)} ms (n=${x.n})`,
      `${x.overDown}`,
    ];
    const rows = [
      ['', LABEL.keepalived, LABEL.duet],
      [`spurious transitions in ${s.duet.seconds.toFixed(0)} s`, f(s.keepalived)[0]!, f(s.duet)[0]!],
      ['advert interval p50 / p99 / max', f(s.keepalived)[1]!, f(s.duet)[1]!],
      [`intervals > Master_Down_Interval (${s.duet.downMs.toFixed(1)} ms)`, f(s.keepalived)[2]!, f(s.duet)[2]!],
    ];
    sections.push(`Soak at 20 ms adverts (both pairs running at the same time):\n${table(rows, ' | ')}`);
  }

  console.log(`\n${'='.repeat(100)}\nRESULTS (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  console.log(sections.join('\n\n'));
  console.log('\nReference (LAB-NOTES, keepalived, kill = link down + SIGKILL, client probing every 10 ms): v3 advert 100 ms:');
  console.log('backup master 294-312 ms after kill, client gap 299-320 ms; clean stop 62-65 ms, gap 69-79 ms; v2 advert 1 s: 2.8-2.9 s, clean stop 0.61 s.');
  return 0;
}

const estS = 60 + 2 * 2 * (OPT.trials * 6 + OPT.v2Trials * 20) + 5 * (OPT.jitterS + 10) + OPT.soakS + 30;
runMain(async () => {
  const code = await main();
  await cleanupAll();
  const left = (await listNamespaces()).filter((n) => n.startsWith('bf-'));
  if (left.length > 0) { console.error(`WARNING: namespaces left: ${left.join(' ')}`); return 1; }
  return code;
}, { deadlineMs: Math.max(120, 2 * estS) * 1000, name: 'bench:failover' });


