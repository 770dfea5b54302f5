// The announce-or-withdraw decision for a VIP in `bgp` mode (active-active behind ECMP): pure,
// time from the caller. The BGP speaker (BIRD) announces the VIP while duet keeps its route in
// the export table; this core says whether that route should be there, and why.
//
// Order of the reasons (the first that applies wins, so status names the most basic one):
//   stopping            duet is stopping: withdraw before anything else goes
//   maintenance         `duet maintenance on`: withdraw first, traffic moves to the others
//   operator            `duet withdraw VIP`
//   interface-down      a tracked interface is down or missing: this node cannot forward
//   ipvs-failed         a service behind the VIP is not in the kernel's IPVS table (its add failed)
//   quorum-lost         a service behind the VIP has lost quorum (no healthy real servers)
//   checks-pending      a service's checks have no result yet (just started): not known healthy
//   healthy             none of the above: announce
// `duet announce VIP` clears an operator withdraw; it never overrides the health gates (a
// director that announces but cannot forward would blackhole its share of the flows).

export type BgpReason = 'healthy' | 'stopping' | 'maintenance' | 'operator' | 'interface-down' | 'ipvs-failed' | 'quorum-lost' | 'checks-pending';

export interface BgpInputs {
  stopping: boolean;
  maintenance: boolean;
  /** `duet withdraw VIP` in force. */
  operatorWithdraw: boolean;
  /** Tracked interfaces: up (administratively up and running), or undefined when missing. */
  interfaces: ReadonlyArray<{ name: string; up: boolean | undefined }>;
  /**
   * Services gating the VIP: quorum up (undefined: no checks, nothing to gate on), and pending
   * while none of its checks has a result yet (the engine's quorum is optimistic until then);
   * ipvsFailed when it is not in the kernel's IPVS table (the last reconcile failed to add it).
   */
  services: ReadonlyArray<{ name: string; quorumUp: boolean | undefined; pending?: boolean; ipvsFailed?: boolean }>;
}

export interface BgpDecision {
  announce: boolean;
  reason: BgpReason;
  /** For people: which interface or service, say. */
  detail: string;
}

export function decide(i: BgpInputs): BgpDecision {
  if (i.stopping) return { announce: false, reason: 'stopping', detail: 'duet is stopping' };
  if (i.maintenance) return { announce: false, reason: 'maintenance', detail: 'maintenance is on' };
  if (i.operatorWithdraw) return { announce: false, reason: 'operator', detail: 'withdrawn by the operator (duet announce VIP to undo)' };
  const down = i.interfaces.filter((x) => x.up !== true);
  if (down.length) {
    return { announce: false, reason: 'interface-down', detail: down.map((x) => `${x.name} ${x.up === undefined ? 'missing' : 'down'}`).join(', ') };
  }
  const unprogrammed = i.services.filter((s) => s.ipvsFailed === true);
  if (unprogrammed.length) return { announce: false, reason: 'ipvs-failed', detail: `not in the IPVS table: ${unprogrammed.map((s) => s.name).join(', ')}` };
  const lost = i.services.filter((s) => s.quorumUp === false);
  if (lost.length) return { announce: false, reason: 'quorum-lost', detail: `no quorum: ${lost.map((s) => s.name).join(', ')}` };
  const pending = i.services.filter((s) => s.pending === true);
  if (pending.length) return { announce: false, reason: 'checks-pending', detail: `no check result yet: ${pending.map((s) => s.name).join(', ')}` };
  return { announce: true, reason: 'healthy', detail: i.services.length ? `quorum: ${i.services.map((s) => s.name).join(', ')}` : 'no services gate it' };
}

/** One VIP's announcement over time: what was decided, why, and since when (clock ms). */
export interface BgpVipView {
  address: string;
  announced: boolean;
  reason: BgpReason;
  detail: string;
  /** Clock ms of the last change of announced (or of the first decision). */
  sinceMs: number;
  /** Wall-clock ms of the same moment, for people. */
  sinceWall: number;
  changes: number;
}

export interface BgpChange {
  address: string;
  announced: boolean;
  reason: BgpReason;
  detail: string;
  /** true for the first decision after start. */
  first: boolean;
}

/**
 * The tracker: feed it a decision; it says whether the announcement changed. A changed reason
 * with the same outcome (withdrawn for maintenance, then also for quorum) updates the reason but
 * not `since`, which is when the route last appeared or went.
 */
export class BgpVip {
  private view: BgpVipView | undefined;
  constructor(readonly address: string) {}

  get state(): BgpVipView | undefined { return this.view; }

  step(d: BgpDecision, nowMs: number, wallMs: number): BgpChange | undefined {
    const v = this.view;
    if (v && v.announced === d.announce) {
      v.reason = d.reason;
      v.detail = d.detail;
      return undefined;
    }
    this.view = { address: this.address, announced: d.announce, reason: d.reason, detail: d.detail, sinceMs: nowMs, sinceWall: wallMs, changes: v ? v.changes + 1 : 0 };
    return { address: this.address, announced: d.announce, reason: d.reason, detail: d.detail, first: v === undefined };
  }
}
