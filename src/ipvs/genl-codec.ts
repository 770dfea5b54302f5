// IPVS generic-netlink codec: whole netlink messages (nlmsghdr + genlmsghdr + attributes) to and
// from plain objects, and the mapping between those wire objects and ipvs/model.ts; the framing
// and the attribute codec are netlink/attrs.ts. Pure: no I/O, no clock; decoders never throw
// (malformed input is a CodecError value).
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
//
// Attribute order: the decoder builds each wire object in the order its attributes appear, and
// the encoder writes the attributes of an object in the order of its own keys. So a decoded
// message (also after a JSON round trip) re-encodes byte for byte, and objects built in code
// choose their order (the *ToWire mappers use ipvsadm's). Unknown attribute types are skipped.

import { ok, type Result } from '../core/result.js';
import { BugError } from '../core/errors.js';
import {
  GENL_HDRLEN, NLA_F_NESTED, NLA_TYPE_MASK, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, align4, checkAttrs, checkUint, codecFail, concat,
  decodeNlBody, decodeNlMessage, decodeNlMessages, encodeAttr, encodeGenlHeader, encodeIntAttr, encodeNameAttr, encodeNlBody,
  encodeNlMessage, rdBe16, rdBe32, rdU16, rdU32, rdU64, readName, view,
  type AckMessage, type CodecError, type CodecErrorReason, type DoneMessage, type ErrorMessage, type NlHeader, type OtherMessage,
} from '../netlink/attrs.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, type Family } from '../core/addr.js';
import {
  SCHEDULERS, ipv4LenFromMask, ipv4MaskFromLen,
  type DestStats, type Destination, type Forward, type Protocol, type Scheduler, type Service,
  type ServiceFlags, type Stats, type TunnelCsum, type TunnelType,
} from './model.js';

// ---------------------------------------------------------------------------------------------
// Constants (linux/ip_vs.h)

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

export interface IpvsMessage {
  readonly kind: 'ipvs';
  /** header.type is the IPVS family id (dynamic: resolve it through the ctrl family). */
  readonly header: NlHeader;
  readonly cmd: IpvsCmd;
  readonly version: number;
  /** Nested attributes carry NLA_F_NESTED (ipvsadm/libnl: yes; kernel dumps: no). */
  readonly nlaNested: boolean;
  readonly attrs: IpvsAttrs;
}

export type NetlinkMessage = IpvsMessage | AckMessage | ErrorMessage | DoneMessage | OtherMessage;

export interface DecodeOptions {
  /** The IPVS family id (nlmsg_type of IPVS messages), from the ctrl family. */
  readonly ipvsFamily: number;
  /**
   * false: IPVS_*_ATTR_STATS / _STATS64 nests are skipped (neither checked nor decoded, so the
   * wire objects have no stats/stats64). For readers that want the table only. Default true.
   */
  readonly stats?: boolean;
}

// Field kinds: how one attribute's payload maps to a JS value.
type Kind =
  | 'u8' | 'u16' | 'u32' | 'u64' | 'be16' | 'be32'
  | 'string' // NUL-terminated
  | 'addr' // 16-byte nf_inet_addr, text by the object's family
  | 'in-addr' // 4-byte IPv4 address
  | 'in6-addr' // 16-byte IPv6 address
  | 'netmask' // be32 for IPv4 services, host u32 for IPv6 ones
  | 'flags' // struct ip_vs_flags
  | 'stats' | 'stats64' // nested IPVS_STATS_ATTR_*
  | 'service' | 'dest' | 'daemon'; // nested

interface Field {
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

const byType = (fields: readonly Field[]): ReadonlyMap<number, Field> => new Map(fields.map((x) => [x.type, x]));
const byKey = (fields: readonly Field[]): ReadonlyMap<string, Field> => new Map(fields.map((x) => [x.key, x]));
const FIELDSETS = {
  service: SVC_FIELDS, dest: DEST_FIELDS, daemon: DAEMON_FIELDS, stats: STATS_FIELDS, stats64: STATS64_FIELDS, cmd: CMD_FIELDS, info: INFO_FIELDS,
} as const;
type FieldSet = keyof typeof FIELDSETS;
const BY_TYPE = Object.fromEntries(Object.entries(FIELDSETS).map(([k, v]) => [k, byType(v)])) as Record<FieldSet, ReadonlyMap<number, Field>>;
/** Fields by attribute type, as arrays (a hole for unknown types). */
const byTypeArray = (fields: readonly Field[]): ReadonlyArray<Field | undefined> => {
  const out: Array<Field | undefined> = [];
  for (const x of fields) out[x.type] = x;
  return out;
};
const BY_TYPE_ARRAY = Object.fromEntries(Object.entries(FIELDSETS).map(([k, v]) => [k, byTypeArray(v)])) as Record<FieldSet, ReadonlyArray<Field | undefined>>;
const BY_KEY = Object.fromEntries(Object.entries(FIELDSETS).map(([k, v]) => [k, byKey(v)])) as Record<FieldSet, ReadonlyMap<string, Field>>;

/** Context a nest is decoded in: the family its addresses and netmask use. */
interface Ctx {
  /** AF of the enclosing message's service (for a destination without IPVS_DEST_ATTR_ADDR_FAMILY). */
  svcAf: number | undefined;
  /** Whether some nest carried NLA_F_NESTED. */
  nested: boolean;
  /** Decode stats/stats64 nests (DecodeOptions.stats). */
  readonly stats: boolean;
}

const familyOfAf = (af: number | undefined): Family | undefined => (af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined);

/** A decode failure travelling up through decodeField (which otherwise returns bare values). */
class Bad {
  constructor(readonly r: { ok: false; error: CodecError }) {}
}
const bad = (reason: CodecErrorReason, detail: string): Bad => new Bad(codecFail(reason, detail));

function decodeNest(set: FieldSet, b: Uint8Array, ctx: Ctx, where: string): Result<Record<string, unknown>, CodecError> {
  const broken = checkAttrs(b, where);
  if (broken) return broken;
  const n = b.length;
  const types = BY_TYPE_ARRAY[set];
  // The family of this nest's addresses: its own AF attribute (the last one), else the enclosing service's.
  let af: number | undefined;
  if (set === 'service' || set === 'dest') {
    const afType = set === 'service' ? 1 : 11;
    for (let off = 0; off < n; ) {
      const len = rdU16(b, off);
      if (len === 6 && (rdU16(b, off + 2) & NLA_TYPE_MASK) === afType) af = rdU16(b, off + 4);
      off += align4(len);
    }
    if (af === undefined && set === 'dest') af = ctx.svcAf;
  }
  const out: Record<string, unknown> = {};
  for (let off = 0; off < n; ) {
    const len = rdU16(b, off);
    const raw = rdU16(b, off + 2);
    const fld = types[raw & NLA_TYPE_MASK];
    off += align4(len);
    if (fld === undefined) continue;
    if (fld.nest) {
      if (raw & NLA_F_NESTED) ctx.nested = true;
      if (!ctx.stats && (fld.kind === 'stats' || fld.kind === 'stats64')) continue;
    }
    const start = off - align4(len) + 4;
    const v = decodeField(fld, b, start, start + len - 4, af, ctx, where);
    if (v instanceof Bad) return v.r;
    out[fld.key] = v;
  }
  return ok(out);
}

/** One attribute's payload, b[s, e), as field `fld` of the nest at `where`. */
function decodeField(fld: Field, b: Uint8Array, s: number, e: number, af: number | undefined, ctx: Ctx, where: string): unknown {
  const n = e - s;
  if (fld.size !== 0 && n !== fld.size) return bad('attr-length', `${where}.${fld.key}: ${n} bytes, want ${fld.size}`);
  switch (fld.kind) {
    case 'u8': return b[s]!;
    case 'u16': return rdU16(b, s);
    case 'u32': return rdU32(b, s);
    case 'u64': return rdU64(b, s);
    case 'be16': return rdBe16(b, s);
    case 'be32': return rdBe32(b, s);
    case 'netmask': return af === AF_INET6 ? rdU32(b, s) : rdBe32(b, s);
    case 'flags': return { flags: rdU32(b, s), mask: rdU32(b, s + 4) };
    case 'in-addr': return formatIpv4(b, s);
    case 'in6-addr': return formatIpv6(b, s);
    case 'addr': {
      const fam = familyOfAf(af);
      if (fam === undefined) return bad('family', `${where}.${fld.key}: no address family (${af === undefined ? 'none given' : `AF ${af}`})`);
      if (fam === 4 && (n === 4 || n === 16)) return formatIpv4(b, s);
      if (fam === 6 && n === 16) return formatIpv6(b, s);
      return bad('attr-length', `${where}.${fld.key}: ${n} bytes for an IPv${fam} address`);
    }
    case 'string': {
      // Names (schedulers, interfaces, persistence engines) are printable ASCII, up to a NUL.
      const r = readName(b, s, e, `${where}.${fld.key}`);
      return r.ok ? r.value : new Bad(r);
    }
    case 'stats': case 'stats64': case 'service': case 'dest': case 'daemon': {
      const r = decodeNest(fld.kind, b.subarray(s, e), ctx, `${where}.${fld.key}`);
      return r.ok ? r.value : new Bad(r);
    }
  }
}

function encodeNest(set: FieldSet, obj: object, nestFlag: boolean, af: number | undefined): Uint8Array {
  const keys = BY_KEY[set];
  const parts: Uint8Array[] = [];
  const o = obj as Record<string, unknown>;
  // The family for addresses and the netmask: the nest's own (service af, dest addrFamily) or the context's.
  const ownAf = set === 'service' ? o.af : set === 'dest' ? o.addrFamily : set === 'cmd' ? (o.service as WireService | undefined)?.af : undefined;
  const fam = typeof ownAf === 'number' ? ownAf : af;
  for (const k of Object.keys(o)) {
    const v = o[k];
    const fld = keys.get(k);
    if (v === undefined || !fld) continue;
    parts.push(encodeField(fld, v, nestFlag, fam, `${set}.${k}`));
  }
  return concat(parts);
}

function encodeField(fld: Field, v: unknown, nestFlag: boolean, af: number | undefined, what: string): Uint8Array {
  switch (fld.kind) {
    case 'u8': case 'u16': case 'u32': case 'u64': case 'be16': case 'be32':
      return encodeIntAttr(fld.type, fld.kind, v, what);
    case 'netmask': return encodeIntAttr(fld.type, af === AF_INET6 ? 'u32' : 'be32', v, what);
    case 'flags': {
      const fl = v as WireFlags;
      checkUint(fl.flags, 32, `${what}.flags`);
      checkUint(fl.mask, 32, `${what}.mask`);
      const b = new Uint8Array(8);
      const dv = view(b);
      dv.setUint32(0, fl.flags, true);
      dv.setUint32(4, fl.mask, true);
      return encodeAttr(fld.type, b);
    }
    case 'in-addr': return encodeAttr(fld.type, addrBytes(4, v, what));
    case 'in6-addr': return encodeAttr(fld.type, addrBytes(6, v, what));
    case 'addr': {
      const fam = familyOfAf(af);
      if (fam === undefined) throw new BugError(`${what}: no address family to encode ${String(v)}`);
      const b = new Uint8Array(16);
      b.set(addrBytes(fam, v, what));
      return encodeAttr(fld.type, b);
    }
    case 'string': return encodeNameAttr(fld.type, v, what);
    case 'stats': case 'stats64': case 'service': case 'dest': case 'daemon':
      if (typeof v !== 'object' || v === null) throw new BugError(`${what}: not an object`);
      return encodeAttr(fld.type, encodeNest(fld.kind, v, nestFlag, af), nestFlag ? NLA_F_NESTED : 0);
  }
}

function addrBytes(fam: Family, v: unknown, what: string): Uint8Array {
  const b = typeof v === 'string' ? (fam === 4 ? parseIpv4(v) : parseIpv6(v)) : undefined;
  if (!b) throw new BugError(`${what}: not an IPv${fam} address: ${String(v)}`);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Messages

/** One netlink message: exactly the bytes of one nlmsghdr's length (trailing padding allowed). */
export function decodeMessage(b: Uint8Array, o: DecodeOptions): Result<NetlinkMessage, CodecError> {
  return decodeNlMessage(b, (h, p) => decodeBody(h, p, o));
}

/** A datagram holding one or more messages (a dump part, an ack after a reply). */
export function decodeMessages(b: Uint8Array, o: DecodeOptions): Result<NetlinkMessage[], CodecError> {
  return decodeNlMessages(b, (h, p) => decodeBody(h, p, o));
}

/**
 * A message body (what follows the nlmsghdr) with its header: for adapters whose socket library
 * parsed the nlmsghdr already.
 */
export function decodeBody(header: NlHeader, p: Uint8Array, o: DecodeOptions): Result<NetlinkMessage, CodecError> {
  if (header.type === NLMSG_ERROR || header.type === NLMSG_DONE || header.type !== o.ipvsFamily) return decodeNlBody(header, p);
  if (p.length < GENL_HDRLEN) return codecFail('short', `${p.length} bytes, less than a genetlink header`);
  const cmdNo = p[0]!;
  const cmd = IPVS_CMDS[cmdNo];
  if (cmd === undefined || cmd === 'unspec') return codecFail('cmd', `IPVS command ${cmdNo}`);
  const body = p.subarray(GENL_HDRLEN);
  const ctx: Ctx = { svcAf: undefined, nested: false, stats: o.stats ?? true };
  // The service's AF is context for a destination in the same message: the first AF attribute
  // of the first service attribute, unless that service's attributes are malformed. (A malformed
  // top level fails in decodeNest below with the same error.)
  if (cmd !== 'set-info' && checkAttrs(body, cmd) === undefined) {
    for (let off = 0; off < body.length; off += align4(rdU16(body, off))) {
      if ((rdU16(body, off + 2) & NLA_TYPE_MASK) !== 1) continue;
      const svc = body.subarray(off + 4, off + rdU16(body, off));
      if (checkAttrs(svc, cmd) === undefined) {
        for (let i = 0; i < svc.length; i += align4(rdU16(svc, i))) {
          if (rdU16(svc, i) === 6 && (rdU16(svc, i + 2) & NLA_TYPE_MASK) === 1) {
            ctx.svcAf = rdU16(svc, i + 4);
            break;
          }
        }
      }
      break;
    }
  }
  const attrs = decodeNest(cmd === 'set-info' ? 'info' : 'cmd', body, ctx, cmd);
  if (!attrs.ok) return attrs;
  return ok({ kind: 'ipvs', header, cmd, version: p[1]!, nlaNested: ctx.nested, attrs: attrs.value as IpvsAttrs });
}

/** The generic-netlink part of an IPVS message: genlmsghdr and attributes (no nlmsghdr). */
export function encodeIpvsPayload(cmd: IpvsCmd, attrs: IpvsAttrs, o: { version?: number; nlaNested?: boolean } = {}): Uint8Array {
  const g = encodeGenlHeader(cmdNumber(cmd), o.version ?? IPVS_GENL_VERSION);
  return concat([g, encodeNest(cmd === 'set-info' ? 'info' : 'cmd', attrs, o.nlaNested ?? true, undefined)]);
}

/** A whole message, nlmsghdr included (length computed). Throws BugError on values out of range. */
export function encodeMessage(m: NetlinkMessage): Uint8Array {
  const body = m.kind === 'ipvs' ? encodeIpvsPayload(m.cmd, m.attrs, { version: m.version, nlaNested: m.nlaNested }) : encodeNlBody(m);
  return encodeNlMessage(m.header, body);
}

// ---------------------------------------------------------------------------------------------
// Requests duet sends (pure: the client adds the header). Identity-only services where the
// kernel needs no more (deletes, dest commands, gets); full services and dests for add/edit.

export interface IpvsRequest {
  readonly cmd: IpvsCmd;
  /** NLM_F_DUMP: the kernel answers with a multipart dump ending in NLMSG_DONE. */
  readonly dump: boolean;
  readonly attrs: IpvsAttrs;
}

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

export type DaemonState = 'master' | 'backup';

export interface DaemonConfig {
  readonly state: DaemonState;
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

export interface IpvsInfo {
  /** "1.2.1" */
  readonly version: string;
  readonly versionCode: number;
  readonly connTabSize: number;
}

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
  newDaemon: (d: DaemonConfig): IpvsRequest => ({ cmd: 'new-daemon', dump: false, attrs: { daemon: daemonToWire(d) } }),
  delDaemon: (state: DaemonState): IpvsRequest => ({ cmd: 'del-daemon', dump: false, attrs: { daemon: { state: daemonStateNumber(state) } } }),
  getDaemons: (): IpvsRequest => ({ cmd: 'get-daemon', dump: true, attrs: {} }),
  /** Zero the counters of one service, or of all. */
  zero: (s?: ServiceId): IpvsRequest => ({ cmd: 'zero', dump: false, attrs: s ? { service: serviceIdToWire(s) } : {} }),
  /** Delete every service. duet never flushes to reload; tests may. */
  flush: (): IpvsRequest => ({ cmd: 'flush', dump: false, attrs: {} }),
} as const;

/** The whole request message. Flags: REQUEST | ACK, plus DUMP for dumps (as ipvsadm sends). */
export function encodeRequest(r: IpvsRequest, h: { ipvsFamily: number; seq: number; port: number }): Uint8Array {
  return encodeMessage({
    kind: 'ipvs',
    header: { type: h.ipvsFamily, flags: NLM_F_REQUEST | NLM_F_ACK | (r.dump ? NLM_F_DUMP : 0), seq: h.seq, port: h.port },
    cmd: r.cmd, version: IPVS_GENL_VERSION, nlaNested: true, attrs: r.attrs,
  });
}

// ---------------------------------------------------------------------------------------------
// Model <-> wire

const PROTOCOLS: Readonly<Record<Protocol, number>> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };
const FORWARD_NUMBERS: Readonly<Record<Forward, number>> = { masq: 0, local: 1, tunnel: 2, route: 3, bypass: 4 };
const TUNNEL_TYPE_NUMBERS: Readonly<Record<TunnelType, number>> = { ipip: 0, gue: 1, gre: 2 };
const TUNNEL_CSUM_NUMBERS: Readonly<Record<TunnelCsum, number>> = { nocsum: 0, csum: IP_VS_TUNNEL_ENCAP_FLAG_CSUM, remcsum: IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM };

const afOf = (fam: Family): number => (fam === 4 ? AF_INET : AF_INET6);
const daemonStateNumber = (s: DaemonState): number => (s === 'master' ? IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP);

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

export function daemonToWire(d: DaemonConfig): WireDaemon {
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
export function daemonFromWire(w: WireDaemon): Result<Required<DaemonConfig>, MapError> {
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
