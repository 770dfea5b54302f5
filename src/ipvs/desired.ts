// The configured virtual servers (service.ts) → the desired IPVS table. Pure.
//
// The seam for what is not in the config: `weight` is asked once per real server and returns
// the weight to program, or 'remove' to leave the destination out. Health checks (a failed
// real server: 0 with keepalived's inhibit_on_failure, else 'remove') and operator overrides
// (drain to 0, disable) plug in there; without it the configured weights apply.

import { BugError } from '../core/errors.js';
import { destKey, NO_FLAGS, serviceKey, type Destination, type Service, type ServiceFlags, type Table } from './model.js';
import type { RealServerSpec, VirtualServerSpec } from './service.js';

/** Weight to program for one real server (0..65535), or 'remove' to omit it. */
export type WeightFn = (svcKey: string, destKey: string, configured: number) => number | 'remove';

export interface DesiredOptions {
  readonly weight?: WeightFn;
  /** True when a service has lost quorum: it then holds only its sorry server, if it has one. */
  readonly quorumLost?: (svcKey: string) => boolean;
}

/** The table the config asks for, services and destinations in config order. */
export function desiredTable(cfg: readonly VirtualServerSpec[], o: DesiredOptions = {}): Table {
  const table = new Map<string, Service>();
  for (const v of cfg) {
    const svc = service(v, o.weight, o.quorumLost);
    const k = serviceKey(svc);
    if (table.has(k)) throw new BugError(`virtual server ${k} configured twice (the config schema rejects this)`);
    table.set(k, svc);
  }
  return table;
}

function service(v: VirtualServerSpec, weightOf: WeightFn | undefined, quorumLost: DesiredOptions['quorumLost']): Service {
  const flags: ServiceFlags = {
    ...NO_FLAGS,
    persistent: v.persistenceTimeoutS > 0,
    onePacket: v.onePacket,
    shFallback: v.schedulerFlags.includes('sh-fallback'),
    shPort: v.schedulerFlags.includes('sh-port'),
    mhFallback: v.schedulerFlags.includes('mh-fallback'),
    mhPort: v.schedulerFlags.includes('mh-port'),
  };
  const attrs = {
    family: v.family,
    scheduler: v.scheduler,
    flags,
    persistenceTimeoutS: v.persistenceTimeoutS,
    persistenceNetmaskLen: v.persistenceNetmaskLen,
  };
  const base: Service = v.kind === 'fwmark'
    ? { kind: 'fwmark', fwmark: v.fwmark, ...attrs, dests: new Map() }
    : { kind: 'addr', protocol: v.protocol, address: v.address, port: v.port, ...attrs, dests: new Map() };
  const sk = serviceKey(base);
  // keepalived: with quorum lost, the sorry server replaces the remaining real servers.
  if (v.sorryServer && quorumLost?.(sk)) {
    const d = destination(v.sorryServer);
    return { ...base, dests: new Map([[destKey(d), d]]) };
  }
  const dests = new Map<string, Destination>();
  const seen = new Set<string>();
  for (const r of v.realServers) {
    const d = destination(r);
    const dk = destKey(d);
    if (seen.has(dk)) throw new BugError(`real server ${dk} listed twice in ${sk} (the config schema rejects this)`);
    seen.add(dk);
    const w = weightOf ? weightOf(sk, dk, r.weight) : r.weight;
    if (w === 'remove') continue;
    if (!Number.isInteger(w) || w < 0 || w > 65535) throw new BugError(`weight for ${sk} ${dk} out of range: ${w}`);
    dests.set(dk, w === d.weight ? d : { ...d, weight: w });
  }
  return { ...base, dests };
}

function destination(r: RealServerSpec): Destination {
  return {
    family: r.family,
    address: r.address,
    port: r.port,
    forward: r.forward,
    weight: r.weight,
    upperThreshold: r.upperThreshold,
    lowerThreshold: r.lowerThreshold,
    tunnelType: r.tunnel?.type ?? 'ipip',
    tunnelPort: r.tunnel?.port ?? 0,
    tunnelFlags: r.tunnel?.csum ?? 'nocsum',
  };
}
