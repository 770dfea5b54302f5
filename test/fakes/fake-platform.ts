// A recording platform for daemon unit tests (seesaw's dummy NCC is the model): sockets are
// in-memory transports, addresses a set, IPVS an in-memory kernel, checks a host the test
// drives, state files plain fields. Every effect is recorded in `log` in order.
import type { ArpPacket, ArpWatch, LinkState, Platform, TransportKey } from '../../src/daemon/platform.js';
import type { VrrpTransport } from '../../src/vrrp/transport.js';
import type { CheckHost } from '../../src/check/host.js';
import type { CheckEvent, ServiceVerdicts } from '../../src/check/engine.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';
import type { Override } from '../../src/control/views.js';
import type { RestartMarker } from '../../src/daemon/restart.js';
import type { Clock } from '../../src/core/clock.js';
import { MemKernel } from './mem-kernel.js';
import { MemTransport } from './mem-transport.js';
import { checkFamiliesText } from '../../src/check/prom-text.js';

/** A check host whose verdicts and events the test sets: emit() is what the worker would send. */
export class FakeChecks implements CheckHost {
  configured: VirtualServerConfig[][] = [];
  closed = false;
  readonly mirror = new Map<string, ServiceVerdicts>();
  constructor(private readonly onEvent: (e: CheckEvent) => void) {}
  async configure(list: readonly VirtualServerConfig[]): Promise<void> { this.configured.push([...list]); }
  verdicts(): ReadonlyMap<string, ServiceVerdicts> { return this.mirror; }
  async status() { return []; }
  async timing() { return { lateMs: { p50: 0, p99: 0, max: 0 }, runs: 0 } as never; }
  async latency() { return []; }
  metricsText() { return checkFamiliesText([]); }
  liveness() { return { answering: true, restarts: 0, lastRestart: undefined }; }
  async close(): Promise<void> { this.closed = true; }
  /** A weight or quorum change, as the engine reports it (the mirror follows first). */
  emit(e: CheckEvent): void {
    if (e.kind === 'weight') {
      const s = this.mirror.get(e.service) ?? { quorumUp: true, dests: new Map() };
      s.dests.set(e.server, e.to);
      this.mirror.set(e.service, s);
    } else if (e.kind === 'quorum') {
      const s = this.mirror.get(e.service) ?? { quorumUp: true, dests: new Map() };
      s.quorumUp = e.up;
      this.mirror.set(e.service, s);
    }
    this.onEvent(e);
  }
}

export class FakePlatform implements Platform {
  /** Every effect, in order: "add 192.0.2.100/24 eth0", "garp eth0 192.0.2.100", "hook ...". */
  readonly log: string[] = [];
  readonly transports = new Map<string, MemTransport>();
  readonly addresses = new Set<string>();
  readonly links = new Map<string, boolean>();
  readonly hooks: { argv: readonly string[]; vars: Record<string, string> }[] = [];
  readonly kernel = new MemKernel();
  readonly sysctls = new Map<string, string>();
  checks: FakeChecks | undefined;
  managed: Set<string> | undefined;
  overrides: Record<string, Override> | undefined;
  marker: RestartMarker | undefined;
  /** Interfaces this host does not have (every other name exists, up unless setLink said down). */
  readonly missing = new Set<string>();
  /** Opens of a socket on this interface that fail before one succeeds. */
  readonly openFailures = new Map<string, number>();
  private readonly indexes = new Map<string, number>();
  private nextIndex = 2;
  private readonly linkWatchers = new Set<(ifname: string, state: LinkState | undefined) => void>();
  private linkWatch(ifname: string, state: LinkState | undefined): void { for (const w of this.linkWatchers) w(ifname, state); }

  constructor(private readonly clock: Clock, private readonly wallOffset = 1_700_000_000_000) {}

  /** The transport of an interface (the first opened one with that name). */
  transport(ifname = 'eth0'): MemTransport {
    const t = [...this.transports.values()].find((x) => x.ifname === ifname);
    if (!t) throw new Error(`no transport on ${ifname}`);
    return t;
  }

  setLink(ifname: string, up: boolean): void {
    this.links.set(ifname, up);
    this.linkWatch(ifname, this.linkState(ifname));
  }

  /** The link is deleted (a bond or VLAN torn down, a driver unloaded). */
  deleteLink(ifname: string): void {
    this.missing.add(ifname);
    // Its addresses go with it.
    for (const a of [...this.addresses]) if (a.endsWith(` ${ifname}`)) this.addresses.delete(a);
    this.indexes.delete(ifname);
    this.linkWatch(ifname, undefined);
  }

  /** The link appears (again): a new index, up. */
  createLink(ifname: string): void {
    this.missing.delete(ifname);
    this.links.set(ifname, true);
    this.indexes.set(ifname, this.nextIndex++);
    this.linkWatch(ifname, this.linkState(ifname));
  }

  private linkState(ifname: string): LinkState | undefined {
    if (this.missing.has(ifname)) return undefined;
    if (!this.indexes.has(ifname)) this.indexes.set(ifname, this.nextIndex++);
    return { index: this.indexes.get(ifname)!, up: this.links.get(ifname) ?? true };
  }

  async openTransport(k: TransportKey): Promise<VrrpTransport> {
    if (this.missing.has(k.ifname)) throw new Error(`rtnl get link ${k.ifname}: ENODEV`);
    const fails = this.openFailures.get(k.ifname) ?? 0;
    if (fails > 0) {
      this.openFailures.set(k.ifname, fails - 1);
      this.log.push(`open-failed ${k.kind} ${k.ifname}`);
      throw new Error(`socket on ${k.ifname}: EPERM`);
    }
    const t = new MemTransport(k.srcAddress ?? '192.0.2.11', k.ifname);
    this.transports.set(`${k.kind}/${k.ifname}/${k.family}`, t);
    this.log.push(`open ${k.kind} ${k.ifname}`);
    return t as unknown as VrrpTransport;
  }
  async addAddress(ifname: string, address: string, prefixLen: number): Promise<void> {
    this.addresses.add(`${address}/${prefixLen} ${ifname}`);
    this.log.push(`add ${address}/${prefixLen} ${ifname}`);
  }
  async delAddress(ifname: string, address: string, prefixLen: number): Promise<void> {
    this.addresses.delete(`${address}/${prefixLen} ${ifname}`);
    this.log.push(`del ${address}/${prefixLen} ${ifname}`);
  }
  /** Routes in the BGP export tables: "TABLE ADDR/LEN IFNAME". */
  readonly routes = new Set<string>();
  async addRoute(table: number, ifname: string, address: string, prefixLen: number): Promise<void> {
    this.routes.add(`${table} ${address}/${prefixLen} ${ifname}`);
    this.log.push(`route add ${table} ${address}/${prefixLen} ${ifname}`);
  }
  async delRoute(table: number, address: string, prefixLen: number): Promise<void> {
    for (const r of [...this.routes]) if (r.startsWith(`${table} ${address}/${prefixLen} `)) this.routes.delete(r);
    this.log.push(`route del ${table} ${address}/${prefixLen}`);
  }
  async link(ifname: string): Promise<LinkState | undefined> { return this.linkState(ifname); }
  watchLinks(cb: (ifname: string, state: LinkState | undefined) => void): () => void {
    this.linkWatchers.add(cb);
    return () => { this.linkWatchers.delete(cb); };
  }
  macAddress(ifname: string): string { return `02:00:00:00:00:${ifname === 'eth0' ? '01' : '02'}`; }
  sendGarp(ifname: string, address: string): void { this.log.push(`garp ${ifname} ${address}`); }
  sendUnsolicitedNa(ifname: string, address: string): void { this.log.push(`na ${ifname} ${address}`); }
  /** ARP packets waiting on each interface (the test pushes them); open watches by interface. */
  readonly arpQueues = new Map<string, ArpPacket[]>();
  readonly arpWatches = new Set<string>();
  /** Interfaces whose ARP watch fails on its next read. */
  readonly arpReadFailures = new Set<string>();
  openArpWatch(ifname: string): ArpWatch {
    if (this.missing.has(ifname)) throw new Error(`arp watch on ${ifname}: no such interface`);
    this.arpWatches.add(ifname);
    this.log.push(`arp-watch open ${ifname}`);
    return {
      read: (max) => {
        if (this.arpReadFailures.delete(ifname)) throw new Error(`arp watch on ${ifname}: recvfrom: ENETDOWN`);
        const q = this.arpQueues.get(ifname) ?? [];
        return q.splice(0, max);
      },
      close: () => { if (this.arpWatches.delete(ifname)) this.log.push(`arp-watch close ${ifname}`); },
    };
  }
  /** Another host's ARP with sender address at mac arrives on ifname. */
  arpFrom(ifname: string, address: string, mac: string, op = 1): void {
    const q = this.arpQueues.get(ifname) ?? [];
    q.push({ op, senderIp: address, senderMac: mac, targetIp: address });
    this.arpQueues.set(ifname, q);
  }
  /** Set by a test to hold hooks (resolve to let one finish); hooks are recorded when they start. */
  hookGate: ((argv: readonly string[]) => Promise<void>) | undefined;
  async runHook(argv: readonly string[], vars: Record<string, string>): Promise<void> {
    this.hooks.push({ argv, vars });
    this.log.push(`hook ${argv.join(' ')}`);
    await this.hookGate?.(argv);
    this.log.push(`hook-done ${argv.join(' ')}`);
  }
  /** Witness targets that do not answer (every other address does). */
  readonly unreachable = new Set<string>();
  async ping(address: string): Promise<boolean> {
    this.log.push(`ping ${address}`);
    return !this.unreachable.has(address);
  }
  /** Exit status of a track script by its program (argv[0]); 0 unless set. */
  readonly scriptExits = new Map<string, number>();
  /** Output of a script by its program (the BGP speaker's status command); '' unless set. */
  readonly scriptOutputs = new Map<string, string>();
  async runScript(argv: readonly string[]) {
    this.log.push(`script ${argv.join(' ')}`);
    return { code: this.scriptExits.get(argv[0]!) ?? 0, signal: null, timedOut: false, output: this.scriptOutputs.get(argv[0]!) ?? '' };
  }
  async openIpvs() { return this.kernel; }
  loadManaged() { return this.managed ? new Set(this.managed) : undefined; }
  saveManaged(keys: ReadonlySet<string>) { this.managed = new Set(keys); }
  /** The sticky BGP operator state as saved (the state directory). */
  bgpOperator: { maintenance: boolean; withdrawn: string[] } | undefined;
  loadBgpOperator() { return this.bgpOperator && { ...this.bgpOperator, withdrawn: [...this.bgpOperator.withdrawn] }; }
  saveBgpOperator(v: { maintenance: boolean; withdrawn: string[] }) { this.bgpOperator = { ...v, withdrawn: [...v.withdrawn] }; }
  loadOverrides() { return this.overrides ? { ...this.overrides } : undefined; }
  saveOverrides(o: Record<string, Override>) { this.overrides = { ...o }; }
  async readIpvsSysctl(name: string) { return this.sysctls.get(name); }
  async writeIpvsSysctl(name: string, value: string) { this.sysctls.set(name, value); this.log.push(`sysctl ${name}=${value}`); }
  takeRestartMarker() { const m = this.marker; this.marker = undefined; return m; }
  saveRestartMarker(m: RestartMarker) { this.marker = m; }
  wallNow() { return this.wallOffset + this.clock.now(); }
  openChecks(onEvent: (e: CheckEvent) => void): CheckHost {
    this.checks = new FakeChecks(onEvent);
    return this.checks;
  }
}
