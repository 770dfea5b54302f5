// The IPVS side of the daemon: desired table (config, check verdicts, operator pins) -> diff ->
// kernel writes, one reconcile at a time; connection timeouts and ipvs sysctls; the health-check
// engine whose verdicts feed the desired table; the per-service view for `duet status`.
import type { Logger } from '../core/log.js';
import type { DaemonStatus, IpvsStatus, ServerOverride, ServiceView } from '../control/views.js';
import { desiredTable } from '../ipvs/desired.js';
import { destKey, serviceKey, type Table, type TableStats } from '../ipvs/model.js';
import { reconcile, type ReconcileResult } from '../ipvs/reconciler.js';
import type { Op } from '../ipvs/diff.js';
import type { CheckHost } from '../check/host.js';
import type { CheckEvent, LatencyHistogram, ServiceStatus } from '../check/engine.js';
import type { DaemonContext } from './context.js';
import type { IpvsHandle } from './platform.js';
import { FirstResults } from './first-results.js';
import { nextTurn } from '../core/turn.js';
import { checkFamiliesText } from '../check/prom-text.js';

/**
 * Kernel changes (table reconciles, sync-daemon switches) run one at a time, in order. A
 * "soon" request while one of its kind is already queued is folded into that one.
 */
export class KernelQueue {
  private tail: Promise<void> = Promise.resolve();
  private readonly queued = new Set<string>();

  run(fn: () => Promise<void>): Promise<void> {
    this.tail = this.tail.then(fn);
    return this.tail;
  }

  soon(kind: string, fn: () => Promise<void>): Promise<void> {
    if (this.queued.has(kind)) return this.tail;
    this.queued.add(kind);
    return this.run(() => { this.queued.delete(kind); return fn(); });
  }

  idle(): Promise<void> { return this.tail; }
}

export interface ReconcileCounters { reconciles: number; reconcileErrors: number; ops: Partial<Record<Op['op'], number>>; opFailures: number }

/** Real servers per slice of the services view (serviceStatus()). */
const STATUS_SLICE = 500;

export class IpvsLoop {
  private handle: IpvsHandle | undefined;
  private ipvsStatus: IpvsStatus | undefined;
  /** Service keys whose add failed in the last reconcile (ipvsFailed). */
  private failedServices = new Set<string>();
  private checks: CheckHost | undefined;
  /** Operator weight/disable per real server, by "svcKey destKey"; kept across reloads while the server exists. */
  readonly pins = new Map<string, ServerOverride>();
  readonly counters: ReconcileCounters = { reconciles: 0, reconcileErrors: 0, ops: {}, opFailures: 0 };

  private readonly checkLog: Logger;
  /** First results are summarized, not logged one by one (first-results.ts). */
  private readonly first: FirstResults;

  constructor(private readonly ctx: DaemonContext, private readonly queue: KernelQueue) {
    this.checkLog = ctx.log.child({ mod: 'check' });
    this.first = new FirstResults(ctx.clock, (s) => {
      this.checkLog.info({ up: s.up, down: s.down, downChecks: s.downMore ? [...s.downNamed, `... and ${s.downMore} more`] : s.downNamed, spanMs: Math.round(s.spanMs) },
        `first check results: ${s.up} up, ${s.down} down`);
    });
  }

  /** The kernel's IPVS handle, opened on first use (shared with the sync follower). */
  async kernel(): Promise<IpvsHandle> { return (this.handle ??= await this.ctx.p.openIpvs()); }
  get opened(): IpvsHandle | undefined { return this.handle; }
  status(): IpvsStatus | undefined { return this.ipvsStatus ? structuredClone(this.ipvsStatus) : undefined; }
  get error(): string | undefined { return this.ipvsStatus?.error; }
  get lastOps(): IpvsStatus['lastReconcile'] { return this.ipvsStatus?.lastReconcile; }

  /** Bring the kernel's IPVS table to what the config wants (no-op without virtual servers). */
  reconcile(): Promise<void> { return this.queue.run(() => this.reconcileOnce()); }

  /** Several check events in a row (a whole rack failing) make one reconcile, not one each. */
  reconcileSoon(): void { void this.queue.soon('ipvs', () => this.reconcileOnce()); }

  /** Start, reconfigure or keep the check engine for the current config. */
  async configureChecks(): Promise<void> {
    const vs = this.ctx.cfg.virtualServers;
    const any = vs.some((v) => v.realServers.some((r) => r.checks.length > 0));
    if (!any && !this.checks) return;
    this.checks ??= this.ctx.p.openChecks((e) => this.onCheckEvent(e), (err) => this.ctx.log.error({ mod: 'check', err: err.message }, 'check engine failed'));
    await this.checks.configure(vs);
  }

  async closeChecks(): Promise<void> {
    this.first.done();
    await this.checks?.close();
    this.checks = undefined;
  }

  /** Drop pins of real servers the config no longer has. */
  prunePins(has: (service: string, server: string) => boolean): void {
    for (const [k, o] of [...this.pins]) if (!has(o.service, o.server)) this.pins.delete(k);
  }

  /** Quorum of a virtual server by name: undefined when it has no checks (or no such server). */
  quorumUp(name: string): boolean | undefined {
    const v = this.ctx.cfg.virtualServers.find((x) => x.name === name);
    return v ? this.checks?.verdicts().get(serviceKey(v))?.quorumUp : undefined;
  }

  /**
   * Is a virtual server (by name) missing from the kernel's table: did its service fail to add in
   * the last reconcile? A BGP VIP in front of it must not be announced (nothing would forward its
   * share of the flows). A reconcile that failed as a whole (no IPVS in this kernel at all, as in
   * the namespace tests) names no service: status reports it, it gates nothing.
   */
  ipvsFailed(name: string): boolean {
    const v = this.ctx.cfg.virtualServers.find((x) => x.name === name);
    return v !== undefined && this.failedServices.has(serviceKey(v));
  }

  /** The check worker's liveness; undefined without checks. */
  checkLiveness(): DaemonStatus['checkWorker'] { return this.checks?.liveness(); }

  /** Health of every checked real server (empty without checks). */
  async checkStatus(): Promise<ServiceStatus[]> { return this.checks ? this.checks.status() : []; }
  /** A scrape's per-server check families, as text (written by the check worker). */
  async checkMetricsText(): Promise<string> { return this.checks ? this.checks.metricsText() : checkFamiliesText([]); }
  async checkLatency(): Promise<LatencyHistogram[]> { return this.checks ? this.checks.latency() : []; }

  /** The kernel's IPVS counters (connections, packets, bytes per service and server), or undefined without IPVS. */
  async stats(): Promise<{ table: Table; stats: TableStats } | undefined> {
    if (!this.handle) return undefined;
    const d = await this.handle.dump({ stats: true });
    return d.stats ? { table: d.table, stats: d.stats } : undefined;
  }

  /** Check events: logged with their reason, then folded into the desired table. */
  private onCheckEvent(e: CheckEvent): void {
    this.ctx.emit({ type: 'check', ...e });
    const log = this.checkLog;
    switch (e.kind) {
      case 'check':
        if (e.from === 'unknown') {
          this.first.add(e.to === 'up', () => `${e.service} ${e.server} ${e.check}: ${e.reason}`);
          // At debug level each one still has its line (at info, pino's debug is a no-op).
          log.debug({ service: e.service, server: e.server, check: e.check, from: e.from, to: e.to, reason: e.reason, latencyMs: e.latencyMs }, 'check state changed');
        } else log.info({ service: e.service, server: e.server, check: e.check, from: e.from, to: e.to, reason: e.reason, latencyMs: e.latencyMs }, 'check state changed');
        return;
      case 'weight':
        log.info({ service: e.service, server: e.server, from: e.from, to: e.to, reason: e.reason }, 'real server weight changed');
        this.reconcileSoon();
        return;
      case 'quorum': {
        log.warn({ service: e.service, up: e.up, healthyWeight: e.healthyWeight, quorum: e.quorum, hysteresis: e.hysteresis },
          e.up ? 'quorum regained' : 'quorum lost');
        const v = this.ctx.cfg.virtualServers.find((x) => serviceKey(x) === e.service);
        const hook = e.up ? v?.quorumUp : v?.quorumDown;
        if (hook) this.ctx.hooks.run(`service:${e.service}`, hook, { DUET_SERVICE: e.service, DUET_QUORUM: e.up ? 'up' : 'down', DUET_HEALTHY_WEIGHT: String(e.healthyWeight) }, 'quorum hook failed');
        this.reconcileSoon();
      }
    }
  }

  /** The table config, checks and operator pins ask for now. */
  private desired(): Table {
    const verdicts = this.checks?.verdicts();
    return desiredTable(this.ctx.cfg.virtualServers, {
      weight: (svc, dest, configured) => pinned(this.pins.get(`${svc} ${dest}`), verdicts?.get(svc)?.dests.get(dest), configured),
      quorumLost: (svc) => verdicts?.get(svc)?.quorumUp === false,
    });
  }

  /**
   * Per virtual service and real server: configured weight, the weight duet wants (checks and
   * operator included), the kernel's weight and connections, health. For `duet status`.
   */
  async serviceStatus(checkStatus?: ServiceStatus[]): Promise<ServiceView[]> {
    const want = this.desired();
    const kernel = await this.stats().catch(() => undefined);
    const checks = checkStatus ?? await this.checkStatus();
    const health = new Map<string, ServiceStatus['servers'][number]>();
    for (const svc of checks) for (const srv of svc.servers) health.set(`${svc.service} ${srv.server}`, srv);
    const lost = new Set(checks.filter((c) => !c.quorumUp).map((c) => c.service));
    const out: ServiceView[] = [];
    // Built in slices with a turn of the loop between them: at thousands of real servers one go
    // would hold up VRRP timers and adverts for tens of ms.
    let budget = STATUS_SLICE;
    for (const v of this.ctx.cfg.virtualServers) {
      const sk = serviceKey(v);
      const w = want.get(sk);
      const servers: ServiceView['servers'] = [];
      for (const r of v.sorryServer ? [...v.realServers, v.sorryServer] : v.realServers) {
        if (--budget < 0) {
          budget = STATUS_SLICE;
          await nextTurn();
        }
        const dk = destKey(r);
        const h = health.get(`${sk} ${dk}`);
        const k = kernel?.table.get(sk)?.dests.get(dk);
        const st = kernel?.stats.get(sk)?.dests.get(dk);
        const o = this.pins.get(`${sk} ${dk}`);
        servers.push({
          server: dk, sorry: r === v.sorryServer, configured: r.weight, wanted: w?.dests.get(dk)?.weight ?? null,
          kernel: k ? k.weight : null, active: st?.activeConns ?? null, inactive: st?.inactConns ?? null,
          health: !h || h.checks.length === 0 ? '-' : h.checks.some((c) => c.health === 'down') ? 'down' : h.checks.every((c) => c.health === 'up') ? 'up' : 'unknown',
          why: o ? (o.kind === 'disable' ? 'operator: disabled' : `operator: weight ${o.weight}`) : h?.reason ?? '',
        });
      }
      out.push({ name: v.name, service: sk, scheduler: v.scheduler, quorumLost: lost.has(sk), servers });
    }
    return out;
  }

  private async reconcileOnce(): Promise<void> {
    const cfg = this.ctx.cfg;
    const want = this.desired();
    const managed = this.ctx.p.loadManaged() ?? new Set<string>();
    if (want.size === 0 && managed.size === 0 && !cfg.lvsTimeouts && Object.keys(cfg.ipvsSysctl).length === 0) return;
    const log = this.ctx.log.child({ mod: 'ipvs' });
    this.ipvsStatus ??= { services: 0, lastReconcile: undefined, error: undefined };
    try {
      const k = await this.kernel();
      // First run after a restart with no record: adopt what we want; delete nothing we cannot prove is ours.
      await this.applyTimeouts(k, log);
      await this.applySysctls(log);
      const r: ReconcileResult = await reconcile(k, want, managed);
      this.ctx.p.saveManaged(r.managed);
      const ops: Partial<Record<Op['op'], number>> = {};
      for (const o of r.ops) ops[o.op] = (ops[o.op] ?? 0) + 1;
      this.counters.reconciles++;
      for (const [kind, n] of Object.entries(ops) as [Op['op'], number][]) this.counters.ops[kind] = (this.counters.ops[kind] ?? 0) + n;
      this.counters.opFailures += r.failed.length;
      this.failedServices = new Set(r.failed.flatMap((f) => (f.op.op === 'add-svc' ? [serviceKey(f.op.svc)] : [])));
      const failed = r.failed.map((f) => ({ what: f.what, error: f.error }));
      if (r.ops.length || r.failed.length) this.ctx.emit({ type: 'reconcile', ops, applied: r.applied, failed });
      this.ipvsStatus = { services: want.size, error: undefined, lastReconcile: { atMs: this.ctx.clock.now(), ops, applied: r.applied, failed } };
      for (const f of r.failed) log.error({ op: f.what, err: f.error }, 'IPVS operation failed');
      log.info({ ops, applied: r.applied, failed: r.failed.length, services: want.size }, r.ops.length ? 'IPVS table reconciled' : 'IPVS table already as configured');
    } catch (e) {
      this.ipvsStatus = { ...this.ipvsStatus, error: e instanceof Error ? e.message : String(e) };
      this.counters.reconcileErrors++;
      this.ctx.emit({ type: 'reconcile-error', error: this.ipvsStatus.error ?? 'unknown' });
      log.error({ err: this.ipvsStatus.error }, 'IPVS reconcile failed');
    }
  }

  /** lvs_timeouts: written only when they differ from the kernel's, so a reload stays write-free. */
  private async applyTimeouts(k: IpvsHandle, log: Logger): Promise<void> {
    const want = this.ctx.cfg.lvsTimeouts;
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
  private async applySysctls(log: Logger): Promise<void> {
    for (const [name, want] of Object.entries(this.ctx.cfg.ipvsSysctl)) {
      try {
        const have = await this.ctx.p.readIpvsSysctl(name);
        if (have === undefined) throw new Error(`net.ipv4.vs.${name} does not exist in this kernel`);
        if (have === want) continue;
        await this.ctx.p.writeIpvsSysctl(name, want);
        log.info({ sysctl: `net.ipv4.vs.${name}`, from: have, to: want }, 'IPVS sysctl set');
      } catch (e) {
        this.counters.opFailures++;
        log.error({ sysctl: `net.ipv4.vs.${name}`, err: e instanceof Error ? e.message : String(e) }, 'IPVS sysctl not set');
      }
    }
  }
}

/**
 * The weight to program under an operator pin: disabled is out; a pinned weight holds while
 * the checks keep the server in (a failed or agent-drained server stays out / at 0).
 */
function pinned(o: ServerOverride | undefined, check: number | 'remove' | undefined, configured: number): number | 'remove' {
  const healthy = check ?? configured;
  if (!o) return healthy;
  if (o.kind === 'disable') return 'remove';
  if (healthy === 'remove' || (healthy === 0 && configured > 0)) return healthy;
  return o.weight;
}
