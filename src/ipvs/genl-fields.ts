// IPVS over generic netlink, the numbers: commands, constants, the wire objects (one plain object
// per attribute nest) and the field tables that say which attribute holds which key, in what form.
// genl-codec.ts walks these tables; genl-map.ts maps the wire objects to and from ipvs/model.ts.
//
// Wire facts (linux/ip_vs.h; checked against ipvsadm 1.31 and Linux 6.1 on the wire, see
// test/vectors/ipvs/; the netlink ones are in netlink/attrs.ts):
//  - service and destination ports, and the destination tunnel port, are big-endian;
//  - addresses are 16-byte union nf_inet_addr (an IPv4 address in the first 4 bytes, the rest 0);
//  - IPVS_SVC_ATTR_NETMASK is a __be32 IPv4 netmask for IPv4 services but a prefix length in host
//    order for IPv6 ones (the kernel compares the raw u32 with 1..128): `netmask` holds the IPv4
//    mask as a number (0xffffff00) or the IPv6 prefix length (64);
//  - IPVS_SVC_ATTR_FLAGS is struct ip_vs_flags { u32 flags; u32 mask };
//  - the sync daemon's multicast port is host order (unlike every other port), its IPv4 group an
//    in_addr (network order);
//  - IPVS_*_ATTR_STATS has u32 counters and rates but u64 byte counters; *_STATS64 is all u64;
//  - ipvsadm (libnl) sets NLA_F_NESTED on nested attributes, the kernel's dumps do not;
//  - the reply to GET_INFO is cmd SET_INFO with IPVS_INFO_ATTR_* at the top level, to GET_CONFIG
//    SET_CONFIG, and dumps answer with NEW_SERVICE / NEW_DEST / NEW_DAEMON messages.

import type { Family } from '../core/addr.js';

// ---------------------------------------------------------------------------------------------
// Constants (linux/ip_vs.h, linux/socket.h, linux/in.h)

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

export const IP_VS_SVC_F_PERSISTENT = 0x1;
export const IP_VS_SVC_F_HASHED = 0x2;
export const IP_VS_SVC_F_ONEPACKET = 0x4;
export const IP_VS_SVC_F_SCHED1 = 0x8;
export const IP_VS_SVC_F_SCHED2 = 0x10;

export const IP_VS_CONN_F_FWD_MASK = 0x7;
export const IP_VS_TUNNEL_ENCAP_FLAG_CSUM = 0x1;
export const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM = 0x2;

/** IPVS_CMD_* by number (index = command number; 0 is IPVS_CMD_UNSPEC). */
export const IPVS_CMDS = [
  'unspec',
  'new-service', 'set-service', 'del-service', 'get-service',
  'new-dest', 'set-dest', 'del-dest', 'get-dest',
  'new-daemon', 'del-daemon', 'get-daemon',
  'set-config', 'get-config',
  'set-info', 'get-info',
  'zero', 'flush',
] as const;
export type IpvsCmd = Exclude<(typeof IPVS_CMDS)[number], 'unspec'>;

export const cmdNumber = (c: IpvsCmd): number => IPVS_CMDS.indexOf(c);

/** IPVS_DAEMON_ATTR_STATE values. */
export const IP_VS_STATE_MASTER = 1;
export const IP_VS_STATE_BACKUP = 2;

export const familyOfAf = (af: number | undefined): Family | undefined => (af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined);

// ---------------------------------------------------------------------------------------------
// Wire objects. Every attribute is optional: requests carry what the command needs, replies
// what the kernel fills in. Addresses are canonical text (core/addr.ts).

export interface WireFlags {
  readonly flags: number;
  readonly mask: number;
}

/** IPVS_STATS_ATTR_*; which of them a message carries is the sender's business. */
export interface WireStats {
  readonly conns?: number;
  readonly inpkts?: number;
  readonly outpkts?: number;
  readonly inbytes?: number;
  readonly outbytes?: number;
  readonly cps?: number;
  readonly inpps?: number;
  readonly outpps?: number;
  readonly inbps?: number;
  readonly outbps?: number;
}

/** IPVS_SVC_ATTR_* (nested in IPVS_CMD_ATTR_SERVICE). */
export interface WireService {
  /** AF_INET (2) or AF_INET6 (10). */
  readonly af?: number;
  /** IPPROTO_TCP (6), IPPROTO_UDP (17), IPPROTO_SCTP (132). */
  readonly protocol?: number;
  readonly addr?: string;
  readonly port?: number;
  readonly fwmark?: number;
  readonly schedName?: string;
  readonly flags?: WireFlags;
  /** Persistence timeout, seconds. */
  readonly timeout?: number;
  /** IPv4: the netmask as a number (0xffffff00); IPv6: the prefix length. See the header. */
  readonly netmask?: number;
  readonly stats?: WireStats;
  /** Persistence engine ("sip"). */
  readonly peName?: string;
  readonly stats64?: WireStats;
}

/** IPVS_DEST_ATTR_* (nested in IPVS_CMD_ATTR_DEST). */
export interface WireDest {
  readonly addr?: string;
  readonly port?: number;
  /** IP_VS_CONN_F_* forwarding method: 0 masq, 1 local, 2 tunnel, 3 route, 4 bypass. */
  readonly fwdMethod?: number;
  readonly weight?: number;
  readonly uThresh?: number;
  readonly lThresh?: number;
  readonly activeConns?: number;
  readonly inactConns?: number;
  readonly persistConns?: number;
  readonly stats?: WireStats;
  /** AF_INET / AF_INET6; when absent the address has the service's family. */
  readonly addrFamily?: number;
  readonly stats64?: WireStats;
  /** IP_VS_CONN_F_TUNNEL_TYPE_*: 0 ipip, 1 gue, 2 gre. */
  readonly tunType?: number;
  readonly tunPort?: number;
  /** IP_VS_TUNNEL_ENCAP_FLAG_*: 1 csum, 2 remcsum. */
  readonly tunFlags?: number;
}

/** IPVS_DAEMON_ATTR_* (nested in IPVS_CMD_ATTR_DAEMON). */
export interface WireDaemon {
  /** IP_VS_STATE_MASTER (1) or IP_VS_STATE_BACKUP (2). */
  readonly state?: number;
  readonly mcastIfn?: string;
  readonly syncId?: number;
  readonly syncMaxlen?: number;
  readonly mcastGroup?: string;
  readonly mcastGroup6?: string;
  /** Host byte order on the wire, unlike service ports. */
  readonly mcastPort?: number;
  readonly mcastTtl?: number;
}

/** Top-level attributes of an IPVS message. version/connTabSize only in SET_INFO (GET_INFO's reply). */
export interface IpvsAttrs {
  readonly service?: WireService;
  readonly dest?: WireDest;
  readonly daemon?: WireDaemon;
  /** Seconds (IPVS_CMD_ATTR_TIMEOUT_TCP, _TCP_FIN, _UDP). */
  readonly timeoutTcp?: number;
  readonly timeoutTcpFin?: number;
  readonly timeoutUdp?: number;
  /** IPVS_INFO_ATTR_VERSION: (major << 16) | (minor << 8) | patch. */
  readonly version?: number;
  /** IPVS_INFO_ATTR_CONN_TAB_SIZE. */
  readonly connTabSize?: number;
}

// ---------------------------------------------------------------------------------------------
// Field tables

/** Field kinds: how one attribute's payload maps to a JS value. */
export type Kind =
  | 'u8' | 'u16' | 'u32' | 'u64' | 'be16' | 'be32'
  | 'string' // NUL-terminated
  | 'addr' // 16-byte nf_inet_addr, text by the object's family
  | 'in-addr' // 4-byte IPv4 address
  | 'in6-addr' // 16-byte IPv6 address
  | 'netmask' // be32 for IPv4 services, host u32 for IPv6 ones
  | 'flags' // struct ip_vs_flags
  | 'stats' | 'stats64' // nested IPVS_STATS_ATTR_*
  | 'service' | 'dest' | 'daemon'; // nested

export interface Field {
  readonly key: string;
  readonly type: number;
  readonly kind: Kind;
  /** The payload size a fixed-size kind needs; 0 for the others. */
  readonly size: number;
  /** A nested kind (NLA_F_NESTED applies). */
  readonly nest: boolean;
}

const NEST_KINDS: ReadonlySet<Kind> = new Set<Kind>(['stats', 'stats64', 'service', 'dest', 'daemon']);
const SIZES: Partial<Record<Kind, number>> = { u8: 1, u16: 2, u32: 4, u64: 8, be16: 2, be32: 4, 'in-addr': 4, 'in6-addr': 16, netmask: 4, flags: 8 };

const f = (key: string, type: number, kind: Kind): Field => ({ key, type, kind, size: SIZES[kind] ?? 0, nest: NEST_KINDS.has(kind) });

const SVC_FIELDS: readonly Field[] = [
  f('af', 1, 'u16'), f('protocol', 2, 'u16'), f('addr', 3, 'addr'), f('port', 4, 'be16'), f('fwmark', 5, 'u32'),
  f('schedName', 6, 'string'), f('flags', 7, 'flags'), f('timeout', 8, 'u32'), f('netmask', 9, 'netmask'),
  f('stats', 10, 'stats'), f('peName', 11, 'string'), f('stats64', 12, 'stats64'),
];
const DEST_FIELDS: readonly Field[] = [
  f('addr', 1, 'addr'), f('port', 2, 'be16'), f('fwdMethod', 3, 'u32'), f('weight', 4, 'u32'), f('uThresh', 5, 'u32'),
  f('lThresh', 6, 'u32'), f('activeConns', 7, 'u32'), f('inactConns', 8, 'u32'), f('persistConns', 9, 'u32'),
  f('stats', 10, 'stats'), f('addrFamily', 11, 'u16'), f('stats64', 12, 'stats64'), f('tunType', 13, 'u8'),
  f('tunPort', 14, 'be16'), f('tunFlags', 15, 'u16'),
];
const DAEMON_FIELDS: readonly Field[] = [
  f('state', 1, 'u32'), f('mcastIfn', 2, 'string'), f('syncId', 3, 'u32'), f('syncMaxlen', 4, 'u16'),
  f('mcastGroup', 5, 'in-addr'), f('mcastGroup6', 6, 'in6-addr'), f('mcastPort', 7, 'u16'), f('mcastTtl', 8, 'u8'),
];
const STAT_KEYS = ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes', 'cps', 'inpps', 'outpps', 'inbps', 'outbps'] as const;
/** IPVS_*_ATTR_STATS: u32 except the byte counters. */
const STATS_FIELDS: readonly Field[] = STAT_KEYS.map((k, i) => f(k, i + 1, k === 'inbytes' || k === 'outbytes' ? 'u64' : 'u32'));
const STATS64_FIELDS: readonly Field[] = STAT_KEYS.map((k, i) => f(k, i + 1, 'u64'));
const CMD_FIELDS: readonly Field[] = [
  f('service', 1, 'service'), f('dest', 2, 'dest'), f('daemon', 3, 'daemon'),
  f('timeoutTcp', 4, 'u32'), f('timeoutTcpFin', 5, 'u32'), f('timeoutUdp', 6, 'u32'),
];
const INFO_FIELDS: readonly Field[] = [f('version', 1, 'u32'), f('connTabSize', 2, 'u32')];

const FIELDSETS = {
  service: SVC_FIELDS, dest: DEST_FIELDS, daemon: DAEMON_FIELDS, stats: STATS_FIELDS, stats64: STATS64_FIELDS, cmd: CMD_FIELDS, info: INFO_FIELDS,
} as const;
/** The nests: the nested kinds, the top level of a command ('cmd') and of SET_INFO ('info'). */
export type FieldSet = keyof typeof FIELDSETS;

/** Fields by attribute type, as arrays (a hole for unknown types). */
const byTypeArray = (fields: readonly Field[]): ReadonlyArray<Field | undefined> => {
  const out: Array<Field | undefined> = [];
  for (const x of fields) out[x.type] = x;
  return out;
};
const byKey = (fields: readonly Field[]): ReadonlyMap<string, Field> => new Map(fields.map((x) => [x.key, x]));
export const BY_TYPE_ARRAY = Object.fromEntries(Object.entries(FIELDSETS).map(([k, v]) => [k, byTypeArray(v)])) as Record<FieldSet, ReadonlyArray<Field | undefined>>;
export const BY_KEY = Object.fromEntries(Object.entries(FIELDSETS).map(([k, v]) => [k, byKey(v)])) as Record<FieldSet, ReadonlyMap<string, Field>>;
