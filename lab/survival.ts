// The connection-survival lab (issue 5): one VM per forwarding mode (DR or NAT), namespaces on
// bridges in a `lan` namespace: a client c, two directors d1 (priority 150, preempt after a delay)
// and d2 (priority 100) running duet, two real servers rs1 and rs2 running a line-echo server.
// For each option (sync: sync_daemon, rr; none: rr without sync, the baseline; mh: the mh
// scheduler with sloppy_tcp, no sync) the job builds the lab from scratch and:
//  1. starts both duet, waits for d1 master (and the sync daemons in place);
//  2. opens batch `a` of N sessions through the VIP (lab/survival-client.ts: one numbered line
//     per session every INTERVAL ms, echo checked in order); waits until d2's connection table
//     holds them (sync) or a few seconds, and records d2's copy of them by state;
//  3. kills d1 host-down (SIGKILL to duet, its bridge ports down) and measures WINDOW s: sessions
//     that survived, the longest stall, the failover time (kill -> d2's transition to master);
//  4. "reboots" d1: its namespace is deleted and created afresh (an empty IPVS table and connection
//     table, no VIP, no sync daemon: what a host that lost power comes back with; `ipvsadm -C`
//     alone would keep the old connection entries, which would hide a missing sync), opens batch
//     `b` through d2, starts duet on d1 again; d1's backup sync daemon learns d2's connections
//     during preempt_delay, then d1 preempts; measures WINDOW s again over both batches.
// The job (lab/sh/survival.sh) prints machine-readable lines starting with "@@" that
// parseSurvival() reads.
import { join } from 'node:path';
import { PROJECT_ROOT, runInVm, type VmResult } from './vm.js';

/** The job's logic; the job sets its variables, writes the configs and sources it. */
const SURVIVAL_SH = join(PROJECT_ROOT, 'lab', 'sh', 'survival.sh');

export type Mode = 'dr' | 'nat';
export type SyncOption = 'sync' | 'none' | 'mh';
export const OPTIONS: readonly SyncOption[] = ['sync', 'none', 'mh'];

export interface SurvivalOptions {
  mode: Mode;
  options?: readonly SyncOption[];
  /** Sessions per batch. Default 120. */
  sessions?: number;
  /** ms between two lines of one session. Default 500. */
  intervalMs?: number;
  /**
   * Measurement window after the kill and after the preempt, s. Default 20: a session whose
   * retransmission just missed the takeover waits one more RTO backoff step (6.2 -> 12.6 s).
   */
  windowS?: number;
  /** d1's preempt_delay, s. Default 5. */
  preemptDelayS?: number;
  /** net.ipv4.vs.sync_threshold on the directors ("threshold period"). Default "3 10". */
  syncThreshold?: string;
  /** VRRP advert interval, s. Default 1. */
  advertIntS?: number;
  /** The options that also run the failback phase (d1 reboots and preempts). Default: all. */
  failback?: readonly SyncOption[];
}

const VIP = '192.0.2.100';
const GW = '10.0.0.1';
const PORT = 7;

function config(mode: Mode, opt: SyncOption, node: 'd1' | 'd2', o: Required<SurvivalOptions>): string {
  const prio = node === 'd1' ? 150 : 100;
  const pd = node === 'd1' ? `, preempt_delay: ${o.preemptDelayS}` : '';
  const common = `priority: ${prio}, advert_int: ${o.advertIntS}${pd}`;
  const sched = opt === 'mh' ? 'mh\n    scheduler_flags: [mh-port]' : 'rr';
  const rs = mode === 'dr' ? ['192.0.2.21', '192.0.2.22'] : ['10.0.0.21', '10.0.0.22'];
  const vrrp = mode === 'dr'
    ? `vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, ${common}, virtual_ipaddress: [${VIP}/24] }`
    : `vrrp:
  instances:
    - { name: VI_PUB, interface: eth0, vrid: 61, ${common}, virtual_ipaddress: [${VIP}/24] }
    - { name: VI_GW, interface: eth1, vrid: 62, ${common}, virtual_ipaddress: [${GW}/24] }
  sync_groups:
    - { name: NAT, instances: [VI_PUB, VI_GW] }`;
  const follow = mode === 'dr' ? 'instance: VI_1' : 'sync_group: NAT';
  return `node: { name: ${node} }
${vrrp}
${opt === 'sync' ? `sync_daemon: { interface: eth0, ${follow}, syncid: 7 }\n` : ''}${opt === 'mh' ? 'ipvs_sysctl: { sloppy_tcp: true }\n' : ''}virtual_servers:
  - name: echo
    address: ${VIP}
    port: ${PORT}
    scheduler: ${sched}
    lb_kind: ${mode}
    real_servers:
${rs.map((a) => `      - { address: ${a} }`).join('\n')}
`;
}

const ECHO = String.raw`
import net from 'node:net';
net.createServer((c) => { c.setNoDelay(true); c.on('error', () => {}); c.pipe(c); }).listen(${PORT}, '0.0.0.0', () => console.log('listening'));
`;

function defaults(o: SurvivalOptions): Required<SurvivalOptions> {
  return {
    mode: o.mode,
    options: o.options ?? OPTIONS,
    sessions: o.sessions ?? 120,
    intervalMs: o.intervalMs ?? 500,
    windowS: o.windowS ?? 20,
    preemptDelayS: o.preemptDelayS ?? 5,
    syncThreshold: o.syncThreshold ?? '3 10',
    advertIntS: o.advertIntS ?? 1,
    failback: o.failback ?? o.options ?? OPTIONS,
  };
}

/** The bash job for one VM: every option of `o.options`, one after the other, for `o.mode`. */
export function survivalJob(input: SurvivalOptions): string {
  const o = defaults(input);
  const files = o.options.flatMap((opt) => (['d1', 'd2'] as const).map((n) =>
    `cat > /tmp/lab/${opt}-${n}.yaml <<'YAML'\n${config(o.mode, opt, n, o)}YAML`)).join('\n');
  const vars = { MODE: o.mode, OPTIONS: o.options.join(' '), N: o.sessions, INTERVAL: o.intervalMs, WIN: o.windowS, PD: o.preemptDelayS,
    FAILBACK: o.failback.join(' '), SYNC_THRESHOLD: o.syncThreshold, VIP, GW, PORT };
  return `${Object.entries(vars).map(([k, v]) => `${k}='${String(v)}'`).join('\n')}
mkdir -p /tmp/lab
cat > /tmp/lab/echo.mjs <<'JS'
${ECHO}
JS
${files}
. ${SURVIVAL_SH}
`;
}

// ---------------------------------------------------------------------------------------------
// Results

export interface BatchReport {
  batch: string;
  total: number;
  /** Sessions healthy when the window began. */
  atStart: number;
  survived: number;
  maxStallMs: number;
  p50StallMs: number;
  /** The earliest reply of any session after the stall mark (the kill, the preempt), ms after it. */
  firstReplyMs?: number;
  reasons: Record<string, number>;
  lost: unknown[];
  gaps: Record<string, Array<[number, number]>>;
}

export interface WindowReport {
  name: string;
  since: number;
  windowMs: number;
  batches: BatchReport[];
}

export interface OptionResult {
  option: SyncOption;
  /** Set when the option's run failed before the end. */
  error: string | undefined;
  notes: string[];
  events: Record<string, number>;
  /** "d2 before-kill" -> { ESTABLISHED: 120 } */
  conns: Record<string, Record<string, number>>;
  opened: Record<string, { ok: number; failed: number; ms: number }>;
  failover: WindowReport | undefined;
  failback: WindowReport | undefined;
  /** Kill -> d2's (first) transition to master, from d2's log. */
  failoverMs: number | undefined;
  /** d1's duet start -> its transition to master (preempt_delay included), from d1's log. */
  preemptMs: number | undefined;
  /** Survived / healthy at the start, over all batches of the window, in %. */
  failoverPct: number | undefined;
  failbackPct: number | undefined;
  failoverStallMs: number | undefined;
  failbackStallMs: number | undefined;
}

export interface SurvivalResult {
  mode: Mode;
  vm: VmResult;
  options: OptionResult[];
}

function pct(w: WindowReport | undefined): number | undefined {
  if (!w) return undefined;
  const start = w.batches.reduce((s, b) => s + b.atStart, 0);
  const ok = w.batches.reduce((s, b) => s + b.survived, 0);
  return start === 0 ? 0 : Math.round((1000 * ok) / start) / 10;
}

/** The longest stall of a surviving session (undefined: none survived). */
function maxStall(w: WindowReport | undefined): number | undefined {
  const s = w?.batches.filter((b) => b.survived > 0).map((b) => b.maxStallMs) ?? [];
  return s.length ? Math.max(...s) : undefined;
}

/** Reads the "@@" lines of a job's stdout. */
export function parseSurvival(stdout: string): OptionResult[] {
  const byOpt = new Map<string, OptionResult & { logs: Array<{ node: string; rec: Record<string, unknown> }> }>();
  const get = (opt: string) => {
    let r = byOpt.get(opt);
    if (!r) {
      r = {
        option: opt as SyncOption, error: undefined, notes: [], events: {}, conns: {}, opened: {}, failover: undefined, failback: undefined,
        failoverMs: undefined, preemptMs: undefined, failoverPct: undefined, failbackPct: undefined, failoverStallMs: undefined, failbackStallMs: undefined, logs: [],
      };
      byOpt.set(opt, r);
    }
    return r;
  };
  const ended = new Set<string>();
  const globalNotes: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^@@(\w+) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, kind, rest = ''] = m;
    const sp = rest.indexOf(' ');
    const opt = sp < 0 ? rest : rest.slice(0, sp);
    const tail = sp < 0 ? '' : rest.slice(sp + 1);
    switch (kind) {
      case 'begin': get(opt); break;
      case 'end': ended.add(opt); break;
      case 'error': get(opt).error = tail; break;
      case 'note':
        if ((OPTIONS as readonly string[]).includes(opt)) get(opt).notes.push(tail);
        else globalNotes.push(rest);
        break;
      case 'event': {
        const [name, v] = tail.split(' ');
        if (name) get(opt).events[name] = Number(v);
        break;
      }
      case 'conns': {
        const [node, when, ...states] = tail.split(' ');
        const c: Record<string, number> = {};
        for (const s of states) {
          const [k, v] = s.split('=');
          if (k && v) c[k] = Number(v);
        }
        get(opt).conns[`${node} ${when}`] = c;
        break;
      }
      case 'client': {
        let j: Record<string, unknown>;
        try {
          j = JSON.parse(tail) as Record<string, unknown>;
        } catch {
          break;
        }
        const r = get(opt);
        if (j['ev'] === 'opened') r.opened[String(j['batch'])] = { ok: Number(j['ok']), failed: Number(j['failed']), ms: Number(j['ms']) };
        if (j['ev'] === 'report' && j['name'] === 'kill') r.failover = j as unknown as WindowReport;
        if (j['ev'] === 'report' && j['name'] === 'failback') r.failback = j as unknown as WindowReport;
        break;
      }
      case 'log': {
        const sp2 = tail.indexOf(' ');
        try {
          get(opt).logs.push({ node: tail.slice(0, sp2), rec: JSON.parse(tail.slice(sp2 + 1)) as Record<string, unknown> });
        } catch {
          /* a torn line from a killed process */
        }
        break;
      }
      default:
        break;
    }
  }
  const out: OptionResult[] = [];
  for (const [opt, r] of byOpt) {
    if (!r.error && !ended.has(opt)) r.error = 'the run stopped before its end';
    r.notes.push(...globalNotes.filter((n) => n.startsWith(`${opt} `)).map((n) => n.slice(opt.length + 1)));
    const masterAt = (node: string, after: number): number | undefined =>
      r.logs
        .filter((l) => l.node === node && l.rec['msg'] === 'transition' && l.rec['to'] === 'master')
        .map((l) => Date.parse(String(l.rec['time'])))
        .filter((t) => t >= after)
        .sort((x, y) => x - y)[0];
    const kill = r.events['kill'];
    const start = r.events['d1-start'];
    const fo = kill === undefined ? undefined : masterAt('d2', kill);
    const fb = start === undefined ? undefined : masterAt('d1', start);
    r.failoverMs = fo === undefined || kill === undefined ? undefined : fo - kill;
    r.preemptMs = fb === undefined || start === undefined ? undefined : fb - start;
    r.failoverPct = pct(r.failover);
    r.failbackPct = pct(r.failback);
    r.failoverStallMs = maxStall(r.failover);
    r.failbackStallMs = maxStall(r.failback);
    const { logs: _logs, ...plain } = r;
    out.push(plain);
  }
  return out;
}

/** Boots one VM for `o.mode` and runs every option in it. */
export async function runSurvival(o: SurvivalOptions): Promise<SurvivalResult> {
  const n = (o.options ?? OPTIONS).length;
  const vm = await runInVm(survivalJob(o), { timeoutMs: Math.max(300_000, n * 360_000), memMb: 1024 });
  return { mode: o.mode, vm, options: parseSurvival(vm.stdout) };
}

/**
 * A result from a saved job output (DUET_VM_DUMP of the test or the bench) instead of a VM run:
 * for re-reading figures and tuning assertions without booting anything.
 */
export function replaySurvival(mode: Mode, stdout: string): SurvivalResult {
  const vm: VmResult = { code: /^@@done$/m.test(stdout) ? 0 : 1, stdout, stderr: '', bootMs: 0, totalMs: 0, console: '', logs: '' };
  return { mode, vm, options: parseSurvival(stdout) };
}

/** "ESTABLISHED=120 FIN_WAIT=2" or "none". */
export function statesText(c: Record<string, number> | undefined): string {
  if (!c) return '-';
  const e = Object.entries(c);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(' ') : 'none';
}

/** One line per option, for logs. */
export function describe(mode: Mode, r: OptionResult): string {
  const f = (v: number | undefined, unit = ''): string => (v === undefined ? '-' : `${v}${unit}`);
  return `${mode.toUpperCase()} ${r.option}: failover survived ${f(r.failoverPct, '%')} (max stall ${f(r.failoverStallMs, ' ms')}, failover ${f(r.failoverMs, ' ms')}), ` +
    `failback survived ${f(r.failbackPct, '%')} (max stall ${f(r.failbackStallMs, ' ms')}, d1 start to master ${f(r.preemptMs, ' ms')}); ` +
    `backup before kill: ${statesText(r.conns['d2 before-kill'])}; d1 at preempt: ${statesText(r.conns['d1 at-preempt'])}` +
    (r.error ? `; ERROR: ${r.error}` : '');
}
