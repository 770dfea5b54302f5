// A duet daemon running in a lab namespace: config written to a temp dir, JSON log lines
// collected, status read through the control socket with the real CLI client.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile, type ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';
import { waitFor } from './netns.js';
import { request } from '../src/control/client.js';
import type { DaemonStatus } from '../src/control/views.js';
import type { InstanceStatus } from '../src/vrrp/instance.js';

export const DUET_CLI = fileURLToPath(new URL('../src/cli/duet.js', import.meta.url));

export interface LogLine { msg: string; level: number; [k: string]: unknown }

export interface DuetNode {
  host: string;
  dir: string;
  socket: string;
  configFile: string;
  proc: ChildProcess;
  logs: LogLine[];
  stderr: string[];
  status(): Promise<DaemonStatus>;
  instance(name: string): Promise<InstanceStatus | undefined>;
  waitState(name: string, state: string, timeoutMs?: number): Promise<InstanceStatus>;
  transitions(name?: string): LogLine[];
  kill(signal: NodeJS.Signals): void;
  exited(): Promise<number | null>;
  cleanup(): void;
}

/**
 * Start duet in a namespace. dir: reuse an earlier node's directory (config, socket, state), as
 * a restarted daemon would; that node's cleanup then removes it, this one's does not.
 */
/**
 * Start `duet run` in a lab host. nodeArgs go before the CLI (a fault-injection module with
 * --import, say), env is added to the daemon's environment, and wrap runs it under another
 * program (strace, setpriv: argv before node's; signals then go to that program).
 */
export async function startDuet(lab: Lab, host: string, yaml: string, o: { waitReady?: boolean; dir?: string; nodeArgs?: string[]; env?: Record<string, string>; wrap?: string[] } = {}): Promise<DuetNode> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), `duet-${lab.prefix}-${host}-`));
  const configFile = join(dir, 'duet.yaml');
  const socket = join(dir, 'duet.sock');
  writeFileSync(configFile, yaml);
  const proc = lab.spawn(host, [...(o.wrap ?? []), process.execPath, ...(o.nodeArgs ?? []), DUET_CLI, 'run', '-c', configFile, '-s', socket],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(o.env ? { env: { ...process.env, ...o.env } } : {}) });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try { logs.push(JSON.parse(line) as LogLine); } catch { stderr.push(`stdout: ${line}`); }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const status = async (): Promise<DaemonStatus> => {
    const r = await request(socket, { cmd: 'status' }, 2000);
    if (!r.ok) throw new Error(r.error.message);
    return r.result as DaemonStatus;
  };
  const node: DuetNode = {
    host, dir, socket, configFile, proc, logs, stderr, status,
    async instance(name) { return (await status()).instances.find((i) => i.name === name); },
    async waitState(name, state, timeoutMs = 10_000) {
      const i = await waitFor(async () => { const x = await node.instance(name); return x?.state === state ? x : undefined; },
        { timeoutMs, intervalMs: 20, what: `${host} ${name} ${state} (stderr: ${stderr.join('').slice(-500)})` });
      // The state comes over the control socket, the log line over stdout (written asynchronously):
      // wait until the log has every transition the status counted, so callers may read it at once.
      await waitFor(() => node.transitions(name).length >= i.counters.transitions,
        { timeoutMs: 5000, intervalMs: 10, what: `${host} ${name}: ${i.counters.transitions} transition log lines` });
      return i;
    },
    transitions(name) { return logs.filter((l) => l.msg === 'transition' && (!name || l['instance'] === name)); },
    kill(signal) { proc.kill(signal); },
    exited: () => exit,
    cleanup() { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); if (!o.dir) rmSync(dir, { recursive: true, force: true }); },
  };
  if (o.waitReady !== false) {
    try {
      await waitFor(async () => (await status()).instances.length > 0, { timeoutMs: 10_000, intervalMs: 25, what: `${host} duet up` });
    } catch (e) {
      // Not handed to the caller, so not cleaned up by it: stop it here, and say why it did not come up.
      const exit = proc.exitCode ?? proc.signalCode;
      node.cleanup();
      const last = logs.slice(-20).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${(e as Error).message}; exit ${String(exit)}; stderr: ${stderr.join('').slice(-800)}; last log lines:\n${last}`);
    }
  }
  return node;
}

export interface InstanceYaml {
  name?: string;
  ifname: string;
  vrid?: number;
  priority: number;
  version?: 2 | 3;
  advertInt?: number;
  preempt?: boolean;
  vip?: string;
  extra?: string;
}

/** A one-instance config in the documented YAML shape. */
export function pairConfig(node: string, i: InstanceYaml): string {
  return `node:
  name: ${node}
log:
  level: debug
vrrp:
  instances:
    - name: ${i.name ?? 'VI_1'}
      interface: ${i.ifname}
      vrid: ${i.vrid ?? 51}
      priority: ${i.priority}
      version: ${i.version ?? 3}
      advert_int: ${i.advertInt ?? 0.1}
      preempt: ${i.preempt ?? true}
      virtual_ipaddress: [${i.vip ?? '192.0.2.100/24'}]
      garp: { master_delay: 1, master_repeat: 2 }
${i.extra ?? ''}`;
}

/** A virtual_servers section: one DR service on the pair's VIP, TCP-checked every 0.2 s on realServer. */
export function checkedServiceYaml(realServer: string): string {
  return `virtual_servers:
  - name: web
    address: 192.0.2.100
    port: 80
    lb_kind: dr
    checks: [{ type: tcp, interval: 0.2, timeout: 0.1 }]
    real_servers: [{ address: ${realServer} }]
`;
}

export const INJECT_SCRIPT = fileURLToPath(new URL('./inject.js', import.meta.url));

/**
 * Send whole IPv4 packets (header included, as built by encodeIpv4Vrrp and then corrupted) from
 * a lab host through test/netns/fixtures/inject.js (raw socket, IP_HDRINCL). Resolves once sent.
 */
export async function inject(lab: Lab, host: string, dst: string, packets: readonly Uint8Array[], o: { gapMs?: number } = {}): Promise<number> {
  const hex = packets.map((p) => Buffer.from(p).toString('hex'));
  const { stdout } = await lab.exec(host, [process.execPath, INJECT_SCRIPT, lab.host(host).ifname, dst, ...(o.gapMs ? ['--gap-ms', String(o.gapMs)] : []), ...hex], { timeoutMs: 30_000 });
  return (JSON.parse(stdout) as { sent: number }).sent;
}

/**
 * For a failed test: each node's last log lines (debug included, so control replies and packets
 * show) and its stderr, so CI's log names the cause. Lines are shortened to keep the log readable.
 */
export function describeNodes(nodes: readonly DuetNode[], lastLines = 80): string[] {
  return nodes.map((n) => {
    // Read-only control replies (a test polling status) would crowd out what happened: counted, not shown.
    const quiet = (l: { msg: string; [k: string]: unknown }): boolean => l.msg === 'control reply' && l['ok'] === true && (l['cmd'] === 'status' || l['cmd'] === 'ipvs');
    const polls = n.logs.filter(quiet).length;
    const lines = n.logs.filter((l) => !quiet(l)).slice(-lastLines).map((l) => { const j = JSON.stringify(l); return j.length > 400 ? `${j.slice(0, 400)}...` : j; });
    const exit = n.proc.exitCode ?? n.proc.signalCode;
    return `--- duet ${n.host} (pid ${n.proc.pid ?? '?'}${exit !== null ? `, exited ${String(exit)}` : ''}; last ${lines.length} of ${n.logs.length} log lines; ${polls} successful status replies left out)\n${lines.join('\n')}`
      + (n.stderr.length ? `\n--- stderr of ${n.host}\n${n.stderr.join('').slice(-4000)}` : '');
  });
}

/** Run the duet CLI against a node's socket (optionally as another user); exit code and output. */
export function cli(n: DuetNode, args: string[], o: { asUser?: string; maxBuffer?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [process.execPath, DUET_CLI, ...args, '-s', n.socket];
  const [file, ...rest] = o.asUser ? ['setpriv', `--reuid=${o.asUser}`, `--regid=${o.asUser}`, '--clear-groups', ...argv] : argv;
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(file!, rest, { timeout: 30_000, ...(o.maxBuffer ? { maxBuffer: o.maxBuffer } : {}) }, (e, stdout, stderr) => {
      if (!e || typeof e.code === 'number') { resolve({ code: e ? Number(e.code) : 0, stdout, stderr }); return; }
      // No exit status: killed (our timeout) or never started. Say which, so a failure explains itself.
      const why = e.killed ? `killed by ${e.signal ?? 'a signal'} after ${Date.now() - t0} ms (timeout 30000 ms)` : `${String(e.code ?? e.signal)}: ${e.message}`;
      resolve({ code: 99, stdout, stderr: `${stderr}[cli helper: duet ${args.join(' ')}: ${why}]` });
    });
  });
}
