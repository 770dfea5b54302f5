// Operator actions: manual failover / takeover / maintenance of VRRP instances (overrides that
// the instances run with, sticky ones kept in the state directory), and real-server pins:
// weight, disable, enable, drain (applied to the kernel before the reply).
import type { Config } from '../config/schema.js';
import type { HandoverResult, OperatorMode, Override } from '../control/views.js';
import type { ServerAction } from '../control/protocol.js';
import type { TransitionEvent } from '../vrrp/instance.js';
import type { State } from '../vrrp/fsm.js';
import { destKey, serviceKey } from '../ipvs/model.js';
import { DuetError, type ErrorCode } from '../core/errors.js';
import { refusal } from './operator.js';
import { csToMs } from '../vrrp/timers.js';
import type { DaemonContext } from './context.js';
import type { IpvsLoop } from './ipvs-loop.js';
import type { VrrpRunner } from './vrrp-runner.js';

/** A refused or failed operator command: a stable code, and what was done before it failed. */
export class OperatorError extends DuetError {
  constructor(readonly code: ErrorCode, message: string, readonly done: HandoverResult[] = []) {
    super(message);
  }
}

/** VRRP overrides by instance name; the sticky ones are saved through the platform. */
export class Overrides {
  private readonly map = new Map<string, Override>();
  constructor(private readonly ctx: DaemonContext) {
    for (const [name, o] of Object.entries(ctx.p.loadOverrides() ?? {})) this.map.set(name, o);
  }
  get(name: string): Override | undefined { return this.map.get(name); }
  all(): Record<string, Override> { return Object.fromEntries(this.map); }
  set(name: string, o: Override | undefined): void {
    if (o) this.map.set(name, o);
    else this.map.delete(name);
    this.save();
  }
  /** A reload keeps only sticky overrides of instances that still exist. */
  pruneOnReload(next: Config): void {
    for (const [name, o] of [...this.map]) {
      if (!o.sticky || !next.vrrp.instances.some((i) => i.name === name)) this.map.delete(name);
    }
    this.save();
  }
  private save(): void {
    this.ctx.p.saveOverrides(Object.fromEntries([...this.map].filter(([, o]) => o.sticky)));
  }
}

export class OperatorActions {
  constructor(private readonly ctx: DaemonContext, private readonly overrides: Overrides, private readonly vrrp: VrrpRunner, private readonly ipvs: IpvsLoop) {}

  private setOverride(name: string, o: Override | undefined): void {
    this.overrides.set(name, o);
    this.vrrp.overrideChanged(name);
  }

  /** Instance names for an operator command: the ones named, or all. Unknown names throw. */
  private pick(names: readonly string[] | 'all'): string[] {
    const have = this.vrrp.names();
    if (names === 'all') return have;
    for (const n of names) if (!have.includes(n)) throw new OperatorError('DUET_E_NO_INSTANCE', `no instance named '${n}' (have: ${have.join(', ')})`);
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
      const r = this.vrrp.get(name)!;
      const st = r.inst.status();
      const why = refusal(mode, { state: st.state, configuredPriority: r.cfg.priority, masterAddress: st.masterAddress, masterPriority: st.masterPriority });
      if (why) throw new OperatorError('DUET_E_STATE', `${name}: ${why}`, out);
      const target = mode === 'failover' ? 'backup' : 'master';
      // A peer takes over after its Master_Down_Interval (3 adverts + skew): allow 4 and a margin.
      const timeoutMs = o.timeoutMs ?? 4 * csToMs(r.cfg.adverIntCs) + 2000;
      const t0 = this.ctx.clock.now();
      const seen = this.waitTransition(name, target, timeoutMs);
      this.setOverride(name, { mode, sticky: o.sticky, since: this.ctx.p.wallNow() });
      // Make-before-break: the peer takes over after its Skew_Time instead of Master_Down_Interval,
      // and this node keeps forwarding until the new master's first advert.
      if (mode === 'failover') r.inst.handOver();
      this.ctx.log.info({ instance: name, mode, sticky: o.sticky }, `operator ${mode} started`);
      this.ctx.emit({ type: 'operator', action: mode, instance: name });
      const e = await seen;
      if (!e) {
        this.setOverride(name, undefined);
        this.ctx.log.warn({ instance: name, mode, timeoutMs }, `operator ${mode} failed: nothing changed`);
        const who = mode === 'failover' ? 'no peer took over' : `the master (${st.masterAddress ?? '?'}) did not give way`;
        throw new OperatorError(mode === 'failover' ? 'DUET_E_NO_PEER' : 'DUET_E_NO_TAKEOVER',
          `${name}: ${who} within ${timeoutMs} ms (${mode === 'failover' ? 'the peer is absent, faulty or nopreempt' : 'it may be the address owner or unreachable'}); override withdrawn, ${name} is still ${st.state}`, out);
      }
      const ms = this.ctx.clock.now() - t0;
      const now = this.vrrp.get(name)?.inst.status();
      this.ctx.log.info({ instance: name, mode, handoverMs: Math.round(ms), master: now?.masterAddress }, `operator ${mode} done`);
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
    if (cleared.length) this.ctx.log.info({ instances: cleared, mode }, 'operator override cleared');
    return cleared;
  }

  /**
   * Maintenance on: hand over every instance this node is master of, then hold all in FAULT so
   * none becomes master. If a handover fails, maintenance is not entered unless `force`.
   */
  async maintenance(on: boolean, o: { sticky: boolean; force: boolean }): Promise<{ handedOver: HandoverResult[]; instances: string[] }> {
    const names = this.vrrp.names();
    if (!on) {
      this.clearOverride('maintenance', 'all');
      return { handedOver: [], instances: names };
    }
    const masters = names.filter((n) => this.vrrp.stateOf(n) === 'master');
    let handedOver: HandoverResult[] = [];
    try {
      handedOver = masters.length ? await this.handover('failover', masters, { sticky: o.sticky }) : [];
    } catch (e) {
      if (!o.force || !(e instanceof OperatorError)) throw e;
      handedOver = e.done;
    }
    for (const n of names) this.setOverride(n, { mode: 'maintenance', sticky: o.sticky, since: this.ctx.p.wallNow() });
    this.ctx.log.warn({ instances: names, sticky: o.sticky }, 'maintenance on: this node will not be master');
    return { handedOver, instances: names };
  }

  /**
   * duet weight / enable / disable / drain: pin a real server's weight (health checks can still
   * take a failed server out, but no longer change its weight), take it out, or put it back to
   * what config and checks say. The change is applied to the kernel before the reply.
   */
  async serverCommand(action: ServerAction, service: string, server: string, o: { weight?: number; timeoutMs?: number; progress?: (p: unknown) => void } = {}): Promise<unknown> {
    const f = findServer(this.ctx.cfg, service, server);
    if (!f) {
      const v = this.ctx.cfg.virtualServers.find((x) => x.name === service || serviceKey(x) === service);
      throw new OperatorError('DUET_E_NO_SERVER', v
        ? `no single real server '${server}' in ${v.name} (have: ${v.realServers.map((r) => destKey(r)).join(', ') || 'none'})`
        : `no virtual server '${service}' (have: ${this.ctx.cfg.virtualServers.map((x) => x.name).join(', ') || 'none'})`);
    }
    const key = `${f.svcKey} ${f.destKey}`;
    const base = { service: f.name, server: f.destKey, since: this.ctx.p.wallNow() };
    const pins = this.ipvs.pins;
    if (action === 'enable' || (action === 'weight' && o.weight === undefined)) pins.delete(key);
    else if (action === 'disable') pins.set(key, { ...base, kind: 'disable' });
    else pins.set(key, { ...base, kind: 'weight', weight: action === 'drain' ? 0 : o.weight! });
    this.ctx.log.info({ service: f.name, server: f.destKey, action, weight: o.weight }, 'operator server override');
    this.ctx.emit({ type: 'operator', action, service: f.name, server: f.destKey, ...(o.weight !== undefined ? { weight: o.weight } : {}) });
    await this.ipvs.reconcile();
    if (this.ipvs.error) throw new OperatorError('DUET_E_IPVS', `override set, but the kernel table could not be updated: ${this.ipvs.error}`);
    if (action !== 'drain') return { service: f.name, server: f.destKey, override: pins.get(key) ?? null };
    return this.drain(f, o.timeoutMs ?? 300_000, o.progress);
  }

  /** Wait until the drained server's active connections reach zero, reporting progress each second. */
  private async drain(f: { svcKey: string; destKey: string; name: string }, timeoutMs: number, progress?: (p: unknown) => void): Promise<unknown> {
    const t0 = this.ctx.clock.now();
    for (;;) {
      const d = await this.ipvs.stats();
      const st = d?.stats.get(f.svcKey)?.dests.get(f.destKey);
      const active = st?.activeConns ?? 0, inactive = st?.inactConns ?? 0;
      const elapsedMs = Math.round(this.ctx.clock.now() - t0);
      if (active === 0) return { service: f.name, server: f.destKey, drained: true, elapsedMs, inactive };
      if (elapsedMs >= timeoutMs) {
        throw new OperatorError('DUET_E_DRAIN_TIMEOUT', `${f.destKey} in ${f.name} still has ${active} active connection(s) after ${elapsedMs} ms; it stays at weight 0`);
      }
      progress?.({ service: f.name, server: f.destKey, active, inactive, elapsedMs });
      await new Promise<void>((r) => this.ctx.clock.at(this.ctx.clock.now() + Math.min(1000, timeoutMs - elapsedMs), r));
    }
  }

  private waitTransition(name: string, to: State, timeoutMs: number): Promise<TransitionEvent | undefined> {
    return new Promise((resolve) => {
      const off = this.vrrp.transitions.on((e) => {
        if (e.instance !== name || e.to !== to) return;
        off();
        cancel();
        resolve(e);
      });
      const cancel = this.ctx.clock.at(this.ctx.clock.now() + timeoutMs, () => { off(); resolve(undefined); });
    });
  }
}

/** A real server by service (name or key) and server (address:port, or address when unique). */
export function findServer(cfg: Config, service: string, server: string): { svcKey: string; destKey: string; name: string } | undefined {
  const v = cfg.virtualServers.find((x) => x.name === service || serviceKey(x) === service);
  if (!v) return undefined;
  const byKey = v.realServers.filter((r) => destKey(r) === server);
  const rs = byKey.length ? byKey : v.realServers.filter((r) => r.address === server);
  return rs.length === 1 ? { svcKey: serviceKey(v), destKey: destKey(rs[0]!), name: v.name } : undefined;
}
