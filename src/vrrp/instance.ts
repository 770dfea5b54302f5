// One running VRRP instance: wires the pure FSM to a clock, a transport, VIPs, GARP and notify
// hooks. Everything with side effects arrives through InstanceDeps, so this file stays thin.
import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { RateLimitedLog } from '../core/log.js';
import { step, initialVrrp, nextDeadline, effectivePriority, type FsmConfig, type Vrrp, type Event, type Action, type State, type Reason, type DualMasterVia } from './fsm.js';
import { encodeAdvert, decodeAdvert } from './codec.js';
import { checkReceived, type ReceiveConfig } from './receive.js';
import type { Advert, RejectReason } from './types.js';
import type { AdvertPacer, VrrpTransport, TransportRinfo } from './transport.js';
import { AdvertAuth, readTrailer, type KeyRing } from './udp-auth.js';

export const VRRP_GROUP_V4 = '224.0.0.18';
export const VRRP_GROUP_V6 = 'ff02::12';

export interface InstanceSettings {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  family: 4 | 6;
  priority: number;
  /** Advertisement interval in centiseconds, the wire's unit (RFC 5798 §5.2.7), from the config on. */
  adverIntCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  authType: 0 | 1;
  authPassword: string | undefined;
  /** VIP addresses without prefix, as carried in adverts. */
  vipAddresses: string[];
  unicastPeers: string[];
  checksumPseudoHeader: boolean;
  /** False for transports that cannot see the TTL (UDP). */
  checkTtl: boolean;
  /** Accept adverts whose address list differs, as the RFCs allow (see ReceiveConfig). */
  lenientAddressList: boolean;
  /** Unicast: TTLs accepted instead of 255 only (min_ttl / max_ttl). */
  ttlRange?: { min: number; max: number } | undefined;
  /** UDP transport with udp_auth: the key ring (first key signs) and the UDP port the MAC binds. */
  udpAuth?: { keys: KeyRing; port: number } | undefined;
}

/** The side effects an instance needs. Each returns when done; failures are reported, not thrown. */
export interface InstanceDeps {
  clock: Clock;
  log: Logger;
  transport: VrrpTransport;
  /** Add or remove all of this instance's VIPs. */
  vips(op: 'add' | 'del'): Promise<void>;
  /** Start the gratuitous ARP / NA schedule (burst, delayed burst, refresh); returns a cancel. */
  announce(): () => void;
  /**
   * Announce again after a lower-priority advert while master (garp_lower_prio_repeat: a burst
   * now, one after garp_lower_prio_delay); returns a cancel. Absent: no re-announcement.
   */
  reannounce?(): () => void;
  /** Run notify hooks for a transition. */
  notify(from: State, to: State, reason: Reason): void;
  /** Wall-clock ms, for udp_auth's counters (default Date.now). */
  wallNow?: () => number;
  /**
   * A master's normal adverts from a thread of their own (realtime.advert_thread): started when
   * the adverts change, fed on every advert tick, stopped before anything else when this
   * instance stops being master. Priority-0 adverts and udp_auth go through the transport. The
   * instance closes it when it stops.
   */
  pacer?: AdvertPacer;
}

export interface TransitionEvent {
  instance: string;
  vrid: number;
  from: State;
  to: State;
  reason: Reason;
  priority: number;
  at: number;
}

export interface DualMasterEvent {
  instance: string;
  vrid: number;
  /** The other router's address and advertised priority (via advert), or the MAC that claimed address (via arp). */
  other: string;
  otherPriority: number | undefined;
  via: DualMasterVia;
  address: string | undefined;
  priority: number;
  at: number;
}

export interface InstanceStatus {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  state: State;
  priority: { configured: number; effective: number };
  masterAddress: string | undefined;
  masterPriority: number | undefined;
  sinceMs: number;
  lastReason: Reason | undefined;
  fault: boolean;
  /** The other router of the current dual-master episode, while it lasts (master only). */
  dualMaster: { other: string; otherPriority: number | undefined; via: DualMasterVia } | undefined;
  /** Why the instance is held in FAULT ("interface eth1 missing", "script chk_web down", "maintenance"); [] when not. */
  faultReasons: string[];
  counters: InstanceCounters;
}

export interface InstanceCounters {
  /** Dual-master episodes: another router kept advertising as master while we were (fsm.ts). */
  dualMasters: number;
  advertsSent: number;
  advertsReceived: number;
  sendErrors: number;
  dropped: Partial<Record<RejectReason, number>>;
  addressMismatch: number;
  transitions: number;
  /** With realtime.advert_thread: times the thread stopped because the main thread did not renew its lease. */
  advertThreadLapses?: number;
}

export class VrrpInstance extends EventEmitter {
  private fsmCfg: FsmConfig;
  private s: Vrrp;
  private cancelTimer: (() => void) | undefined;
  private cancelAnnounce: (() => void) | undefined;
  private cancelReannounce: (() => void) | undefined;
  private priorityDelta = 0;
  private rx: ReceiveConfig;
  /** Our own source address: a packet from it is our own, looped back. */
  private own: { addresses: ReadonlySet<string> };
  private readonly rejectLog: RateLimitedLog;
  /** VIP operations are serialised so an add never overtakes the del that preceded it. */
  private vipChain: Promise<void> = Promise.resolve();
  /** Links of vipChain not yet settled: with none, a VIP operation starts at once (see afterVips). */
  private vipPending = 0;
  /** Adverts handed to the transport and not yet sent: stop() waits for the priority-0 one. */
  private readonly inflight = new Set<Promise<void>>();
  /** Clock time of the last advert the transport took (undefined: none yet). */
  private lastSentAt: number | undefined;
  /** udp_auth: seals what we send, opens what we receive, keeps the replay window. */
  private auth: AdvertAuth | undefined;
  /** stop() waiting for a make-before-break handover to end our mastership. */
  private onLeft: (() => void) | undefined;
  private left: Promise<void> | undefined;
  /**
   * What the pacer repeats now (undefined: stopped). The adverts follow from the settings
   * (replaced as a whole by reconfigure), the priority and the source: while those three are the
   * same objects an advert tick only feeds the pacer; otherwise the adverts are encoded again and
   * compared (key: interval and packets) to tell a change from a reload that left them alone.
   */
  private paced: { cfg: InstanceSettings; priority: number; src: string; key: string } | undefined;
  /** The pacer's counts already added to ours. */
  private pacerSeen = { sent: 0, errors: 0, lapses: 0, realtimeError: undefined as string | undefined };
  readonly counters: InstanceCounters = { dualMasters: 0, advertsSent: 0, advertsReceived: 0, sendErrors: 0, dropped: {}, addressMismatch: 0, transitions: 0 };

  constructor(private cfg: InstanceSettings, private readonly deps: InstanceDeps) {
    super();
    this.fsmCfg = fsmConfigOf(cfg, deps.transport.srcAddress);
    this.s = initialVrrp(this.fsmCfg, deps.clock.now());
    this.rx = receiveConfigOf(cfg);
    this.own = { addresses: new Set([deps.transport.srcAddress]) };
    this.rejectLog = new RateLimitedLog(deps.log, 10_000, () => deps.clock.now());
    this.syncAuth(cfg);
    if (deps.pacer) this.counters.advertThreadLapses = 0;
  }

  /** A reload with other keys keeps the counter and the replay window (rotation without a transition). */
  private syncAuth(cfg: InstanceSettings): void {
    if (!cfg.udpAuth) this.auth = undefined;
    else if (this.auth) this.auth.setKeys(cfg.udpAuth.keys);
    else this.auth = new AdvertAuth(cfg.udpAuth.keys, this.deps.wallNow ?? Date.now);
  }

  get state(): State { return this.s.state; }
  get vrrp(): Readonly<Vrrp> { return this.s; }

  /** resume: carry on as master (the previous run stopped for a restart while master). */
  start(resume = false): void { this.dispatch(resume ? { type: 'startup', resume } : { type: 'startup' }); }

  /**
   * Graceful stop, make-before-break: a master sends priority 0 (the backup takes over after
   * Skew_Time) and keeps its VIPs, forwarding, until the new master's advert arrives (three
   * advert intervals at most), then removes them. Resolves once VIPs are gone.
   * keep (a restart): a master sends one normal advert and keeps its VIPs for the next run.
   */
  async stop(keep = false): Promise<void> {
    this.release(keep);
    // Handing over: until the new master's advert (or the bound) ends our mastership.
    if (this.s.state === 'master') await (this.left ??= new Promise<void>((resolve) => { this.onLeft = resolve; }));
    this.syncPacer();
    this.deps.pacer?.close();
    await Promise.all([this.vipChain, ...this.inflight]);
  }

  /**
   * The synchronous first half of stop(): the priority-0 (or, keep, last normal) advert goes to
   * the kernel now; the VIPs stay until the new master shows itself (keep: for the next run).
   * A second call does nothing.
   */
  release(keep = false): void {
    this.dispatch(keep ? { type: 'shutdown', keep } : { type: 'shutdown', handover: true });
    if (this.s.state === 'master') return; // handing over: the timers run on (see stop())
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** Tracking changed: a priority delta (sum of weights of failed trackers) and/or fault. */
  setTracking(delta: number, fault: boolean): void {
    if (fault !== this.s.fault) this.dispatch({ type: 'fault', fault });
    if (delta !== this.priorityDelta) {
      this.priorityDelta = delta;
      this.dispatch({ type: 'priority', priority: effectivePriority(this.cfg.priority, delta) });
    }
  }

  /**
   * Take new settings that keep this instance's identity (same socket, VRID, advert contents):
   * priority, preempt, preempt_delay and (v3) the advert interval change in place, and state is
   * kept. A new interval shows in the next advert and paces the ones after it.
   */
  reconfigure(next: InstanceSettings): void {
    this.cfg = next;
    this.syncAuth(next);
    // Both derived from the one settings object, as at construction: nothing kept in step by hand.
    this.fsmCfg = fsmConfigOf(next, this.fsmCfg.primaryAddress);
    this.rx = receiveConfigOf(next);
    const p = effectivePriority(next.priority, this.priorityDelta);
    if (p !== this.s.priority) this.dispatch({ type: 'priority', priority: p });
  }

  /**
   * The transport has a new socket (a recreated interface): its source address may have changed,
   * and with it our tie-breaking primary address and what counts as our own packet.
   */
  transportChanged(): void {
    const src = this.deps.transport.srcAddress;
    if (src === this.fsmCfg.primaryAddress) return;
    this.fsmCfg = fsmConfigOf(this.cfg, src);
    this.own = { addresses: new Set([src]) };
  }

  /**
   * The send path, for the watchdog: a master that has been master for three advert intervals
   * must have got an advert out within the last three (plus a second of slack). Why not, or undefined.
   */
  sendProblem(): string | undefined {
    if (this.s.state !== 'master') return undefined;
    this.syncPacer();
    const now = this.deps.clock.now();
    const limit = 3 * this.fsmCfg.adverIntCs * 10 + 1000;
    if (now - this.s.since < limit) return undefined;
    const since = this.lastSentAt === undefined ? now - this.s.since : now - this.lastSentAt;
    if (since <= limit) return undefined;
    return `${this.cfg.name}: master, but no advert sent for ${Math.round(since)} ms (${this.counters.sendErrors} send errors)`;
  }

  /** ARP from mac with address (one of ours) as its sender; the caller has left out our own MACs. */
  claim(address: string, mac: string): void { this.dispatch({ type: 'claim', address, mac }); }

  /** Operator failover of a master: priority 0 now, VIPs kept until the new master shows itself. */
  handOver(): void { this.dispatch({ type: 'handover' }); }

  force(to: 'master' | 'backup', reason: 'sync-group' | 'operator'): void {
    this.dispatch({ type: 'force', to, reason });
  }

  /** A VRRP message from the transport that carries our VRID (the daemon demultiplexes). */
  receive(msg: Uint8Array, rinfo: TransportRinfo): void {
    const family = rinfo.family === 'IPv4' ? 4 : 6;
    // udp_auth first: nothing of an unauthenticated packet is looked at, and no state changes.
    let payload = msg;
    if (this.auth && this.cfg.udpAuth) {
      const o = this.auth.open(msg, { src: rinfo.address, dst: rinfo.dst, port: this.cfg.udpAuth.port });
      if (!o.ok) return this.drop(o.error.reason, o.error.detail, rinfo.address);
      payload = o.value.payload;
    }
    const d = decodeAdvert(payload, { family, src: rinfo.address, dst: rinfo.dst, pseudoHeader: this.cfg.checksumPseudoHeader });
    if (!d.ok && d.error.reason === 'length' && !this.auth && readTrailer(msg)) {
      return this.drop('unexpected-auth', 'the advert carries a udp_auth trailer but this instance has no udp_auth (configure it on both nodes)', rinfo.address);
    }
    if (!d.ok) return this.drop(d.error.reason, d.error.detail, rinfo.address);
    const c = checkReceived(this.rx, { family, src: rinfo.address, dst: rinfo.dst, ttl: rinfo.ttl, advert: d.value }, this.own);
    if (!c.ok) return this.drop(c.error.reason, c.error.detail, rinfo.address);
    this.counters.advertsReceived++;
    if (c.value.addressMismatch) {
      this.counters.addressMismatch++;
      this.rejectLog.warn('address-mismatch', { instance: this.cfg.name, src: rinfo.address, theirs: d.value.addresses, ours: this.cfg.vipAddresses }, 'advert address list differs from ours');
    }
    this.dispatch({ type: 'advert', src: rinfo.address, adv: c.value.advert });
  }

  drop(reason: RejectReason, detail: string, src?: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.rejectLog.warn(reason, { instance: this.cfg.name, reason, detail, src }, 'advert dropped');
  }

  status(): InstanceStatus {
    this.syncPacer();
    return {
      name: this.cfg.name, interface: this.cfg.interface, vrid: this.cfg.vrid, version: this.cfg.version,
      state: this.s.state, priority: { configured: this.cfg.priority, effective: this.s.priority },
      masterAddress: this.s.masterAddress, masterPriority: this.s.masterPriority,
      sinceMs: this.s.since, lastReason: this.s.lastReason, fault: this.s.fault, faultReasons: [],
      dualMaster: this.s.dualMaster && this.deps.clock.now() - this.s.dualMaster.lastAt <= 3 * this.fsmCfg.adverIntCs * 10
        ? { other: this.s.dualMaster.src, otherPriority: this.s.dualMaster.priority, via: this.s.dualMaster.via } : undefined,
      counters: structuredClone(this.counters),
    };
  }

  private dispatch(e: Event): void {
    const now = this.deps.clock.now();
    const r = step(this.fsmCfg, this.s, e, now);
    this.s = r.state;
    // No longer master: the advert thread is silent before anything else happens.
    if (this.s.state !== 'master') this.stopPacer();
    for (const a of r.actions) this.perform(a, now);
    this.arm();
    if (this.onLeft && this.s.state !== 'master') { const f = this.onLeft; this.onLeft = undefined; f(); }
  }

  private arm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const d = nextDeadline(this.s);
    // A backup's only deadline is its Master_Down_Timer: kept to the µs (the takeover waits on it
    // and it runs out only when the master is gone). A master's advert timer needs no spin.
    if (d !== undefined) this.cancelTimer = this.deps.clock.at(d, () => { this.cancelTimer = undefined; this.tick(); }, { precise: this.s.state === 'backup' });
  }

  /**
   * A backup's Master_Down_Timer ran out: first read the adverts already waiting in the socket
   * (after a slow turn the timer fires before the poll phase would read them), then decide. An
   * advert among them restarts the timer and the tick finds nothing due.
   */
  private tick(): void {
    const s = this.s;
    if (s.state === 'backup' && s.masterDownDeadline !== undefined && this.deps.clock.now() >= s.masterDownDeadline) {
      this.deps.transport.drain?.();
      this.cancelTimer?.();
      this.cancelTimer = undefined;
    }
    this.dispatch({ type: 'tick' });
  }

  private perform(a: Action, now: number): void {
    switch (a.type) {
      case 'send-advert': return this.sendAdvert(a.priority);
      case 'vips': {
        const op = a.op;
        if (op === 'del') {
          this.cancelAnnounce?.(); this.cancelAnnounce = undefined;
          this.cancelReannounce?.(); this.cancelReannounce = undefined;
        }
        // First in a takeover, before its advert, log line and events: with nothing queued the
        // request goes to the kernel in this call, not in a later turn (the VIP is the takeover).
        this.afterVips(() => this.deps.vips(op), { startNow: true, what: op });
        return;
      }
      case 'garp':
        // Announce once the addresses are in place, so ARP replies and GARPs agree.
        this.afterVips(() => {
          if (this.s.state === 'master') { this.cancelAnnounce?.(); this.cancelAnnounce = this.deps.announce(); }
        });
        return;
      case 'reannounce':
        // Now, in this turn: the VIPs are in place (we have been master for an advert interval).
        if (this.s.state === 'master' && this.deps.reannounce) {
          this.cancelReannounce?.();
          this.cancelReannounce = this.deps.reannounce();
          this.deps.log.info({ instance: this.cfg.name, src: a.src, priority: a.priority, ours: this.s.priority }, 'lower-priority advert while master: advert sent and VIPs announced again');
        }
        return;
      case 'dual-master': {
        this.counters.dualMasters++;
        const ev: DualMasterEvent = { instance: this.cfg.name, vrid: this.cfg.vrid, other: a.src, otherPriority: a.priority, via: a.via, address: a.address, priority: this.s.priority, at: now };
        this.deps.log.warn({ ...ev, at: undefined }, a.via === 'arp'
          ? 'dual-master: another MAC claims an address of this instance'
          : 'dual-master: another router keeps advertising as master for this VRID');
        this.emit('dual-master', ev);
        return;
      }
      case 'transition': {
        this.counters.transitions++;
        const ev: TransitionEvent = { instance: this.cfg.name, vrid: this.cfg.vrid, from: a.from, to: a.to, reason: a.reason, priority: this.s.priority, at: now };
        this.deps.log.info({ instance: this.cfg.name, vrid: this.cfg.vrid, from: a.from, to: a.to, reason: a.reason, priority: this.s.priority, master: this.s.masterAddress }, 'transition');
        // Hooks start once the VIP work queued before them is done (keepalived, too, notifies after
        // the addresses and the first GARP): spawning one would otherwise sit between the VIP add
        // and the GARP.
        this.afterVips(() => {
          try { this.deps.notify(a.from, a.to, a.reason); } catch (e) { this.deps.log.error({ instance: this.cfg.name, err: e }, 'notify failed'); }
        });
        this.emit('transition', ev);
        return;
      }
    }
  }

  /**
   * Queue fn after the VIP work queued before it. startNow: when nothing is queued, fn starts in
   * this call rather than in a microtask after the rest of the turn. A failure is logged (what:
   * the VIP operation) and the chain goes on.
   */
  private afterVips(fn: () => void | Promise<void>, o: { startNow?: boolean; what?: 'add' | 'del' } = {}): void {
    const idle = this.vipPending === 0;
    this.vipPending++;
    const p = o.startNow && idle ? (async () => fn())() : this.vipChain.then(fn);
    this.vipChain = p.catch((e: unknown) => {
      this.deps.log.error({ instance: this.cfg.name, op: o.what, err: e }, o.what ? 'VIP update failed' : 'VIP follow-up failed');
    }).finally(() => { this.vipPending--; });
  }

  private sendAdvert(priority: number): void {
    const adv: Advert = {
      version: this.cfg.version, vrid: this.cfg.vrid, priority, maxAdverIntCs: this.fsmCfg.adverIntCs,
      addresses: this.cfg.vipAddresses,
      ...(this.cfg.version === 2 ? { authType: this.cfg.authType, authData: this.cfg.authPassword ?? '' } : {}),
    };
    const dsts = this.cfg.unicastPeers.length ? this.cfg.unicastPeers : [this.cfg.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6];
    if (this.pace(adv, dsts)) return;
    for (const dst of dsts) {
      const src = this.deps.transport.srcAddress;
      const plain = encodeAdvert(adv, { family: this.cfg.family, src, dst, pseudoHeader: this.cfg.checksumPseudoHeader });
      const bytes = this.auth && this.cfg.udpAuth ? this.auth.seal(plain, { src, dst, port: this.cfg.udpAuth.port }) : plain;
      const p = this.deps.transport.send(bytes, dst).then(
        () => { this.counters.advertsSent++; this.lastSentAt = this.deps.clock.now(); },
        (e: unknown) => {
          this.counters.sendErrors++;
          this.rejectLog.warn('send-error', { instance: this.cfg.name, dst, err: String(e) }, 'advert send failed');
        },
      ).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  /**
   * A master's normal advert through the advert thread: the same adverts as the last run only
   * renew its lease (the thread keeps the cadence); changed ones start it again, sending now.
   * False when the advert must go through the transport (no pacer, priority 0, udp_auth, not
   * master, or the thread's first send failed: the transport's send then counts the error).
   */
  private pace(adv: Advert, dsts: readonly string[]): boolean {
    const pacer = this.deps.pacer;
    if (!pacer || adv.priority === 0 || this.auth || this.s.state !== 'master') {
      this.stopPacer();
      return false;
    }
    const src = this.deps.transport.srcAddress;
    const feed = (): true => { pacer.feed(); this.syncPacer(); return true; };
    const p = this.paced;
    if (p && p.cfg === this.cfg && p.priority === adv.priority && p.src === src) return feed();
    const list = dsts.map((dst) => ({ dst, payload: encodeAdvert(adv, { family: this.cfg.family, src, dst, pseudoHeader: this.cfg.checksumPseudoHeader }) }));
    const intervalMs = this.fsmCfg.adverIntCs * 10;
    const key = `${intervalMs} ${src} ${list.map((x) => `${x.dst}=${Buffer.from(x.payload).toString('hex')}`).join(' ')}`;
    if (p && key === p.key) {
      // A reload that left the adverts alone: the thread keeps its cadence.
      this.paced = { cfg: this.cfg, priority: adv.priority, src, key };
      return feed();
    }
    try {
      pacer.run(list, intervalMs);
    } catch (e) {
      this.paced = undefined;
      this.rejectLog.warn('send-error', { instance: this.cfg.name, err: String(e) }, 'advert thread could not send; this advert goes through the event loop');
      return false;
    }
    this.paced = { cfg: this.cfg, priority: adv.priority, src, key };
    this.syncPacer();
    return true;
  }

  private stopPacer(): void {
    if (this.paced === undefined) return;
    this.paced = undefined;
    this.deps.pacer?.stop();
    this.syncPacer();
  }

  /** The advert thread's sends and errors into our counters (and the watchdog's last send time). */
  private syncPacer(): void {
    const pacer = this.deps.pacer;
    if (!pacer) return;
    const s = pacer.stats();
    const seen = this.pacerSeen;
    if (s.sent > seen.sent) {
      this.counters.advertsSent += s.sent - seen.sent;
      if (s.sinceLastSendMs !== undefined) this.lastSentAt = this.deps.clock.now() - s.sinceLastSendMs;
    }
    if (s.errors > seen.errors) {
      this.counters.sendErrors += s.errors - seen.errors;
      this.rejectLog.warn('send-error', { instance: this.cfg.name, err: s.lastError, errors: s.errors - seen.errors }, 'advert thread send failed');
    }
    if (s.lapses > seen.lapses) {
      this.counters.advertThreadLapses = s.lapses;
      this.deps.log.warn({ instance: this.cfg.name, lapses: s.lapses }, 'advert thread stopped for a while: the main thread did not renew its lease in time (a stall longer than realtime.advert_lease_ms)');
    }
    if (s.realtimeError !== undefined && seen.realtimeError === undefined) {
      this.deps.log.warn({ instance: this.cfg.name, err: s.realtimeError }, 'advert thread did not get its real-time priority');
    }
    this.pacerSeen = { sent: Math.max(s.sent, seen.sent), errors: Math.max(s.errors, seen.errors), lapses: Math.max(s.lapses, seen.lapses), realtimeError: s.realtimeError ?? seen.realtimeError };
  }
}

/** What the FSM needs of the settings (the advert interval stays in centiseconds). */
function fsmConfigOf(cfg: InstanceSettings, primaryAddress: string): FsmConfig {
  return { version: cfg.version, priority: cfg.priority, adverIntCs: cfg.adverIntCs, preempt: cfg.preempt, preemptDelayMs: cfg.preemptDelayMs, primaryAddress };
}

/** What the receive checks need of the settings. */
function receiveConfigOf(cfg: InstanceSettings): ReceiveConfig {
  return {
    version: cfg.version, vrid: cfg.vrid, family: cfg.family, adverIntCs: cfg.adverIntCs,
    authType: cfg.authType, authPassword: cfg.authPassword, addresses: cfg.vipAddresses, checkTtl: cfg.checkTtl,
    expectDst: cfg.unicastPeers.length ? 'unicast' : 'multicast',
    peers: cfg.unicastPeers,
    lenientAddressList: cfg.lenientAddressList,
    ...(cfg.ttlRange ? { ttlRange: cfg.ttlRange } : {}),
  };
}
