// The IPVS table as duet reasons about it: virtual services and their destinations (real
// servers), independent of the generic-netlink wire structs (ipvs/genl-client.ts maps both ways).
// Pure: no I/O, no clock.
//
// Identity follows keepalived's vs_iseq: a service is its fwmark and family, or its family,
// protocol, address and port; a destination is its family, address and port within a service.
// Everything else (scheduler, flags, persistence, weights, thresholds, forwarding, tunnel) is an
// attribute: a change is an edit, never a delete and re-add. Counters and rates are not part of
// the model's equality; they live in the separate *Stats types.
//
// Invariant: addresses are canonical text (IPv4 dotted quad without leading zeros, IPv6 in
// RFC 5952 form, as core/addr.ts formats them), so keys compare as strings. The config layer and
// the codec produce canonical text; serviceKey/destKey do not re-parse.

import type { Family } from '../core/addr.js';
import { BugError } from '../core/errors.js';

export type { Family };

export type Protocol = 'tcp' | 'udp' | 'sctp';

/**
 * Scheduler module names (ip_vs_<name>.ko). The eleven from the LVS documentation plus
 * fo, ovf and twos, which current kernels ship and a dump may report.
 */
export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

/**
 * Packet forwarding (IP_VS_CONN_F_FWD_MASK values): masq = NAT (ipvsadm -m), route = direct
 * routing (-g), tunnel = IP-in-IP/GUE/GRE (-i). local and bypass exist in ip_vs.h; ipvsadm cannot
 * set them, but the kernel may report them for tables others wrote.
 */
export const FORWARDS = ['masq', 'route', 'tunnel', 'local', 'bypass'] as const;
export type Forward = (typeof FORWARDS)[number];

/** IP_VS_CONN_F_TUNNEL_TYPE_*: the encapsulation of tunnel forwarding. */
export const TUNNEL_TYPES = ['ipip', 'gue', 'gre'] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];

/**
 * IP_VS_TUNNEL_ENCAP_FLAG_*, as ipvsadm's exclusive --tun-nocsum / --tun-csum / --tun-remcsum.
 * csum: GUE and GRE; remcsum (remote checksum offload): GUE only. A dump with both bits set
 * decodes as remcsum, which is what the kernel acts on (it tests REMCSUM first).
 */
export const TUNNEL_CSUMS = ['nocsum', 'csum', 'remcsum'] as const;
export type TunnelCsum = (typeof TUNNEL_CSUMS)[number];

/**
 * IP_VS_SVC_F_* service flags. The scheduler flags are bits SCHED1 (fallback) and SCHED2 (port)
 * shared by sh and mh; the model names them per scheduler and the codec maps them by the
 * service's scheduler name. IP_VS_SVC_F_HASHED is kernel bookkeeping and not modelled.
 */
export interface ServiceFlags {
  /** IP_VS_SVC_F_PERSISTENT (ipvsadm -p). */
  readonly persistent: boolean;
  /** IP_VS_SVC_F_ONEPACKET, one-packet scheduling (ipvsadm -o / --ops). */
  readonly onePacket: boolean;
  readonly shFallback: boolean;
  readonly shPort: boolean;
  readonly mhFallback: boolean;
  readonly mhPort: boolean;
}

export const NO_FLAGS: ServiceFlags = Object.freeze({
  persistent: false, onePacket: false, shFallback: false, shPort: false, mhFallback: false, mhPort: false,
});

interface ServiceAttrs {
  readonly family: Family;
  readonly scheduler: Scheduler;
  readonly flags: ServiceFlags;
  /** Persistence timeout in whole seconds (IPVS_SVC_ATTR_TIMEOUT); 0 = none. */
  readonly persistenceTimeoutS: number;
  /**
   * Persistence granularity as a prefix length for both families: 0..32 for IPv4 (the codec
   * turns it into the IPv4 netmask the kernel wants, 24 <-> 255.255.255.0, as ipvsadm -M),
   * 1..128 for IPv6 (the kernel's own representation). 32 / 128 = per client address, the
   * ipvsadm default, also for services without persistence.
   */
  readonly persistenceNetmaskLen: number;
  /** By destKey. Insertion order is kept (config order); it has no meaning to the kernel. */
  readonly dests: ReadonlyMap<string, Destination>;
}

/** A service matching protocol, address and port. Port 0 (all ports) needs persistence. */
export interface AddrService extends ServiceAttrs {
  readonly kind: 'addr';
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
}

/** A service matching packets carrying a firewall mark (1..2^32-1). */
export interface FwmarkService extends ServiceAttrs {
  readonly kind: 'fwmark';
  readonly fwmark: number;
}

export type Service = AddrService | FwmarkService;

export interface Destination {
  /** IPVS_DEST_ATTR_ADDR_FAMILY. duet's config keeps it equal to the service's. */
  readonly family: Family;
  readonly address: string;
  /** 0 for fwmark services: the packet's own destination port. */
  readonly port: number;
  readonly forward: Forward;
  /** 0 = quiescent: no new connections, existing ones continue. */
  readonly weight: number;
  /** Connections above which no new ones are scheduled here; 0 = no limit. */
  readonly upperThreshold: number;
  /** Connections below which scheduling resumes; 0 = 3/4 of the upper threshold. */
  readonly lowerThreshold: number;
  /**
   * Tunnel encapsulation. Meaningful only with forward 'tunnel' (and tunnelPort only with gue,
   * tunnelFlags only with gue/gre): equality ignores them otherwise. Canonical values when
   * unused: 'ipip', 0, 'nocsum' (see canonicalDest).
   */
  readonly tunnelType: TunnelType;
  readonly tunnelPort: number;
  readonly tunnelFlags: TunnelCsum;
}

/** The whole table by serviceKey. */
export type Table = ReadonlyMap<string, Service>;

// ---------------------------------------------------------------------------------------------
// Stats (IPVS_STATS_ATTR_*, from STATS64 where the kernel has it). Counters since the service or
// destination was added; rates are the kernel's 2-second estimator, per second. Numbers are
// exact up to 2^53 (9 PB of bytes).

export interface Stats {
  readonly conns: number;
  readonly inpkts: number;
  readonly outpkts: number;
  readonly inbytes: number;
  readonly outbytes: number;
  readonly cps: number;
  readonly inpps: number;
  readonly outpps: number;
  readonly inbps: number;
  readonly outbps: number;
}

export interface DestStats extends Stats {
  /** IPVS_DEST_ATTR_ACTIVE_CONNS, _INACT_CONNS, _PERSIST_CONNS. */
  readonly activeConns: number;
  readonly inactConns: number;
  readonly persistConns: number;
}

export interface ServiceStats {
  readonly stats: Stats;
  /** By destKey. */
  readonly dests: ReadonlyMap<string, DestStats>;
}

/** Stats of a dump, by serviceKey; keys match the Table read in the same dump. */
export type TableStats = ReadonlyMap<string, ServiceStats>;

// ---------------------------------------------------------------------------------------------
// Identity

const hostPort = (family: Family, address: string, port: number): string =>
  family === 6 ? `[${address}]:${port}` : `${address}:${port}`;

/** What identifies a service: its family, protocol, address and port, or its fwmark and family. */
export type ServiceIdentity = Pick<AddrService, 'kind' | 'family' | 'protocol' | 'address' | 'port'> | Pick<FwmarkService, 'kind' | 'family' | 'fwmark'>;

/**
 * "tcp:192.0.2.100:80", "udp:[2001:db8::1]:53", "fwmark:10" (IPv4), "fwmark6:10" (IPv6).
 * For address services the family is implied by the canonical address text.
 */
export function serviceKey(s: ServiceIdentity): string {
  return s.kind === 'fwmark'
    ? `${s.family === 6 ? 'fwmark6' : 'fwmark'}:${s.fwmark}`
    : `${s.protocol}:${hostPort(s.family, s.address, s.port)}`;
}

/** "192.0.2.21:80", "[2001:db8::21]:80"; unique within one service. */
export function destKey(d: Pick<Destination, 'family' | 'address' | 'port'>): string {
  return hostPort(d.family, d.address, d.port);
}

// ---------------------------------------------------------------------------------------------
// Equality (attributes only; identity is the key, stats are elsewhere)

export function sameFlags(a: ServiceFlags, b: ServiceFlags): boolean {
  return a.persistent === b.persistent && a.onePacket === b.onePacket && a.shFallback === b.shFallback
    && a.shPort === b.shPort && a.mhFallback === b.mhFallback && a.mhPort === b.mhPort;
}

/** Service attributes an edit-svc changes: scheduler, flags, persistence timeout and netmask. */
export function sameServiceAttrs(a: Service, b: Service): boolean {
  return a.scheduler === b.scheduler && sameFlags(a.flags, b.flags)
    && a.persistenceTimeoutS === b.persistenceTimeoutS && a.persistenceNetmaskLen === b.persistenceNetmaskLen;
}

/** Destination attributes an edit-dest changes; tunnel fields only where they apply (canonicalDest). */
export function sameDestAttrs(a: Destination, b: Destination): boolean {
  if (a.forward !== b.forward || a.weight !== b.weight
    || a.upperThreshold !== b.upperThreshold || a.lowerThreshold !== b.lowerThreshold) return false;
  if (a.forward !== 'tunnel') return true;
  const x = canonicalDest(a);
  const y = canonicalDest(b);
  return x.tunnelType === y.tunnelType && x.tunnelPort === y.tunnelPort && x.tunnelFlags === y.tunnelFlags;
}

/** Same identity, attributes and destination set (with attributes). */
export function sameService(a: Service, b: Service): boolean {
  if (serviceKey(a) !== serviceKey(b) || !sameServiceAttrs(a, b) || a.dests.size !== b.dests.size) return false;
  for (const [k, d] of a.dests) {
    const e = b.dests.get(k);
    if (!e || destKey(e) !== k || !sameDestAttrs(d, e)) return false;
  }
  return true;
}

export function sameTable(a: Table, b: Table): boolean {
  if (a.size !== b.size) return false;
  for (const [k, s] of a) {
    const t = b.get(k);
    if (!t || !sameService(s, t)) return false;
  }
  return true;
}

/**
 * The destination with the tunnel fields that do not apply at their canonical values: type
 * 'ipip' unless tunnelling, port 0 unless gue, flags 'nocsum' for ipip and remcsum on gre
 * (GRE acts on the csum bit only). Returns d itself when already canonical.
 */
export function canonicalDest(d: Destination): Destination {
  const tunnelType = d.forward === 'tunnel' ? d.tunnelType : 'ipip';
  const tunnelPort = tunnelType === 'gue' ? d.tunnelPort : 0;
  const tunnelFlags = tunnelType === 'ipip' || (tunnelType === 'gre' && d.tunnelFlags === 'remcsum') ? 'nocsum' : d.tunnelFlags;
  if (tunnelType === d.tunnelType && tunnelPort === d.tunnelPort && tunnelFlags === d.tunnelFlags) return d;
  return { ...d, tunnelType, tunnelPort, tunnelFlags };
}

// ---------------------------------------------------------------------------------------------
// Netmask <-> prefix length (for the codec: IPv4 persistence netmasks travel as masks)

/** The per-client default: 32 for IPv4, 128 for IPv6. */
export const fullNetmaskLen = (family: Family): number => (family === 4 ? 32 : 128);

/** 24 -> 0xffffff00 (host order; the codec writes it big-endian). */
export function ipv4MaskFromLen(len: number): number {
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new BugError(`IPv4 prefix length out of range: ${len}`);
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** 0xffffff00 -> 24; undefined for a non-contiguous mask (ipvsadm accepts those, duet does not). */
export function ipv4LenFromMask(mask: number): number | undefined {
  const m = mask >>> 0;
  const inv = ~m >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined; // the host part must be 0...01...1
  return Math.clz32(inv);
}
