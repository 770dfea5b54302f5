// Shared harness for the demo and the failover bench: namespaces, duet and keepalived nodes,
// the in-namespace agents (lab/agent.ts), probers, address watchers, packet capture,
// statistics and cleanup on every exit path.
//
// Every import of the test helpers is here, so moving them into src/lab later touches this file
// only.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, waitFor, run, listNetns, type Lab } from './netns.js';
import { startDuet, pairConfig, DUET_CLI, type DuetNode } from './duet-node.js';
import { startKeepalived, keepalivedConfig, type KeepalivedNode } from './keepalived.js';

export { createLab, waitFor, run, listNetns as listNamespaces, startDuet, pairConfig, DUET_CLI, startKeepalived, keepalivedConfig };
export type { Lab, DuetNode, KeepalivedNode };

/** The in-namespace helper processes (http-name, udp-echo, probers, burn). */
export const AGENT = fileURLToPath(new URL('./agent.js', import.meta.url));
/** Preload (`node --import`) that keeps a process's event loop busy; see busy-loop.ts. */
export const BUSY_LOOP = new URL('./busy-loop.js', import.meta.url).href;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Wall-clock milliseconds with sub-millisecond resolution (comparable to `ip -ts` and tcpdump -tt). */
export const nowEpoch = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path: normal end, error, Ctrl-C, SIGTERM, uncaught exceptions.

type CleanupFn = () => void | Promise<void>;
const cleanups: CleanupFn[] = [];
let cleaning: Promise<void> | undefined;

/** Register a cleanup; they run once, newest first. Returns an unregister function. */
export function onCleanup(fn: CleanupFn): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!;
      try {
        await Promise.race([Promise.resolve().then(fn), sleep(8000)]);
      } catch (e) {
        console.error(`cleanup: ${(e as Error).message}`);
      }
    }
  })();
  return cleaning;
}

/**
 * Run main with cleanup guaranteed: on return, on a thrown error, on SIGINT/SIGTERM/SIGHUP and
 * when the overall deadline passes. Exits the process with main's code (or 1 / 128+signal).
 */
export function runMain(main: () => Promise<number>, o: { deadlineMs: number; name: string }): void {
  let exiting = false;
  const finish = async (code: number, why?: string): Promise<void> => {
    if (exiting) return;
    exiting = true;
    if (why) console.error(`\n${o.name}: ${why}; cleaning up`);
    await cleanupAll();
    process.exit(code);
  };
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(sig, () => void finish(code, `${sig} received`));
  }
  process.on('uncaughtException', (e) => void finish(1, `uncaught: ${e.stack ?? String(e)}`));
  process.on('unhandledRejection', (e) => void finish(1, `unhandled rejection: ${(e as Error)?.stack ?? String(e)}`));
  const deadline = setTimeout(() => void finish(1, `still running after ${(o.deadlineMs / 1000).toFixed(0)} s (time bound)`), o.deadlineMs);
  deadline.unref();
  main().then(
    (code) => finish(code),
    (e: unknown) => finish(1, `error: ${(e as Error)?.stack ?? String(e)}`),
  );
}

/** Make a lab whose destruction is registered for every exit path. */
export async function labWithCleanup(prefix: string, hosts: { name: string; addr: string }[]): Promise<Lab> {
  const lab = await createLab(prefix, hosts);
  onCleanup(() => lab.destroy());
  return lab;
}

// ---------------------------------------------------------------------------------------------
// Line-oriented child processes.

export function onLines(stream: NodeJS.ReadableStream | null | undefined, fn: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      fn(line);
    }
  });
}

const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

/** An agent (lab/agent.ts MODE ...) in a host's namespace; resolves once it printed "ready". */
export async function startAgent(lab: Lab, host: string, args: string[], o: { env?: NodeJS.ProcessEnv } = {}): Promise<Agent> {
  const proc = lab.spawn(host, [process.execPath, AGENT, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(o.env ? { env: o.env } : {}) });
  const agent = new Agent(host, args[0] ?? '?', proc);
  onCleanup(() => agent.stop());
  await waitFor(() => agent.ready || agent.failed(), { timeoutMs: 10_000, intervalMs: 10, what: `agent ${args.join(' ')} on ${host}` });
  const f = agent.failed();
  if (f) throw new Error(`agent ${args.join(' ')} on ${host}: ${f}`);
  return agent;
}

export class Agent {
  ready = false;
  private stderr = '';
  private waiting: ((v: unknown) => void)[] = [];
  constructor(readonly host: string, readonly mode: string, readonly proc: ChildProcess) {
    onLines(proc.stdout, (line) => {
      if (line === 'ready') { this.ready = true; return; }
      const w = this.waiting.shift();
      if (w) w(JSON.parse(line));
    });
    onLines(proc.stderr, (line) => { this.stderr = `${this.stderr}${line}\n`.slice(-2000); });
    proc.stdin?.on('error', () => undefined);
  }
  failed(): string | undefined {
    return alive(this.proc) ? undefined : `exited (${this.proc.exitCode ?? this.proc.signalCode}): ${this.stderr.trim()}`;
  }
  /** One JSON request / reply over stdin/stdout (probers). */
  query<T>(q: object, timeoutMs = 3000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const f = this.failed();
      if (f) return reject(new Error(`${this.mode} on ${this.host}: ${f}`));
      const t = setTimeout(() => reject(new Error(`${this.mode} on ${this.host}: no answer to ${JSON.stringify(q)}`)), timeoutMs);
      this.waiting.push((v) => { clearTimeout(t); resolve(v as T); });
      this.proc.stdin!.write(`${JSON.stringify(q)}\n`);
    });
  }
  stop(): Promise<void> {
    if (!alive(this.proc)) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 2000);
      this.proc.once('exit', () => { clearTimeout(t); resolve(); });
      this.proc.kill('SIGKILL');
    });
  }
}

/** What a prober (udp-probe, http-probe) reports about the replies in a time window. */
export interface GapReport {
  /** Longest time between consecutive replies in [from, to], counting the last reply before `from`. */
  gapMs: number;
  gapStart: number;
  gapEnd: number;
  /** Responder names before and after the longest gap. */
  before: string | null;
  after: string | null;
  replies: number;
  sent: number;
  errors: number;
}

export interface LastReply { at: number | null; name: string | null; sent: number; replies: number }

export class Prober {
  constructor(readonly agent: Agent) {}
  last(): Promise<LastReply> { return this.agent.query<LastReply>({ q: 'last' }); }
  gap(from: number, to: number): Promise<GapReport> { return this.agent.query<GapReport>({ q: 'gap', from, to }); }
  counts(from: number, to: number): Promise<Record<string, number>> { return this.agent.query({ q: 'counts', from, to }); }
  /** Wait until replies have been arriving from `name` (if given) for `forMs`, after `since`. */
  async waitFlowing(o: { since: number; name?: string; forMs: number; timeoutMs: number }): Promise<boolean> {
    try {
      await waitFor(async () => {
        const l = await this.last();
        if (l.at === null || l.at < o.since + o.forMs || (o.name && l.name !== o.name)) return false;
        const g = await this.gap(l.at - o.forMs, l.at);
        return g.gapMs < 100;
      }, { timeoutMs: o.timeoutMs, intervalMs: 20, what: 'prober replies' });
      return true;
    } catch {
      return false;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel-side observers in a namespace.

export interface AddrEvent { at: number; added: boolean; addr: string; dev: string }

/** `[2026-11-25T10:36:14.465953]` (local time, from `ip -ts`) to epoch milliseconds. */
export function parseIpTs(s: string): number | undefined {
  const m = /^\[(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(\.\d+)?\]/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac] = m;
  return new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se)).getTime() + Number(frac ?? 0) * 1000;
}

/**
 * `ip -ts monitor address` in a namespace, started before the event: the kernel's address
 * notifications, timestamped by ip as they arrive, without polling.
 */
export async function watchAddresses(lab: Lab, host: string): Promise<AddrWatch> {
  const proc = lab.spawn(host, ['ip', '-ts', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const w = new AddrWatch(proc);
  onCleanup(() => { if (alive(proc)) proc.kill('SIGKILL'); });
  // ip monitor prints nothing until an event: it is listening once it reports a marker address
  // added on lo (TEST-NET-2, never a lab address), which is then removed and left out of `events`.
  const mark = (op: 'add' | 'del'): Promise<unknown> => lab.exec(host, ['ip', 'addr', op, `${WATCH_MARK}/32`, 'dev', 'lo']);
  await waitFor(async () => {
    if (!alive(proc)) throw new Error(`ip monitor in ${host} exited`);
    await mark('add').catch(() => undefined);
    const seen = await waitFor(() => w.markSeen, { timeoutMs: 500, intervalMs: 10 }).catch(() => false);
    await mark('del').catch(() => undefined);
    return seen;
  }, { timeoutMs: 15_000, intervalMs: 50, what: `ip monitor in ${host} listening` });
  return w;
}

const WATCH_MARK = '198.51.100.254';

export class AddrWatch {
  readonly events: AddrEvent[] = [];
  markSeen = false;
  constructor(readonly proc: ChildProcess) {
    onLines(proc.stdout, (line) => {
      const at = parseIpTs(line);
      if (at === undefined) return;
      const m = /\]\s+(Deleted\s+)?\d+:\s+(\S+)\s+inet6?\s+(\S+)/.exec(line);
      if (!m) return;
      const addr = m[3]!.split('/')[0]!;
      if (addr === WATCH_MARK) { this.markSeen = true; return; }
      this.events.push({ at, added: !m[1], dev: m[2]!, addr });
    });
  }
  /** First time `addr` was added at or after `since` (epoch ms). */
  async added(addr: string, since: number, timeoutMs: number): Promise<number | undefined> {
    try {
      const e = await waitFor(() => this.events.find((x) => x.added && x.addr === addr && x.at >= since), { timeoutMs, intervalMs: 5 });
      return e.at;
    } catch {
      return undefined;
    }
  }
}

export interface VrrpPacket { at: number; src: string; vrid: number; prio: number; /** Advertised interval, ms. */ intervalMs: number }

/** tcpdump -tt of VRRP in a namespace: kernel receive timestamps of every advert seen there. */
export async function captureVrrp(lab: Lab, host: string): Promise<VrrpCapture> {
  return new VrrpCapture(await tcpdump(lab, host, 'ip proto 112'));
}

/** tcpdump -tt of ARP in a namespace: kernel timestamps of every ARP frame seen there (sent or received). */
export async function captureArp(lab: Lab, host: string): Promise<ArpCapture> {
  return new ArpCapture(await tcpdump(lab, host, 'arp'));
}

/** A line-buffered tcpdump on the host's lab interface, once it reports it is listening. */
async function tcpdump(lab: Lab, host: string, filter: string): Promise<ChildProcess> {
  const ifname = lab.host(host).ifname;
  const proc = lab.spawn(host, ['tcpdump', '-tt', '-n', '-l', '--immediate-mode', '-i', ifname, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => { if (alive(proc)) proc.kill('SIGKILL'); });
  let listening = false;
  onLines(proc.stderr, (l) => { if (/listening on/.test(l)) listening = true; });
  await waitFor(() => listening || !alive(proc), { timeoutMs: 5000, intervalMs: 10, what: `tcpdump in ${host}` });
  if (!alive(proc)) throw new Error(`tcpdump in ${host} exited`);
  return proc;
}

export interface GarpPacket { at: number; address: string }

export class ArpCapture {
  /** Gratuitous ARP requests (sender = target address). */
  readonly garps: GarpPacket[] = [];
  constructor(readonly proc: ChildProcess) {
    // 1764067000.123456 ARP, Request who-has 192.0.2.100 (ff:ff:ff:ff:ff:ff) tell 192.0.2.100, length 28
    onLines(proc.stdout, (line) => {
      const m = /^(\d+\.\d+) ARP, Request who-has (\S+)(?: \([^)]*\))? tell (\S+),/.exec(line);
      if (m && m[2] === m[3]) this.garps.push({ at: Number(m[1]) * 1000, address: m[2]! });
    });
  }
  /** The first gratuitous ARP for address at or after since (epoch ms). */
  first(address: string, since: number): GarpPacket | undefined {
    return this.garps.find((g) => g.address === address && g.at >= since);
  }
  prune(before: number): void {
    const i = this.garps.findIndex((p) => p.at >= before);
    this.garps.splice(0, i < 0 ? this.garps.length : i);
  }
}

export class VrrpCapture {
  readonly packets: VrrpPacket[] = [];
  constructor(readonly proc: ChildProcess) {
    // 1764067000.123456 IP 192.0.2.11 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 150, intvl 10cs, length 12
    onLines(proc.stdout, (line) => {
      const m = /^(\d+\.\d+) IP (\S+) > \S+: VRRPv\d, Advertisement, vrid (\d+), prio (\d+), (?:authtype \S+, )?intvl (\d+)(cs|s)/.exec(line);
      if (m) this.packets.push({ at: Number(m[1]) * 1000, src: m[2]!, vrid: Number(m[3]), prio: Number(m[4]), intervalMs: Number(m[5]) * (m[6] === 's' ? 1000 : 10) });
    });
  }
  /** Adverts from src (and vrid) within [from, to]. */
  from(src: string, from: number, to: number, vrid?: number): VrrpPacket[] {
    return this.packets.filter((p) => p.src === src && p.at >= from && p.at <= to && (vrid === undefined || p.vrid === vrid));
  }
  prune(before: number): void {
    const i = this.packets.findIndex((p) => p.at >= before);
    this.packets.splice(0, i < 0 ? this.packets.length : i);
  }
}

/** A persistent `ip -force -b -` in a namespace: a command runs as soon as its line is written. */
export function ipShell(lab: Lab, host: string): { send(line: string): void; close(): void } {
  const proc = lab.spawn(host, ['ip', '-force', '-b', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
  proc.stdin!.on('error', () => undefined);
  onCleanup(() => { if (alive(proc)) proc.kill('SIGKILL'); });
  return {
    send: (line) => { proc.stdin!.write(`${line}\n`); },
    close: () => { proc.stdin!.end(); },
  };
}

export async function hasAddr(lab: Lab, host: string, addr: string): Promise<boolean> {
  const { stdout } = await lab.exec(host, ['ip', '-j', 'addr', 'show', 'dev', lab.host(host).ifname]);
  return (JSON.parse(stdout) as { addr_info: { local: string }[] }[]).some((l) => l.addr_info.some((a) => a.local === addr));
}

export async function flushAddr(lab: Lab, host: string, addr: string): Promise<void> {
  await lab.exec(host, ['ip', 'addr', 'flush', 'dev', lab.host(host).ifname, 'to', `${addr}/32`]).catch(() => undefined);
}

export async function setLink(lab: Lab, host: string, up: boolean): Promise<void> {
  await lab.exec(host, ['ip', 'link', 'set', lab.host(host).ifname, up ? 'up' : 'down']);
}

/** Wait until the host's interface is operationally up (veth carrier comes up asynchronously). */
export async function waitLinkUp(lab: Lab, host: string): Promise<void> {
  await waitFor(async () => {
    const { stdout } = await lab.exec(host, ['ip', '-j', 'link', 'show', 'dev', lab.host(host).ifname]);
    const [l] = JSON.parse(stdout) as { operstate?: string }[];
    return l?.operstate === 'UP';
  }, { timeoutMs: 5000, intervalMs: 20, what: `${host} link up` });
}

// ---------------------------------------------------------------------------------------------
// keepalived: a hard kill that really is one (no priority-0 goodbye from the VRRP child).

/**
 * keepalived runs as a parent and a VRRP child; SIGKILL of the parent makes the child exit
 * cleanly (PDEATHSIG SIGTERM: it would send priority 0), and a dead child is respawned by the
 * parent. So: stop the parent, SIGKILL the child, SIGKILL the parent. Only processes that are
 * still ours are signalled (the child must be the parent's child: a pid file left behind by a
 * killed child may name a reused pid), and the child's pid file is removed afterwards so that
 * the helper's cleanup cannot signal a reused pid either.
 */
export function killKeepalivedHard(k: KeepalivedNode): void {
  if (!alive(k.proc) || k.proc.pid === undefined) return;
  const parent = k.proc.pid;
  const pidFile = join(k.dir, 'vrrp.pid');
  let child: number | undefined;
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (pid > 0 && ppid === parent) child = pid;
  } catch { /* not written yet, or gone */ }
  const kill = (pid: number | undefined, sig: NodeJS.Signals): void => { try { if (pid) process.kill(pid, sig); } catch { /* gone */ } };
  kill(parent, 'SIGSTOP');
  kill(child, 'SIGKILL');
  kill(parent, 'SIGKILL');
  rmSync(pidFile, { force: true });
}

/** keepalived's state from its log: the last "Entering X STATE" line. */
export function keepalivedState(k: KeepalivedNode): string {
  for (let i = k.lines.length - 1; i >= 0; i--) {
    const m = /Entering (MASTER|BACKUP|FAULT) STATE/.exec(k.lines[i]!.text);
    if (m) return m[1]!.toLowerCase();
  }
  return 'init';
}

export function keepalivedTransitions(k: KeepalivedNode): number {
  return k.lines.filter((l) => /Entering (MASTER|BACKUP|FAULT) STATE/.test(l.text)).length;
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting.

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

export function fmtMs(ms: number, unit: 'ms' | 's' = 'ms'): string {
  if (!Number.isFinite(ms)) return '—';
  return unit === 's' ? `${(ms / 1000).toFixed(2)}` : `${ms.toFixed(0)}`;
}

/** "min / median / max unit (n=N)" of the finite values; failures counted. */
export function fmtRange(xs: readonly number[], unit: 'ms' | 's' = 'ms', expected?: number): string {
  const ok = xs.filter(Number.isFinite);
  const failed = (expected ?? xs.length) - ok.length;
  if (ok.length === 0) return failed > 0 ? `no data (${failed} failed)` : '—';
  const s = `${fmtMs(Math.min(...ok), unit)} / ${fmtMs(median(ok), unit)} / ${fmtMs(Math.max(...ok), unit)} ${unit}`;
  return failed > 0 ? `${s} (${failed} failed)` : s;
}

export function table(rows: string[][], sep = '  '): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join(sep).trimEnd()).join('\n');
}

/** The duet CLI run in a host's namespace (`duet status` etc.). */
export async function duetCli(lab: Lab, host: string, args: string[]): Promise<string> {
  const { stdout } = await lab.exec(host, [process.execPath, DUET_CLI, ...args], { timeoutMs: 10_000 });
  return stdout.trimEnd();
}
