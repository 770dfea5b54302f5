// The VRRP side of the daemon: one VrrpInstance per configured instance, the sockets they share
// (demultiplexed by VRID), VIPs and announcements, tracking (interfaces, scripts, sync groups),
// notify hooks. Transitions fan out to subscribers (operator waits, sync role, events, systemd).
import { isDeepStrictEqual } from 'node:util';
import type { Config, InstanceConfig } from '../config/schema.js';
import type { Override } from '../control/views.js';
import { VrrpInstance, type InstanceSettings, type InstanceStatus, type TransitionEvent } from '../vrrp/instance.js';
import type { VrrpTransport, TransportRinfo } from '../vrrp/transport.js';
import type { State, Reason } from '../vrrp/fsm.js';
import { evaluateTracking, type Tracker } from '../vrrp/tracking.js';
import { syncGroupForces, groupFault } from '../vrrp/sync-group.js';
import { TrackScript } from '../vrrp/track-script.js';
import { scheduleAnnouncements } from './announce.js';
import { decideResume, markInstance, type RestartMarker } from './restart.js';
import { withOverride } from './operator.js';
import { Fanout, type DaemonContext } from './context.js';
import { transportKeyString, type TransportKey } from './platform.js';

interface Running {
  cfg: InstanceConfig;
  inst: VrrpInstance;
  transportKey: string;
}

export interface ApplyResult { added: string[]; removed: string[]; replaced: string[]; updated: string[]; unchanged: string[] }

export class VrrpRunner {
  private running = new Map<string, Running>();
  private transports = new Map<string, { t: VrrpTransport; users: number }>();
  private scripts = new Map<string, TrackScript>();
  private links = new Map<string, boolean>();
  private unwatchLinks: (() => void) | undefined;
  /** Packets on a shared socket for a VRID no instance here serves, by "ifname/vrid". */
  private unmatched: Record<string, number> = {};
  /** Set during start() only: which instances may resume as master after a `duet restart`. */
  private restartMarker: RestartMarker | undefined;
  readonly transitions: Fanout<TransitionEvent>;

  constructor(private readonly ctx: DaemonContext, private readonly overrideOf: (name: string) => Override | undefined) {
    this.transitions = new Fanout(ctx.log, 'transition');
    // Members of a sync group follow one another (deferred: we are inside the member's dispatch).
    this.transitions.on((e) => this.followSyncGroup(e));
  }

  /** Instance names, in config order. */
  names(): string[] { return [...this.running.keys()]; }
  get(name: string): { cfg: InstanceConfig; inst: VrrpInstance } | undefined { return this.running.get(name); }
  stateOf(name: string): State | undefined { return this.running.get(name)?.inst.state; }

  watch(): void {
    this.unwatchLinks = this.ctx.p.watchLinks((ifname, up) => this.linkChanged(ifname, up));
  }

  /** Start (first) or bring the running instances to `next`: keep identical ones, update soft changes, replace the rest. */
  async apply(next: Config, o: { first: boolean; prev?: Config; restartMarker?: RestartMarker }): Promise<ApplyResult> {
    this.restartMarker = o.restartMarker;
    try {
      const want = new Map(next.vrrp.instances.map((i) => [i.name, i]));
      const result: ApplyResult = { added: [], removed: [], replaced: [], updated: [], unchanged: [] };
      for (const [name, r] of [...this.running]) {
        const w = want.get(name);
        if (w && isDeepStrictEqual(w, r.cfg) && sameScripts(o.prev, next, w)) { result.unchanged.push(name); continue; }
        if (w && isDeepStrictEqual(identity(w), identity(r.cfg))) {
          // Priority, preempt, tracking, notify, garp: applied to the running instance, which keeps
          // its state, so a reload changes no mastership unless the new priorities call for it.
          r.cfg = w;
          r.inst.reconfigure(this.settingsFor(w));
          result.updated.push(name);
          continue;
        }
        await r.inst.stop();
        this.releaseTransport(r.transportKey);
        this.running.delete(name);
        (w ? result.replaced : result.removed).push(name);
      }
      this.syncScripts(next);
      for (const ic of next.vrrp.instances) {
        if (this.running.has(ic.name)) continue;
        if (!result.replaced.includes(ic.name)) result.added.push(ic.name);
        await this.startInstance(ic);
      }
      if (!o.first) {
        // Overrides may have changed with the reload: every instance's settings are recomputed.
        for (const run of this.running.values()) run.inst.reconfigure(this.settingsFor(run.cfg));
        this.refreshTracking();
      }
      return result;
    } finally {
      this.restartMarker = undefined;
    }
  }

  /**
   * The interfaces `next` needs that no running instance has open: the ones a reload would
   * open sockets on or put VIPs on, checked before anything is changed.
   */
  async missingInterfaces(next: Config): Promise<string[]> {
    const open = new Set([...this.running.values()].flatMap((r) => [r.cfg.interface, ...r.cfg.vips.map((v) => v.dev ?? r.cfg.interface)]));
    const need = new Set(next.vrrp.instances.flatMap((ic) => [ic.interface, ...ic.vips.map((v) => v.dev ?? ic.interface)]).filter((n) => !open.has(n)));
    const missing: string[] = [];
    for (const n of need) if (!(await this.ctx.p.linkUp(n).then(() => true, () => false))) missing.push(n);
    return missing;
  }

  /** An operator override changed: the instance's settings and tracking follow it. */
  overrideChanged(name: string): void {
    const r = this.running.get(name);
    if (!r) return;
    r.inst.reconfigure(this.settingsFor(r.cfg));
    this.applyTracking(r);
  }

  /**
   * Stop every instance. forRestart: masters keep their VIPs and send a last normal advert, and
   * a marker lets the next run resume. Returns the instances that were kept as master.
   */
  async stop(forRestart: boolean): Promise<string[]> {
    this.unwatchLinks?.();
    for (const s of this.scripts.values()) s.stop();
    const kept = forRestart ? [...this.running.values()].filter((r) => r.inst.state === 'master') : [];
    await Promise.all([...this.running.values()].map((r) => r.inst.stop(forRestart)));
    if (forRestart) {
      // After the last adverts went out: the next run's window counts from them.
      const at = this.ctx.p.wallNow();
      this.ctx.p.saveRestartMarker({ version: 1, at, instances: Object.fromEntries(kept.map((r) => [r.cfg.name, markInstance(r.cfg, at)])) });
    }
    for (const r of this.running.values()) this.releaseTransport(r.transportKey);
    this.running.clear();
    return kept.map((r) => r.cfg.name);
  }

  /** Configured is the config's priority; effective includes tracking and operator overrides. */
  instances(): InstanceStatus[] {
    return [...this.running.values()].map((r) => { const st = r.inst.status(); return { ...st, priority: { ...st.priority, configured: r.cfg.priority } }; });
  }

  unmatchedCounts(): Record<string, number> { return { ...this.unmatched }; }

  tracking(): Record<string, { up: boolean }> {
    const out: Record<string, { up: boolean }> = {};
    for (const [name, s] of this.scripts) out[`script:${name}`] = { up: s.up };
    for (const [name, up] of this.links) out[`interface:${name}`] = { up };
    return out;
  }

  private settingsFor(ic: InstanceConfig): InstanceSettings {
    return withOverride(settingsOf(ic), this.overrideOf(ic.name));
  }

  private syncScripts(next: Config): void {
    for (const [name, s] of [...this.scripts]) {
      const c = next.vrrp.scripts[name];
      if (c && isDeepStrictEqual(c, s.cfg)) continue;
      s.stop();
      this.scripts.delete(name);
    }
    for (const [name, c] of Object.entries(next.vrrp.scripts)) {
      if (this.scripts.has(name)) continue;
      const used = next.vrrp.instances.some((i) => i.trackScripts.some((t) => t.name === name));
      if (!used) continue;
      const s = new TrackScript({ name, command: c.command, intervalMs: c.intervalMs, timeoutMs: c.timeoutMs, rise: c.rise, fall: c.fall },
        this.ctx.clock, this.ctx.log, () => this.refreshTracking());
      this.scripts.set(name, s);
      s.start();
    }
  }

  private async startInstance(ic: InstanceConfig): Promise<void> {
    const key: TransportKey = {
      ifname: ic.interface, family: ic.family, kind: ic.transport, udpPort: ic.udpPort,
      srcAddress: ic.unicastSrcIp, unicast: ic.unicastPeers.length > 0,
    };
    const ks = transportKeyString(key);
    const transport = await this.acquireTransport(key, ks);
    const log = this.ctx.log.child({ mod: 'vrrp', instance: ic.name, vrid: ic.vrid });
    // The hooks read r.cfg, not ic: a reload may update the config of a running instance.
    const r = { cfg: ic, transportKey: ks } as Running;
    r.inst = new VrrpInstance(this.settingsFor(ic), {
      clock: this.ctx.clock, log, transport,
      vips: (op) => this.setVips(r.cfg, op),
      announce: () => {
        const g = r.cfg.garp;
        return scheduleAnnouncements(this.ctx.clock, { repeat: g.masterRepeat, intervalMs: g.intervalMs, delayMs: g.masterDelayMs, refreshMs: g.masterRefreshMs },
          () => this.announce(r.cfg));
      },
      notify: (from, to, reason) => this.notify(r.cfg, from, to, reason),
    });
    const inst = r.inst;
    inst.on('transition', (e: TransitionEvent) => this.transitions.emit(e));
    this.running.set(ic.name, r);
    for (const t of ic.trackInterfaces) if (!this.links.has(t.name)) this.links.set(t.name, await this.ctx.p.linkUp(t.name).catch(() => false));
    this.applyTracking(r);
    const d = decideResume(ic, this.restartMarker, this.overrideOf(ic.name), this.ctx.p.wallNow());
    if (this.restartMarker) log.info({ resume: d.resume, ...(d.resume ? {} : { why: d.why }) }, d.resume ? 'resuming as master after a restart' : 'not resuming as master');
    inst.start(d.resume);
  }

  private async acquireTransport(key: TransportKey, ks: string): Promise<VrrpTransport> {
    const have = this.transports.get(ks);
    if (have) { have.users++; return have.t; }
    const t = await this.ctx.p.openTransport(key);
    t.on('message', (msg: Buffer, rinfo: TransportRinfo) => this.demux(ks, msg, rinfo));
    t.on('drop', (d: { reason: string; detail: string; address?: string }) => {
      // An IP-level malformation cannot be attributed to a VRID; count it on the interface.
      this.unmatched[`${key.ifname}/${d.reason}`] = (this.unmatched[`${key.ifname}/${d.reason}`] ?? 0) + 1;
    });
    t.on('error', (e: Error) => this.ctx.log.error({ ifname: key.ifname, err: e }, 'transport error'));
    this.transports.set(ks, { t, users: 1 });
    return t;
  }

  private releaseTransport(ks: string): void {
    const have = this.transports.get(ks);
    if (!have) return;
    if (--have.users === 0) { have.t.close(); this.transports.delete(ks); }
  }

  /** Hand a message to the instance(s) on this socket with its VRID (byte 1 in v2 and v3). */
  private demux(ks: string, msg: Buffer, rinfo: TransportRinfo): void {
    if (msg.length < 2) {
      const k = `${rinfo.ifname}/short`;
      this.unmatched[k] = (this.unmatched[k] ?? 0) + 1;
      return;
    }
    const vrid = msg[1]!;
    let matched = false;
    for (const r of this.running.values()) {
      if (r.transportKey !== ks || r.cfg.vrid !== vrid) continue;
      matched = true;
      r.inst.receive(msg, rinfo);
    }
    if (!matched) {
      const k = `${rinfo.ifname}/vrid-${vrid}`;
      this.unmatched[k] = (this.unmatched[k] ?? 0) + 1;
    }
  }

  private async setVips(ic: InstanceConfig, op: 'add' | 'del'): Promise<void> {
    await Promise.all(ic.vips.map(async (v) => {
      const dev = v.dev ?? ic.interface;
      if (op === 'add') await this.ctx.p.addAddress(dev, v.address, v.prefixLen, v.label);
      else await this.ctx.p.delAddress(dev, v.address, v.prefixLen);
    }));
    this.ctx.log.info({ instance: ic.name, op, vips: ic.vips.map((v) => `${v.address}/${v.prefixLen}`) }, op === 'add' ? 'VIPs added' : 'VIPs removed');
  }

  private announce(ic: InstanceConfig): void {
    for (const v of ic.vips) {
      const dev = v.dev ?? ic.interface;
      try {
        const mac = this.ctx.p.macAddress(dev);
        if (v.family === 4) this.ctx.p.sendGarp(dev, v.address, mac);
        else this.ctx.p.sendUnsolicitedNa(dev, v.address, mac);
      } catch (e) {
        this.ctx.log.warn({ instance: ic.name, dev, vip: v.address, err: String(e) }, 'announcement failed');
      }
    }
  }

  private notify(ic: InstanceConfig, from: State, to: State, reason: Reason): void {
    // A restart hand-off changes no role on the network: the hooks saw this node become master already.
    if (reason === 'restart' || reason === 'resumed') return;
    const hook = to === 'init' ? ic.notify.stop : to === 'master' ? ic.notify.master : to === 'backup' ? ic.notify.backup : ic.notify.fault;
    const vars = { DUET_INSTANCE: ic.name, DUET_FROM: from, DUET_TO: to, DUET_REASON: reason, DUET_VRID: String(ic.vrid) };
    const run = (argv: readonly string[]): void => runHook(this.ctx, argv, vars, 'notify hook failed', { instance: ic.name });
    for (const argv of hook ?? []) run(argv);
    for (const argv of ic.notify.any ?? []) run([...argv, ic.name, from, to, reason]);
    for (const g of this.ctx.cfg.vrrp.syncGroups) {
      if (!g.instances.includes(ic.name)) continue;
      for (const argv of g.notify.any ?? []) run([...argv, g.name, from, to, reason]);
    }
  }

  private followSyncGroup(e: TransitionEvent): void {
    if (e.reason === 'restart') return;
    const g = this.ctx.cfg.vrrp.syncGroups.find((x) => x.instances.includes(e.instance));
    if (!g) return;
    const members = g.instances.map((n) => ({ name: n, state: this.running.get(n)?.inst.state ?? 'init' as State }));
    queueMicrotask(() => {
      for (const f of syncGroupForces(members, { name: e.instance, from: e.from, to: e.to, reason: e.reason })) this.running.get(f.name)?.inst.force(f.to, 'sync-group');
    });
  }

  private linkChanged(ifname: string, up: boolean): void {
    if (this.links.get(ifname) === up || !this.links.has(ifname)) return;
    this.links.set(ifname, up);
    this.ctx.log.info({ ifname, up }, 'tracked interface changed');
    this.refreshTracking();
  }

  refreshTracking(): void {
    for (const r of this.running.values()) this.applyTracking(r);
  }

  /** Recompute priority and fault for one instance, including its sync group's fault. */
  private applyTracking(r: Running): void {
    const own = evaluateTracking(this.trackersOf(r.cfg));
    const g = this.ctx.cfg.vrrp.syncGroups.find((x) => x.instances.includes(r.cfg.name));
    // Maintenance: never master, like a fault (a master would have handed over first).
    const fault = this.overrideOf(r.cfg.name)?.mode === 'maintenance' ? true : g
      ? groupFault(g.instances.map((n) => { const m = this.running.get(n); return m ? evaluateTracking(this.trackersOf(m.cfg)).fault : false; }))
      : own.fault;
    r.inst.setTracking(own.delta, fault);
  }

  private trackersOf(ic: InstanceConfig): Tracker[] {
    return [
      ...ic.trackInterfaces.map((t) => ({ id: `interface:${t.name}`, weight: t.weight, up: this.links.get(t.name) ?? false })),
      ...ic.trackScripts.map((t) => ({ id: `script:${t.name}`, weight: t.weight, up: this.scripts.get(t.name)?.up ?? true })),
    ];
  }
}

/** Run a hook through the platform; a failure is logged, never fatal. */
export function runHook(ctx: DaemonContext, argv: readonly string[], vars: Record<string, string>, failMsg: string, fields: Record<string, unknown> = {}): void {
  if (argv.length === 0) return;
  ctx.p.runHook(argv, vars).catch((e: unknown) => ctx.log.warn({ ...fields, argv, err: e instanceof Error ? e.message : String(e) }, failMsg));
}

/**
 * What a running instance cannot change in place: its socket, its VRID, what it advertises. The
 * advert interval can in v3 (backups adopt the master's, RFC 5798 §6.4.2); v2 peers must match.
 */
function identity(ic: InstanceConfig) {
  return {
    interface: ic.interface, vrid: ic.vrid, version: ic.version, family: ic.family, adverIntCs: ic.version === 2 ? ic.adverIntCs : undefined,
    auth: ic.auth, vips: ic.vips, unicastSrcIp: ic.unicastSrcIp, unicastPeers: ic.unicastPeers, transport: ic.transport,
    udpPort: ic.udpPort, checksumPseudoHeader: ic.checksumPseudoHeader,
  };
}

function settingsOf(ic: InstanceConfig): InstanceSettings {
  return {
    name: ic.name, interface: ic.interface, vrid: ic.vrid, version: ic.version, family: ic.family,
    priority: ic.priority, adverIntCs: ic.adverIntCs, preempt: ic.preempt, preemptDelayMs: ic.preemptDelayMs,
    authType: ic.auth.type === 'pass' ? 1 : 0, authPassword: ic.auth.password,
    vipAddresses: ic.vips.map((v) => v.address), unicastPeers: ic.unicastPeers,
    checksumPseudoHeader: ic.checksumPseudoHeader, checkTtl: ic.transport === 'raw',
  };
}

function sameScripts(prev: Config | undefined, next: Config, ic: InstanceConfig): boolean {
  if (!prev) return false;
  return ic.trackScripts.every((t) => isDeepStrictEqual(prev.vrrp.scripts[t.name], next.vrrp.scripts[t.name]));
}
