// A virtual server as configured: what desiredTable (ipvs/desired.ts) needs to build the model's
// Service and its Destinations. The config layer produces it (config/schema.ts maps the YAML
// into it); IPVS declares only the fields it reads.

import type { Destination, Scheduler, ServiceIdentity, TunnelCsum, TunnelType } from './model.js';

/** Scheduler flags (ipvsadm -b); each belongs to the scheduler named by its prefix. */
export const SCHEDULER_FLAGS = ['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'] as const;
export type SchedulerFlag = (typeof SCHEDULER_FLAGS)[number];

/** Tunnel encapsulation of a tunnelled real server. */
export interface TunnelSpec {
  readonly type: TunnelType;
  /** GUE destination port; 0 unless gue. */
  readonly port: number;
  readonly csum: TunnelCsum;
}

/** A real server (or sorry server): a destination with its configured weight. */
export interface RealServerSpec extends Pick<Destination, 'family' | 'address' | 'port' | 'forward' | 'weight' | 'upperThreshold' | 'lowerThreshold'> {
  /** With forward 'tunnel'; absent, the model's unused values apply (ipip, port 0, nocsum). */
  readonly tunnel?: TunnelSpec;
}

export type VirtualServerSpec = ServiceIdentity & {
  readonly scheduler: Scheduler;
  readonly schedulerFlags: readonly SchedulerFlag[];
  /** Whole seconds; 0 = no persistence. */
  readonly persistenceTimeoutS: number;
  /** Prefix length (IPv4 0..32, IPv6 1..128). */
  readonly persistenceNetmaskLen: number;
  readonly onePacket: boolean;
  /** In config order, which the table keeps. */
  readonly realServers: readonly RealServerSpec[];
  /** The only destination while quorum is lost. */
  readonly sorryServer?: RealServerSpec;
};
