// IPVS generic-netlink codec: whole IPVS messages (nlmsghdr + genlmsghdr + attributes) to and
// from plain wire objects, by the field tables of genl-fields.ts; the framing and the attribute
// codec are netlink/attrs.ts, the mapping to and from ipvs/model.ts genl-map.ts. Pure: no I/O,
// no clock; decoders never throw (malformed input is a CodecError value).
//
// Attribute order: the decoder builds each wire object in the order its attributes appear, and
// the encoder writes the attributes of an object in the order of its own keys. So a decoded
// message (also after a JSON round trip) re-encodes byte for byte, and objects built in code
// choose their order (genl-map's *ToWire mappers use ipvsadm's). Unknown attribute types are
// skipped.

import { ok, type Result } from '../core/result.js';
import { BugError } from '../core/errors.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, type Family } from '../core/addr.js';
import {
  GENL_HDRLEN, NLA_F_NESTED, NLA_TYPE_MASK, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, align4,
  checkAttrs, checkUint, codecFail, concat, decodeNlBody, decodeNlMessage, decodeNlMessages, encodeAttr, encodeGenlHeader,
  encodeIntAttr, encodeNameAttr, encodeNlBody, encodeNlMessage, rdBe16, rdBe32, rdU16, rdU32, rdU64, readName, view,
  type AckMessage, type CodecError, type CodecErrorReason, type DoneMessage, type ErrorMessage, type NlHeader, type OtherMessage,
} from '../netlink/attrs.js';
import {
  AF_INET6, BY_KEY, BY_TYPE_ARRAY, IPVS_CMDS, IPVS_GENL_VERSION, cmdNumber, familyOfAf,
  type Field, type FieldSet, type IpvsAttrs, type IpvsCmd, type WireFlags, type WireService,
} from './genl-fields.js';

// ---------------------------------------------------------------------------------------------
// Messages

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

// ---------------------------------------------------------------------------------------------
// Nests: a run of attributes to and from a wire object, field by field

/** Context a nest is decoded in: the family its addresses and netmask use. */
interface Ctx {
  /** AF of the enclosing message's service (for a destination without IPVS_DEST_ATTR_ADDR_FAMILY). */
  svcAf: number | undefined;
  /** Whether some nest carried NLA_F_NESTED. */
  nested: boolean;
  /** Decode stats/stats64 nests (DecodeOptions.stats). */
  readonly stats: boolean;
}

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
// Whole messages

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
// Requests (the client adds the header; genl-map.ts's ipvsRequest builds them from the model)

export interface IpvsRequest {
  readonly cmd: IpvsCmd;
  /** NLM_F_DUMP: the kernel answers with a multipart dump ending in NLMSG_DONE. */
  readonly dump: boolean;
  readonly attrs: IpvsAttrs;
}

/** The whole request message. Flags: REQUEST | ACK, plus DUMP for dumps (as ipvsadm sends). */
export function encodeRequest(r: IpvsRequest, h: { ipvsFamily: number; seq: number; port: number }): Uint8Array {
  return encodeMessage({
    kind: 'ipvs',
    header: { type: h.ipvsFamily, flags: NLM_F_REQUEST | NLM_F_ACK | (r.dump ? NLM_F_DUMP : 0), seq: h.seq, port: h.port },
    cmd: r.cmd, version: IPVS_GENL_VERSION, nlaNested: true, attrs: r.attrs,
  });
}
