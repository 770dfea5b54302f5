// `npm run bench:moonshot`: VRRP under load. A duet pair at 10 ms adverts, each director running
// 10,000 health checks per second, a bad-packet flood at the VRID, and an operator at work (status,
// scrapes, reloads, check-state bursts), for ten minutes; a keepalived pair on the same two hosts,
// the same adverts and the same flood at the same time, as the reference.
//
//   node build/lab/bench-moonshot.js [--seconds N] [--advert-ms N] [--checks N] [--flood-rate N]
//                                    [--no-realtime] [--no-advert-thread] [--skip-keepalived] [--watch-stalls]
//                                    [--flood-keepalived] [--cpu-prof DIR] [--node-args ARGS] [--check-rt N]
//                                    [--no-operator]
//
// Lab 'mo': d1 (192.0.2.11, priority 150) and d2 (192.0.2.12, priority 100) each run duet (vrid 51,
// VIP .100) and keepalived (vrid 52, VIP .101); `at` (192.0.2.66) floods both VRIDs. Each director
// checks its own real servers (198.18.0.0/15 made local in its namespace, targets in a process of
// their own there, as in bench:checks), TCP and HTTP 5:1 at 1 s. Both daemons get the same
// real-time priority for their VRRP thread (duet `realtime.vrrp_priority`, keepalived
// `vrrp_rt_priority`) unless --no-realtime.
//
// During the window, the same for every run:
//  - every 5 s `duet status --json` (the CLI, every check's state) to one director, in turn;
//  - every 5 s (between those) a Prometheus scrape of one director (every check's counters);
//  - every 60 s a reload of d1 with one real server's weight changed (a real change, applied);
//  - every 60 s, 30 s later, a check-state burst: 1,000 of each director's TCP real servers
//    (198.18.0.0/22) are blackholed for 20 s, so ~1,000 checks go down and come back up on each.
// Measured: transitions after the initial election (any is false), the masters' advert intervals
// as captured in d2's namespace (kernel timestamps), intervals over Master_Down_Interval, drops
// counted, checks run per second per node, checks that went down outside the burst set (false
// downs), late runs, CPU and RSS per process, and how long each operator action took.
import { scriptArgs } from './args.js';
import { cpus, loadavg, release } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  labWithCleanup, startDuet, pairConfig, startKeepalived, keepalivedConfig, onCleanup, runMain, captureVrrp, sleep, nowEpoch,
  killKeepalivedHard, keepalivedTransitions, quantile, table, cleanupAll, listNamespaces, waitFor,
  type Lab, type DuetNode, type KeepalivedNode, type VrrpCapture,
} from './lab.js';
import { cli, INJECT_SCRIPT } from './duet-node.js';
import { encodeIpv4Vrrp } from '../src/vrrp/codec.js';
import { virtualServersYaml, type CheckLoad } from './bench-checks-config.js';
import { localTargets, startServers } from './bench-targets.js';
import { procTimesMs, statusMB } from './bench-checks-haproxy.js';

const argv = scriptArgs('bench-moonshot', `usage: npm run bench:moonshot -- [--seconds N] [--advert-ms N] [--checks N] [--flood-rate N] [--no-realtime] [--skip-keepalived]
  --seconds N       measurement window (default 600)
  --advert-ms N     advert interval, ms, a multiple of 10 (default 10; the issue's second mode: 100 with --checks 20000)
  --checks N        health checks per second on each director, TCP:HTTP 5:1 at 1 s (default 10000)
  --flood-rate N    bad packets per second at each VRID (default 200)
  --no-realtime     no real-time priority for either daemon's VRRP thread
  --no-advert-thread duet's master adverts from its main thread (realtime.advert_thread off; on by default here)
  --no-operator     no status, scrapes or reloads during the window (the check-state bursts stay): a control
  --check-rt N      also give duet's check worker real-time priority N (realtime.check_priority, below the VRRP thread's 20)
  --skip-keepalived duet alone (no reference pair)
  --flood-keepalived flood keepalived's VRID too (it flaps from the first second, so its column then says
                    nothing about load; by default the reference pair has the same load without the flood)
  --node-args ARGS  extra node options for each duet (e.g. --single-threaded-gc), space-separated
  --cpu-prof DIR    run each duet with node --cpu-prof into DIR (main thread and check worker, written at its stop)
  --watch-stalls    load lab/stall-watch.js into each duet: its main-thread stalls beside the longest advert gaps`, {
  seconds: { type: 'string' },
  'advert-ms': { type: 'string' },
  checks: { type: 'string' },
  'flood-rate': { type: 'string' },
  'no-realtime': { type: 'boolean', default: false },
  'no-advert-thread': { type: 'boolean', default: false },
  'skip-keepalived': { type: 'boolean', default: false },
  'watch-stalls': { type: 'boolean', default: false },
  'flood-keepalived': { type: 'boolean', default: false },
  'cpu-prof': { type: 'string' },
  'node-args': { type: 'string' },
  'check-rt': { type: 'string' },
  'no-operator': { type: 'boolean', default: false },
});
const int = (v: string | undefined, def: number, name: string, min: number, max: number): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) { console.error(`--${name}: expected a whole number ${min}..${max}, got ${v}`); process.exit(2); }
  return n;
};
const OPT = {
  seconds: int(argv.seconds, 600, 'seconds', 10, 7200),
  advertMs: int(argv['advert-ms'], 10, 'advert-ms', 10, 1000),
  checks: int(argv.checks, 10_000, 'checks', 0, 50_000),
  floodRate: int(argv['flood-rate'], 200, 'flood-rate', 0, 5000),
  realtime: !argv['no-realtime'],
  advertThread: !argv['no-advert-thread'],
  keepalived: !argv['skip-keepalived'],
  watchStalls: argv['watch-stalls'],
  floodKeepalived: argv['flood-keepalived'],
  cpuProf: argv['cpu-prof'],
  nodeArgs: (argv['node-args'] ?? '').split(' ').filter(Boolean),
  operator: !argv['no-operator'],
  checkRt: argv['check-rt'] === undefined ? undefined : int(argv['check-rt'], 10, 'check-rt', 1, 19),
};
const STALL_WATCH = new URL('./stall-watch.js', import.meta.url).href;
if (OPT.advertMs % 10 !== 0) { console.error('--advert-ms: VRRPv3 counts centiseconds: a multiple of 10'); process.exit(2); }
const LOAD: CheckLoad = { tcp: Math.round((OPT.checks * 5) / 6), http: OPT.checks - Math.round((OPT.checks * 5) / 6) };
const RT_PRIORITY = 20;
const TARGETS = { p99Ms: OPT.advertMs * 1.2, maxMs: OPT.advertMs * 2.5 };

const D1 = '192.0.2.11';
const D2 = '192.0.2.12';
const AT = '192.0.2.66';
const GROUP = '224.0.0.18';
const VRID = { duet: 51, keepalived: 52 } as const;
const VIP = { duet: '192.0.2.100', keepalived: '192.0.2.101' } as const;
const METRICS = '127.0.0.1:9469';
/** The burst set: 4 x 250 TCP real servers (rsAddress 0..999), blackholed in each director's namespace. */
const BURST_ROUTE = '198.18.0.0/22';
const inBurstSet = (server: string): boolean => { const m = /^198\.18\.(\d+)\./.exec(server); return m !== null && Number(m[1]) < 4; };
const BURST_DOWN_S = 20;
const PERIOD_S = 60;

// ---------------------------------------------------------------------------------------------
// The daemons.

function duetYaml(lab: Lab, host: string, priority: number, weightEdit = false): string {
  let vs = virtualServersYaml(LOAD);
  // A reload with a real change: the first real server's weight.
  if (weightEdit) vs = vs.replace(/real_servers:\n(\s+)- \{ address: (\S+) \}/, (_m, sp: string, a: string) => `real_servers:\n${sp}- { address: ${a}, weight: 2 }`);
  const rt = [...(OPT.realtime ? [`vrrp_priority: ${RT_PRIORITY}`] : []), ...(OPT.checkRt ? [`check_priority: ${OPT.checkRt}`] : []), ...(OPT.advertThread ? ['advert_thread: true'] : [])];
  const extra = `${rt.length ? `realtime: { ${rt.join(', ')} }\n` : ''}metrics: { listen: '${METRICS}' }\n${vs}`;
  return pairConfig(host, { ifname: lab.host(host).ifname, priority, version: 3, advertInt: OPT.advertMs / 1000, vrid: VRID.duet, vip: `${VIP.duet}/24`, extra })
    .replace('level: debug', 'level: info');
}

function keepalivedYaml(lab: Lab, host: string, priority: number): string {
  const conf = keepalivedConfig({ ifname: lab.host(host).ifname, priority, version: 3, advertInt: OPT.advertMs / 1000, vrid: VRID.keepalived, vip: `${VIP.keepalived}/24` })
    .replace('  log_unknown_vrids\n', '');
  return OPT.realtime ? conf.replace('global_defs {\n', `global_defs {\n  vrrp_rt_priority ${RT_PRIORITY}\n`) : conf;
}

/** The flood: packets keepalived and duet must both drop, at one VRID, as the attacker sends them. */
function floodPackets(vrid: number): string[] {
  const adv = { version: 3 as const, vrid, priority: 255, maxAdverIntCs: 1, addresses: [vrid === VRID.duet ? VIP.duet : VIP.keepalived] };
  const ip = (ttl: number) => ({ src: AT, dst: GROUP, ttl, tos: 0xc0, id: 0 });
  const good = encodeIpv4Vrrp(adv, ip(255), { pseudoHeader: true });
  const badSum = Uint8Array.from(good); badSum[20 + 7]! ^= 0x01;
  const badTtl = encodeIpv4Vrrp(adv, ip(254), { pseudoHeader: true });
  const badVersion = Uint8Array.from(badSum); badVersion[20] = 0x41; // version 4, type 1
  return [badSum, badTtl, badVersion].map((p) => Buffer.from(p).toString('hex'));
}

// ---------------------------------------------------------------------------------------------
// Observations.

interface Metrics { checkRuns: number; lateRuns: number; latenessS: number; dropped: number }

/** One scrape of a director's metrics, timed; undefined when it failed. */
async function scrape(lab: Lab, host: string): Promise<{ ms: number; m: Metrics | undefined }> {
  const t0 = performance.now();
  const r = await lab.exec(host, ['curl', '-sS', '--max-time', '20', `http://${METRICS}/metrics`], { timeoutMs: 25_000 }).catch(() => undefined);
  const ms = performance.now() - t0;
  if (!r) return { ms, m: undefined };
  let checkRuns = 0;
  let lateRuns = 0;
  let latenessS = 0;
  let dropped = 0;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('duet_check_results_total{')) checkRuns += Number(line.slice(line.lastIndexOf(' ') + 1));
    else if (line.startsWith('duet_check_late_runs_total')) lateRuns = Number(line.slice(line.lastIndexOf(' ') + 1));
    else if (line.startsWith('duet_check_lateness_seconds')) latenessS = Number(line.slice(line.lastIndexOf(' ') + 1));
    else if (line.startsWith('duet_vrrp_adverts_dropped_total{')) dropped += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  if (!r.stdout.includes('duet_vrrp_adverts_sent_total')) return { ms, m: undefined };
  return { ms, m: { checkRuns, lateRuns, latenessS, dropped } };
}

/** keepalived's VRRP child (the parent only supervises): its pid from the pid file it writes. */
const kaVrrpPid = (k: KeepalivedNode): number => Number(readFileSync(join(k.dir, 'vrrp.pid'), 'utf8').trim());


/** An operator action repeated through the window: how often, how long, the first failure's words. */
interface Op { n: number; failed: number; ms: number[]; firstError: string | undefined }
const newOp = (): Op => ({ n: 0, failed: 0, ms: [], firstError: undefined });
/** f gives undefined on success, else what went wrong. */
async function timed(op: Op, f: () => Promise<string | undefined>): Promise<void> {
  const t0 = performance.now();
  const err = await f().catch((e: unknown) => String(e));
  op.n++;
  op.ms.push(performance.now() - t0);
  if (err !== undefined) { op.failed++; op.firstError ??= err.slice(0, 300); }
}
const cliOk = (r: { code: number; stdout: string; stderr: string }): string | undefined =>
  (r.code === 0 ? undefined : `exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);

function intervals(ts: number[]): number[] {
  const r: number[] = [];
  for (let i = 1; i < ts.length; i++) r.push(ts[i]! - ts[i - 1]!);
  return r;
}

// ---------------------------------------------------------------------------------------------

interface Run {
  duet: DuetNode[];
  ka: KeepalivedNode[];
  cap: VrrpCapture;
  flood: Promise<number>;
}

async function setup(lab: Lab): Promise<Run> {
  for (const h of ['d1', 'd2']) { await localTargets(lab, h); await startServers(lab, h); }
  const cap = await captureVrrp(lab, 'd2');
  const duet: DuetNode[] = [];
  for (const [h, prio] of [['d1', 150], ['d2', 100]] as const) {
    const nodeArgs = [...OPT.nodeArgs, ...(OPT.watchStalls ? [`--import=${STALL_WATCH}`] : []), ...(OPT.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${OPT.cpuProf}/${h}`] : [])];
    const n = await startDuet(lab, h, duetYaml(lab, h, prio), { nodeArgs });
    onCleanup(() => n.cleanup());
    duet.push(n);
  }
  const ka: KeepalivedNode[] = [];
  if (OPT.keepalived) {
    for (const [h, prio] of [['d1', 150], ['d2', 100]] as const) {
      const k = await startKeepalived(lab, h, keepalivedYaml(lab, h, prio));
      onCleanup(async () => { killKeepalivedHard(k); await k.cleanup(); });
      ka.push(k);
    }
  }
  await duet[0]!.waitState('VI_1', 'master', 30_000);
  await duet[1]!.waitState('VI_1', 'backup', 30_000);
  // Every check has a first result on both (the start-up burst is over) before the window opens.
  for (const n of duet) {
    await waitFor(() => {
      const s = n.logs.filter((l) => l.msg.startsWith('first check results')).reduce((a, l) => a + Number(l['up'] ?? 0) + Number(l['down'] ?? 0), 0);
      return s >= OPT.checks;
    }, { timeoutMs: 120_000, intervalMs: 500, what: `${n.host}: first results of ${OPT.checks} checks` });
  }
  await sleep(5000);
  // The flood runs for the whole window (plus a margin), from its own process in `at`.
  const both = OPT.keepalived && OPT.floodKeepalived;
  const hexes = OPT.floodRate > 0 ? [...floodPackets(VRID.duet), ...(both ? floodPackets(VRID.keepalived) : [])] : [];
  const rate = OPT.floodRate * (both ? 2 : 1);
  const flood = hexes.length === 0 ? Promise.resolve(0)
    : lab.exec('at', [process.execPath, INJECT_SCRIPT, lab.host('at').ifname, GROUP, '--rate', String(rate), '--seconds', String(OPT.seconds + 2), ...interleave(hexes, both)], { timeoutMs: (OPT.seconds + 60) * 1000 })
      .then((r) => (JSON.parse(r.stdout) as { sent: number }).sent);
  return { duet, ka, cap, flood };
}

/** duet's and keepalived's packets alternate, so each VRID gets half of the rate, evenly. */
function interleave(hexes: string[], two: boolean): string[] {
  if (!two) return hexes;
  const h = hexes.length / 2;
  return hexes.slice(0, h).flatMap((x, i) => [x, hexes[h + i]!]);
}

interface Window {
  /** What the operator did when (epoch ms), to set beside the longest advert intervals. */
  events: { at: number; what: string }[];
  from: number;
  to: number;
  status: Op;
  scrape: Op;
  reload: Op;
  bursts: number;
  m0: (Metrics | undefined)[];
  m1: (Metrics | undefined)[];
  worstLatenessS: number[];
  cpu0: number[];
  cpu1: number[];
  kaCpu0: number[];
  kaCpu1: number[];
}

async function window(lab: Lab, run: Run): Promise<Window> {
  const { duet } = run;
  const cpuOf = (pid: number): number => { const t = procTimesMs(pid); return t.user + t.sys; };
  const w: Window = {
    events: [], from: 0, to: 0, status: newOp(), scrape: newOp(), reload: newOp(), bursts: 0, m0: [], m1: [], worstLatenessS: [0, 0],
    cpu0: [], cpu1: [], kaCpu0: [], kaCpu1: [],
  };
  w.m0 = await Promise.all(['d1', 'd2'].map(async (h) => (await scrape(lab, h)).m));
  w.cpu0 = duet.map((n) => cpuOf(n.proc.pid!));
  w.kaCpu0 = run.ka.map((k) => cpuOf(kaVrrpPid(k)));
  w.from = nowEpoch();
  const t0 = performance.now();
  const end = t0 + OPT.seconds * 1000;
  const at = (s: number): number => t0 + s * 1000;
  const until = async (ms: number): Promise<boolean> => { const d = ms - performance.now(); if (d > 0) await sleep(d); return ms < end; };

  const statusLoop = (async () => {
    for (let k = 0; OPT.operator && await until(at(5 * k + 1)); k++) {
      const n = duet[k % 2]!;
      w.events.push({ at: nowEpoch(), what: `status ${n.host}` });
      await timed(w.status, async () => {
        const r = await cli(n, ['status', '--json'], { maxBuffer: 1 << 28 });
        // Every check is in it: a reply without the services would be a cheap answer, not the one asked for.
        return cliOk(r) ?? (r.stdout.split('"check"').length > OPT.checks ? undefined : `status without every check (${r.stdout.length} bytes)`);
      });
    }
  })();
  const scrapeLoop = (async () => {
    for (let k = 0; OPT.operator && await until(at(5 * k + 3.5)); k++) {
      w.events.push({ at: nowEpoch(), what: `scrape ${k % 2 === 0 ? 'd1' : 'd2'}` });
      await timed(w.scrape, async () => {
        const r = await scrape(lab, k % 2 === 0 ? 'd1' : 'd2');
        if (!r.m) return 'no answer';
        if (OPT.checks > 0 && r.m.checkRuns === 0) return 'no check counters in the scrape';
        w.worstLatenessS[k % 2] = Math.max(w.worstLatenessS[k % 2]!, r.m.latenessS);
        return undefined;
      });
    }
  })();
  const reloadLoop = (async () => {
    for (let k = 0; OPT.operator && await until(at(PERIOD_S * k + 15)); k++) {
      writeFileSync(duet[0]!.configFile, duetYaml(lab, 'd1', 150, k % 2 === 0));
      w.events.push({ at: nowEpoch(), what: 'reload d1' });
      await timed(w.reload, async () => cliOk(await cli(duet[0]!, ['reload'])));
    }
  })();
  const burstLoop = (async () => {
    for (let k = 0; await until(at(PERIOD_S * k + 30)); k++) {
      await Promise.all(['d1', 'd2'].map((h) => lab.exec(h, ['ip', 'route', 'add', 'blackhole', BURST_ROUTE, 'table', 'local'])));
      w.bursts++;
      w.events.push({ at: nowEpoch(), what: 'burst down' });
      await sleep(BURST_DOWN_S * 1000);
      w.events.push({ at: nowEpoch(), what: 'burst up' });
      await Promise.all(['d1', 'd2'].map((h) => lab.exec(h, ['ip', 'route', 'del', 'blackhole', BURST_ROUTE, 'table', 'local'])));
    }
  })();
  let last = 0;
  while (await until(Math.min(end, at(last + 60)))) { last += 60; console.log(`  ... ${last} s`); }
  w.to = nowEpoch();
  w.cpu1 = duet.map((n) => cpuOf(n.proc.pid!));
  w.kaCpu1 = run.ka.map((k) => cpuOf(kaVrrpPid(k)));
  w.m1 = await Promise.all(['d1', 'd2'].map(async (h) => (await scrape(lab, h)).m));
  await Promise.all([statusLoop, scrapeLoop, reloadLoop, burstLoop]);
  return w;
}

// ---------------------------------------------------------------------------------------------

function report(run: Run, w: Window, flooded: number, startTransitions: { duet: number; ka: number }): string {
  const secs = (w.to - w.from) / 1000;
  const downMs = 3 * OPT.advertMs + ((256 - 100) / 256) * OPT.advertMs;
  const adverts = (vrid: number): number[] => intervals(run.cap.from(D1, w.from, w.to, vrid).map((p) => p.at));
  const fmtIv = (iv: number[]): string => iv.length ? `${quantile(iv, 0.5).toFixed(1)} / ${quantile(iv, 0.99).toFixed(1)} / ${Math.max(...iv).toFixed(1)} ms (n=${iv.length})` : 'none captured';
  const dIv = adverts(VRID.duet);
  const kIv = OPT.keepalived ? adverts(VRID.keepalived) : [];
  const dTrans = run.duet.reduce((a, n) => a + n.transitions().length, 0) - startTransitions.duet;
  const kTrans = run.ka.reduce((a, k) => a + keepalivedTransitions(k), 0) - startTransitions.ka;
  const pct = (a: number[], b: number[], i: number): string => (((b[i]! - a[i]!) / (secs * 1000)) * 100).toFixed(1);
  const rate = (i: number): string => { const a = w.m0[i]; const b = w.m1[i]; return a && b ? ((b.checkRuns - a.checkRuns) / secs).toFixed(0) : 'n/a'; };
  const late = (i: number): string => { const a = w.m0[i]; const b = w.m1[i]; return a && b ? String(b.lateRuns - a.lateRuns) : 'n/a'; };
  const downs = run.duet.map((n) => {
    const ch = n.logs.filter((l) => { const t = Date.parse(String(l['time'])); return l.msg === 'check state changed' && t >= w.from && t <= w.to + 30_000; });
    return {
      falseDowns: ch.filter((l) => l['to'] === 'down' && !inBurstSet(String(l['server']))).length,
      burstDowns: ch.filter((l) => l['to'] === 'down' && inBurstSet(String(l['server']))).length,
      ups: ch.filter((l) => l['to'] === 'up').length,
    };
  });
  const opCell = (o: Op): string => o.n ? `${o.n - o.failed} of ${o.n} ok, median ${quantile(o.ms, 0.5).toFixed(0)} ms, max ${Math.max(...o.ms).toFixed(0)} ms` : 'none';
  for (const [name, o] of [['status', w.status], ['scrape', w.scrape], ['reload', w.reload]] as const) if (o.firstError) console.log(`first ${name} failure: ${o.firstError}`);
  const verdict = (ok: boolean): string => (ok ? 'MET' : 'MISSED');
  const dP99 = dIv.length ? quantile(dIv, 0.99) : Infinity;
  const dMax = dIv.length ? Math.max(...dIv) : Infinity;
  const rss = (pid: number): string => { try { return `${statusMB(pid, 'VmHWM').toFixed(0)} MB`; } catch { return 'n/a'; } };
  const ka = OPT.keepalived;
  const rows = [
    ['', 'duet (vrid 51)', ka ? 'keepalived 2.2.7 (vrid 52)' : '', 'target'],
    [`false transitions in ${secs.toFixed(0)} s (both directors)`, String(dTrans), ka ? String(kTrans) : '', `0: ${verdict(dTrans === 0)}`],
    ['master advert interval p50 / p99 / max', fmtIv(dIv), ka ? fmtIv(kIv) : '', `p99 < ${TARGETS.p99Ms} ms: ${verdict(dP99 < TARGETS.p99Ms)}; max < ${TARGETS.maxMs} ms: ${verdict(dMax < TARGETS.maxMs)}`],
    [`intervals > Master_Down_Interval (${downMs.toFixed(1)} ms)`, String(dIv.filter((x) => x > downMs).length), ka ? String(kIv.filter((x) => x > downMs).length) : '', ''],
    ['bad packets counted and dropped (d1 / d2)', [0, 1].map((i) => { const a = w.m0[i]; const b = w.m1[i]; return a && b ? String(b.dropped - a.dropped) : 'n/a'; }).join(' / '), ka ? '(not counted)' : '', `${flooded} sent in all`],
    ['CPU, % of one core (d1 / d2)', `${pct(w.cpu0, w.cpu1, 0)} / ${pct(w.cpu0, w.cpu1, 1)}`, ka ? `${pct(w.kaCpu0, w.kaCpu1, 0)} / ${pct(w.kaCpu0, w.kaCpu1, 1)} (VRRP process)` : '', ''],
    ['RSS peak (d1 / d2)', `${rss(run.duet[0]!.proc.pid!)} / ${rss(run.duet[1]!.proc.pid!)}`, '', ''],
    ['checks run per second (d1 / d2)', `${rate(0)} / ${rate(1)}`, '', `${OPT.checks} scheduled`],
    ['checks started late (d1 / d2), worst lateness seen', `${late(0)} / ${late(1)}, ${(w.worstLatenessS[0]! * 1000).toFixed(0)} / ${(w.worstLatenessS[1]! * 1000).toFixed(0)} ms`, '', ''],
    ['false check downs (outside the burst set; d1 / d2)', `${downs[0]!.falseDowns} / ${downs[1]!.falseDowns}`, '', `0: ${verdict(downs.every((d) => d.falseDowns === 0))}`],
    [`burst: downs / ups seen (${w.bursts} bursts of 1,000 servers)`, downs.map((d) => `${d.burstDowns} / ${d.ups}`).join('; '), '', ''],
    ['`duet status --json` (every 5 s)', opCell(w.status), '', 'all ok'],
    ['metrics scrape (every 5 s)', opCell(w.scrape), '', 'all ok'],
    ['reload with a weight change (every 60 s)', opCell(w.reload), '', 'all ok'],
  ];
  // The longest gaps, each with the operator's last action before it: where to look first.
  const pk = run.cap.from(D1, w.from, w.to, VRID.duet);
  const gaps = pk.slice(1).map((p, i) => ({ at: pk[i]!.at, ms: p.at - pk[i]!.at })).sort((a, b) => b.ms - a.ms).slice(0, 8);
  const near = (t: number): string => { const e = w.events.filter((x) => x.at <= t).at(-1); return e ? `${e.what} ${((t - e.at) / 1000).toFixed(2)} s before` : 'nothing before'; };
  const stalls = stallsOf(run.duet[0]!);
  const during = (g: { at: number; ms: number }): string => {
    const x = stalls.filter((st) => st.at < g.at + g.ms && st.at + st.stall > g.at);
    return x.length ? `; d1 main thread stalled ${x.map((st) => `${st.stall} ms (on CPU ${st.cpuMs}, waiting for a CPU ${st.waitMs}, blocked ${(st.stall - st.cpuMs - st.waitMs).toFixed(1)})`).join(', ')}` : OPT.watchStalls ? '; no d1 main-thread stall' : '';
  };
  // keepalived's adverts over the same span: a gap in both at once is the machine (the capture, the
  // kernel's softirq, the host), not either daemon.
  const kpk = ka ? run.cap.from(D1, w.from, w.to, VRID.keepalived) : [];
  const kaOver = (g: { at: number; ms: number }): string => {
    if (!ka) return '';
    let best = 0;
    for (let i = 1; i < kpk.length; i++) if (kpk[i]!.at > g.at && kpk[i - 1]!.at < g.at + g.ms) best = Math.max(best, kpk[i]!.at - kpk[i - 1]!.at);
    return `; keepalived's longest interval over it ${best.toFixed(1)} ms`;
  };
  const longest = gaps.map((g) => `  ${((g.at - w.from) / 1000).toFixed(2)} s: ${g.ms.toFixed(1)} ms (${near(g.at)}${during(g)}${kaOver(g)})`).join('\n');
  const why = run.duet.map((n) => {
    const t = n.transitions().filter((l) => Date.parse(String(l['time'])) >= w.from);
    const by = new Map<string, number>();
    for (const l of t) { const k = `${String(l['from'])}->${String(l['to'])} (${String(l['reason'])})`; by.set(k, (by.get(k) ?? 0) + 1); }
    return `${n.host}: ${[...by].map(([k, c]) => `${c} x ${k}`).join(', ') || 'none'}`;
  }).join('; ');
  return `${table(rows, ' | ')}\n\nduet's transitions in the window: ${why}\nduet's longest advert intervals (window time: length, the operator's last action):\n${longest}`;
}

interface Stall { stall: number; at: number; cpuMs: number; waitMs: number }

/** The stalls lab/stall-watch.js reported on a node's stderr. */
function stallsOf(n: DuetNode): Stall[] {
  return n.stderr.join('').split('\n').filter((l) => l.startsWith('{"stall"')).map((l) => JSON.parse(l) as Stall);
}

/** Each daemon's word on its real-time request (a refusal would explain everything else). */
function realtimeLines(n: DuetNode): string {
  const l = n.logs.filter((x) => String(x.msg).startsWith('real-time scheduling'));
  return l.length ? l.map((x) => `${String(x['thread'])}: ${x.msg}${x['policy'] ? ` (${String(x['policy'])})` : ''}`).join('; ') : 'no real-time line';
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const t0 = performance.now();
  console.log('bench:moonshot: VRRP under load (adverts, checks, a flood and an operator at once), duet and keepalived side by side');
  console.log(`machine: ${cpus().length} CPU(s), Linux ${release()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine makes figures noisy)`);
  console.log(`options: window ${OPT.seconds} s, adverts ${OPT.advertMs} ms, ${LOAD.tcp} TCP + ${LOAD.http} HTTP checks at 1 s on each director, ` +
    `${OPT.nodeArgs.length ? `duet node args ${OPT.nodeArgs.join(' ')}, ` : ''}flood ${OPT.floodRate}/s at ${OPT.keepalived && OPT.floodKeepalived ? 'each VRID' : 'duet\'s VRID'}, real-time VRRP thread ${OPT.realtime ? `RR ${RT_PRIORITY} for both daemons` : 'off'}, duet's advert thread ${OPT.advertThread ? 'on' : 'off'}${OPT.checkRt ? `, duet's check worker RR ${OPT.checkRt}` : ''}${OPT.operator ? '' : ', NO operator actions (control)'}`);
  const lab = await labWithCleanup('mo', [{ name: 'd1', addr: D1 }, { name: 'd2', addr: D2 }, { name: 'at', addr: AT }]);
  const run = await setup(lab);
  const startTransitions = {
    duet: run.duet.reduce((a, n) => a + n.transitions().length, 0),
    ka: run.ka.reduce((a, k) => a + keepalivedTransitions(k), 0),
  };
  for (const n of run.duet) console.log(`  ${n.host}: ${realtimeLines(n)}`);
  console.log(`window: ${OPT.seconds} s ...`);
  const w = await window(lab, run);
  const flooded = await run.flood;
  console.log(`\n${'='.repeat(100)}\nRESULTS (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  console.log(report(run, w, flooded, startTransitions));
  console.log('\nAdverts are d1\'s as captured in d2\'s namespace (tcpdump, kernel timestamps). Check figures from each duet\'s');
  console.log('metrics (duet_check_results_total, duet_check_late_runs_total, duet_check_lateness_seconds); false downs from its log.');
  for (const n of run.duet) n.kill('SIGTERM');
  await Promise.all(run.duet.map((n) => Promise.race([n.exited(), sleep(5000)])));
  return 0;
}

runMain(async () => {
  const code = await main();
  await cleanupAll();
  const left = (await listNamespaces()).filter((n) => n.startsWith('mo-'));
  if (left.length > 0) { console.error(`WARNING: namespaces left: ${left.join(' ')}`); return 1; }
  return code;
}, { deadlineMs: (OPT.seconds + 600) * 1000, name: 'bench:moonshot' });
