// The VRRP side of the daemon: one VrrpInstance per configured instance, the sockets they share
// (demultiplexed by VRID), VIPs and announcements, tracking (interfaces, scripts, sync groups),
// notify hooks. Transitions fan out to subscribers (operator waits, sync role, events, systemd).
import { isDeepStrictEqual } from 'node:util';
import type { Config, InstanceConfig } from '../config/schema.js';
import type { Override, SocketView } from '../control/views.js';
import { VrrpInstance, type DualMasterEvent, type InstanceSettings, type InstanceStatus, type TransitionEvent } from '../vrrp/instance.js';
import type { VrrpTransport, TransportRinfo } from '../vrrp/transport.js';
import type { State, Reason } from '../vrrp/fsm.js';
import { evaluateTracking, type Tracker } from '../vrrp/tracking.js';
import { syncGroupForces, groupFault } from '../vrrp/sync-group.js';
import { TrackScript } from '../vrrp/track-script.js';
import { Witness } from '../vrrp/witness.js';
import { scheduleAnnouncements } from './announce.js';
import { decideResume, markInstance, type RestartMarker } from './restart.js';
import { withOverride } from './operator.js';
import { Fanout, type DaemonContext } from './context.js';
import { transportKeyString, type LinkState, type TransportKey } from './platform.js';
import { TransportSlot } from './transport-slot.js';
import { ArpGuard } from './arp-guard.js';
import { csToMs } from '../vrrp/timers.js';
import { scriptPolicy } from '../core/script-security.js';

interface Running {
  cfg: InstanceConfig;
  inst: VrrpInstance;
  transportKey: string;
  witness: Witness | undefined;
}

export interface ApplyResult { added: string[]; removed: string[]; replaced: string[]; updated: string[]; unchanged: string[] }

export class VrrpRunner {
  private running = new Map<string, Running>();
  private transports = new Map<string, { t: TransportSlot; users: number }>();
  private scripts = new Map<string, TrackScript>();
  /** Every link an instance uses or tracks, as last read or reported (undefined: none on this host). */
  private links = new Map<string, LinkState | undefined>();
  private unwatchLinks: (() => void) | undefined;
  /** Packets on a shared socket for a VRID no instance here serves, by "ifname/vrid". */
  private unmatched: Record<string, number> = {};
  /** Set during start() only: which instances may resume as master after a `duet restart`. */
  private restartMarker: RestartMarker | undefined;
  /** A deferred ArpGuard.sync after transitions (one per turn). */
  private arpSyncSoon: NodeJS.Immediate | undefined;
  private stopped = false;
  /** Set by release(): the instances kept as master for a restart ([] for a plain stop). */
  private released: Running[] | undefined;
  readonly transitions: Fanout<TransitionEvent>;
  /** Dual-master detection by ARP, for masters' IPv4 VIPs. */
  readonly arp: ArpGuard;

  /** realtime: as at start (its changes take effect at the next start). */
  private readonly realtime: DaemonContext['cfg']['realtime'];

  constructor(private readonly ctx: DaemonContext, private readonly overrideOf: (name: string) => Override | undefined) {
    this.realtime = ctx.cfg.realtime;
    this.transitions = new Fanout(ctx.log, 'transition');
    this.arp = new ArpGuard(ctx.p, ctx.clock, ctx.log.child({ mod: 'arp-guard' }), () => [...this.running.values()].map((r) => ({
      name: r.cfg.name, master: r.inst.state === 'master', advertMs: csToMs(r.cfg.adverIntCs),
      vips: r.cfg.vips.filter((v) => v.family === 4).map((v) => ({ dev: v.dev ?? r.cfg.interface, address: v.address })),
      claim: (address: string, mac: string) => r.inst.claim(address, mac),
    })));
    // After the turn: opening ARP sockets must not delay a new master's VIP add and GARP.
    this.transitions.on(() => { this.arpSyncSoon ??= setImmediate(() => { this.arpSyncSoon = undefined; if (!this.stopped) this.arp.sync(); }); });
    // Members of a sync group follow one another (deferred: we are inside the member's dispatch).
    this.transitions.on((e) => this.followSyncGroup(e));
  }

  /** Instance names, in config order. */
  names(): string[] { return [...this.running.keys()]; }
  get(name: string): { cfg: InstanceConfig; inst: VrrpInstance } | undefined { return this.running.get(name); }
  stateOf(name: string): State | undefined { return this.running.get(name)?.inst.state; }

  watch(): void {
    this.unwatchLinks = this.ctx.p.watchLinks((ifname, state) => this.linkChanged(ifname, state));
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
          await this.syncWitness(r);
          r.inst.reconfigure(this.settingsFor(w));
          result.updated.push(name);
          continue;
        }
        r.witness?.stop();
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
      this.arp.sync();
      return result;
    } finally {
      this.restartMarker = undefined;
    }
  }

  /**
   * The interfaces instances of `next` send on or put VIPs on that this host does not have, by
   * instance: those instances start (or stay) in FAULT until the interface appears.
   */
  async missingInterfaces(next: Config): Promise<{ instance: string; interfaces: string[] }[]> {
    const out: { instance: string; interfaces: string[] }[] = [];
    for (const ic of next.vrrp.instances) {
      const missing: string[] = [];
      for (const n of ownInterfaces(ic)) if ((await this.readLink(n)) === undefined) missing.push(n);
      if (missing.length) out.push({ instance: ic.name, interfaces: missing });
    }
    return out;
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
    const kept = this.release(forRestart);
    this.unwatchLinks?.();
    this.stopped = true;
    if (this.arpSyncSoon) clearImmediate(this.arpSyncSoon);
    this.arp.stop();
    for (const s of this.scripts.values()) s.stop();
    for (const r of this.running.values()) r.witness?.stop();
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

  /**
   * The first, synchronous step of a stop, before anything else (a log line, a hook): masters'
   * priority-0 adverts (forRestart: last normal adverts) go to the kernel and VIP removals are
   * queued. Once per stop; returns the instances kept as master (forRestart).
   */
  release(forRestart: boolean): Running[] {
    if (this.released) return this.released;
    this.released = forRestart ? [...this.running.values()].filter((r) => r.inst.state === 'master') : [];
    for (const r of this.running.values()) r.inst.release(forRestart);
    return this.released;
  }

  /** Configured is the config's priority; effective includes tracking and operator overrides. */
  instances(): InstanceStatus[] {
    return [...this.running.values()].map((r) => {
      const st = r.inst.status();
      return { ...st, priority: { ...st.priority, configured: r.cfg.priority }, faultReasons: st.fault ? this.faultReasons(r) : [] };
    });
  }

  /** Masters whose adverts are not getting out (the watchdog's send-path check). */
  sendProblems(): string[] {
    return [...this.running.values()].flatMap((r) => r.inst.sendProblem() ?? []);
  }

  /** The VRRP sockets, one per interface and kind, with their open and error counts. */
  sockets(): SocketView[] { return [...this.transports.values()].map((x) => x.t.view()); }

  unmatchedCounts(): Record<string, number> { return { ...this.unmatched }; }

  tracking(): Record<string, { up: boolean }> {
    const out: Record<string, { up: boolean }> = {};
    for (const [name, s] of this.scripts) out[`script:${name}`] = { up: s.up };
    for (const [name, r] of this.running) if (r.witness) out[`witness:${name}`] = { up: r.witness.up };
    for (const [name, l] of this.links) out[`interface:${name}`] = { up: l?.up ?? false };
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
        this.ctx.clock, this.ctx.log, (argv, ms) => this.ctx.p.runScript(argv, ms, scriptPolicy(this.ctx.cfg.scripts, c.insecure)), () => this.refreshTracking());
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
    for (const n of [...ownInterfaces(ic), ...ic.trackInterfaces.map((t) => t.name)]) if (!this.links.has(n)) this.links.set(n, await this.readLink(n));
    const transport = await this.acquireTransport(key, ks);
    // The instance names itself in every line it logs (a binding here would repeat the keys).
    const log = this.ctx.log.child({ mod: 'vrrp' });
    // The hooks read r.cfg, not ic: a reload may update the config of a running instance.
    const r = { cfg: ic, transportKey: ks, witness: undefined } as Running;
    // realtime.advert_thread: a master's adverts on a raw socket come from a thread of their own.
    const at = this.realtime.advertThread;
    const pacer = at && key.kind === 'raw' ? transport.openPacer?.({ leaseMs: at.leaseMs, realtime: this.realtime.vrrp }) : undefined;
    r.inst = new VrrpInstance(this.settingsFor(ic), {
      clock: this.ctx.clock, log, transport, ...(pacer ? { pacer } : {}),
      vips: (op) => this.setVips(r.cfg, op),
      announce: () => {
        const g = r.cfg.garp;
        return scheduleAnnouncements(this.ctx.clock, { repeat: g.masterRepeat, intervalMs: g.intervalMs, delayMs: g.masterDelayMs, refreshMs: g.masterRefreshMs },
          () => this.announce(r.cfg));
      },
      reannounce: () => {
        const g = r.cfg.garp;
        if (g.lowerPrioRepeat === 0) return () => {};
        return scheduleAnnouncements(this.ctx.clock, { repeat: g.lowerPrioRepeat, intervalMs: g.intervalMs, delayMs: g.lowerPrioDelayMs, refreshMs: 0 },
          () => this.announce(r.cfg));
      },
      notify: (from, to, reason) => this.notify(r.cfg, from, to, reason),
      wallNow: () => this.ctx.p.wallNow(),
    });
    const inst = r.inst;
    inst.on('transition', (e: TransitionEvent) => this.transitions.emit(e));
    inst.on('dual-master', (e: DualMasterEvent) => {
      this.ctx.emit({ type: 'dual-master', instance: e.instance, vrid: e.vrid, via: e.via, other: e.other, priority: e.priority,
        ...(e.otherPriority !== undefined ? { otherPriority: e.otherPriority } : {}), ...(e.address !== undefined ? { address: e.address } : {}) });
      const vars: Record<string, string> = { DUET_INSTANCE: r.cfg.name, DUET_VRID: String(r.cfg.vrid), DUET_VIA: e.via, DUET_OTHER: e.other };
      if (e.otherPriority !== undefined) vars['DUET_OTHER_PRIORITY'] = String(e.otherPriority);
      if (e.address !== undefined) vars['DUET_ADDRESS'] = e.address;
      for (const argv of r.cfg.notify.dual_master ?? []) {
        this.ctx.hooks.run(`instance:${r.cfg.name}`, argv, vars,
          'dual-master hook failed', { instance: r.cfg.name });
      }
    });
    this.running.set(ic.name, r);
    // The first witness round decides before the instance starts: a node cut off starts in FAULT.
    await this.syncWitness(r);
    this.applyTracking(r);
    const d = decideResume(ic, this.restartMarker, this.overrideOf(ic.name), this.ctx.p.wallNow());
    if (this.restartMarker) log.info({ instance: ic.name, resume: d.resume, ...(d.resume ? {} : { why: d.why }) }, d.resume ? 'resuming as master after a restart' : 'not resuming as master');
    inst.start(d.resume);
  }

  /**
   * The slot for this socket, shared by the instances on it. It opens a socket while the link is
   * there and up; an instance whose slot has none is in FAULT until it has one again.
   */
  private async acquireTransport(key: TransportKey, ks: string): Promise<VrrpTransport> {
    const have = this.transports.get(ks);
    if (have) { have.users++; return have.t; }
    const t = new TransportSlot(key, {
      clock: this.ctx.clock, log: this.ctx.log.child({ mod: 'vrrp' }),
      open: (k) => this.ctx.p.openTransport(k),
      changed: () => this.slotChanged(ks),
    });
    t.on('message', (msg: Buffer, rinfo: TransportRinfo) => this.demux(ks, msg, rinfo));
    t.on('drop', (d: { reason: string; detail: string; address?: string }) => {
      // An IP-level malformation cannot be attributed to a VRID; count it on the interface.
      this.unmatched[`${key.ifname}/${d.reason}`] = (this.unmatched[`${key.ifname}/${d.reason}`] ?? 0) + 1;
    });
    this.transports.set(ks, { t, users: 1 });
    t.link(this.links.get(key.ifname));
    await t.ready();
    return t;
  }

  /** Start, keep or replace the instance's witness to match its config. */
  private async syncWitness(r: Running): Promise<void> {
    const want = r.cfg.witness;
    if (r.witness && want && isDeepStrictEqual(r.witness.cfg, want)) return;
    r.witness?.stop();
    r.witness = undefined;
    if (!want) return;
    const w = new Witness(want, this.ctx.clock, this.ctx.log.child({ mod: 'vrrp', instance: r.cfg.name }),
      (address, ms) => this.ctx.p.ping(address, ms), () => this.applyTracking(r));
    r.witness = w;
    await w.start();
  }

  /** A socket opened or was lost: the instances on it take its address, and tracking follows. */
  private slotChanged(ks: string): void {
    for (const r of this.running.values()) if (r.transportKey === ks) r.inst.transportChanged();
    this.refreshTracking();
  }

  /** The link now; a failure to read it counts as no link (and is logged). */
  private async readLink(ifname: string): Promise<LinkState | undefined> {
    try {
      return await this.ctx.p.link(ifname);
    } catch (e) {
      this.ctx.log.warn({ ifname, err: e instanceof Error ? e.message : String(e) }, 'reading the link failed');
      return undefined;
    }
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
      // A deleted link took its addresses with it: nothing to remove (also when it went meanwhile).
      else if (!this.links.has(dev) || this.links.get(dev) !== undefined) {
        await this.ctx.p.delAddress(dev, v.address, v.prefixLen).catch((e: unknown) => {
          if (!/\bENODEV\b/.test(e instanceof Error ? e.message : String(e))) throw e;
        });
      }
    }));
    // Logged after the turn: the first GARP is chained on this add and goes first.
    setImmediate(() => this.ctx.log.info({ instance: ic.name, op, vips: ic.vips.map((v) => `${v.address}/${v.prefixLen}`) }, op === 'add' ? 'VIPs added' : 'VIPs removed'));
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
    // One queue per instance: its hooks run in transition order.
    const run = (argv: readonly string[]): void => this.ctx.hooks.run(`instance:${ic.name}`, argv, vars, 'notify hook failed', { instance: ic.name });
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

  private linkChanged(ifname: string, state: LinkState | undefined): void {
    if (!this.links.has(ifname) || isDeepStrictEqual(this.links.get(ifname), state)) return;
    this.links.set(ifname, state);
    this.ctx.log.info({ ifname, present: state !== undefined, up: state?.up ?? false, index: state?.index }, 'interface changed');
    // Tracking first: a master whose link went down sends its priority 0 while its socket is still open.
    this.refreshTracking();
    for (const { t } of this.transports.values()) if (t.key.ifname === ifname) t.link(state);
  }

  refreshTracking(): void {
    for (const r of this.running.values()) this.applyTracking(r);
  }

  /** Recompute priority and fault for one instance, including its sync group's fault. */
  private applyTracking(r: Running): void {
    const own = evaluateTracking(this.trackersOf(r));
    const g = this.ctx.cfg.vrrp.syncGroups.find((x) => x.instances.includes(r.cfg.name));
    // Maintenance: never master, like a fault (a master would have handed over first).
    const fault = this.overrideOf(r.cfg.name)?.mode === 'maintenance' ? true : g
      ? groupFault(g.instances.map((n) => { const m = this.running.get(n); return m ? evaluateTracking(this.trackersOf(m)).fault : false; }))
      : own.fault;
    r.inst.setTracking(own.delta, fault);
  }

  /**
   * The instance's own interface and its VIPs' interfaces are always tracked (down or gone:
   * FAULT), and so is its socket; then the configured interfaces and scripts.
   */
  private trackersOf(r: Running): Tracker[] {
    const ic = r.cfg;
    const socketOpen = this.transports.get(r.transportKey)?.t.usable ?? false;
    return [
      ...ownInterfaces(ic).map((n) => ({ id: `interface:${n}`, weight: 0, up: (this.links.get(n)?.up ?? false) && (n !== ic.interface || socketOpen) })),
      ...(r.witness ? [{ id: 'witness', weight: 0, up: r.witness.up }] : []),
      ...ic.trackInterfaces.map((t) => ({ id: `interface:${t.name}`, weight: t.weight, up: this.links.get(t.name)?.up ?? false })),
      ...ic.trackScripts.map((t) => ({ id: `script:${t.name}`, weight: t.weight, up: this.scripts.get(t.name)?.up ?? true })),
    ];
  }

  /** Why an instance is held in FAULT, in words. */
  private faultReasons(r: Running): string[] {
    const out: string[] = [];
    if (this.overrideOf(r.cfg.name)?.mode === 'maintenance') out.push('maintenance');
    const slot = this.transports.get(r.transportKey)?.t;
    for (const n of ownInterfaces(r.cfg)) {
      const l = this.links.get(n);
      if (!l) out.push(`interface ${n} missing`);
      else if (!l.up) out.push(`interface ${n} down`);
      else if (n === r.cfg.interface && slot && !slot.usable) out.push(`no VRRP socket on ${n}${slot.view().lastError ? ` (${slot.view().lastError})` : ''}`);
    }
    if (r.witness && !r.witness.up) out.push(`witness: none of ${r.witness.cfg.targets.join(', ')} answers`);
    for (const t of r.cfg.trackInterfaces) if (t.weight === 0 && !(this.links.get(t.name)?.up ?? false)) out.push(`tracked interface ${t.name} ${this.links.get(t.name) ? 'down' : 'missing'}`);
    for (const t of r.cfg.trackScripts) if (t.weight === 0 && !(this.scripts.get(t.name)?.up ?? true)) out.push(`script ${t.name} down`);
    const g = this.ctx.cfg.vrrp.syncGroups.find((x) => x.instances.includes(r.cfg.name));
    if (g && out.length === 0) out.push(`sync group ${g.name}`);
    return out;
  }
}

/** The interfaces an instance cannot work without: the one it sends on and those its VIPs go on. */
function ownInterfaces(ic: InstanceConfig): string[] {
  return [...new Set([ic.interface, ...ic.vips.map((v) => v.dev ?? ic.interface)])];
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
    // On or off needs both nodes and a new socket user; other keys are a soft change (rotation).
    udpAuth: ic.udpAuth !== undefined,
  };
}

function settingsOf(ic: InstanceConfig): InstanceSettings {
  return {
    name: ic.name, interface: ic.interface, vrid: ic.vrid, version: ic.version, family: ic.family,
    priority: ic.priority, adverIntCs: ic.adverIntCs, preempt: ic.preempt, preemptDelayMs: ic.preemptDelayMs,
    authType: ic.auth.type === 'pass' ? 1 : 0, authPassword: ic.auth.password,
    vipAddresses: ic.vips.map((v) => v.address), unicastPeers: ic.unicastPeers,
    checksumPseudoHeader: ic.checksumPseudoHeader, checkTtl: ic.transport === 'raw', lenientAddressList: ic.addressList === 'lenient',
    ttlRange: ic.ttlRange, udpAuth: ic.udpAuth ? { keys: ic.udpAuth.keys, port: ic.udpPort } : undefined,
  };
}

function sameScripts(prev: Config | undefined, next: Config, ic: InstanceConfig): boolean {
  if (!prev) return false;
  return ic.trackScripts.every((t) => isDeepStrictEqual(prev.vrrp.scripts[t.name], next.vrrp.scripts[t.name]));
}
