// A recording platform for daemon unit tests (seesaw's dummy NCC is the model): sockets are
// in-memory transports, addresses a set, IPVS an in-memory kernel, checks a host the test
// drives, state files plain fields. Every effect is recorded in `log` in order.
import type { Platform, TransportKey } from '../../src/daemon/platform.js';
import type { VrrpTransport } from '../../src/vrrp/transport.js';
import type { CheckHost } from '../../src/check/host.js';
import type { CheckEvent, ServiceVerdicts } from '../../src/check/engine.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';
import type { Override } from '../../src/control/views.js';
import type { RestartMarker } from '../../src/daemon/restart.js';
import type { Clock } from '../../src/core/clock.js';
import { MemKernel } from './mem-kernel.js';
import { MemTransport } from './mem-transport.js';

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
  /** Interfaces whose socket cannot be opened (as if they did not exist). */
  readonly missing = new Set<string>();
  private linkWatch: ((ifname: string, up: boolean) => void) | undefined;

  constructor(private readonly clock: Clock, private readonly wallOffset = 1_700_000_000_000) {}

  /** The transport of an interface (the first opened one with that name). */
  transport(ifname = 'eth0'): MemTransport {
    const t = [...this.transports.values()].find((x) => x.ifname === ifname);
    if (!t) throw new Error(`no transport on ${ifname}`);
    return t;
  }

  setLink(ifname: string, up: boolean): void {
    this.links.set(ifname, up);
    this.linkWatch?.(ifname, up);
  }

  async openTransport(k: TransportKey): Promise<VrrpTransport> {
    if (this.missing.has(k.ifname)) throw new Error(`rtnl get link ${k.ifname}: ENODEV`);
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
  async linkUp(ifname: string): Promise<boolean> {
    if (this.missing.has(ifname)) throw new Error(`rtnl get link ${ifname}: ENODEV`);
    return this.links.get(ifname) ?? true;
  }
  watchLinks(cb: (ifname: string, up: boolean) => void): () => void {
    this.linkWatch = cb;
    return () => { this.linkWatch = undefined; };
  }
  macAddress(ifname: string): string { return `02:00:00:00:00:${ifname === 'eth0' ? '01' : '02'}`; }
  sendGarp(ifname: string, address: string): void { this.log.push(`garp ${ifname} ${address}`); }
  sendUnsolicitedNa(ifname: string, address: string): void { this.log.push(`na ${ifname} ${address}`); }
  async runHook(argv: readonly string[], vars: Record<string, string>): Promise<void> {
    this.hooks.push({ argv, vars });
    this.log.push(`hook ${argv.join(' ')}`);
  }
  async openIpvs() { return this.kernel; }
  loadManaged() { return this.managed ? new Set(this.managed) : undefined; }
  saveManaged(keys: ReadonlySet<string>) { this.managed = new Set(keys); }
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
