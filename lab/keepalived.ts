// A real keepalived (the Debian package, 2.2.7) in a lab namespace, for interop tests: its config
// and pid files live in a temp dir of their own, so several can run at once; its console log lines
// are collected with their arrival time; its state and counters are read through the JSON dump
// (SIGJSON writes $TMPDIR/keepalived.json).
//
// keepalived runs with -n (no fork), -l (log to console; it writes to stderr), -D (log detail),
// -G (no syslog), --vrrp (the VRRP child only: no checker, no BFD), -p/-r (own pid files).
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';
import { waitFor, run } from './netns.js';

export interface KeepalivedInstanceSpec {
  name?: string;
  ifname: string;
  vrid?: number;
  priority: number;
  version: 2 | 3;
  /** Seconds: whole for v2, 0.01 steps for v3. */
  advertInt: number;
  vip?: string;
  /** v2 simple password (authentication { auth_type PASS }). */
  authPass?: string;
  nopreempt?: boolean;
}

/** keepalived.conf for one VRRP instance, starting in BACKUP like a duet node. */
export function keepalivedConfig(i: KeepalivedInstanceSpec): string {
  return `global_defs {
  vrrp_version ${i.version}
  script_user root
  enable_script_security
  vrrp_garp_master_delay 1
  log_unknown_vrids
}
vrrp_instance ${i.name ?? 'VI_1'} {
  state BACKUP
  interface ${i.ifname}
  virtual_router_id ${i.vrid ?? 51}
  priority ${i.priority}
  advert_int ${i.advertInt}
${i.nopreempt ? '  nopreempt\n' : ''}${i.authPass !== undefined ? `  authentication {\n    auth_type PASS\n    auth_pass ${i.authPass}\n  }\n` : ''}  virtual_ipaddress {
    ${i.vip ?? '192.0.2.100/24'}
  }
}
`;
}

/**
 * keepalived 2.2.7's log messages for an advert it refuses (keepalived/vrrp/vrrp.c
 * vrrp_check_packet and vrrp_get_header, vrrp_scheduler.c), plus the conflict warnings
 * vrrp_state_master_rx prints for a peer that looks like us. Any of these about a duet packet
 * is an interop failure.
 */
export const KEEPALIVED_RX_ERRORS: readonly RegExp[] = [
  /VRRP packet too short/, //                                 vrrp_get_header
  /vrrp packet too (?:long|short)/, //                        length vs. naddr
  /invalid TTL\/HL/,
  /wrong version/,
  /Invalid auth type/,
  /received a \d+ auth, expecting/,
  /received an invalid passwd/,
  /advertisement interval mismatch/,
  /Invalid packet type/,
  /received an unexpected ip number count/,
  /ip_tot_len mismatch/,
  /Invalid VRRPv[23] checksum/,
  /Setting unicast VRRPv3 checksum to old version/,
  /Expected (?:mult|un)icast packet/,
  /expected \d+ VIPs but received/,
  /ip address associated with VRID/,
  /Unknown VRID/, //                                           needs log_unknown_vrids
  /equal priority advert received from remote host with our IP address/,
  /CONFIGURATION ERROR/,
  /Received AH header|No AH header/,
];

export type KeepalivedState = 'init' | 'backup' | 'master' | 'fault';
const STATES: Record<number, KeepalivedState> = { 0: 'init', 1: 'backup', 2: 'master', 3: 'fault' };

/** One instance in keepalived's JSON dump (the fields the tests read). */
export interface KeepalivedDump {
  name: string;
  state: KeepalivedState | `unknown-${number}`;
  masterPriority: number;
  effectivePriority: number;
  masterAdverIntS: number;
  stats: {
    advert_rcvd: number;
    advert_sent: number;
    become_master: number;
    release_master: number;
    packet_len_err: number;
    advert_interval_err: number;
    ip_ttl_err: number;
    invalid_type_rcvd: number;
    addr_list_err: number;
    invalid_authtype: number;
    authtype_mismatch: number;
    auth_failure: number;
    pri_zero_rcvd: number;
    pri_zero_sent: number;
  };
}

export interface KeepalivedLine {
  /** performance.now() when the line arrived. */
  at: number;
  text: string;
}

export interface KeepalivedNode {
  host: string;
  dir: string;
  configFile: string;
  proc: ChildProcess;
  lines: KeepalivedLine[];
  /** First line (from index `from`) matching re, within timeoutMs. */
  waitLine(re: RegExp, o?: { timeoutMs?: number; from?: number }): Promise<KeepalivedLine>;
  /** Lines matching any of KEEPALIVED_RX_ERRORS. */
  rxErrors(): string[];
  /** The JSON dump of every instance, freshly written. */
  dump(): Promise<KeepalivedDump[]>;
  instance(name?: string): Promise<KeepalivedDump>;
  kill(signal: NodeJS.Signals): void;
  exited(): Promise<number | null>;
  /** Stop (SIGTERM, then SIGKILL to the parent and its VRRP child) and remove the temp dir. */
  cleanup(): Promise<void>;
  /** The log so far, for t.log on failure. */
  text(): string;
}

const SIGJSON = 36; // keepalived --signum=JSON

/** args: more keepalived options, e.g. ['-i', 'a'] for the config id that @a lines match. */
export async function startKeepalived(lab: Lab, host: string, conf: string, o: { waitStarted?: boolean; args?: string[] } = {}): Promise<KeepalivedNode> {
  const dir = mkdtempSync(join(tmpdir(), `keepalived-${lab.prefix}-${host}-`));
  const configFile = join(dir, 'keepalived.conf');
  const pidFile = join(dir, 'keepalived.pid');
  const vrrpPidFile = join(dir, 'vrrp.pid');
  writeFileSync(configFile, conf);
  const proc = lab.spawn(
    host,
    ['env', `TMPDIR=${dir}`, 'keepalived', '-n', '-l', '-D', '-G', '--vrrp', '-f', configFile, '-p', pidFile, '-r', vrrpPidFile, ...(o.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: KeepalivedLine[] = [];
  const collect = (stream: NodeJS.ReadableStream): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      const at = performance.now();
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push({ at, text: buf.slice(0, nl) });
        buf = buf.slice(nl + 1);
      }
    });
    stream.on('end', () => { if (buf) lines.push({ at: performance.now(), text: buf }); });
  };
  collect(proc.stdout!);
  collect(proc.stderr!);
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
  const text = (): string => lines.map((l) => l.text).join('\n');

  const node: KeepalivedNode = {
    host, dir, configFile, proc, lines, text,
    waitLine(re, w = {}) {
      return waitFor(() => lines.slice(w.from ?? 0).find((l) => re.test(l.text)), {
        timeoutMs: w.timeoutMs ?? 10_000, intervalMs: 10, what: `keepalived on ${host}: ${String(re)} (log tail: ${text().slice(-600)})`,
      });
    },
    rxErrors: () => lines.map((l) => l.text).filter((l) => KEEPALIVED_RX_ERRORS.some((re) => re.test(l))),
    async dump() {
      const file = join(dir, 'keepalived.json');
      rmSync(file, { force: true });
      // The parent passes the signal to the VRRP child, which writes the file. Node's kill()
      // knows no real-time signals: use kill(1).
      await run(['kill', `-${SIGJSON}`, String(proc.pid)]);
      const raw = await waitFor(() => {
        try {
          return JSON.parse(readFileSync(file, 'utf8')) as { data: Record<string, unknown>; stats: KeepalivedDump['stats'] }[];
        } catch {
          return undefined; // not there yet, or still being written
        }
      }, { timeoutMs: 3000, intervalMs: 10, what: `keepalived on ${host}: JSON dump` });
      return raw.map((r) => ({
        name: String(r.data['iname']),
        state: STATES[Number(r.data['state'])] ?? `unknown-${Number(r.data['state'])}`,
        masterPriority: Number(r.data['master_priority']),
        effectivePriority: Number(r.data['effective_priority']),
        masterAdverIntS: Number(r.data['master_adver_int']),
        stats: r.stats,
      }));
    },
    async instance(name = 'VI_1') {
      const i = (await node.dump()).find((d) => d.name === name);
      if (!i) throw new Error(`keepalived on ${host}: no instance ${name} in the JSON dump`);
      return i;
    },
    kill(signal) { proc.kill(signal); },
    exited: () => exit,
    async cleanup() {
      if (alive()) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => { if (alive()) proc.kill('SIGKILL'); }, 3000);
        await exit;
        clearTimeout(t);
      }
      // The VRRP child gets SIGTERM from PDEATHSIG when the parent dies; make sure of it.
      try {
        const pid = Number(readFileSync(vrrpPidFile, 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already (it removes its pid file on exit) */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (o.waitStarted !== false) {
    await node.waitLine(/Startup complete/, { timeoutMs: 10_000 }).catch((e: unknown) => {
      throw new Error(`keepalived on ${host} did not start: ${(e as Error).message}`);
    });
  }
  return node;
}
