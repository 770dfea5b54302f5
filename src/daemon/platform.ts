// The Linux edge, as the daemon sees it: every effect on the system goes through this one
// interface (linux-platform.ts is the real one; unit tests use a recording fake).
import type { VrrpTransport } from '../vrrp/transport.js';
import type { IpvsKernel } from '../ipvs/reconciler.js';
import type { CheckHost } from '../check/host.js';
import type { CheckEvent } from '../check/engine.js';
import type { KernelDaemon, SyncDaemonSettings, SyncRole } from '../sync/plan.js';
import type { Override } from '../control/views.js';
import type { RestartMarker } from './restart.js';
import type { ArpWatch } from '../vrrp/garp.js';
import type { ScriptPolicy } from '../core/script-security.js';

export type { ArpWatch, ArpPacket } from '../vrrp/garp.js';

export interface Platform {
  openTransport(key: TransportKey): Promise<VrrpTransport>;
  addAddress(ifname: string, address: string, prefixLen: number, label?: string): Promise<void>;
  delAddress(ifname: string, address: string, prefixLen: number): Promise<void>;
  /** ADDR/LEN dev IFNAME in a routing table (the BGP speaker's export table); success if it is there already. */
  addRoute(table: number, ifname: string, address: string, prefixLen: number): Promise<void>;
  /** Remove ADDR/LEN from a routing table; success if it is not there. */
  delRoute(table: number, address: string, prefixLen: number): Promise<void>;
  /** The link by name; undefined when this host has none. */
  link(ifname: string): Promise<LinkState | undefined>;
  /** Every change of any link: its new state, or undefined once it is deleted. */
  watchLinks(cb: (ifname: string, state: LinkState | undefined) => void): () => void;
  /** The interface's hardware address ("02:00:..."); throws if it cannot be read. */
  macAddress(ifname: string): string;
  sendGarp(ifname: string, address: string, mac: string): void;
  sendUnsolicitedNa(ifname: string, address: string, mac: string): void;
  /** A non-blocking reader of the ARP packets arriving on ifname (the dual-master guard); throws if it cannot open. */
  openArpWatch(ifname: string): ArpWatch;
  /**
   * Run a hook (argv, no shell) in its own process group with a fixed environment plus vars;
   * rejects if it fails or times out (then the whole group is killed), or if the policy refuses
   * the program (script security, script user).
   */
  runHook(argv: readonly string[], vars: Record<string, string>, timeoutMs: number, policy: ScriptPolicy): Promise<void>;
  /** ICMP echo to an IPv4 address (the witness): true when it answers within timeoutMs; never rejects. */
  ping(address: string, timeoutMs: number): Promise<boolean>;
  /** Run a track script the same way; its exit status is the verdict (a refused one rejects). */
  runScript(argv: readonly string[], timeoutMs: number, policy: ScriptPolicy): Promise<ScriptResult>;
  /** The kernel's IPVS table; opened only when the config has virtual servers. */
  openIpvs(): Promise<IpvsHandle>;
  /** Service keys duet applied last time (kept across restarts so removals still happen). */
  loadManaged(): Set<string> | undefined;
  saveManaged(keys: ReadonlySet<string>): void;
  /** Sticky BGP operator state: maintenance, withdrawn VIPs (kept across restarts). */
  loadBgpOperator(): BgpOperatorState | undefined;
  saveBgpOperator(s: BgpOperatorState): void;
  /** Sticky operator overrides by instance name (kept across restarts). */
  loadOverrides(): Record<string, Override> | undefined;
  saveOverrides(o: Record<string, Override>): void;
  /** /proc/sys/net/ipv4/vs/NAME in duet's namespace; undefined when it does not exist. */
  readIpvsSysctl(name: string): Promise<string | undefined>;
  writeIpvsSysctl(name: string, value: string): Promise<void>;
  /** The restart marker a `duet restart` left, read once (and removed) at start. */
  takeRestartMarker(): RestartMarker | undefined;
  saveRestartMarker(m: RestartMarker): void;
  /** Wall-clock ms: the restart marker is compared across two processes; overrides show it. */
  wallNow(): number;
  /** The health-check engine (a worker thread on Linux); opened only when a real server has checks. */
  openChecks(onEvent: (e: CheckEvent) => void, onError: (e: Error) => void): CheckHost;
}

/** The table operations the reconciler needs, plus the connection timeouts (ipvsadm --set). */
export interface IpvsHandle extends IpvsKernel {
  getDaemons(): Promise<KernelDaemon[]>;
  startDaemon(d: SyncDaemonSettings): Promise<void>;
  stopDaemon(state: SyncRole): Promise<void>;
  getTimeouts(): Promise<{ tcp: number; tcpFin: number; udp: number }>;
  /** 0 leaves a value unchanged. */
  setTimeouts(t: { tcp: number; tcpFin: number; udp: number }): Promise<void>;
}

export interface BgpOperatorState {
  maintenance: boolean;
  withdrawn: string[];
}

export interface ScriptResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The start of its output, for the log. */
  output: string;
}

/** What the daemon needs of a link: which one it is now (a recreated link has a new index) and whether it carries traffic. */
export interface LinkState {
  index: number;
  /** Administratively up and running (RFC 2863 up or unknown). */
  up: boolean;
}

export interface TransportKey {
  ifname: string;
  family: 4 | 6;
  kind: 'raw' | 'udp';
  udpPort: number;
  srcAddress: string | undefined;
  unicast: boolean;
}

export const transportKeyString = (k: TransportKey): string => `${k.kind}/${k.ifname}/${k.family}/${k.udpPort}/${k.srcAddress ?? ''}/${k.unicast}`;
