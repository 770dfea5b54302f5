// The active-active scale lab (issue 16): one VM, namespaces on a bridge in a `lan` namespace:
// an upstream router r running FRR (zebra + bgpd + bfdd, maximum-paths, BFD, fib_multipath_hash_
// policy=1) with a client c behind it, up to four directors d1..d4 (duet + BIRD 2 each, DR, the VIP
// announced by BGP) and two DR real servers running a line-echo server. For each option (what the
// directors run so that a flow the router moves to another director continues: mesh connection
// sync, mh, sloppy_tcp, or none of them) the job builds the router and directors from scratch and:
//  1. starts d1..d3, waits for three next hops on the router;
//  2. opens N sessions through the VIP (lab/survival-client.ts: one numbered line per session
//     every INTERVAL ms, echo checked in order), spread by the router's ECMP hash; puts a tc
//     filter per session on every director's uplink, whose packet counter says which director
//     each session reaches (checked against the connections each director's kernel created);
//  3. scenarios, in this order, each measured over WIN s from its start: `join` (d4, running
//     withdrawn in sticky maintenance since the start, announces on `duet maintenance off`; the
//     benchmark only: a fourth director does not fit the test's time budget), `drain`
//     (`duet maintenance on` on d1), `kill` (d2 host-down: its link down, then SIGKILL of its duet
//     and BIRD). For each: the route convergence time (start -> the router's next hops as
//     wanted), and the sessions split by path: `stayed` (their packets reached only the director
//     they reached before, not the changed one) and `moved` (every other: on the changed director,
//     or rehashed between others, which hash-threshold ECMP also does).
// The job (lab/sh/scale.sh) prints machine-readable lines starting with "@@" that parseScale() reads.
import { join } from 'node:path';
import { PROJECT_ROOT, runInVm, type VmResult } from './vm.js';
import { birdDirectorConf, frrRouterConf } from './bgp-confs.js';

const SCALE_SH = join(PROJECT_ROOT, 'lab', 'sh', 'scale.sh');

/** What the directors run: mesh sync, the mh scheduler, sloppy_tcp. */
export const OPTION_SETTINGS = {
  mesh: { sync: true, sched: 'mh', sloppy: false, what: 'mesh sync + mh' },
  'mesh-sloppy': { sync: true, sched: 'mh', sloppy: true, what: 'mesh sync + mh + sloppy_tcp' },
  'mh-sloppy': { sync: false, sched: 'mh', sloppy: true, what: 'mh + sloppy_tcp' },
  mh: { sync: false, sched: 'mh', sloppy: false, what: 'mh alone' },
  none: { sync: false, sched: 'rr', sloppy: false, what: 'neither (rr, no sync)' },
} as const;
export type ScaleOption = keyof typeof OPTION_SETTINGS;
export type Scenario = 'join' | 'drain' | 'kill';
export const SCENARIOS: readonly Scenario[] = ['join', 'drain', 'kill'];

export interface ScaleOptions {
  options: readonly ScaleOption[];
  /** Sessions. Default 100. */
  sessions?: number;
  /** ms between two lines of one session. Default 1000. */
  intervalMs?: number;
  /** Measurement window per scenario, from its start, s. Default 15. */
  windowS?: number;
  scenarios?: readonly Scenario[];
  /** net.ipv4.vs.sync_threshold on the directors. Default "3 10". */
  syncThreshold?: string;
}

const VIP = '198.51.100.10';
const PORT = 7;
const ADDR = (d: string): string => `192.0.2.${10 + Number(d.slice(1))}`;

/**
 * BFD at 300 ms x 5 on both ends: one emulated CPU running four speakers, FRR and four duet
 * stalls longer than 0.5 s under load.
 */
const BFD_MS = 300;

function duetConf(opt: ScaleOption, d: string): string {
  const o = OPTION_SETTINGS[opt];
  return `node: { name: ${d}, state_dir: /tmp/lab/${d}/state }
vrrp: { instances: [] }
${o.sync ? 'sync_daemon: { interface: eth0, mode: mesh, syncid: 7 }\n' : ''}${o.sloppy ? 'ipvs_sysctl: { sloppy_tcp: true }\n' : ''}virtual_servers:
  - name: echo
    address: ${VIP}
    port: ${PORT}
    scheduler: ${o.sched}${o.sched === 'mh' ? '\n    scheduler_flags: [mh-port]' : ''}
    lb_kind: dr
    checks: [{ type: tcp, interval: 1, timeout: 1, rise: 1, fall: 2 }]
    real_servers: [{ address: 192.0.2.21 }, { address: 192.0.2.22 }]
bgp:
  table: 100
  speaker: { status_command: [/usr/sbin/birdc, -s, /tmp/lab/${d}/bird.ctl, show, protocols], status_interval: 10, status_timeout: 5 }
  vips: [{ address: ${VIP}, track_interfaces: [eth0] }]
`;
}

const ECHO = String.raw`
import net from 'node:net';
net.createServer((c) => { c.setNoDelay(true); c.on('error', () => {}); c.pipe(c); }).listen(${PORT}, '0.0.0.0', () => console.log('listening'));
`;

/** The bash job for one VM: every option of `o.options`, one after the other. */
export function scaleJob(o: ScaleOptions): string {
  const files = [
    `cat > /tmp/lab/frr.conf <<'CONF'\n${frrRouterConf('scale-r', BFD_MS)}CONF`,
    ...['d1', 'd2', 'd3', 'd4'].map((d) => `cat > /tmp/lab/bird-${d}.conf <<'CONF'\n${birdDirectorConf(ADDR(d), BFD_MS)}CONF`),
    ...o.options.flatMap((opt) => ['d1', 'd2', 'd3', 'd4'].map((d) => `cat > /tmp/lab/${opt}-${d}.yaml <<'YAML'\n${duetConf(opt, d)}YAML`)),
  ].join('\n');
  // A session survived if it had a reply in the last ALIVE ms at the report: 6 s, as the
  // emulated CPU alone stalls replies by up to ~5 s under load (measured).
  const vars = { OPTIONS: o.options.join(' '), N: o.sessions ?? 100, INTERVAL: o.intervalMs ?? 1000, WIN: o.windowS ?? 15, SETTLE: 8, ALIVE: 6000,
    SCENARIOS: (o.scenarios ?? SCENARIOS).join(' '), SYNC_THRESHOLD: o.syncThreshold ?? '3 10', VIP, PORT };
  return `${Object.entries(vars).map(([k, v]) => `${k}='${String(v)}'`).join('\n')}
mkdir -p /tmp/lab
cat > /tmp/lab/echo.mjs <<'JS'
${ECHO}
JS
${files}
. ${SCALE_SH}
`;
}

// ---------------------------------------------------------------------------------------------
// Results

export interface Group {
  /** Sessions healthy at the scenario's start in this group. */
  n: number;
  survived: number;
  /** The longest stall of a surviving session (0: none). */
  maxStallMs: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  /** The director that joined, was drained or died. */
  changed: string;
  /** Start -> the router's next hops as wanted (join and drain: the `duet maintenance` CLI's start included). */
  convergenceMs: number | undefined;
  /** The changed director's duet announced (join) or withdrew (drain) -> the router's next hops as wanted. */
  routeMs: number | undefined;
  all: Group;
  stayed: Group;
  moved: Group;
  /** Sessions on the changed director before (drain, kill) or after (join). */
  onChanged: Group;
  /** Sessions with no one director before (none, or several, had their packets). */
  unmapped: number;
  reasons: Record<string, number>;
}

export interface OptionResult {
  option: ScaleOption;
  error: string | undefined;
  notes: string[];
  /** Three directors up (duet start -> three next hops), ms. */
  upMs: number | undefined;
  /** Per director before any change: [sessions whose packets reach it, connections its kernel created]. */
  attribution: Record<string, [number, number]>;
  opened: { ok: number; failed: number } | undefined;
  scenarios: ScenarioResult[];
}

export interface ScaleResult {
  vm: VmResult;
  options: OptionResult[];
}

type Session = [port: number, ok: number, stallMs: number];
interface RawReport { name: string; batches: Array<{ sessions?: Session[]; reasons: Record<string, number> }> }

const parseCounts = (text: string): Map<number, number> =>
  new Map(text.split(/\s+/).filter((x) => x.includes('=')).map((x) => { const [p, n] = x.split('='); return [Number(p), Number(n)]; }));

/** Per port: the directors whose counter for it grew from phase `from` to phase `to`. */
function reached(counts: Map<string, Map<number, number>>, name: string, from: string, to: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const d of ['d1', 'd2', 'd3', 'd4']) {
    const a = counts.get(`${name} ${from} ${d}`);
    const b = counts.get(`${name} ${to} ${d}`);
    if (!a || !b) continue;
    for (const [port, n] of b) {
      if (n > (a.get(port) ?? 0)) out.set(port, [...(out.get(port) ?? []), d]);
    }
  }
  return out;
}

/** Survived / n in %, one decimal ('-' for an empty group). */
export const pct = (x: Group): string => (x.n === 0 ? '-' : String(Math.round((1000 * x.survived) / x.n) / 10));

function group(sessions: Session[]): Group {
  const ok = sessions.filter((s) => s[1] === 1);
  return { n: sessions.length, survived: ok.length, maxStallMs: ok.reduce((m, s) => Math.max(m, s[2]), 0) };
}

/** decided -> converged, if the decision was this scenario's (not an earlier one, logged before it started). */
const decidedAfter = (decided: number | undefined, started: number | undefined, converged: number | undefined): number | undefined =>
  (decided === undefined || started === undefined || converged === undefined || decided < started ? undefined : converged - decided);

/** Reads the "@@" lines of a job's stdout. */
export function parseScale(stdout: string): OptionResult[] {
  interface Raw { r: OptionResult; counts: Map<string, Map<number, number>>; local: Map<string, number>; conv: Map<string, number>; converged: Map<string, number>; started: Map<string, number>; decided: Map<string, number>; changed: Map<string, string>; reports: Map<string, RawReport>; ended: boolean }
  const byOpt = new Map<string, Raw>();
  const get = (opt: string): Raw => {
    let x = byOpt.get(opt);
    if (!x) {
      x = { r: { option: opt as ScaleOption, error: undefined, notes: [], upMs: undefined, attribution: {}, opened: undefined, scenarios: [] },
        counts: new Map(), local: new Map(), conv: new Map(), converged: new Map(), started: new Map(), decided: new Map(), changed: new Map(), reports: new Map(), ended: false };
      byOpt.set(opt, x);
    }
    return x;
  };
  for (const line of stdout.split('\n')) {
    const m = /^@@(\w+) (\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, kind, opt = '', tail = ''] = m;
    if (kind === 'note' && !(opt in OPTION_SETTINGS)) continue;
    const x = get(opt);
    const [a = '', b = '', ...rest] = tail.split(' ');
    switch (kind) {
      case 'end': x.ended = true; break;
      case 'error': x.r.error = tail; break;
      case 'note': x.r.notes.push(tail); break;
      case 'event': if (a === 'up') x.r.upMs = Number(b); else x.started.set(a, Number(b)); break;
      case 'conv': x.conv.set(a, Number(b)); break;
      case 'converged': x.converged.set(a, Number(b)); break;
      case 'decided': x.decided.set(a, Number(b)); break;
      case 'changed': x.changed.set(a, `d${b}`); break;
      case 'attr': x.local.set(a, Number(b)); break;
      case 'pkts': x.counts.set(`${a} ${b} ${rest[0] ?? ''}`, parseCounts(rest.slice(1).join(' '))); break;
      case 'client': {
        let j: Record<string, unknown>;
        try { j = JSON.parse(tail) as Record<string, unknown>; } catch { break; }
        if (j['ev'] === 'opened') x.r.opened = { ok: Number(j['ok']), failed: Number(j['failed']) };
        if (j['ev'] === 'report') x.reports.set(String(j['name']), j as unknown as RawReport);
        break;
      }
      default: break;
    }
  }
  const out: OptionResult[] = [];
  for (const [, x] of byOpt) {
    if (!x.r.error && !x.ended) x.r.error = 'the run stopped before its end';
    let first = true;
    for (const [name, rep] of x.reports) {
      // Before: the one director a session's packets reached in the 2 s before the start; after:
      // every director they reached from the start to the window's end.
      const before = reached(x.counts, name, 'a', 'b');
      const after = reached(x.counts, name, 'b', 'c');
      const pre = new Map([...before].filter(([, ds]) => ds.length === 1).map(([p, ds]) => [p, ds[0]!]));
      if (first) {
        for (const [d, n] of x.local) x.r.attribution[d] = [[...pre.values()].filter((v) => v === d).length, n];
        first = false;
      }
      const changed = x.changed.get(name) ?? '?';
      const sessions = rep.batches.flatMap((b) => b.sessions ?? []);
      const mapped = sessions.filter((s) => pre.has(s[0]));
      const post = (s: Session): string[] => after.get(s[0]) ?? [];
      const stayed = mapped.filter((s) => pre.get(s[0]) !== changed && post(s).every((d) => d === pre.get(s[0])));
      const reasons: Record<string, number> = {};
      for (const b of rep.batches) for (const [k, v] of Object.entries(b.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
      x.r.scenarios.push({
        scenario: name as Scenario, changed, convergenceMs: x.conv.get(name),
        routeMs: name === 'kill' ? x.conv.get(name) : decidedAfter(x.decided.get(name), x.started.get(name), x.converged.get(name)), all: group(sessions), stayed: group(stayed),
        moved: group(mapped.filter((s) => !stayed.includes(s))),
        onChanged: group(mapped.filter((s) => pre.get(s[0]) === changed || post(s).includes(changed))),
        unmapped: sessions.length - mapped.length, reasons,
      });
    }
    out.push(x.r);
  }
  return out;
}

/** Boots one VM and runs every option in it. */
export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  // Measured 4-7.5 min per option on a loaded 2-core host; the job's own waits end a stuck one first.
  const perOption = (o.scenarios ?? SCENARIOS).includes('join') ? 900_000 : 720_000;
  const vm = await runInVm(scaleJob(o), { timeoutMs: o.options.length * perOption, memMb: 2048 });
  return { vm, options: parseScale(vm.stdout) };
}

/** One line per scenario, for logs. */
export function describeScenario(opt: ScaleOption, s: ScenarioResult): string {
  const g = (x: Group): string => `${x.survived}/${x.n} (${pct(x)}%, max stall ${x.maxStallMs} ms)`;
  return `${OPTION_SETTINGS[opt].what}, ${s.scenario} ${s.changed}: stayed ${g(s.stayed)}, moved ${g(s.moved)} (on ${s.changed}: ${s.onChanged.survived}/${s.onChanged.n}), ` +
    `all ${g(s.all)}, route convergence ${s.convergenceMs ?? '-'} ms (from duet's decision ${s.routeMs ?? '-'} ms)${s.unmapped ? `, ${s.unmapped} unmapped` : ''}${Object.keys(s.reasons).length ? `; lost: ${JSON.stringify(s.reasons)}` : ''}`;
}
