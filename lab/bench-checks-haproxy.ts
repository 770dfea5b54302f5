// The reference column of bench:checks: HAProxy (Debian's `haproxy` package) health-checking the
// same real servers as duet in the same run: the same targets, counts and interval, one
// `server ... check inter 1s` per real server in backends of PER_VS, `option httpchk` for the
// HTTP ones. It runs with nbthread 1 (duet runs its checks on one worker thread) and maxconn
// 1000 (the hard open-file limit here is 20,000; a larger maxconn makes it refuse to start).
// CPU comes from /proc/PID/stat (utime, stime), RSS from /proc/PID/status, checks run per second
// from the namespace's TCP ActiveOpens (/proc/PID/net/snmp: every check is one connect, and
// nothing else in the namespace connects), the servers' check state from HAProxy's stats socket.
// (The targets' own accept counts fall short of HAProxy's connects on a loaded machine: not
// every connect it starts reaches the target's accept.)
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTP_PORT, PER_VS, TCP_PORT, rsAddress, type CheckLoad } from './bench-checks-config.js';

export interface HaproxyResult {
  tcp: number;
  http: number;
  seconds: number;
  /** TCP connects started in the window, per second (each one is one check). */
  checksPerS: number;
  cpuPct: number;
  cpuUserPct: number;
  cpuSysPct: number;
  rssPeakMB: number;
  /** VmHWM: the process's peak RSS since it started. */
  maxRssMB: number;
  /** Servers whose checks HAProxy had as up / not up at the end of the window. */
  up: number;
  notUp: number;
  /** Check states other than UP, by HAProxy's status and check_status. */
  notUpStates: Record<string, number>;
}

/** The HAProxy binary's version line, or undefined when it is not installed. */
export function haproxyVersion(): string | undefined {
  const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return r.stdout.split('\n')[0]?.trim();
}

export const HAPROXY_MISSING = 'HAProxy is not installed, so duet is printed alone; for the reference column: apt-get install haproxy';

/** The haproxy.cfg for a check load: every real server of the duet config, checked every second. */
export function haproxyConfig(load: CheckLoad, statsSocket: string): string {
  const l = [
    'global', '  nbthread 1', '  maxconn 1000', `  stats socket ${statsSocket} level user`,
    'defaults', '  mode tcp', '  timeout connect 900ms', '  timeout check 900ms', '  timeout client 10s', '  timeout server 10s',
    // HAProxy refuses a config without a listener: one that nothing connects to.
    'frontend idle', '  bind 127.0.0.1:18999', `  default_backend ${load.tcp > 0 ? 'tcp_0' : 'http_0'}`,
  ];
  for (const kind of ['tcp', 'http'] as const) {
    const n = load[kind];
    const port = kind === 'tcp' ? TCP_PORT : HTTP_PORT;
    for (let first = 0; first < n; first += PER_VS) {
      l.push(`backend ${kind}_${first / PER_VS}`);
      if (kind === 'http') l.push('  mode http', '  option httpchk GET /');
      for (let i = first; i < Math.min(n, first + PER_VS); i++) l.push(`  server s${i} ${rsAddress(kind, i)}:${port} check inter 1s`);
    }
  }
  return `${l.join('\n')}\n`;
}

/** utime and stime of a process, ms (USER_HZ 100). */
export function procTimesMs(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

/** A /proc/PID/status field in kB (VmRSS, VmHWM), as MB. */
export function statusMB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** TCP ActiveOpens of the network namespace a process is in (/proc/PID/net/snmp). */
export function activeOpens(pid: number): number {
  const tcp = readFileSync(`/proc/${pid}/net/snmp`, 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
  const head = tcp[0]?.split(/\s+/) ?? [];
  const vals = tcp[1]?.split(/\s+/) ?? [];
  const i = head.indexOf('ActiveOpens');
  if (i < 0 || vals[i] === undefined) throw new Error(`no Tcp ActiveOpens in /proc/${pid}/net/snmp`);
  return Number(vals[i]);
}

/** One command on HAProxy's stats socket; its whole answer. */
export function statsCommand(socket: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`haproxy stats socket: no answer to "${command}" in ${timeoutMs} ms`)); }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => { out += d; });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('end', () => { clearTimeout(timer); resolve(out); });
    s.end(`${command}\n`);
  });
}

/** Per server (not FRONTEND/BACKEND rows) of `show stat`: "status check_status". */
export function serverStates(csv: string): string[] {
  const lines = csv.split('\n').filter((x) => x.trim() !== '');
  const head = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const col = (name: string): number => {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`haproxy show stat: no ${name} column`);
    return i;
  };
  const [sv, st, ck] = [col('svname'), col('status'), col('check_status')];
  return lines.slice(1).map((l) => l.split(',')).filter((f) => f[sv] !== 'FRONTEND' && f[sv] !== 'BACKEND').map((f) => `${f[st]} ${f[ck]}`);
}

/** The bench's hooks: where HAProxy runs. */
export interface HaproxyRunner {
  spawn(argv: string[]): ChildProcess;
  sleep(ms: number): Promise<void>;
}

/** HAProxy checking `load` for warmup + window seconds; stopped and its files removed after. */
export async function measureHaproxy(load: CheckLoad, warmupS: number, seconds: number, r: HaproxyRunner): Promise<HaproxyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-checks-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  const sock = join(dir, 'stats.sock');
  writeFileSync(cfg, haproxyConfig(load, sock));
  const p = r.spawn(['haproxy', '-db', '-f', cfg]);
  try {
    await r.sleep(warmupS * 1000);
    if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) throw new Error(`haproxy exited (${p.exitCode ?? p.signalCode}) during the warm-up`);
    const pid = p.pid;
    const c0 = procTimesMs(pid);
    const s0 = activeOpens(pid);
    const t0 = performance.now();
    let rssPeak = 0;
    const end = t0 + seconds * 1000;
    while (performance.now() < end) {
      await r.sleep(Math.min(1000, end - performance.now()));
      rssPeak = Math.max(rssPeak, statusMB(pid, 'VmRSS'));
    }
    const c1 = procTimesMs(pid);
    const s1 = activeOpens(pid);
    const ms = performance.now() - t0;
    const states = serverStates(await statsCommand(sock, 'show stat'));
    const notUpStates: Record<string, number> = {};
    for (const s of states) if (!s.startsWith('UP')) notUpStates[s] = (notUpStates[s] ?? 0) + 1;
    const pct = (x: number): number => (x / ms) * 100;
    return {
      tcp: load.tcp, http: load.http, seconds: ms / 1000,
      checksPerS: ((s1 - s0) / ms) * 1000,
      cpuPct: pct(c1.user + c1.sys - c0.user - c0.sys), cpuUserPct: pct(c1.user - c0.user), cpuSysPct: pct(c1.sys - c0.sys),
      rssPeakMB: rssPeak, maxRssMB: statusMB(pid, 'VmHWM'),
      up: states.filter((s) => s.startsWith('UP')).length, notUp: states.length - states.filter((s) => s.startsWith('UP')).length, notUpStates,
    };
  } finally {
    // Gone before the next load starts: its checks must not share the window.
    const gone = p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((res) => p.once('exit', () => res()));
    p.kill('SIGKILL');
    await gone;
    rmSync(dir, { recursive: true, force: true });
  }
}
