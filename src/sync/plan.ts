// The IPVS connection-sync daemons a node should run, from its VRRP role, and the smallest set
// of kernel operations to get there. Pure.
//
// As keepalived's lvs_sync_daemon: the master of the followed instance (or sync group) runs the
// master daemon, which multicasts its connection table; every other node runs the backup daemon,
// which fills its table from those messages, so a takeover finds the connections there. A
// shutdown leaves the backup daemon running: the state a restarting node starts in.
//
// Mesh (active-active directors behind ECMP, docs/active-active.md): every node runs both
// daemons on one sync ID, always, so each learns every other node's connections and a flow the
// routers rehash onto it mid-stream continues. The kernel allows both at once in one network
// namespace (ip_vs_sync.c keeps one thread set per state), and its master socket has multicast
// loop off, so a node never reads back its own stream.

export interface SyncDaemonConfig {
  /** Interface the sync messages go out on / come in on. keepalived: lvs_sync_daemon <IF> */
  readonly interface: string;
  /** 0..255; master and backup must agree. keepalived: id */
  readonly syncId: number;
  readonly maxLen?: number;
  readonly mcastGroup?: string;
  readonly mcastPort?: number;
  readonly mcastTtl?: number;
  /** The VRRP instance (or sync group) whose mastership decides the role, or mesh: both daemons always. */
  readonly follow: { readonly kind: 'instance' | 'group'; readonly name: string } | { readonly kind: 'mesh' };
}

export type SyncRole = 'master' | 'backup';
/** What a node runs: one daemon for its role, or both (mesh). */
export type SyncPlan = SyncRole | 'mesh';

/**
 * A sync daemon's settings, as the kernel takes them to start one (a setting left out takes the
 * kernel's default). Whoever starts the daemon maps them to the wire (ipvs/genl-map.ts).
 */
export interface SyncDaemonSettings {
  /** Which of the two daemons: master (sends) or backup (receives). */
  readonly state: SyncRole;
  /** Interface the sync messages go out on / come in on. */
  readonly mcastIfn: string;
  readonly syncId: number;
  /** UDP payload size of sync messages (kernel default 1472 for IPv4). */
  readonly syncMaxlen?: number;
  /** Multicast group, IPv4 or IPv6 (kernel default 224.0.0.81). */
  readonly mcastGroup?: string;
  /** Default 8848. */
  readonly mcastPort?: number;
  /** Default 1. */
  readonly mcastTtl?: number;
}

/** A running daemon as the kernel reports it: every setting filled in. */
export type KernelDaemon = Required<SyncDaemonSettings>;

export type DaemonOp = { op: 'start'; daemon: SyncDaemonSettings } | { op: 'stop'; state: SyncRole };

/** The daemons a plan wants: mesh starts the backup one first (receive before sending). */
export function wantedDaemons(c: SyncDaemonConfig, plan: SyncPlan): SyncDaemonSettings[] {
  return plan === 'mesh' ? [wantedDaemon(c, 'backup'), wantedDaemon(c, 'master')] : [wantedDaemon(c, plan)];
}

/** How a config names what it follows, for status and logs. */
export function followsText(c: SyncDaemonConfig): string {
  return c.follow.kind === 'mesh' ? 'mesh' : `${c.follow.kind} ${c.follow.name}`;
}

export function wantedDaemon(c: SyncDaemonConfig, role: SyncRole): SyncDaemonSettings {
  return {
    state: role,
    mcastIfn: c.interface,
    syncId: c.syncId,
    ...(c.maxLen !== undefined ? { syncMaxlen: c.maxLen } : {}),
    ...(c.mcastGroup !== undefined ? { mcastGroup: c.mcastGroup } : {}),
    ...(c.mcastPort !== undefined ? { mcastPort: c.mcastPort } : {}),
    ...(c.mcastTtl !== undefined ? { mcastTtl: c.mcastTtl } : {}),
  };
}

/** Does a running daemon match what we want (fields we leave to the kernel's default match anything)? */
function matches(have: KernelDaemon, want: SyncDaemonSettings): boolean {
  return have.state === want.state && have.mcastIfn === want.mcastIfn && have.syncId === want.syncId &&
    (want.syncMaxlen === undefined || have.syncMaxlen === want.syncMaxlen) &&
    (want.mcastGroup === undefined || have.mcastGroup === want.mcastGroup) &&
    (want.mcastPort === undefined || have.mcastPort === want.mcastPort) &&
    (want.mcastTtl === undefined || have.mcastTtl === want.mcastTtl);
}

/**
 * Operations from `have` (the kernel's daemons) to exactly `want` (none, one daemon, or both for
 * a mesh): stop what is wrong first (the master daemon before the backup one starts, so a pair
 * node never sends and receives its own sync stream), then start what is missing, in `want`'s
 * order. A daemon with other settings is stopped and started again: the kernel cannot edit one.
 */
export function daemonOps(have: readonly KernelDaemon[], want: SyncDaemonSettings | readonly SyncDaemonSettings[] | undefined): DaemonOp[] {
  const wants: readonly SyncDaemonSettings[] = want === undefined ? [] : 'state' in want ? [want] : want;
  const stops: DaemonOp[] = [];
  const kept = new Set<SyncRole>();
  for (const h of have) {
    const w = wants.find((x) => x.state === h.state);
    if (w && !kept.has(h.state) && matches(h, w)) kept.add(h.state);
    else stops.push({ op: 'stop', state: h.state });
  }
  stops.sort((a, b) => (a.op === 'stop' && a.state === 'master' ? -1 : 0) - (b.op === 'stop' && b.state === 'master' ? -1 : 0));
  return [...stops, ...wants.filter((w) => !kept.has(w.state)).map((daemon): DaemonOp => ({ op: 'start', daemon }))];
}
