// VRRP instance state machine (RFC 5798 §6.4, RFC 3768 §6.4), pure: event in, actions out.
// Timers are deadlines (monotonic ms) kept in the state; the driver arms one clock timer for
// nextDeadline() and feeds back a 'tick'. Nothing here reads a clock or does I/O.
import { assertNever } from '../core/result.js';
import type { Advert, VrrpVersion } from './types.js';
import { masterDownIntervalMs, skewTimeMs, csToMs } from './timers.js';

export type State = 'init' | 'backup' | 'master' | 'fault';

export type Reason =
  | 'startup'                 // Initialize -> Backup
  | 'address-owner'           // priority 255 goes straight to Master
  | 'master-down-timer'       // no advert for Master_Down_Interval
  | 'master-released'         // the master sent priority 0; we waited only Skew_Time
  | 'preempt'                 // we have the higher priority and the master was lower
  | 'higher-priority-advert'  // a master with higher priority (or equal, higher address) exists
  | 'fault'                   // a tracked interface or script failed
  | 'fault-cleared'
  | 'shutdown'
  | 'restart'                 // stopping for a restart: a master keeps its VIPs and sent no priority 0
  | 'resumed'                 // restarted in time to carry on as the master the previous run was
  | 'sync-group'              // a sync-group peer moved and took us with it
  | 'operator';               // manual failover / takeover

export interface FsmConfig {
  version: VrrpVersion;
  /** Configured priority, 1..255. */
  priority: number;
  /** Our Advertisement_Interval in centiseconds (v2: whole seconds × 100). */
  adverIntCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** Our primary address on the interface: the tie-breaker when priorities are equal. */
  primaryAddress: string;
}

export interface Vrrp {
  state: State;
  /** Priority we advertise: configured ± tracking, clamped 1..254 (255 only for an owner). */
  priority: number;
  fault: boolean;
  /** Master_Adver_Interval (cs): ours while master, learned from the master in v3 backup. */
  masterAdverIntCs: number;
  adverDeadline: number | undefined;
  masterDownDeadline: number | undefined;
  /** Set while a preempt_delay runs against a lower-priority master. */
  preemptAt: number | undefined;
  /** Backup only: the timer was shortened by a priority-0 advert, or is running out a preempt. */
  downCause: 'released' | 'preempt' | undefined;
  /** Who we believe is master (ourselves when master). */
  masterAddress: string | undefined;
  masterPriority: number | undefined;
  /** When the current state was entered. */
  since: number;
  lastReason: Reason | undefined;
  /** Master only: when we last re-announced because of a lower-priority advert (see onAdvert). */
  reannouncedAt: number | undefined;
  /** Master only: the current dual-master episode (see noteDualMaster). */
  dualMaster: { src: string; priority: number | undefined; via: DualMasterVia; lastAt: number } | undefined;
  /**
   * Master only, stopping make-before-break: until when we keep the VIPs (advertising priority 0)
   * waiting for the new master's advert. undefined otherwise.
   */
  leavingUntil?: number | undefined;
}

/** How another master showed itself: its adverts, or ARP claiming one of our addresses from another MAC. */
export type DualMasterVia = 'advert' | 'arp';

export type Event =
  /** resume: the previous run was master and stopped for a restart recently enough (the daemon decides). */
  | { type: 'startup'; resume?: boolean }
  /**
   * keep: stopping for a restart; a master keeps its VIPs and sends one last normal advert.
   * handover: make-before-break: a master sends priority 0 (again at each advert interval) and
   * keeps its VIPs until the new master's advert arrives, or leaveBoundMs() at most; then it goes
   * to Initialize. Without either: priority 0, VIPs removed, Initialize at once (RFC 5798 §6.4.3).
   */
  | { type: 'shutdown'; keep?: boolean; handover?: boolean }
  | { type: 'tick' }
  | { type: 'advert'; src: string; adv: Advert }
  /** ARP from another MAC with one of our addresses as its sender (the daemon filters out our own). */
  | { type: 'claim'; address: string; mac: string }
  | { type: 'priority'; priority: number }
  /**
   * Operator failover, make-before-break: a master sends priority 0 so backups take over after
   * Skew_Time, and keeps its VIPs until the new master's advert (higher priority) arrives.
   */
  | { type: 'handover' }
  | { type: 'fault'; fault: boolean }
  | { type: 'force'; to: 'master' | 'backup'; reason: 'sync-group' | 'operator' };

export type Action =
  | { type: 'send-advert'; priority: number }
  | { type: 'vips'; op: 'add' | 'del' }
  | { type: 'garp' }
  /**
   * A master heard a lower-priority advert (a backup that was master for a moment, and may have
   * taken clients with its GARPs): announce the VIPs again (keepalived's garp_lower_prio_repeat).
   */
  | { type: 'reannounce'; src: string; priority: number }
  /**
   * A new dual-master episode: another router keeps advertising as master for our VRID (src: its
   * address, priority: its priority), or another MAC claims our address (src: the MAC, address).
   */
  | { type: 'dual-master'; src: string; priority: number | undefined; via: DualMasterVia; address?: string }
  | { type: 'transition'; from: State; to: State; reason: Reason };

export interface StepResult { state: Vrrp; actions: Action[] }

export function initialVrrp(cfg: FsmConfig, now: number): Vrrp {
  return {
    state: 'init', priority: cfg.priority, fault: false, masterAdverIntCs: cfg.adverIntCs,
    adverDeadline: undefined, masterDownDeadline: undefined, preemptAt: undefined, downCause: undefined,
    masterAddress: undefined, masterPriority: undefined, since: now, lastReason: undefined, reannouncedAt: undefined, dualMaster: undefined,
  };
}

/** The earliest deadline the driver must wake us for, or undefined. */
export function nextDeadline(s: Vrrp): number | undefined {
  const ds = [s.adverDeadline, s.masterDownDeadline, s.leavingUntil].filter((d): d is number => d !== undefined);
  return ds.length ? Math.min(...ds) : undefined;
}

/** Clamp a tracked priority: an address owner stays 255; others live in 1..254 (RFC 5798 §5.2.4). */
export function effectivePriority(configured: number, delta: number): number {
  if (configured === 255) return 255;
  return Math.min(254, Math.max(1, configured + delta));
}

const cs = csToMs;

/**
 * How long a master stopping make-before-break keeps its VIPs at most: three of its advert
 * intervals (a backup takes over Skew_Time, under one interval, after a priority 0 it heard; the
 * priority 0 is repeated each interval) and 20 ms for the new master's advert to reach us.
 */
export function leaveBoundMs(cfg: FsmConfig): number {
  return 3 * cs(cfg.adverIntCs) + 20;
}

function masterDownMs(cfg: FsmConfig, s: Vrrp): number {
  return masterDownIntervalMs(s.priority, s.masterAdverIntCs, cfg.version);
}

/** Compare IPv4/IPv6 textual addresses numerically (for the equal-priority tie-break). */
export function compareAddresses(a: string, b: string): number {
  const key = (x: string): number[] => x.includes(':') ? expandV6(x) : x.split('.').map(Number);
  const ka = key(a), kb = key(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? 0) - (kb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function expandV6(x: string): number[] {
  const [head = '', tail] = x.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16) || 0);
}

export function step(cfg: FsmConfig, s0: Vrrp, e: Event, now: number): StepResult {
  const s: Vrrp = { ...s0 };
  const actions: Action[] = [];
  const go = (to: State, reason: Reason): void => enter(cfg, s, to, reason, now, actions);

  switch (e.type) {
    case 'startup':
      if (s.state !== 'init') break;
      if (s.fault) go('fault', 'fault');
      else if (s.priority === 255) go('master', 'address-owner');
      else if (e.resume) go('master', 'resumed');
      else go('backup', 'startup');
      break;

    case 'shutdown':
      if (s.leavingUntil !== undefined) break; // already handing over
      if (e.handover && !e.keep && s.state === 'master') {
        // Backups hearing priority 0 take over after Skew_Time; we keep forwarding meanwhile.
        actions.push({ type: 'send-advert', priority: 0 });
        s.adverDeadline = now + cs(cfg.adverIntCs);
        s.leavingUntil = now + leaveBoundMs(cfg);
        break;
      }
      if (e.keep && s.state === 'master') {
        // The peer's Master_Down_Timer restarts from this advert: the next run has that long to resume.
        actions.push({ type: 'send-advert', priority: s.priority });
        go('init', 'restart');
        break;
      }
      if (s.state === 'master') {
        // RFC 5798 §6.4.3: send an ADVERTISEMENT with Priority = 0 so the backup takes over after Skew_Time.
        actions.push({ type: 'send-advert', priority: 0 }, { type: 'vips', op: 'del' });
      }
      if (s.state !== 'init') go('init', 'shutdown');
      break;

    case 'tick':
      onTick(cfg, s, now, go, actions);
      break;

    case 'advert':
      onAdvert(cfg, s, e.src, e.adv, now, go, actions);
      break;

    case 'claim':
      // Within the first advert interval the router we took over from may still announce the
      // address (a GARP refresh in flight): not yet a second master.
      if (s.state === 'master' && s.leavingUntil === undefined && now - s.since >= cs(cfg.adverIntCs)) noteDualMaster(cfg, s, now, actions, { src: e.mac, priority: undefined, via: 'arp', address: e.address });
      break;

    case 'priority': {
      const before = s.priority;
      s.priority = e.priority;
      // A master advertises a changed priority at once so a preempting backup need not wait.
      if (s.state === 'master' && s.leavingUntil === undefined && before !== s.priority) {
        actions.push({ type: 'send-advert', priority: s.priority });
        s.adverDeadline = now + cs(cfg.adverIntCs);
        s.masterPriority = s.priority;
      }
      if (s.state === 'backup' && s.masterDownDeadline !== undefined && s.downCause === undefined) {
        // Skew depends on our priority; keep the deadline consistent with the new one.
        s.masterDownDeadline = Math.max(now, s.masterDownDeadline + skewTimeMs(s.priority, s.masterAdverIntCs, cfg.version) - skewTimeMs(before, s.masterAdverIntCs, cfg.version));
      }
      break;
    }

    case 'handover':
      // Backups hearing priority 0 wait only Skew_Time (RFC 3768 6.4.2, RFC 5798 6.4.2). We stay
      // master, VIPs kept, until the new master's advert outranks our (lowered) priority; the next
      // regular advert carries that priority, which a preempting backup discards.
      if (s.state === 'master' && s.leavingUntil === undefined) {
        actions.push({ type: 'send-advert', priority: 0 });
        s.adverDeadline = now + cs(cfg.adverIntCs);
      }
      break;

    case 'fault':
      if (s.fault === e.fault) break;
      s.fault = e.fault;
      if (e.fault) {
        if (s.state === 'master') {
          // Hand over immediately, as on shutdown, rather than make the peer wait Master_Down_Interval.
          actions.push({ type: 'send-advert', priority: 0 }, { type: 'vips', op: 'del' });
        }
        if (s.state === 'master' || s.state === 'backup') go('fault', 'fault');
      } else if (s.state === 'fault') {
        if (s.priority === 255) go('master', 'fault-cleared');
        else go('backup', 'fault-cleared');
      }
      break;

    case 'force':
      if (s.state === 'init' || s.state === 'fault') break;
      if (e.to === 'master' && s.state === 'backup') go('master', e.reason);
      else if (e.to === 'backup' && s.state === 'master') {
        // Releasing mastership: tell the peer at once (priority 0), like a clean stop.
        actions.push({ type: 'send-advert', priority: 0 }, { type: 'vips', op: 'del' });
        go('backup', e.reason);
      }
      break;

    default:
      assertNever(e, 'event');
  }
  return { state: s, actions };
}

function onTick(cfg: FsmConfig, s: Vrrp, now: number, go: (to: State, r: Reason) => void, actions: Action[]): void {
  if (s.state === 'master' && s.leavingUntil !== undefined && now >= s.leavingUntil) {
    // No new master showed itself in time (none there, or it cannot hear us): leave anyway.
    actions.push({ type: 'vips', op: 'del' });
    go('init', 'shutdown');
    return;
  }
  if (s.state === 'master' && s.adverDeadline !== undefined && now >= s.adverDeadline) {
    // Handing over: priority 0 again (a backup may have missed the first; each restarts its Skew_Time).
    actions.push({ type: 'send-advert', priority: s.leavingUntil !== undefined ? 0 : s.priority });
    // Schedule from the old deadline, not from now, so a late wake-up does not drift the cadence.
    s.adverDeadline = Math.max(s.adverDeadline + cs(cfg.adverIntCs), now + 1);
  }
  if (s.state === 'backup' && s.masterDownDeadline !== undefined && now >= s.masterDownDeadline) {
    const reason: Reason = s.downCause === 'released' ? 'master-released' : s.downCause === 'preempt' ? 'preempt' : 'master-down-timer';
    go('master', reason);
  }
}

function onAdvert(cfg: FsmConfig, s: Vrrp, src: string, adv: Advert, now: number, go: (to: State, r: Reason) => void, actions: Action[]): void {
  if (s.state === 'backup') {
    if (adv.priority === 0) {
      // RFC 5798 §6.4.2: Set the Master_Down_Timer to Skew_Time.
      s.masterDownDeadline = now + skewTimeMs(s.priority, s.masterAdverIntCs, cfg.version);
      s.downCause = 'released';
      s.masterAddress = undefined;
      s.masterPriority = 0;
      return;
    }
    const lower = adv.priority < s.priority;
    if (!cfg.preempt || !lower || holdingForPreemptDelay(cfg, s, now)) {
      // Accept this master: adopt its interval (v3) and restart the down timer.
      if (cfg.version === 3) s.masterAdverIntCs = adv.maxAdverIntCs;
      s.masterDownDeadline = now + masterDownMs(cfg, s);
      s.downCause = lower ? 'preempt' : undefined;
      if (!lower) s.preemptAt = undefined;
      s.masterAddress = src;
      s.masterPriority = adv.priority;
      return;
    }
    // Preempt: discard the lower-priority advert; the running Master_Down_Timer makes us master.
    // Only the router we take as master shapes what status says: a stray low-priority packet
    // while a higher master is known changes nothing.
    if (s.masterAddress === undefined || s.masterAddress === src) {
      s.downCause = 'preempt';
      s.masterAddress = src;
      s.masterPriority = adv.priority;
    }
    return;
  }
  if (s.state === 'master' && s.leavingUntil !== undefined) {
    // Handing over: a router advertising a real priority is the new master; it has the VIPs and
    // has announced them, so ours go now. (Another router leaving too changes nothing.)
    if (adv.priority > 0) {
      actions.push({ type: 'vips', op: 'del' });
      go('init', 'shutdown');
    }
    return;
  }
  if (s.state === 'master') {
    if (adv.priority === 0) {
      // RFC 5798 §6.4.3: another router is leaving; re-assert at once.
      actions.push({ type: 'send-advert', priority: s.priority });
      s.adverDeadline = now + cs(cfg.adverIntCs);
      return;
    }
    const theirsHigher = adv.priority > s.priority ||
      (adv.priority === s.priority && compareAddresses(src, cfg.primaryAddress) > 0);
    if (theirsHigher) {
      if (cfg.version === 3) s.masterAdverIntCs = adv.maxAdverIntCs;
      actions.push({ type: 'vips', op: 'del' });
      go('backup', 'higher-priority-advert');
      s.masterAddress = src;
      s.masterPriority = adv.priority;
    }
    // Lower priority: discard (RFC 5798 §6.4.3). But a router that sends adverts believes it is
    // master too. Just after we became master its advert may have crossed ours in flight; once it
    // has had an advert interval to hear us, it should have yielded: if it still advertises, both
    // of us hold the VIP (a backup that missed our adverts for a moment, one-way loss, a partition
    // that healed, a misconfigured peer). Answered at once with our own advert so a peer that can
    // hear us yields now, and the VIPs announced again (keepalived's garp_lower_prio_repeat) so
    // clients that followed its GARPs come back: once per advert interval; in between, adverts at
    // most every half interval. The dual-master episode is said once (it ends after three quiet
    // intervals).
    const interval = cs(cfg.adverIntCs);
    if (now - s.since < interval) return;
    if (s.reannouncedAt === undefined || now - s.reannouncedAt >= interval) {
      actions.push({ type: 'send-advert', priority: s.priority }, { type: 'reannounce', src, priority: adv.priority });
      s.adverDeadline = now + interval;
      s.reannouncedAt = now;
    } else if (s.adverDeadline !== undefined && s.adverDeadline - now <= interval / 2) {
      actions.push({ type: 'send-advert', priority: s.priority });
      s.adverDeadline = now + interval;
    }
    noteDualMaster(cfg, s, now, actions, { src, priority: adv.priority, via: 'advert' });
  }
}

/**
 * One dual-master episode, whatever shows it (adverts, ARP): said once, when it starts; it ends
 * after three advert intervals without a sign. Status shows the latest sign.
 */
function noteDualMaster(cfg: FsmConfig, s: Vrrp, now: number, actions: Action[], d: { src: string; priority: number | undefined; via: DualMasterVia; address?: string }): void {
  if (s.dualMaster === undefined || now - s.dualMaster.lastAt > 3 * cs(cfg.adverIntCs)) actions.push({ type: 'dual-master', ...d });
  s.dualMaster = { src: d.src, priority: d.priority, via: d.via, lastAt: now };
}

/** preempt_delay: keep accepting a lower-priority master until the delay since we first saw it has run. */
function holdingForPreemptDelay(cfg: FsmConfig, s: Vrrp, now: number): boolean {
  if (cfg.preemptDelayMs <= 0) return false;
  if (s.preemptAt === undefined) s.preemptAt = now + cfg.preemptDelayMs;
  return now < s.preemptAt;
}

/** State entry actions (one place, like FRR's vrrp_change_state). */
function enter(cfg: FsmConfig, s: Vrrp, to: State, reason: Reason, now: number, actions: Action[]): void {
  const from = s.state;
  s.state = to;
  s.since = now;
  s.lastReason = reason;
  s.preemptAt = undefined;
  s.downCause = undefined;
  s.dualMaster = undefined;
  s.reannouncedAt = undefined;
  s.adverDeadline = undefined;
  s.masterDownDeadline = undefined;
  s.leavingUntil = undefined;
  // Leaving Initialize for a non-master state: drop any VIP a crashed earlier run left behind.
  if (from === 'init' && to !== 'master' && to !== 'init') actions.push({ type: 'vips', op: 'del' });
  switch (to) {
    case 'master':
      s.masterAdverIntCs = cfg.adverIntCs;
      s.masterAddress = cfg.primaryAddress;
      s.masterPriority = s.priority;
      // The VIPs first: the address add is the takeover (the advert follows within microseconds).
      actions.push({ type: 'vips', op: 'add' }, { type: 'send-advert', priority: s.priority }, { type: 'garp' });
      s.adverDeadline = now + cs(cfg.adverIntCs);
      break;
    case 'backup':
      if (from !== 'master') s.masterAdverIntCs = cfg.adverIntCs;
      s.masterDownDeadline = now + masterDownMs(cfg, s);
      if (from === 'init' || from === 'fault') { s.masterAddress = undefined; s.masterPriority = undefined; }
      break;
    case 'fault':
    case 'init':
      s.masterAddress = undefined;
      s.masterPriority = undefined;
      break;
    default:
      assertNever(to, 'state');
  }
  actions.push({ type: 'transition', from, to, reason });
}
