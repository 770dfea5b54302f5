// The daemon: a composition root. It builds the parts around one shared context and wires
// their subscriptions; each part owns one job:
//   vrrp-runner     VRRP instances, sockets, VIPs, announcements, tracking, sync groups, notify
//   ipvs-loop       desired table -> reconcile (one at a time), timeouts, sysctls, checks
//   sync-follower   the kernel's sync daemons follow the VRRP role
//   operator-actions failover / takeover / maintenance overrides, real-server pins and drain
//   bgp-runner      VIPs in bgp mode: on lo always, their route in the speaker's table while healthy
// Start, reload and stop run the parts in order; status is assembled from their views.
import { isDeepStrictEqual } from 'node:util';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Config, VirtualServerConfig } from '../config/schema.js';
import { nextTurn } from '../core/turn.js';
import type { DaemonStatus, DuetEvent, HandoverResult, OperatorMode, ReloadResult, ServiceView } from '../control/views.js';
import type { ServerAction } from '../control/protocol.js';
import type { TransitionEvent } from '../vrrp/instance.js';
import type { Table, TableStats } from '../ipvs/model.js';
import type { LatencyHistogram, ServiceStatus } from '../check/engine.js';
import { Fanout, type DaemonContext } from './context.js';
import type { Platform } from './platform.js';
import { VrrpRunner } from './vrrp-runner.js';
import { HookQueues } from './hooks.js';
import { IpvsLoop, KernelQueue, type ReconcileCounters } from './ipvs-loop.js';
import { SyncFollower } from './sync-follower.js';
import { OperatorActions, Overrides, findServer } from './operator-actions.js';
import { BgpRunner, type BgpVipStatus } from './bgp-runner.js';

export type { Platform, IpvsHandle, TransportKey } from './platform.js';
export { OperatorError } from './operator-actions.js';

export class Daemon {
  private cfg: Config;
  private readonly events: Fanout<DuetEvent>;
  private readonly overrides: Overrides;
  private readonly vrrp: VrrpRunner;
  private readonly ipvs: IpvsLoop;
  private readonly sync: SyncFollower;
  private readonly operator: OperatorActions;
  private readonly bgp: BgpRunner;
  private readonly queue = new KernelQueue();

  /** Called after a reload applied a new config (main.ts restarts the metrics endpoint if needed). */
  onReload: ((c: Config) => Promise<void>) | undefined;

  constructor(cfg: Config, private readonly p: Platform, clock: Clock, private readonly log: Logger) {
    this.cfg = cfg;
    this.events = new Fanout(log, 'event');
    const self = this;
    const ctx: DaemonContext = { get cfg() { return self.cfg; }, clock, log, p, hooks: new HookQueues(p, log, () => this.cfg.hooks.timeoutMs, () => this.cfg.scripts), emit: (e) => this.events.emit(e) };
    this.overrides = new Overrides(ctx);
    this.vrrp = new VrrpRunner(ctx, (name) => this.overrides.get(name));
    this.ipvs = new IpvsLoop(ctx, this.queue);
    this.sync = new SyncFollower(ctx, this.queue, this.ipvs, (name) => this.vrrp.stateOf(name));
    this.operator = new OperatorActions(ctx, this.overrides, this.vrrp, this.ipvs);
    this.bgp = new BgpRunner(ctx, (name) => this.ipvs.quorumUp(name), (name) => this.ipvs.ipvsFailed(name), async () => new Set((await this.ipvs.checkStatus())
      .filter((svc) => svc.servers.length > 0 && svc.servers.every((srv) => srv.checks.every((c) => c.health === 'unknown'))).map((svc) => svc.name)));
    // A service's quorum gates its BGP VIPs, and so does its first check result: decide again on each.
    // So does its place in the kernel's IPVS table (a reconcile that failed to add it, or that added it at last).
    this.events.on((e) => {
      if ((e.type === 'check' && (e.kind === 'quorum' || (e.kind === 'check' && e['from'] === 'unknown'))) || e.type === 'reconcile' || e.type === 'reconcile-error') void this.bgp.soon();
    });
    // Transitions fan out: `duet events`, then the sync role (sync groups follow inside the runner).
    this.vrrp.transitions.on((e) => this.events.emit({ type: 'transition', instance: e.instance, vrid: e.vrid, from: e.from, to: e.to, reason: e.reason, priority: e.priority }));
    this.vrrp.transitions.on((e) => this.sync.onTransition(e));
  }

  get config(): Config { return this.cfg; }

  async start(): Promise<void> {
    const restartMarker = this.p.takeRestartMarker();
    this.vrrp.watch();
    // Checks start on every node (master or backup), so a takeover starts with a correct table.
    await this.ipvs.configureChecks();
    // The IPVS table first: once VRRP makes us master, the VIP should lead somewhere.
    await this.ipvs.reconcile();
    await this.vrrp.apply(this.cfg, { first: true, ...(restartMarker ? { restartMarker } : {}) });
    await this.sync.soon();
    // After the checks are configured and the table is there: announce only what can be served.
    await this.bgp.apply();
  }

  /** Apply a new, already validated config: keep identical instances, replace changed ones. */
  async reload(next: Config): Promise<ReloadResult> {
    // As keepalived: an instance whose interface this host lacks is in FAULT until it appears.
    const warnings = (await this.vrrp.missingInterfaces(next)).map((m) => `${m.instance}: no interface ${m.interfaces.join(', ')} on this host; the instance stays in FAULT until it appears`);
    const before = this.cfg;
    this.cfg = next;
    // Operator overrides last until a reload unless sticky; gone instances lose theirs.
    this.overrides.pruneOnReload(next);
    this.ipvs.prunePins((service, server) => findServer(next, service, server) !== undefined);
    const r = await this.vrrp.apply(next, { first: false, prev: before });
    await this.bgp.apply();
    const virtualServers = await diffByName(before.virtualServers, next.virtualServers);
    await this.ipvs.configureChecks();
    await this.sync.soon();
    const runsBefore = this.ipvs.counters.reconciles;
    await this.ipvs.reconcile();
    const ipvs = this.ipvs.counters.reconciles > runsBefore ? this.ipvs.lastOps?.ops ?? {} : undefined;
    const result: ReloadResult = { ...r, virtualServers, ...(ipvs ? { ipvs } : {}), ...(this.ipvs.error ? { ipvsError: this.ipvs.error } : {}), ...(warnings.length ? { warnings } : {}) };
    this.log.info(result, 'config reloaded');
    await this.onReload?.(next);
    return result;
  }

  /**
   * Stop. forRestart (`duet restart`): masters keep their VIPs and send a last normal advert
   * instead of priority 0, the sync daemons stay as they are, and a marker lets the next run
   * resume as master if it starts in time. Returns the instances that were kept.
   */
  /**
   * What must happen first on a stop, synchronously, before any logging: masters hand over
   * (priority 0; forRestart: a last normal advert). stop() does it too if this was not called.
   * Only once start() has finished (a stop during start waits for it).
   */
  release(forRestart = false): void { this.vrrp.release(forRestart); }

  async stop(forRestart = false): Promise<string[]> {
    // BGP VIPs are withdrawn first: the routers move their flows while this node still serves.
    await this.bgp.stop();
    const kept = await this.vrrp.stop(forRestart);
    // The peer is master now: receive its sync stream, which is also where a restart starts.
    // A restart that kept mastership keeps the master daemon too: the kernel syncs on meanwhile.
    // (A mesh keeps both daemons.)
    if (kept.length === 0) await this.sync.onStop();
    await this.queue.idle();
    await this.ipvs.closeChecks();
    return kept;
  }

  status(): DaemonStatus {
    const operator = this.overrides.all();
    return {
      node: this.cfg.node.name ?? 'duet',
      sync: this.sync.status(),
      operator,
      serverOverrides: [...this.ipvs.pins.values()],
      maintenance: Object.values(operator).some((o) => o.mode === 'maintenance'),
      ipvs: this.ipvs.status(),
      instances: this.vrrp.instances(),
      unmatched: this.vrrp.unmatchedCounts(),
      tracking: this.vrrp.tracking(),
      sockets: this.vrrp.sockets(),
      checkWorker: this.ipvs.checkLiveness(),
      bgp: this.bgp.status(),
    };
  }

  /**
   * What the systemd watchdog gates on: every master's adverts getting out, and the check
   * worker answering its heartbeat. [] when healthy. (The main loop is checked by the ping
   * itself: it runs on this loop.)
   */
  healthProblems(): string[] {
    const out = this.vrrp.sendProblems();
    const cw = this.ipvs.checkLiveness();
    if (cw && !cw.answering) out.push(`check worker not answering (${cw.restarts} restarts${cw.lastRestart ? `; last: ${cw.lastRestart}` : ''})`);
    return out;
  }

  // The control socket's and the metrics' window into the parts.
  onTransition(fn: (e: TransitionEvent) => void): () => void { return this.vrrp.transitions.on(fn); }
  /** Everything that changes state, for `duet events` (transitions, checks, reconciles, operator). */
  onEvent(fn: (e: DuetEvent) => void): () => void { return this.events.on(fn); }
  reconcileCounters(): Readonly<ReconcileCounters> { return this.ipvs.counters; }
  ipvsStats(): Promise<{ table: Table; stats: TableStats } | undefined> { return this.ipvs.stats(); }
  checkLatency(): Promise<LatencyHistogram[]> { return this.ipvs.checkLatency(); }
  checkStatus(): Promise<ServiceStatus[]> { return this.ipvs.checkStatus(); }
  checkMetricsText(): Promise<string> { return this.ipvs.checkMetricsText(); }
  /** checks: the check status already fetched for the same request (one fetch from the worker, not two). */
  serviceStatus(checks?: ServiceStatus[]): Promise<ServiceView[]> { return this.ipvs.serviceStatus(checks); }
  reconcileIpvs(): Promise<void> { return this.ipvs.reconcile(); }
  instance(name: string) { return this.vrrp.get(name)?.inst; }
  handover(mode: 'failover' | 'takeover', names: readonly string[] | 'all', o: { sticky: boolean; timeoutMs?: number }): Promise<HandoverResult[]> { return this.operator.handover(mode, names, o); }
  clearOverride(mode: OperatorMode | undefined, names: readonly string[] | 'all'): string[] { return this.operator.clearOverride(mode, names); }
  /** Maintenance on withdraws the BGP VIPs first, then hands the VRRP instances over; off undoes both. */
  async maintenance(on: boolean, o: { sticky: boolean; force: boolean }): Promise<{ handedOver: HandoverResult[]; instances: string[]; bgpWithdrawn?: string[] }> {
    if (on) await this.bgp.setMaintenance(true, o.sticky);
    const r = await this.operator.maintenance(on, o);
    if (!on) await this.bgp.setMaintenance(false);
    const bgp = this.bgp.status();
    return bgp ? { ...r, bgpWithdrawn: bgp.vips.filter((v) => !v.announced).map((v) => v.address) } : r;
  }
  /** `duet withdraw VIP` / `duet announce VIP`. */
  bgpOperator(vip: string, withdraw: boolean, sticky = false): Promise<BgpVipStatus> { return this.bgp.operator(vip, withdraw, sticky); }
  serverCommand(action: ServerAction, service: string, server: string, o: { weight?: number; timeoutMs?: number; progress?: (p: unknown) => void } = {}): Promise<unknown> {
    return this.operator.serverCommand(action, service, server, o);
  }
}

/** Real servers compared per turn of the loop (10,000 in one isDeepStrictEqual held it ~125 ms). */
const COMPARE_SLICE = 500;

/**
 * Virtual servers by name: added, removed, changed (anything, real servers and checks included).
 * Real servers are compared one at a time, COMPARE_SLICE per turn.
 */
export async function diffByName(a: readonly VirtualServerConfig[], b: readonly VirtualServerConfig[], turn = nextTurn): Promise<ReloadResult['virtualServers']> {
  const before = new Map(a.map((x) => [x.name, x]));
  const after = new Map(b.map((x) => [x.name, x]));
  const out: ReloadResult['virtualServers'] = { added: [], removed: [], changed: [], unchanged: [] };
  let budget = COMPARE_SLICE;
  const same = async (x: VirtualServerConfig, y: VirtualServerConfig): Promise<boolean> => {
    const { realServers: rx, ...restX } = x;
    const { realServers: ry, ...restY } = y;
    if (rx.length !== ry.length || !isDeepStrictEqual(restX, restY)) return false;
    for (let i = 0; i < rx.length; i++) {
      if (--budget < 0) { budget = COMPARE_SLICE; await turn(); }
      if (!isDeepStrictEqual(rx[i], ry[i])) return false;
    }
    return true;
  };
  for (const [n, x] of after) {
    const y = before.get(n);
    (y === undefined ? out.added : (await same(x, y)) ? out.unchanged : out.changed).push(n);
  }
  for (const n of before.keys()) if (!after.has(n)) out.removed.push(n);
  return out;
}
