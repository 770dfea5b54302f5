// VIPs in `bgp` mode (active-active behind ECMP): the edge around src/bgp/decide.ts.
//  - Each VIP sits on bgp.local_dev (lo) as long as it is configured, announced or not: packets
//    the routers still send during convergence after a withdraw are accepted, not dropped.
//  - Announced = its /32 (/128) is in the kernel table bgp.table; the BGP speaker (BIRD's kernel
//    protocol with `learn`) picks that up within milliseconds and exports it through a filter;
//    withdrawn = the route is deleted. No API coupling: the speaker never talks to duet.
//  - Decisions are re-taken on link events, quorum events, maintenance and operator commands,
//    and on each speaker poll; one at a time (a chain), and a failed route change is retried.
//  - The speaker's own view of its sessions is read by its CLI at an interval with a timeout.
import type { BgpConfig } from '../config/schema.js';
import { BgpVip, decide, type BgpDecision, type BgpVipView } from '../bgp/decide.js';
import { parseSessions, type BgpSession } from '../bgp/speaker.js';
import type { DaemonContext } from './context.js';
import type { LinkState } from './platform.js';
import { OperatorError } from './operator-actions.js';

export interface BgpVipStatus extends BgpVipView {
  /** The route is in the export table (what duet last applied); differs from announced only while a change fails. */
  routed: boolean;
  services: string[];
  trackInterfaces: string[];
  lastError: string | undefined;
}

export interface BgpStatus {
  table: number;
  localDev: string;
  operatorWithdrawn: string[];
  maintenance: boolean;
  vips: BgpVipStatus[];
  speaker: {
    sessions: BgpSession[] | undefined;
    established: number;
    /** Clock ms of the last read; undefined before the first. */
    readAtMs: number | undefined;
    error: string | undefined;
  };
}

export class BgpRunner {
  private vips = new Map<string, { vip: BgpVip; cfg: BgpConfig['vips'][number]; routed: boolean; lastError: string | undefined }>();
  private readonly links = new Map<string, LinkState | undefined>();
  /** Operator withdraws by VIP: sticky ones survive reloads and restarts, the others last until a reload. */
  private readonly withdrawn = new Map<string, { sticky: boolean }>();
  private maintenance: { sticky: boolean } | undefined;
  private stopping = false;
  private unwatch: (() => void) | undefined;
  private cancelPoll: (() => void) | undefined;
  private chain: Promise<void> = Promise.resolve();
  private applied: BgpConfig | undefined;
  /** false while apply() runs: decisions wait for it (links and VIPs half read would look down). */
  private ready = false;
  private speaker: BgpStatus['speaker'] = { sessions: undefined, established: 0, readAtMs: undefined, error: undefined };

  constructor(
    private readonly ctx: DaemonContext,
    private readonly quorumUp: (service: string) => boolean | undefined,
    /** Is the virtual server missing from the kernel's IPVS table (its add failed)? */
    private readonly ipvsFailed: (service: string) => boolean,
    /** Names of the virtual servers whose checks have no result yet. */
    private readonly pendingServices: () => Promise<Set<string>>,
  ) {
    const saved = ctx.p.loadBgpOperator();
    if (saved?.maintenance) this.maintenance = { sticky: true };
    for (const v of saved?.withdrawn ?? []) this.withdrawn.set(v, { sticky: true });
  }

  private save(): void {
    this.ctx.p.saveBgpOperator({ maintenance: this.maintenance?.sticky === true, withdrawn: [...this.withdrawn].filter(([, o]) => o.sticky).map(([v]) => v) });
  }

  private get cfg(): BgpConfig | undefined { return this.ctx.cfg.bgp; }

  /** Start, or follow a reload: VIPs on local_dev, links watched, decisions taken and applied. */
  async apply(): Promise<void> {
    this.ready = false;
    try {
      await this.applyConfig();
    } finally {
      // Decisions asked for meanwhile (a check result, a link event) are taken now, on complete
      // inputs; also after a failed step, so the VIPs that are in place still follow health.
      this.ready = true;
    }
    await this.evaluate();
  }

  private async applyConfig(): Promise<void> {
    const cfg = this.cfg;
    const before = this.applied;
    this.applied = cfg;
    // As VRRP overrides: a reload keeps only the sticky ones (and only for VIPs still configured).
    if (before) {
      if (this.maintenance && !this.maintenance.sticky) this.maintenance = undefined;
      for (const [v, o] of [...this.withdrawn]) if (!o.sticky || !cfg?.vips.some((x) => x.address === v)) this.withdrawn.delete(v);
      this.save();
    }
    // Gone VIPs (or all, if the table or device changed): route out, address off.
    for (const [addr, v] of [...this.vips]) {
      const keep = cfg && cfg.table === before?.table && cfg.localDev === before.localDev && cfg.vips.some((x) => x.address === addr);
      if (keep) continue;
      this.vips.delete(addr);
      this.withdrawn.delete(addr);
      await this.ctx.p.delRoute(before!.table, addr, v.cfg.prefixLen).catch((e: unknown) => this.ctx.log.error({ mod: 'bgp', vip: addr, err: String(e) }, 'route not removed'));
      await this.ctx.p.delAddress(before!.localDev, addr, v.cfg.prefixLen).catch((e: unknown) => this.ctx.log.error({ mod: 'bgp', vip: addr, err: String(e) }, 'VIP not removed'));
      this.ctx.log.info({ mod: 'bgp', vip: addr }, 'BGP VIP removed from the config: withdrawn and removed');
    }
    if (!cfg) { this.close(); return; }
    for (const c of cfg.vips) {
      const have = this.vips.get(c.address);
      if (have) { have.cfg = c; continue; }
      // Accepted locally from now on, whether announced or not.
      await this.ctx.p.addAddress(cfg.localDev, c.address, c.prefixLen);
      this.vips.set(c.address, { vip: new BgpVip(c.address), cfg: c, routed: false, lastError: undefined });
      // Whatever a previous run left in the table is replaced by this run's decision.
      await this.ctx.p.delRoute(cfg.table, c.address, c.prefixLen);
    }
    this.unwatch ??= this.ctx.p.watchLinks((name, st) => {
      if (!this.links.has(name)) return;
      const was = this.links.get(name);
      this.links.set(name, st);
      if (was?.up !== st?.up || was?.index !== st?.index) this.soon();
    });
    for (const name of new Set(cfg.vips.flatMap((v) => v.trackInterfaces))) {
      if (!this.links.has(name)) this.links.set(name, await this.ctx.p.link(name));
    }
    this.cancelPoll?.();
    this.cancelPoll = undefined;
    if (cfg.speaker.statusCommand) this.poll(0);
  }

  /** Re-take the decisions (quorum changed, say); returns once applied. */
  soon(): Promise<void> {
    return this.evaluate();
  }

  private evaluate(): Promise<void> {
    const run = async (): Promise<void> => {
      const cfg = this.applied;
      if (!cfg || !this.ready) return;
      const pending = this.stopping ? new Set<string>() : await this.pendingServices().catch(() => new Set<string>());
      for (const v of this.vips.values()) {
        const d = this.decision(v.cfg, pending);
        const change = v.vip.step(d, this.ctx.clock.now(), this.ctx.p.wallNow());
        if (change) {
          const lvl = change.first || change.announced ? 'info' : 'warn';
          this.ctx.log[lvl]({ mod: 'bgp', vip: v.cfg.address, announced: d.announce, reason: d.reason, detail: d.detail }, d.announce ? 'VIP announced' : 'VIP withdrawn');
          this.ctx.emit({ type: 'bgp', vip: v.cfg.address, announced: d.announce, reason: d.reason, detail: d.detail });
        }
        if (v.routed === d.announce && !change?.first) continue;
        try {
          if (d.announce) await this.ctx.p.addRoute(cfg.table, cfg.localDev, v.cfg.address, v.cfg.prefixLen);
          else await this.ctx.p.delRoute(cfg.table, v.cfg.address, v.cfg.prefixLen);
          v.routed = d.announce;
          v.lastError = undefined;
        } catch (e) {
          v.lastError = e instanceof Error ? e.message : String(e);
          this.ctx.log.error({ mod: 'bgp', vip: v.cfg.address, err: v.lastError }, d.announce ? 'announce failed: route not added' : 'withdraw failed: route not removed');
        }
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private decision(c: BgpConfig['vips'][number], pending: ReadonlySet<string>): BgpDecision {
    return decide({
      stopping: this.stopping,
      maintenance: this.maintenance !== undefined,
      operatorWithdraw: this.withdrawn.has(c.address),
      interfaces: c.trackInterfaces.map((name) => ({ name, up: this.links.get(name)?.up })),
      services: c.services.map((name) => ({ name, quorumUp: this.quorumUp(name), pending: pending.has(name), ipvsFailed: this.ipvsFailed(name) })),
    });
  }

  /** Read the speaker's sessions now and then (bounded by the timeout; never two at once). */
  private poll(delayMs: number): void {
    this.cancelPoll = this.ctx.clock.at(this.ctx.clock.now() + delayMs, () => {
      const sp = this.cfg?.speaker;
      if (!sp?.statusCommand || this.stopping) return;
      void this.ctx.p.runScript(sp.statusCommand, sp.statusTimeoutMs, this.ctx.cfg.scripts).then((r) => {
        const sessions = r.code === 0 && !r.timedOut ? parseSessions(sp.statusFormat, r.output) : undefined;
        const error = r.timedOut ? `timed out after ${sp.statusTimeoutMs} ms` : r.code !== 0 ? `exit ${r.code ?? r.signal}: ${r.output.trim().slice(0, 200)}`
          : sessions === undefined ? `output not in ${sp.statusFormat} format` : undefined;
        const est = sessions?.filter((s) => s.established).length ?? 0;
        if (error !== this.speaker.error || est !== this.speaker.established) {
          this.ctx.log[error || est === 0 ? 'warn' : 'info']({ mod: 'bgp', established: est, sessions: sessions?.map((s) => `${s.name} ${s.state}`), err: error }, 'BGP speaker sessions');
        }
        this.speaker = { sessions, established: est, readAtMs: this.ctx.clock.now(), error };
      }, (e: unknown) => {
        this.speaker = { ...this.speaker, readAtMs: this.ctx.clock.now(), error: e instanceof Error ? e.message : String(e) };
      }).finally(() => { if (!this.stopping && this.cancelPoll) this.poll(sp.statusIntervalMs); });
    });
  }

  private pick(vip: string): string {
    if (this.vips.has(vip)) return vip;
    throw new OperatorError('DUET_E_NO_VIP', `no BGP VIP ${vip} (have: ${[...this.vips.keys()].join(', ') || 'none'})`);
  }

  /** `duet withdraw VIP` (true) / `duet announce VIP` (false: back to the health gates). sticky: kept across reloads and restarts. */
  async operator(vip: string, withdraw: boolean, sticky = false): Promise<BgpVipStatus> {
    const v = this.pick(vip);
    if (withdraw) this.withdrawn.set(v, { sticky });
    else this.withdrawn.delete(v);
    this.save();
    this.ctx.log.info({ mod: 'bgp', vip: v, action: withdraw ? 'withdraw' : 'announce' }, 'operator BGP action');
    this.ctx.emit({ type: 'operator', action: withdraw ? 'withdraw' : 'announce', vip: v });
    await this.evaluate();
    return this.status()!.vips.find((x) => x.address === v)!;
  }

  /** Maintenance: on withdraws every VIP (before VRRP hands over), off lets health decide again. */
  async setMaintenance(on: boolean, sticky = false): Promise<void> {
    this.maintenance = on ? { sticky } : undefined;
    this.save();
    await this.evaluate();
  }

  /** A stop withdraws every VIP first (the addresses stay, for the flows still arriving). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.cancelPoll?.();
    this.cancelPoll = undefined;
    await this.evaluate();
    this.close();
  }

  private close(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.cancelPoll?.();
    this.cancelPoll = undefined;
  }

  status(): BgpStatus | undefined {
    const cfg = this.applied;
    if (!cfg) return undefined;
    const vips: BgpVipStatus[] = [];
    for (const v of this.vips.values()) {
      const s = v.vip.state;
      if (!s) continue;
      vips.push({ ...s, routed: v.routed, services: v.cfg.services, trackInterfaces: v.cfg.trackInterfaces, lastError: v.lastError });
    }
    return { table: cfg.table, localDev: cfg.localDev, operatorWithdrawn: [...this.withdrawn.keys()], maintenance: this.maintenance !== undefined, vips, speaker: this.speaker };
  }
}
