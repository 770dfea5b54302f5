// What the control socket shows: the shapes of `duet status`, `duet events`, reload and operator
// replies. The CLI, the metrics and the lab read these, never the daemon's internals.
import type { InstanceStatus } from '../vrrp/instance.js';
import type { State, Reason } from '../vrrp/fsm.js';
import type { Op } from '../ipvs/diff.js';
import type { KernelDaemon, SyncPlan } from '../sync/plan.js';
import type { BgpReason } from '../bgp/decide.js';
import type { BgpStatus } from '../daemon/bgp-runner.js';

export type OperatorMode = 'failover' | 'takeover' | 'maintenance';

export interface Override {
  mode: OperatorMode;
  /** Survives reloads and restarts (kept in the state directory). */
  sticky: boolean;
  /** Wall-clock ms, for status. */
  since: number;
}

export type ServerOverride = { service: string; server: string; since: number } & ({ kind: 'weight'; weight: number } | { kind: 'disable' });

export interface IpvsStatus {
  services: number;
  lastReconcile: { atMs: number; ops: Partial<Record<Op['op'], number>>; applied: number; failed: { what: string; error: string }[] } | undefined;
  error: string | undefined;
}

export interface SyncStatus {
  /** The role duet last applied, from the followed instance or group (mesh: both daemons). */
  role: SyncPlan | undefined;
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
  /** The VRRP sockets: open or not, how often opened, errors. */
  sockets: SocketView[];
  /** The health-check worker (undefined without checks): answering heartbeats, restarts. */
  checkWorker: {
    answering: boolean; restarts: number; lastRestart: string | undefined;
    /** How late checks run (past capacity they run late instead of failing): see check/engine.ts Lateness. */
    late?: {
      lateRuns: number; discounted: number; behindMs: number;
      /** Admission (check/admission.ts): runs waiting to start now, runs that waited so far, runs in flight and their bound. */
      queued?: number; queuedTotal?: number; inFlight?: number; maxInFlight?: number;
    };
  } | undefined;
  /** VIPs in bgp mode (undefined without a bgp section). */
  bgp?: BgpStatus | undefined;
}

export interface SocketView {
  ifname: string;
  kind: 'raw' | 'udp';
  family: 4 | 6;
  open: boolean;
  opens: number;
  errors: number;
  lastError: string | undefined;
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
  /** What was applied but cannot work yet (an instance on an interface this host lacks). */
  warnings?: string[];
}

/** One line of `duet events`. */
export type DuetEvent =
  | { type: 'transition'; instance: string; vrid: number; from: State; to: State; reason: Reason; priority: number }
  | ({ type: 'check' } & ({ kind: 'check' | 'weight' | 'quorum' } & Record<string, unknown>))
  | { type: 'reconcile'; ops: Partial<Record<Op['op'], number>>; applied: number; failed: { what: string; error: string }[] }
  | { type: 'reconcile-error'; error: string }
  | { type: 'sync'; role: SyncPlan | null; daemons: string[] }
  | { type: 'operator'; action: string; instance?: string; service?: string; server?: string; weight?: number; vip?: string }
  /** A VIP in bgp mode announced or withdrawn (reason: see src/bgp/decide.ts). */
  | { type: 'bgp'; vip: string; announced: boolean; reason: BgpReason; detail: string }
  /** via advert: other is the router's address, otherPriority its priority; via arp: other is the MAC that claimed address. */
  | { type: 'dual-master'; instance: string; vrid: number; via: 'advert' | 'arp'; other: string; otherPriority?: number; address?: string; priority: number }
  /** The stream's first line: attached, nothing after it is missed. */
  | { type: 'subscribed' };

export interface HandoverResult {
  instance: string;
  from: State;
  to: State;
  handoverMs: number;
  /** The master after the handover, as seen on the wire (ours for a takeover). */
  master: string | null;
}
