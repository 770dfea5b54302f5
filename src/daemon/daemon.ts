// The one place that wires cores to adapters: config -> VRRP instances with their transports,
// VIPs, announcements, tracking, sync groups and notify hooks. Reload swaps only what changed.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Config, InstanceConfig } from '../config/schema.js';
import { VrrpInstance, type InstanceSettings, type InstanceStatus, type TransitionEvent } from '../vrrp/instance.js';
import type { VrrpTransport, TransportRinfo } from '../vrrp/transport.js';
import type { State, Reason } from '../vrrp/fsm.js';
import { decideResume, markInstance, type RestartMarker } from './restart.js';
import { evaluateTracking, type Tracker } from '../vrrp/tracking.js';
import { syncGroupForces, groupFault } from '../vrrp/sync-group.js';
import { TrackScript } from '../vrrp/track-script.js';
import { scheduleAnnouncements } from './announce.js';
import { desiredTable } from '../ipvs/desired.js';
import { destKey, serviceKey } from '../ipvs/model.js';
import type { ServerAction } from '../control/protocol.js';
import { reconcile, type IpvsKernel, type ReconcileResult } from '../ipvs/reconciler.js';
import type { Op } from '../ipvs/diff.js';
import type { CheckHost } from '../check/host.js';
import { refusal, withOverride, type OperatorMode, type Override } from './operator.js';
import type { CheckEvent, LatencyHistogram, ServiceStatus } from '../check/engine.js';
import type { Table, TableStats } from '../ipvs/model.js';
import type { DaemonConfig } from '../ipvs/genl-codec.js';
import { daemonOps, wantedDaemon, type KernelDaemon, type SyncRole } from '../sync/plan.js';

/** The Linux edge, injected so the daemon can be driven in tests. */
export interface Platform {
  openTransport(key: TransportKey): Promise<VrrpTransport>;
  addAddress(ifname: string, address: string, prefixLen: number, label?: string): Promise<void>;
  delAddress(ifname: string, address: string, prefixLen: number): Promise<void>;
  linkUp(ifname: string): Promise<boolean>;
  watchLinks(cb: (ifname: string, up: boolean) => void): () => void;
  sendGarp(ifname: string, address: string, mac: string): void;
  sendUnsolicitedNa(ifname: string, address: string, mac: string): void;
  /** The kernel's IPVS table; opened only when the config has virtual servers. */
  openIpvs(): Promise<IpvsHandle>;
  /** Service keys duet applied last time (kept across restarts so removals still happen). */
  loadManaged(): Set<string> | undefined;
  saveManaged(keys: ReadonlySet<string>): void;
  /** Sticky operator overrides by instance name (kept across restarts). */
  loadOverrides(): Record<string, Override> | undefined;
  saveOverrides(o: Record<string, Override>): void;
  /** /proc/sys/net/ipv4/vs/NAME in duet's namespace; undefined when it does not exist. */
  readIpvsSysctl(name: string): Promise<string | undefined>;
  writeIpvsSysctl(name: string, value: string): Promise<void>;
  /** The restart marker a `duet restart` left, read once (and removed) at start. */
  takeRestartMarker(): RestartMarker | undefined;
  saveRestartMarker(m: RestartMarker): void;
  /** Wall-clock ms: the restart marker is compared across two processes. */
  wallNow(): number;
  /** The health-check engine (a worker thread on Linux); opened only when a real server has checks. */
  openChecks(onEvent: (e: CheckEvent) => void, onError: (e: Error) => void): CheckHost;
}

/** The table operations the reconciler needs, plus the connection timeouts (ipvsadm --set). */
export interface IpvsHandle extends IpvsKernel {
  getDaemons(): Promise<KernelDaemon[]>;
  startDaemon(d: DaemonConfig): Promise<void>;
  stopDaemon(state: 'master' | 'backup'): Promise<void>;
  getTimeouts(): Promise<{ tcp: number; tcpFin: number; udp: number }>;
  /** 0 leaves a value unchanged. */
  setTimeouts(t: { tcp: number; tcpFin: number; udp: number }): Promise<void>;
}

export interface TransportKey {
  ifname: string;
  family: 4 | 6;
  kind: 'raw' | 'udp';
  udpPort: number;
  srcAddress: string | undefined;
  unicast: boolean;
}

const keyString = (k: TransportKey): string => `${k.kind}/${k.ifname}/${k.family}/${k.udpPort}/${k.srcAddress ?? ''}/${k.unicast}`;

interface Running {
  cfg: InstanceConfig;
  inst: VrrpInstance;
  transportKey: string;
}

export interface IpvsStatus {
  services: number;
  lastReconcile: { atMs: number; ops: Partial<Record<Op['op'], number>>; applied: number; failed: { what: string; error: string }[] } | undefined;
  error: string | undefined;
}

export interface SyncStatus {
  /** The role duet last applied, from the followed instance or group. */
  role: SyncRole | undefined;
  follows: string;
  /** The kernel's sync daemons after the last change. */
  daemons: KernelDaemon[];
  error: string | undefined;
}

export interface DaemonStatus {
  node: string;
  sync: SyncStatus | undefined;
  /** Operator overrides by instance name. */
  operator: Record<string, Override>;
  serverOverrides: ServerOverride[];
  maintenance: boolean;
  ipvs: IpvsStatus | undefined;
  instances: InstanceStatus[];
  unmatched: Record<string, number>;
  tracking: Record<string, { up: boolean }>;
}

export class Daemon {
  private running = new Map<string, Running>();
  private transports = new Map<string, { t: VrrpTransport; users: number }>();
  private scripts = new Map<string, TrackScript>();
  private links = new Map<string, boolean>();
  private unwatchLinks: (() => void) | undefined;
  /** Packets on a shared socket for a VRID no instance here serves, by "ifname/vrid". */
  private unmatched: Record<string, number> = {};
  private readonly listeners = new Set<(e: TransitionEvent) => void>();
  private ipvs: IpvsHandle | undefined;
  private ipvsStatus: IpvsStatus | undefined;
  /** Reconciles run one at a time; a request during a run is folded into one more run. */
  private reconciling: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private checks: CheckHost | undefined;
  private syncStatus: SyncStatus | undefined;
  private syncQueued = false;
  private overrides = new Map<string, Override>();
  /** Operator weight/disable per real server, by "svcKey destKey"; kept across reloads while the server exists. */
  private serverOverrides = new Map<string, ServerOverride>();
  private readonly counters = { reconciles: 0, reconcileErrors: 0, ops: {} as Partial<Record<Op['op'], number>>, opFailures: 0 };
  private readonly eventListeners = new Set<(e: DuetEvent) => void>();

  constructor(private cfg: Config, private readonly p: Platform, private readonly clock: Clock, private readonly log: Logger) {
    for (const [name, o] of Object.entries(p.loadOverrides() ?? {})) this.overrides.set(name, o);
  }

  get config(): Config { return this.cfg; }

  /** Called after a reload applied a new config (main.ts restarts the metrics endpoint if needed). */
  onReload: ((c: Config) => Promise<void>) | undefined;

  onTransition(fn: (e: TransitionEvent) => void): () => void { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  /** Everything that changes state, for `duet events` (transitions, checks, reconciles, operator). */
  onEvent(fn: (e: DuetEvent) => void): () => void { this.eventListeners.add(fn); return () => this.eventListeners.delete(fn); }

  private emit(e: DuetEvent): void {
    for (const fn of this.eventListeners) {
      try { fn(e); } catch (err) { this.log.warn({ err: String(err) }, 'event listener failed'); }
    }
  }

  /** Reconciler counters since start, for metrics. */
  reconcileCounters(): Readonly<typeof this.counters> { return this.counters; }

  /** The kernel's IPVS counters (connections, packets, bytes per service and server), or undefined without IPVS. */
  async ipvsStats(): Promise<{ table: Table; stats: TableStats } | undefined> {
    if (!this.ipvs) return undefined;
    const d = await this.ipvs.dump({ stats: true });
    return d.stats ? { table: d.table, stats: d.stats } : undefined;
  }

  async checkLatency(): Promise<LatencyHistogram[]> { return this.checks ? this.checks.latency() : []; }

  /** Set during start() only: which instances may resume as master after a `duet restart`. */
  private restartMarker: RestartMarker | undefined;

  async start(): Promise<void> {
    this.restartMarker = this.p.takeRestartMarker();
    this.unwatchLinks = this.p.watchLinks((ifname, up) => this.linkChanged(ifname, up));
    // Checks start on every node (master or backup), so a takeover starts with a correct table.
    await this.configureChecks();
    // The IPVS table first: once VRRP makes us master, the VIP should lead somewhere.
    await this.reconcileIpvs();
    await this.apply(this.cfg, true);
    this.restartMarker = undefined;
    await this.syncSoon();
  }

  /** Which sync role the config's followed instance / group says this node has now. */
  private syncRole(): SyncRole | undefined {
    const sd = this.cfg.syncDaemon;
    if (!sd) return undefined;
    const members = sd.follow.kind === 'instance' ? [sd.follow.name] : this.cfg.vrrp.syncGroups.find((g) => g.name === sd.follow.name)?.instances ?? [];
    const master = members.length > 0 && members.every((n) => this.running.get(n)?.inst.state === 'master');
    return master ? 'master' : 'backup';
  }

  /**
   * Bring the kernel's sync daemons to the role (queued with the IPVS reconciles). `role`
   * overrides the computed one (stop() leaves the backup daemon running).
   */
  private syncSoon(role?: SyncRole): Promise<void> {
    if (this.syncQueued && role === undefined) return this.reconciling;
    this.syncQueued = true;
    this.reconciling = this.reconciling.then(async () => {
      this.syncQueued = false;
      await this.reconcileSync(role ?? this.syncRole());
    });
    return this.reconciling;
  }

  private async reconcileSync(role: SyncRole | undefined): Promise<void> {
    const sd = this.cfg.syncDaemon;
    if (!sd && !this.syncStatus) return;
    const log = this.log.child({ mod: 'sync' });
    const follows = sd ? `${sd.follow.kind} ${sd.follow.name}` : '-';
    try {
      this.ipvs ??= await this.p.openIpvs();
      const have = await this.ipvs.getDaemons();
      const ops = daemonOps(have, sd && role ? wantedDaemon(sd, role) : undefined);
      for (const op of ops) {
        if (op.op === 'stop') await this.ipvs.stopDaemon(op.state);
        else await this.ipvs.startDaemon(op.daemon);
        log.info({ op: op.op, state: op.op === 'stop' ? op.state : op.daemon.state, ...(op.op === 'start' ? { interface: op.daemon.mcastIfn, syncid: op.daemon.syncId } : {}), follows },
          op.op === 'stop' ? 'sync daemon stopped' : 'sync daemon started');
      }
      const daemons = ops.length ? await this.ipvs.getDaemons() : have;
      this.syncStatus = { role, follows, daemons, error: undefined };
      if (ops.length) this.emit({ type: 'sync', role: role ?? null, daemons: daemons.map((d) => d.state) });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.syncStatus = { role, follows, daemons: this.syncStatus?.daemons ?? [], error };
      log.error({ err: error, role }, 'sync daemon change failed');
    }
  }

  /** Bring the kernel's IPVS table to what the config wants (no-op without virtual servers). */
  reconcileIpvs(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.reconcileIpvsOnce());
    return this.reconciling;
  }

  /** Several check events in a row (a whole rack failing) make one reconcile, not one each. */
  private reconcileSoon(): void {
    if (this.reconcileQueued) return;
    this.reconcileQueued = true;
    this.reconciling = this.reconciling.then(() => {
      this.reconcileQueued = false;
      return this.reconcileIpvsOnce();
    });
  }

  private async configureChecks(): Promise<void> {
    const any = this.cfg.virtualServers.some((v) => v.realServers.some((r) => r.checks.length > 0));
    if (!any && !this.checks) return;
    this.checks ??= this.p.openChecks((e) => this.onCheckEvent(e), (err) => this.log.error({ mod: 'check', err: err.message }, 'check engine failed'));
    await this.checks.configure(this.cfg.virtualServers);
  }

  /** Check events: logged with their reason, then folded into the desired table. */
  private onCheckEvent(e: CheckEvent): void {
    this.emit({ type: 'check', ...e });
    const log = this.log.child({ mod: 'check' });
    switch (e.kind) {
      case 'check':
        log.info({ service: e.service, server: e.server, check: e.check, from: e.from, to: e.to, reason: e.reason, latencyMs: e.latencyMs }, 'check state changed');
        return;
      case 'weight':
        log.info({ service: e.service, server: e.server, from: e.from, to: e.to, reason: e.reason }, 'real server weight changed');
        this.reconcileSoon();
        return;
      case 'quorum': {
        log.warn({ service: e.service, up: e.up, healthyWeight: e.healthyWeight, quorum: e.quorum, hysteresis: e.hysteresis },
          e.up ? 'quorum regained' : 'quorum lost');
        const v = this.cfg.virtualServers.find((x) => serviceKey(x) === e.service);
        const hook = e.up ? v?.quorumUp : v?.quorumDown;
        if (hook) this.runHook(hook, { DUET_SERVICE: e.service, DUET_QUORUM: e.up ? 'up' : 'down', DUET_HEALTHY_WEIGHT: String(e.healthyWeight) }, 'quorum hook failed');
        this.reconcileSoon();
      }
    }
  }

  /** Run a hook (argv, no shell) with extra environment; a failure is logged, never fatal. */
  private runHook(argv: readonly string[], vars: Record<string, string>, failMsg: string, fields: Record<string, unknown> = {}): void {
    const [file, ...args] = argv;
    if (!file) return;
    execFile(file, args, { env: { ...process.env, ...vars }, timeout: 30_000 }, (e) => {
      if (e) this.log.warn({ ...fields, argv, err: e.message }, failMsg);
    });
  }

  /** Health of every checked real server (empty without checks). */
  async checkStatus(): Promise<ServiceStatus[]> {
    return this.checks ? this.checks.status() : [];
  }

  /** lvs_timeouts: written only when they differ from the kernel's, so a reload stays write-free. */
  private async applyTimeouts(k: IpvsHandle, log: Logger): Promise<void> {
    const want = this.cfg.lvsTimeouts;
    if (!want) return;
    const have = await k.getTimeouts();
    const differs = (['tcp', 'tcpFin', 'udp'] as const).some((f) => want[f] !== undefined && want[f] !== have[f]);
    if (!differs) return;
    await k.setTimeouts({ tcp: want.tcp ?? 0, tcpFin: want.tcpFin ?? 0, udp: want.udp ?? 0 });
    log.info({ from: have, to: want }, 'IPVS timeouts set');
  }

  /**
   * ipvs_sysctl: each written only when the kernel's value differs (a reload stays write-free).
   * Runs after IPVS is open, because /proc/sys/net/ipv4/vs appears with the ip_vs module.
   * A key the kernel lacks or refuses is reported, and the others are still written.
   */
  private async applyIpvsSysctls(log: Logger): Promise<void> {
    for (const [name, want] of Object.entries(this.cfg.ipvsSysctl)) {
      try {
        const have = await this.p.readIpvsSysctl(name);
        if (have === undefined) throw new Error(`net.ipv4.vs.${name} does not exist in this kernel`);
        if (have === want) continue;
        await this.p.writeIpvsSysctl(name, want);
        log.info({ sysctl: `net.ipv4.vs.${name}`, from: have, to: want }, 'IPVS sysctl set');
      } catch (e) {
        this.counters.opFailures++;
        log.error({ sysctl: `net.ipv4.vs.${name}`, err: e instanceof Error ? e.message : String(e) }, 'IPVS sysctl not set');
      }
    }
  }

  /** The table config, checks and operator overrides ask for now. */
  private desired(): Table {
    const verdicts = this.checks?.verdicts();
    return desiredTable(this.cfg.virtualServers, {
      weight: (svc, dest, configured) => pinned(this.serverOverrides.get(`${svc} ${dest}`), verdicts?.get(svc)?.dests.get(dest), configured),
      quorumLost: (svc) => verdicts?.get(svc)?.quorumUp === false,
    });
  }

  /**
   * Per virtual service and real server: configured weight, the weight duet wants (checks and
   * operator included), the kernel's weight and connections, health. For `duet status`.
   */
  async serviceStatus(): Promise<ServiceView[]> {
    const want = this.desired();
    const kernel = await this.ipvsStats().catch(() => undefined);
    const checks = await this.checkStatus();
    const health = new Map(checks.flatMap((svc) => svc.servers.map((srv) => [`${svc.service} ${srv.server}`, srv] as const)));
    const lost = new Set(checks.filter((c) => !c.quorumUp).map((c) => c.service));
    return this.cfg.virtualServers.map((v) => {
      const sk = serviceKey(v);
      const w = want.get(sk);
      const servers = [...v.realServers, ...(v.sorryServer ? [v.sorryServer] : [])].map((r) => {
        const dk = destKey(r);
        const h = health.get(`${sk} ${dk}`);
        const k = kernel?.table.get(sk)?.dests.get(dk);
        const st = kernel?.stats.get(sk)?.dests.get(dk);
        const o = this.serverOverrides.get(`${sk} ${dk}`);
        return {
          server: dk, sorry: r === v.sorryServer, configured: r.weight, wanted: w?.dests.get(dk)?.weight ?? null,
          kernel: k ? k.weight : null, active: st?.activeConns ?? null, inactive: st?.inactConns ?? null,
          health: !h || h.checks.length === 0 ? '-' : h.checks.some((c) => c.health === 'down') ? 'down' : h.checks.every((c) => c.health === 'up') ? 'up' : 'unknown',
          why: o ? (o.kind === 'disable' ? 'operator: disabled' : `operator: weight ${o.weight}`) : h?.reason ?? '',
        };
      });
      return { name: v.name, service: sk, scheduler: v.scheduler, quorumLost: lost.has(sk), servers };
    });
  }

  private async reconcileIpvsOnce(): Promise<void> {
    const want = this.desired();
    const managed = this.p.loadManaged() ?? new Set<string>();
    if (want.size === 0 && managed.size === 0 && !this.cfg.lvsTimeouts && Object.keys(this.cfg.ipvsSysctl).length === 0) return;
    const log = this.log.child({ mod: 'ipvs' });
    this.ipvsStatus ??= { services: 0, lastReconcile: undefined, error: undefined };
    try {
      this.ipvs ??= await this.p.openIpvs();
      // First run after a restart with no record: adopt what we want; delete nothing we cannot prove is ours.
      await this.applyTimeouts(this.ipvs, log);
      await this.applyIpvsSysctls(log);
      const r: ReconcileResult = await reconcile(this.ipvs, want, managed);
      this.p.saveManaged(r.managed);
      const ops: Partial<Record<Op['op'], number>> = {};
      for (const o of r.ops) ops[o.op] = (ops[o.op] ?? 0) + 1;
      this.counters.reconciles++;
      for (const [k, n] of Object.entries(ops) as [Op['op'], number][]) this.counters.ops[k] = (this.counters.ops[k] ?? 0) + n;
      this.counters.opFailures += r.failed.length;
      if (r.ops.length || r.failed.length) this.emit({ type: 'reconcile', ops, applied: r.applied, failed: r.failed.map((f) => ({ what: f.what, error: f.error })) });
      this.ipvsStatus = { services: want.size, error: undefined,
        lastReconcile: { atMs: this.clock.now(), ops, applied: r.applied, failed: r.failed.map((f) => ({ what: f.what, error: f.error })) } };
      for (const f of r.failed) log.error({ op: f.what, err: f.error }, 'IPVS operation failed');
      log.info({ ops, applied: r.applied, failed: r.failed.length, services: want.size }, r.ops.length ? 'IPVS table reconciled' : 'IPVS table already as configured');
    } catch (e) {
      this.ipvsStatus = { ...this.ipvsStatus, error: e instanceof Error ? e.message : String(e) };
      this.counters.reconcileErrors++;
      this.emit({ type: 'reconcile-error', error: this.ipvsStatus.error ?? 'unknown' });
      log.error({ err: this.ipvsStatus.error }, 'IPVS reconcile failed');
    }
  }

  /** Apply a new, already validated config: keep identical instances, replace changed ones. */
  async reload(next: Config): Promise<ReloadResult> {
    const before = this.cfg;
    this.cfg = next;
    // Operator overrides last until a reload unless sticky; gone instances lose theirs.
    for (const [name, o] of [...this.overrides]) {
      if (!o.sticky || !next.vrrp.instances.some((i) => i.name === name)) this.overrides.delete(name);
    }
    this.saveOverrides();
    for (const [k, o] of [...this.serverOverrides]) if (!this.findServer(o.service, o.server, next)) this.serverOverrides.delete(k);
    const r = await this.apply(next, false, before);
    for (const run of this.running.values()) run.inst.reconfigure(this.settingsFor(run.cfg));
    this.refreshTracking();
    const virtualServers = diffByName(before.virtualServers, next.virtualServers);
    await this.configureChecks();
    await this.syncSoon();
    const runsBefore = this.counters.reconciles;
    await this.reconcileIpvs();
    const ipvs = this.counters.reconciles > runsBefore ? this.ipvsStatus?.lastReconcile?.ops ?? {} : undefined;
    const result: ReloadResult = { ...r, virtualServers, ...(ipvs ? { ipvs } : {}), ...(this.ipvsStatus?.error ? { ipvsError: this.ipvsStatus.error } : {}) };
    this.log.info(result, 'config reloaded');
    await this.onReload?.(next);
    return result;
  }

  /**
   * Stop. forRestart (`duet restart`): masters keep their VIPs and send a last normal advert
   * instead of priority 0, the sync daemons stay as they are, and a marker lets the next run
   * resume as master if it starts in time. Returns the instances that were kept.
   */
  async stop(forRestart = false): Promise<string[]> {
    this.unwatchLinks?.();
    for (const s of this.scripts.values()) s.stop();
    const kept = forRestart ? [...this.running.values()].filter((r) => r.inst.state === 'master') : [];
    await Promise.all([...this.running.values()].map((r) => r.inst.stop(forRestart)));
    if (forRestart) {
      // After the last adverts went out: the next run's window counts from them.
      const at = this.p.wallNow();
      this.p.saveRestartMarker({ version: 1, at, instances: Object.fromEntries(kept.map((r) => [r.cfg.name, markInstance(r.cfg, at)])) });
    }
    for (const r of this.running.values()) this.releaseTransport(r.transportKey);
    this.running.clear();
    // The peer is master now: receive its sync stream, which is also where a restart starts.
    // A restart that kept mastership keeps the master daemon too: the kernel syncs on meanwhile.
    if (this.cfg.syncDaemon && kept.length === 0) await this.syncSoon('backup');
    await this.reconciling;
    await this.checks?.close();
    this.checks = undefined;
    return kept.map((r) => r.cfg.name);
  }

  status(): DaemonStatus {
    const tracking: DaemonStatus['tracking'] = {};
    for (const [name, s] of this.scripts) tracking[`script:${name}`] = { up: s.up };
    for (const [name, up] of this.links) tracking[`interface:${name}`] = { up };
    return {
      node: this.cfg.node.name ?? 'duet',
      sync: this.syncStatus ? structuredClone(this.syncStatus) : undefined,
      operator: Object.fromEntries(this.overrides),
      serverOverrides: [...this.serverOverrides.values()],
      maintenance: [...this.overrides.values()].some((o) => o.mode === 'maintenance'),
      ipvs: this.ipvsStatus ? structuredClone(this.ipvsStatus) : undefined,
      // Configured is the config's priority; effective includes tracking and operator overrides.
      instances: [...this.running.values()].map((r) => { const st = r.inst.status(); return { ...st, priority: { ...st.priority, configured: r.cfg.priority } }; }),
      unmatched: { ...this.unmatched },
      tracking,
    };
  }

  instance(name: string): VrrpInstance | undefined { return this.running.get(name)?.inst; }

  private settingsFor(ic: InstanceConfig): InstanceSettings {
    return withOverride(settingsOf(ic), this.overrides.get(ic.name));
  }

  private saveOverrides(): void {
    this.p.saveOverrides(Object.fromEntries([...this.overrides].filter(([, o]) => o.sticky)));
  }

  private setOverride(name: string, o: Override | undefined): void {
    if (o) this.overrides.set(name, o);
    else this.overrides.delete(name);
    this.saveOverrides();
    const r = this.running.get(name);
    if (!r) return;
    r.inst.reconfigure(this.settingsFor(r.cfg));
    this.applyTracking(r);
  }

  /** Instance names for an operator command: the ones named, or all. Unknown names throw. */
  private pick(names: readonly string[] | 'all'): string[] {
    if (names === 'all') return [...this.running.keys()];
    for (const n of names) if (!this.running.has(n)) throw new OperatorError('DUET_E_NO_INSTANCE', `no instance named '${n}' (have: ${[...this.running.keys()].join(', ')})`);
    return [...names];
  }

  /**
   * Manual failover / takeover of the named instances, one after the other: set the override,
   * wait until the wire shows the handover (our transition to backup / master), report how long
   * it took. If it does not happen in time, the override is withdrawn and nothing has moved.
   */
  async handover(mode: 'failover' | 'takeover', names: readonly string[] | 'all', o: { sticky: boolean; timeoutMs?: number }): Promise<HandoverResult[]> {
    const out: HandoverResult[] = [];
    for (const name of this.pick(names)) {
      const r = this.running.get(name)!;
      const st = r.inst.status();
      const why = refusal(mode, { state: st.state, configuredPriority: r.cfg.priority, masterAddress: st.masterAddress, masterPriority: st.masterPriority });
      if (why) throw new OperatorError('DUET_E_STATE', `${name}: ${why}`, out);
      const target = mode === 'failover' ? 'backup' : 'master';
      // A peer takes over after its Master_Down_Interval (3 adverts + skew): allow 4 and a margin.
      const timeoutMs = o.timeoutMs ?? 4 * r.cfg.advertIntMs + 2000;
      const t0 = this.clock.now();
      const seen = this.waitTransition(name, target, timeoutMs);
      this.setOverride(name, { mode, sticky: o.sticky, since: Date.now() });
      this.log.info({ instance: name, mode, sticky: o.sticky }, `operator ${mode} started`);
      this.emit({ type: 'operator', action: mode, instance: name });
      const e = await seen;
      if (!e) {
        this.setOverride(name, undefined);
        this.log.warn({ instance: name, mode, timeoutMs }, `operator ${mode} failed: nothing changed`);
        const who = mode === 'failover' ? 'no peer took over' : `the master (${st.masterAddress ?? '?'}) did not give way`;
        throw new OperatorError(mode === 'failover' ? 'DUET_E_NO_PEER' : 'DUET_E_NO_TAKEOVER',
          `${name}: ${who} within ${timeoutMs} ms (${mode === 'failover' ? 'the peer is absent, faulty or nopreempt' : 'it may be the address owner or unreachable'}); override withdrawn, ${name} is still ${st.state}`, out);
      }
      const ms = this.clock.now() - t0;
      const now = this.running.get(name)?.inst.status();
      this.log.info({ instance: name, mode, handoverMs: Math.round(ms), master: now?.masterAddress }, `operator ${mode} done`);
      out.push({ instance: name, from: st.state, to: target, handoverMs: Math.round(ms), master: now?.masterAddress ?? null });
    }
    return out;
  }

  /** Withdraw an operator override (failover, takeover or maintenance) from the named instances. */
  clearOverride(mode: OperatorMode | undefined, names: readonly string[] | 'all'): string[] {
    const cleared: string[] = [];
    for (const name of this.pick(names)) {
      const o = this.overrides.get(name);
      if (!o || (mode && o.mode !== mode)) continue;
      this.setOverride(name, undefined);
      cleared.push(name);
    }
    if (cleared.length) this.log.info({ instances: cleared, mode }, 'operator override cleared');
    return cleared;
  }

  /**
   * Maintenance on: hand over every instance this node is master of, then hold all in FAULT so
   * none becomes master. If a handover fails, maintenance is not entered unless `force`.
   */
  async maintenance(on: boolean, o: { sticky: boolean; force: boolean }): Promise<{ handedOver: HandoverResult[]; instances: string[] }> {
    const names = [...this.running.keys()];
    if (!on) {
      this.clearOverride('maintenance', 'all');
      return { handedOver: [], instances: names };
    }
    const masters = names.filter((n) => this.running.get(n)?.inst.state === 'master');
    let handedOver: HandoverResult[] = [];
    try {
      handedOver = masters.length ? await this.handover('failover', masters, { sticky: o.sticky }) : [];
    } catch (e) {
      if (!o.force || !(e instanceof OperatorError)) throw e;
      handedOver = e.done;
    }
    for (const n of names) this.setOverride(n, { mode: 'maintenance', sticky: o.sticky, since: Date.now() });
    this.log.warn({ instances: names, sticky: o.sticky }, 'maintenance on: this node will not be master');
    return { handedOver, instances: names };
  }

  /** A real server by service (name or key) and server (address:port, or address when unique). */
  private findServer(service: string, server: string, cfg = this.cfg): { svcKey: string; destKey: string; name: string } | undefined {
    const v = cfg.virtualServers.find((x) => x.name === service || serviceKey(x) === service);
    if (!v) return undefined;
    const byKey = v.realServers.filter((r) => destKey(r) === server);
    const rs = byKey.length ? byKey : v.realServers.filter((r) => r.address === server);
    return rs.length === 1 ? { svcKey: serviceKey(v), destKey: destKey(rs[0]!), name: v.name } : undefined;
  }

  /**
   * duet weight / enable / disable / drain: pin a real server's weight (health checks can still
   * take a failed server out, but no longer change its weight), take it out, or put it back to
   * what config and checks say. The change is applied to the kernel before the reply.
   */
  async serverCommand(action: ServerAction, service: string, server: string, o: { weight?: number; timeoutMs?: number; progress?: (p: unknown) => void } = {}): Promise<unknown> {
    const f = this.findServer(service, server);
    if (!f) {
      const v = this.cfg.virtualServers.find((x) => x.name === service || serviceKey(x) === service);
      throw new OperatorError('DUET_E_NO_SERVER', v
        ? `no single real server '${server}' in ${v.name} (have: ${v.realServers.map((r) => destKey(r)).join(', ') || 'none'})`
        : `no virtual server '${service}' (have: ${this.cfg.virtualServers.map((x) => x.name).join(', ') || 'none'})`);
    }
    const key = `${f.svcKey} ${f.destKey}`;
    const base = { service: f.name, server: f.destKey, since: Date.now() };
    if (action === 'enable' || (action === 'weight' && o.weight === undefined)) this.serverOverrides.delete(key);
    else if (action === 'disable') this.serverOverrides.set(key, { ...base, kind: 'disable' });
    else this.serverOverrides.set(key, { ...base, kind: 'weight', weight: action === 'drain' ? 0 : o.weight! });
    this.log.info({ service: f.name, server: f.destKey, action, weight: o.weight }, 'operator server override');
    this.emit({ type: 'operator', action, service: f.name, server: f.destKey, ...(o.weight !== undefined ? { weight: o.weight } : {}) });
    await this.reconcileIpvs();
    if (this.ipvsStatus?.error) throw new OperatorError('DUET_E_IPVS', `override set, but the kernel table could not be updated: ${this.ipvsStatus.error}`);
    if (action !== 'drain') return { service: f.name, server: f.destKey, override: this.serverOverrides.get(key) ?? null };
    return this.drain(f, o.timeoutMs ?? 300_000, o.progress);
  }

  /** Wait until the drained server's active connections reach zero, reporting progress each second. */
  private async drain(f: { svcKey: string; destKey: string; name: string }, timeoutMs: number, progress?: (p: unknown) => void): Promise<unknown> {
    const t0 = this.clock.now();
    for (;;) {
      const d = await this.ipvs!.dump({ stats: true });
      const st = d.stats?.get(f.svcKey)?.dests.get(f.destKey);
      const active = st?.activeConns ?? 0, inactive = st?.inactConns ?? 0;
      const elapsedMs = Math.round(this.clock.now() - t0);
      if (active === 0) return { service: f.name, server: f.destKey, drained: true, elapsedMs, inactive };
      if (elapsedMs >= timeoutMs) {
        throw new OperatorError('DUET_E_DRAIN_TIMEOUT', `${f.destKey} in ${f.name} still has ${active} active connection(s) after ${elapsedMs} ms; it stays at weight 0`);
      }
      progress?.({ service: f.name, server: f.destKey, active, inactive, elapsedMs });
      await new Promise<void>((r) => this.clock.at(this.clock.now() + Math.min(1000, timeoutMs - elapsedMs), r));
    }
  }

  private waitTransition(name: string, to: State, timeoutMs: number): Promise<TransitionEvent | undefined> {
    return new Promise((resolve) => {
      const off = this.onTransition((e) => {
        if (e.instance !== name || e.to !== to) return;
        off();
        cancel();
        resolve(e);
      });
      const cancel = this.clock.at(this.clock.now() + timeoutMs, () => { off(); resolve(undefined); });
    });
  }

  private async apply(next: Config, first: boolean, prev?: Config) {
    const want = new Map(next.vrrp.instances.map((i) => [i.name, i]));
    const result = { added: [] as string[], removed: [] as string[], replaced: [] as string[], updated: [] as string[], unchanged: [] as string[] };
    for (const [name, r] of [...this.running]) {
      const w = want.get(name);
      if (w && isDeepStrictEqual(w, r.cfg) && sameScripts(prev, next, w)) { result.unchanged.push(name); continue; }
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
    if (!first) this.refreshTracking();
    return result;
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
        this.clock, this.log, () => this.refreshTracking());
      this.scripts.set(name, s);
      s.start();
    }
  }

  private async startInstance(ic: InstanceConfig): Promise<void> {
    const key: TransportKey = {
      ifname: ic.interface, family: ic.family, kind: ic.transport, udpPort: ic.udpPort,
      srcAddress: ic.unicastSrcIp, unicast: ic.unicastPeers.length > 0,
    };
    const ks = keyString(key);
    const transport = await this.acquireTransport(key, ks);
    const log = this.log.child({ mod: 'vrrp', instance: ic.name, vrid: ic.vrid });
    // The hooks read r.cfg, not ic: a reload may update the config of a running instance.
    const r = { cfg: ic, transportKey: ks } as Running;
    r.inst = new VrrpInstance(this.settingsFor(ic), {
      clock: this.clock, log, transport,
      vips: (op) => this.setVips(r.cfg, op),
      announce: () => {
        const g = r.cfg.garp;
        return scheduleAnnouncements(this.clock, { repeat: g.masterRepeat, intervalMs: g.intervalMs, delayMs: g.masterDelayMs, refreshMs: g.masterRefreshMs },
          () => this.announce(r.cfg));
      },
      notify: (from, to, reason) => this.notify(r.cfg, from, to, reason),
    });
    const inst = r.inst;
    inst.on('transition', (e: TransitionEvent) => this.onInstanceTransition(e));
    this.running.set(ic.name, r);
    for (const t of ic.trackInterfaces) if (!this.links.has(t.name)) this.links.set(t.name, await this.p.linkUp(t.name).catch(() => false));
    this.applyTracking(r);
    const d = decideResume(ic, this.restartMarker, this.overrides.get(ic.name), this.p.wallNow());
    if (this.restartMarker) log.info({ resume: d.resume, ...(d.resume ? {} : { why: d.why }) }, d.resume ? 'resuming as master after a restart' : 'not resuming as master');
    inst.start(d.resume);
  }

  private async acquireTransport(key: TransportKey, ks: string): Promise<VrrpTransport> {
    const have = this.transports.get(ks);
    if (have) { have.users++; return have.t; }
    const t = await this.p.openTransport(key);
    t.on('message', (msg: Buffer, rinfo: TransportRinfo) => this.demux(ks, msg, rinfo));
    t.on('drop', (d: { reason: string; detail: string; address?: string }) => {
      // An IP-level malformation cannot be attributed to a VRID; count it on the interface.
      this.unmatched[`${key.ifname}/${d.reason}`] = (this.unmatched[`${key.ifname}/${d.reason}`] ?? 0) + 1;
    });
    t.on('error', (e: Error) => this.log.error({ ifname: key.ifname, err: e }, 'transport error'));
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
      if (op === 'add') await this.p.addAddress(dev, v.address, v.prefixLen, v.label);
      else await this.p.delAddress(dev, v.address, v.prefixLen);
    }));
    this.log.info({ instance: ic.name, op, vips: ic.vips.map((v) => `${v.address}/${v.prefixLen}`) }, op === 'add' ? 'VIPs added' : 'VIPs removed');
  }

  private announce(ic: InstanceConfig): void {
    for (const v of ic.vips) {
      const dev = v.dev ?? ic.interface;
      try {
        const mac = readFileSync(`/sys/class/net/${dev}/address`, 'utf8').trim();
        if (v.family === 4) this.p.sendGarp(dev, v.address, mac);
        else this.p.sendUnsolicitedNa(dev, v.address, mac);
      } catch (e) {
        this.log.warn({ instance: ic.name, dev, vip: v.address, err: String(e) }, 'announcement failed');
      }
    }
  }

  private notify(ic: InstanceConfig, from: State, to: State, reason: Reason): void {
    // A restart hand-off changes no role on the network: the hooks saw this node become master already.
    if (reason === 'restart' || reason === 'resumed') return;
    const hook = to === 'init' ? ic.notify.stop : to === 'master' ? ic.notify.master : to === 'backup' ? ic.notify.backup : ic.notify.fault;
    const vars = { DUET_INSTANCE: ic.name, DUET_FROM: from, DUET_TO: to, DUET_REASON: reason, DUET_VRID: String(ic.vrid) };
    const run = (argv: string[]): void => this.runHook(argv, vars, 'notify hook failed', { instance: ic.name });
    for (const argv of hook ?? []) run(argv);
    for (const argv of ic.notify.any ?? []) run([...argv, ic.name, from, to, reason]);
    for (const g of this.cfg.vrrp.syncGroups) {
      if (!g.instances.includes(ic.name)) continue;
      for (const argv of g.notify.any ?? []) run([...argv, g.name, from, to, reason]);
    }
  }

  private onInstanceTransition(e: TransitionEvent): void {
    for (const fn of this.listeners) fn(e);
    this.emit({ type: 'transition', instance: e.instance, vrid: e.vrid, from: e.from, to: e.to, reason: e.reason, priority: e.priority });
    // Always queue (deduplicated): the role is read when the change runs, so a transition that
    // lands while an earlier change is in flight is not lost.
    // A restart hand-off leaves the kernel's daemons as they are for the next run.
    if (e.reason === 'restart') return;
    if (this.cfg.syncDaemon) void this.syncSoon();
    const g = this.cfg.vrrp.syncGroups.find((x) => x.instances.includes(e.instance));
    if (!g) return;
    const members = g.instances.map((n) => ({ name: n, state: this.running.get(n)?.inst.state ?? 'init' as State }));
    // Deferred: we are inside the member's dispatch; forcing synchronously would re-enter it.
    queueMicrotask(() => {
      for (const f of syncGroupForces(members, { name: e.instance, from: e.from, to: e.to, reason: e.reason })) this.running.get(f.name)?.inst.force(f.to, 'sync-group');
    });
  }

  private linkChanged(ifname: string, up: boolean): void {
    if (this.links.get(ifname) === up || !this.links.has(ifname)) return;
    this.links.set(ifname, up);
    this.log.info({ ifname, up }, 'tracked interface changed');
    this.refreshTracking();
  }

  private refreshTracking(): void {
    for (const r of this.running.values()) this.applyTracking(r);
  }

  /** Recompute priority and fault for one instance, including its sync group's fault. */
  private applyTracking(r: Running): void {
    const own = evaluateTracking(this.trackersOf(r.cfg));
    const g = this.cfg.vrrp.syncGroups.find((x) => x.instances.includes(r.cfg.name));
    // Maintenance: never master, like a fault (a master would have handed over first).
    const fault = this.overrides.get(r.cfg.name)?.mode === 'maintenance' ? true : g
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

export interface ServiceView {
  name: string;
  service: string;
  scheduler: string;
  quorumLost: boolean;
  servers: Array<{
    server: string; sorry: boolean; configured: number;
    /** null: duet keeps it out of the table. */
    wanted: number | null;
    /** null: not in the kernel's table (or no IPVS). */
    kernel: number | null; active: number | null; inactive: number | null;
    health: string; why: string;
  }>;
}

/** What a reload changed: VRRP instances, virtual servers (checks included), IPVS operations. */
export interface ReloadResult {
  added: string[];
  removed: string[];
  replaced: string[];
  updated: string[];
  unchanged: string[];
  virtualServers: { added: string[]; removed: string[]; changed: string[]; unchanged: string[] };
  /** Operations the reconcile after the reload applied ({} = the kernel already matched). */
  ipvs?: Partial<Record<Op['op'], number>>;
  ipvsError?: string;
}

/** Virtual servers by name: added, removed, changed (anything, real servers and checks included). */
function diffByName(a: readonly { name: string }[], b: readonly { name: string }[]): ReloadResult['virtualServers'] {
  const before = new Map(a.map((x) => [x.name, x]));
  const after = new Map(b.map((x) => [x.name, x]));
  const out: ReloadResult['virtualServers'] = { added: [], removed: [], changed: [], unchanged: [] };
  for (const [n, x] of after) {
    const y = before.get(n);
    (y === undefined ? out.added : isDeepStrictEqual(x, y) ? out.unchanged : out.changed).push(n);
  }
  for (const n of before.keys()) if (!after.has(n)) out.removed.push(n);
  return out;
}

/** One line of `duet events`. */
export type DuetEvent =
  | { type: 'transition'; instance: string; vrid: number; from: State; to: State; reason: Reason; priority: number }
  | ({ type: 'check' } & ({ kind: 'check' | 'weight' | 'quorum' } & Record<string, unknown>))
  | { type: 'reconcile'; ops: Partial<Record<Op['op'], number>>; applied: number; failed: { what: string; error: string }[] }
  | { type: 'reconcile-error'; error: string }
  | { type: 'sync'; role: SyncRole | null; daemons: string[] }
  | { type: 'operator'; action: string; instance?: string; service?: string; server?: string; weight?: number };

export type ServerOverride = { service: string; server: string; since: number } & ({ kind: 'weight'; weight: number } | { kind: 'disable' });

/**
 * The weight to program under an operator override: disabled is out; a pinned weight holds while
 * the checks keep the server in (a failed or agent-drained server stays out / at 0).
 */
function pinned(o: ServerOverride | undefined, check: number | 'remove' | undefined, configured: number): number | 'remove' {
  const healthy = check ?? configured;
  if (!o) return healthy;
  if (o.kind === 'disable') return 'remove';
  if (healthy === 'remove' || (healthy === 0 && configured > 0)) return healthy;
  return o.weight;
}

export interface HandoverResult {
  instance: string;
  from: State;
  to: State;
  handoverMs: number;
  /** The master after the handover, as seen on the wire (ours for a takeover). */
  master: string | null;
}

/** A refused or failed operator command: a stable code, and what was done before it failed. */
export class OperatorError extends Error {
  constructor(readonly code: string, message: string, readonly done: HandoverResult[] = []) {
    super(message);
  }
}

/**
 * What a running instance cannot change in place: its socket, its VRID, what it advertises. The
 * advert interval can in v3 (backups adopt the master's, RFC 5798 §6.4.2); v2 peers must match.
 */
function identity(ic: InstanceConfig) {
  return {
    interface: ic.interface, vrid: ic.vrid, version: ic.version, family: ic.family, advertIntMs: ic.version === 2 ? ic.advertIntMs : undefined,
    auth: ic.auth, vips: ic.vips, unicastSrcIp: ic.unicastSrcIp, unicastPeers: ic.unicastPeers, transport: ic.transport,
    udpPort: ic.udpPort, checksumPseudoHeader: ic.checksumPseudoHeader,
  };
}

function settingsOf(ic: InstanceConfig): InstanceSettings {
  return {
    name: ic.name, interface: ic.interface, vrid: ic.vrid, version: ic.version, family: ic.family,
    priority: ic.priority, advertIntMs: ic.advertIntMs, preempt: ic.preempt, preemptDelayMs: ic.preemptDelayMs,
    authType: ic.auth.type === 'pass' ? 1 : 0, authPassword: ic.auth.password,
    vipAddresses: ic.vips.map((v) => v.address), unicastPeers: ic.unicastPeers,
    checksumPseudoHeader: ic.checksumPseudoHeader, checkTtl: ic.transport === 'raw',
  };
}

function sameScripts(prev: Config | undefined, next: Config, ic: InstanceConfig): boolean {
  if (!prev) return false;
  return ic.trackScripts.every((t) => isDeepStrictEqual(prev.vrrp.scripts[t.name], next.vrrp.scripts[t.name]));
}
