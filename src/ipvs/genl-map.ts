// IPVS over generic netlink, the meaning: ipvs/model.ts services and destinations, timeouts, the
// version and the sync daemons (sync/plan.ts settings), to and from the wire objects of
// genl-fields.ts, and the requests duet sends, built from them. Pure.

import type { Result } from '../core/result.js';
import { formatIpv4, parseIpv4, type Family } from '../core/addr.js';
import {
  AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IP_VS_CONN_F_FWD_MASK, IP_VS_STATE_BACKUP, IP_VS_STATE_MASTER,
  IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2, IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
  IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM, familyOfAf,
  type IpvsAttrs, type WireDaemon, type WireDest, type WireService, type WireStats,
} from './genl-fields.js';
import type { IpvsRequest } from './genl-codec.js';
import type { KernelDaemon, SyncDaemonSettings, SyncRole } from '../sync/plan.js';
import {
  SCHEDULERS, ipv4LenFromMask, ipv4MaskFromLen,
  type DestStats, type Destination, type Forward, type Protocol, type Scheduler, type Service,
  type ServiceFlags, type Stats, type TunnelCsum, type TunnelType,
} from './model.js';

/** A service's identity: what the kernel looks a service up by. */
export type ServiceId =
  | { readonly kind: 'addr'; readonly family: Family; readonly protocol: Protocol; readonly address: string; readonly port: number }
  | { readonly kind: 'fwmark'; readonly family: Family; readonly fwmark: number };

export type DestId = Pick<Destination, 'family' | 'address' | 'port'>;

export interface Timeouts {
  /** Seconds; 0 in a set request leaves the value unchanged. */
  readonly tcp: number;
  readonly tcpFin: number;
  readonly udp: number;
}

export interface IpvsInfo {
  /** "1.2.1" */
  readonly version: string;
  readonly versionCode: number;
  readonly connTabSize: number;
}

// ---------------------------------------------------------------------------------------------
// Requests duet sends. Identity-only services where the kernel needs no more (deletes, dest
// commands, gets); full services and dests for add/edit.

export const ipvsRequest = {
  newService: (s: Service): IpvsRequest => ({ cmd: 'new-service', dump: false, attrs: { service: serviceToWire(s) } }),
  setService: (s: Service): IpvsRequest => ({ cmd: 'set-service', dump: false, attrs: { service: serviceToWire(s) } }),
  delService: (s: ServiceId): IpvsRequest => ({ cmd: 'del-service', dump: false, attrs: { service: serviceIdToWire(s) } }),
  getService: (s: ServiceId): IpvsRequest => ({ cmd: 'get-service', dump: false, attrs: { service: serviceIdToWire(s) } }),
  getServices: (): IpvsRequest => ({ cmd: 'get-service', dump: true, attrs: {} }),
  newDest: (s: ServiceId, d: Destination): IpvsRequest => ({ cmd: 'new-dest', dump: false, attrs: { service: serviceIdToWire(s), dest: destToWire(d) } }),
  setDest: (s: ServiceId, d: Destination): IpvsRequest => ({ cmd: 'set-dest', dump: false, attrs: { service: serviceIdToWire(s), dest: destToWire(d) } }),
  delDest: (s: ServiceId, d: DestId): IpvsRequest => ({ cmd: 'del-dest', dump: false, attrs: { service: serviceIdToWire(s), dest: destIdToWire(d) } }),
  getDests: (s: ServiceId): IpvsRequest => ({ cmd: 'get-dest', dump: true, attrs: { service: serviceIdToWire(s) } }),
  getInfo: (): IpvsRequest => ({ cmd: 'get-info', dump: false, attrs: {} }),
  getConfig: (): IpvsRequest => ({ cmd: 'get-config', dump: false, attrs: {} }),
  setConfig: (t: Partial<Timeouts>): IpvsRequest => ({
    cmd: 'set-config', dump: false,
    attrs: { timeoutTcp: t.tcp ?? 0, timeoutTcpFin: t.tcpFin ?? 0, timeoutUdp: t.udp ?? 0 },
  }),
  newDaemon: (d: SyncDaemonSettings): IpvsRequest => ({ cmd: 'new-daemon', dump: false, attrs: { daemon: daemonToWire(d) } }),
  delDaemon: (state: SyncRole): IpvsRequest => ({ cmd: 'del-daemon', dump: false, attrs: { daemon: { state: daemonStateNumber(state) } } }),
  getDaemons: (): IpvsRequest => ({ cmd: 'get-daemon', dump: true, attrs: {} }),
  /** Zero the counters of one service, or of all. */
  zero: (s?: ServiceId): IpvsRequest => ({ cmd: 'zero', dump: false, attrs: s ? { service: serviceIdToWire(s) } : {} }),
  /** Delete every service. duet never flushes to reload; tests may. */
  flush: (): IpvsRequest => ({ cmd: 'flush', dump: false, attrs: {} }),
} as const;

// ---------------------------------------------------------------------------------------------
// Model <-> wire

const PROTOCOLS: Readonly<Record<Protocol, number>> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };
const FORWARD_NUMBERS: Readonly<Record<Forward, number>> = { masq: 0, local: 1, tunnel: 2, route: 3, bypass: 4 };
const TUNNEL_TYPE_NUMBERS: Readonly<Record<TunnelType, number>> = { ipip: 0, gue: 1, gre: 2 };
const TUNNEL_CSUM_NUMBERS: Readonly<Record<TunnelCsum, number>> = { nocsum: 0, csum: IP_VS_TUNNEL_ENCAP_FLAG_CSUM, remcsum: IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM };

const afOf = (fam: Family): number => (fam === 4 ? AF_INET : AF_INET6);
const daemonStateNumber = (s: SyncRole): number => (s === 'master' ? IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP);

export function serviceIdToWire(s: ServiceId): WireService {
  return s.kind === 'fwmark'
    ? { af: afOf(s.family), fwmark: s.fwmark }
    : { af: afOf(s.family), protocol: PROTOCOLS[s.protocol], addr: s.address, port: s.port };
}

export function serviceFlagsToWire(s: Pick<Service, 'scheduler' | 'flags'>): number {
  const fl: ServiceFlags = s.flags;
  let n = 0;
  if (fl.persistent) n |= IP_VS_SVC_F_PERSISTENT;
  if (fl.onePacket) n |= IP_VS_SVC_F_ONEPACKET;
  if ((s.scheduler === 'sh' && fl.shFallback) || (s.scheduler === 'mh' && fl.mhFallback)) n |= IP_VS_SVC_F_SCHED1;
  if ((s.scheduler === 'sh' && fl.shPort) || (s.scheduler === 'mh' && fl.mhPort)) n |= IP_VS_SVC_F_SCHED2;
  return n;
}

/** A full service (add/edit): identity, scheduler, flags (mask all), persistence. ipvsadm's order. */
export function serviceToWire(s: Service): WireService {
  const netmask = s.family === 4 ? ipv4MaskFromLen(s.persistenceNetmaskLen) : s.persistenceNetmaskLen;
  return {
    ...serviceIdToWire(s),
    schedName: s.scheduler,
    flags: { flags: serviceFlagsToWire(s), mask: 0xffffffff },
    timeout: s.persistenceTimeoutS,
    netmask,
  };
}

export function destIdToWire(d: DestId): WireDest {
  return { addrFamily: afOf(d.family), addr: d.address, port: d.port };
}

/** A full destination (add/edit), ipvsadm's order; tunnel fields at their canonical values when unused. */
export function destToWire(d: Destination): WireDest {
  const tunnel = d.forward === 'tunnel';
  const tunType = tunnel ? d.tunnelType : 'ipip';
  return {
    ...destIdToWire(d),
    fwdMethod: FORWARD_NUMBERS[d.forward],
    weight: d.weight,
    tunType: TUNNEL_TYPE_NUMBERS[tunType],
    tunPort: tunType === 'gue' ? d.tunnelPort : 0,
    tunFlags: tunType === 'ipip' || (tunType === 'gre' && d.tunnelFlags === 'remcsum') ? 0 : TUNNEL_CSUM_NUMBERS[d.tunnelFlags],
    uThresh: d.upperThreshold,
    lThresh: d.lowerThreshold,
  };
}

/** A sync daemon's settings (sync/plan.ts) as IPVS_DAEMON_ATTR_*: the group by its family. */
export function daemonToWire(d: SyncDaemonSettings): WireDaemon {
  const out: { -readonly [K in keyof WireDaemon]: WireDaemon[K] } = { state: daemonStateNumber(d.state), mcastIfn: d.mcastIfn, syncId: d.syncId };
  if (d.syncMaxlen !== undefined) out.syncMaxlen = d.syncMaxlen;
  if (d.mcastPort !== undefined) out.mcastPort = d.mcastPort;
  if (d.mcastTtl !== undefined) out.mcastTtl = d.mcastTtl;
  if (d.mcastGroup !== undefined) {
    if (parseIpv4(d.mcastGroup)) out.mcastGroup = d.mcastGroup;
    else out.mcastGroup6 = d.mcastGroup;
  }
  return out;
}

/** Why a wire object does not map onto the model. */
export interface MapError {
  readonly reason: 'missing' | 'family' | 'protocol' | 'scheduler' | 'netmask' | 'forward' | 'tunnel' | 'state';
  readonly detail: string;
}

const mfail = (reason: MapError['reason'], detail: string): { ok: false; error: MapError } => ({ ok: false, error: { reason, detail } });

const isScheduler = (s: string): s is Scheduler => (SCHEDULERS as readonly string[]).includes(s);

/** A service from a dump or a request (with no destinations: they come in their own messages). */
export function serviceFromWire(w: WireService): Result<Service, MapError> {
  const family = familyOfAf(w.af);
  if (family === undefined) return mfail('family', `service address family ${w.af ?? 'missing'}`);
  if (w.schedName === undefined || w.flags === undefined || w.timeout === undefined || w.netmask === undefined) {
    return mfail('missing', 'service without scheduler, flags, timeout or netmask');
  }
  if (!isScheduler(w.schedName)) return mfail('scheduler', `unknown scheduler ${JSON.stringify(w.schedName)}`);
  const scheduler = w.schedName;
  let persistenceNetmaskLen: number;
  if (family === 4) {
    const len = ipv4LenFromMask(w.netmask);
    if (len === undefined) return mfail('netmask', `non-contiguous IPv4 netmask ${formatIpv4(Uint8Array.of(w.netmask >>> 24, (w.netmask >>> 16) & 255, (w.netmask >>> 8) & 255, w.netmask & 255))}`);
    persistenceNetmaskLen = len;
  } else {
    if (w.netmask > 128) return mfail('netmask', `IPv6 prefix length ${w.netmask}`);
    persistenceNetmaskLen = w.netmask;
  }
  const n = w.flags.flags;
  const s1 = (n & IP_VS_SVC_F_SCHED1) !== 0;
  const s2 = (n & IP_VS_SVC_F_SCHED2) !== 0;
  const flags: ServiceFlags = {
    persistent: (n & IP_VS_SVC_F_PERSISTENT) !== 0,
    onePacket: (n & IP_VS_SVC_F_ONEPACKET) !== 0,
    shFallback: scheduler === 'sh' && s1,
    shPort: scheduler === 'sh' && s2,
    mhFallback: scheduler === 'mh' && s1,
    mhPort: scheduler === 'mh' && s2,
  };
  const attrs = { family, scheduler, flags, persistenceTimeoutS: w.timeout, persistenceNetmaskLen, dests: new Map<string, Destination>() };
  if (w.fwmark !== undefined && w.fwmark !== 0) return { ok: true, value: { kind: 'fwmark', fwmark: w.fwmark, ...attrs } };
  const protocol = w.protocol === IPPROTO_TCP ? 'tcp' : w.protocol === IPPROTO_UDP ? 'udp' : w.protocol === IPPROTO_SCTP ? 'sctp' : undefined;
  if (protocol === undefined) return mfail('protocol', `protocol ${w.protocol ?? 'missing'}`);
  if (w.addr === undefined || w.port === undefined) return mfail('missing', 'service without address or port');
  return { ok: true, value: { kind: 'addr', protocol, address: w.addr, port: w.port, ...attrs } };
}

/** A destination; `svcFamily` stands in for a missing IPVS_DEST_ATTR_ADDR_FAMILY. */
export function destFromWire(w: WireDest, svcFamily?: Family): Result<Destination, MapError> {
  const family = w.addrFamily !== undefined ? familyOfAf(w.addrFamily) : svcFamily;
  if (family === undefined) return mfail('family', `destination address family ${w.addrFamily ?? 'missing'}`);
  if (w.addr === undefined || w.port === undefined || w.fwdMethod === undefined || w.weight === undefined) {
    return mfail('missing', 'destination without address, port, forwarding method or weight');
  }
  const fwd = (Object.keys(FORWARD_NUMBERS) as Forward[]).find((k) => FORWARD_NUMBERS[k] === (w.fwdMethod! & IP_VS_CONN_F_FWD_MASK));
  if (fwd === undefined) return mfail('forward', `forwarding method ${w.fwdMethod}`);
  const tt = w.tunType ?? 0;
  const tunnelType = (Object.keys(TUNNEL_TYPE_NUMBERS) as TunnelType[]).find((k) => TUNNEL_TYPE_NUMBERS[k] === tt);
  if (tunnelType === undefined) return mfail('tunnel', `tunnel type ${tt}`);
  const tf = w.tunFlags ?? 0;
  const tunnelFlags: TunnelCsum = tf & IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM ? 'remcsum' : tf & IP_VS_TUNNEL_ENCAP_FLAG_CSUM ? 'csum' : 'nocsum';
  return {
    ok: true,
    value: {
      family, address: w.addr, port: w.port, forward: fwd, weight: w.weight,
      upperThreshold: w.uThresh ?? 0, lowerThreshold: w.lThresh ?? 0,
      tunnelType, tunnelPort: w.tunPort ?? 0, tunnelFlags,
    },
  };
}

/** Counters and rates: STATS64 where the kernel sent it, else STATS, else zeros. */
export function statsFromWire(w: { readonly stats?: WireStats; readonly stats64?: WireStats }): Stats {
  const s = w.stats64 ?? w.stats ?? {};
  return {
    conns: s.conns ?? 0, inpkts: s.inpkts ?? 0, outpkts: s.outpkts ?? 0, inbytes: s.inbytes ?? 0, outbytes: s.outbytes ?? 0,
    cps: s.cps ?? 0, inpps: s.inpps ?? 0, outpps: s.outpps ?? 0, inbps: s.inbps ?? 0, outbps: s.outbps ?? 0,
  };
}

export function destStatsFromWire(w: WireDest): DestStats {
  // statsFromWire's fields and order, built in one go (no spread: this runs per destination).
  const s = w.stats64 ?? w.stats ?? {};
  return {
    conns: s.conns ?? 0, inpkts: s.inpkts ?? 0, outpkts: s.outpkts ?? 0, inbytes: s.inbytes ?? 0, outbytes: s.outbytes ?? 0,
    cps: s.cps ?? 0, inpps: s.inpps ?? 0, outpps: s.outpps ?? 0, inbps: s.inbps ?? 0, outbps: s.outbps ?? 0,
    activeConns: w.activeConns ?? 0, inactConns: w.inactConns ?? 0, persistConns: w.persistConns ?? 0,
  };
}

export function timeoutsFromWire(a: IpvsAttrs): Timeouts {
  return { tcp: a.timeoutTcp ?? 0, tcpFin: a.timeoutTcpFin ?? 0, udp: a.timeoutUdp ?? 0 };
}

export function infoFromWire(a: IpvsAttrs): Result<IpvsInfo, MapError> {
  if (a.version === undefined || a.connTabSize === undefined) return mfail('missing', 'GET_INFO reply without version or table size');
  const v = a.version;
  return { ok: true, value: { version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, versionCode: v, connTabSize: a.connTabSize } };
}

/** A running sync daemon as GET_DAEMON reports it. */
export function daemonFromWire(w: WireDaemon): Result<KernelDaemon, MapError> {
  if (w.state !== IP_VS_STATE_MASTER && w.state !== IP_VS_STATE_BACKUP) return mfail('state', `daemon state ${w.state ?? 'missing'}`);
  return {
    ok: true,
    value: {
      state: w.state === IP_VS_STATE_MASTER ? 'master' : 'backup',
      mcastIfn: w.mcastIfn ?? '',
      syncId: w.syncId ?? 0,
      syncMaxlen: w.syncMaxlen ?? 0,
      mcastGroup: w.mcastGroup6 ?? w.mcastGroup ?? '',
      mcastPort: w.mcastPort ?? 0,
      mcastTtl: w.mcastTtl ?? 0,
    },
  };
}
