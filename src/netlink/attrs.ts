// Netlink framing and the attribute (TLV) codec: nlmsghdr, genlmsghdr, the messages every
// netlink family shares (NLMSG_ERROR as ack or error, NLMSG_DONE), and runs of attributes
// (nested, padded to 4 bytes). Nothing here knows a generic-netlink family: ipvs/genl-codec.ts
// builds the IPVS messages on it. Pure: no I/O, no clock; decoders never throw (malformed input is
// a CodecError value), encoders throw BugError on a value its field cannot hold.
//
// Wire facts (linux/netlink.h, linux/genetlink.h):
//  - netlink and generic-netlink headers, and u16/u32/u64 attributes, are host byte order; this
//    codec reads and writes little-endian (x86-64, arm64): duet does not run on big-endian hosts;
//  - messages and attributes start at 4-byte boundaries; the last attribute's padding may be
//    missing (as nla_ok allows);
//  - NLMSG_ERROR is an int (-errno, 0 for an ack) and the echoed request: its header only with
//    NLM_F_CAPPED, extended-ack attributes after it with NLM_F_ACK_TLVS.

import { ok, type Result } from '../core/result.js';
import { BugError } from '../core/errors.js';
import { errnoName } from './errno.js';

// ---------------------------------------------------------------------------------------------
// Constants (linux/netlink.h, linux/genetlink.h)

export const NLMSG_HDRLEN = 16;
export const GENL_HDRLEN = 4;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
/** NLMSG_ERROR flags: the echoed request is its header only / extended-ack TLVs follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
/** An attribute's type without its NLA_F_NESTED / NLA_F_NET_BYTEORDER flags. */
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
export const GENL_ID_CTRL = 0x10;

// ---------------------------------------------------------------------------------------------
// Messages every family shares

/** nlmsghdr without its length (computed when encoding, checked when decoding). */
export interface NlHeader {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly port: number;
}

/** The echoed request header in an NLMSG_ERROR: its length is the original message's. */
export interface EchoedHeader extends NlHeader {
  readonly len: number;
}

/** NLMSG_ERROR with error 0: the request succeeded. */
export interface AckMessage {
  readonly kind: 'ack';
  readonly header: NlHeader;
  readonly request: EchoedHeader;
  /** The echoed request's payload, hex; absent when the kernel capped it (NLM_F_CAPPED). */
  readonly requestPayload?: string;
}

/** NLMSG_ERROR with a negative errno. */
export interface ErrorMessage {
  readonly kind: 'error';
  readonly header: NlHeader;
  /** Positive errno (the wire carries -errno). */
  readonly errno: number;
  /** 'EEXIST', or 'E<number>' when not in errno.ts's table. Ignored when encoding. */
  readonly errnoName: string;
  readonly request: EchoedHeader;
  readonly requestPayload?: string;
  /** Extended ack (NLM_F_ACK_TLVS): NLMSGERR_ATTR_MSG and NLMSGERR_ATTR_OFFS. */
  readonly extack?: { readonly message?: string; readonly offset?: number };
}

export interface DoneMessage {
  readonly kind: 'done';
  readonly header: NlHeader;
  /** The int that follows the header (0, or a negative errno when the dump failed). */
  readonly status: number;
}

/** Any other message (the ctrl family, NOOP, other families): header and payload hex. */
export interface OtherMessage {
  readonly kind: 'other';
  readonly header: NlHeader;
  readonly payload: string;
}

/** A message as this layer sees it, without knowing any generic-netlink family. */
export type NlMessage = AckMessage | ErrorMessage | DoneMessage | OtherMessage;

export type CodecErrorReason =
  | 'short' // fewer bytes than a header or attribute needs
  | 'length' // a length field disagrees with the bytes present
  | 'attr-length' // an attribute's payload has the wrong size for its type
  | 'cmd' // unknown command number
  | 'family' // an address without a usable family
  | 'value'; // a value the field cannot hold (e.g. a string that is not text)

export interface CodecError {
  readonly reason: CodecErrorReason;
  readonly detail: string;
}

export const codecFail = (reason: CodecErrorReason, detail: string): { ok: false; error: CodecError } => ({ ok: false, error: { reason, detail } });

// ---------------------------------------------------------------------------------------------
// Bytes

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function unhex(h: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(h)) throw new BugError(`not a hex string: ${h.slice(0, 40)}`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
/** NLMSG_ALIGN / NLA_ALIGN: messages and attributes start at 4-byte boundaries. */
export const align4 = (n: number): number => (n + 3) & ~3;

// Integer reads straight from the bytes (no DataView per field). Host order is little-endian.
export const rdU16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
export const rdU32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
export const rdBe16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const rdBe32 = (b: Uint8Array, o: number): number => b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
/** Saturated at 2^53 - 1 (counters: 9 PB), so every decoded value encodes again. */
export const rdU64 = (b: Uint8Array, o: number): number => {
  const hi = rdU32(b, o + 4);
  return hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + rdU32(b, o);
};

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function checkUint(v: number, bits: 8 | 16 | 32 | 64, what: string): void {
  const max = bits === 64 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
  if (!Number.isInteger(v) || v < 0 || v > max) throw new BugError(`${what} out of range for u${bits}: ${v}`);
}

// ---------------------------------------------------------------------------------------------
// Attributes

interface RawAttr {
  readonly type: number;
  readonly nested: boolean;
  readonly data: Uint8Array;
}

/** Splits a run of attributes. The last one's padding may be missing (as nla_ok allows). */
function splitAttrs(b: Uint8Array, where: string): Result<RawAttr[], CodecError> {
  const bad = checkAttrs(b, where);
  if (bad) return bad;
  const out: RawAttr[] = [];
  for (let off = 0; off < b.length; ) {
    const len = rdU16(b, off);
    const type = rdU16(b, off + 2);
    out.push({ type: type & NLA_TYPE_MASK, nested: (type & NLA_F_NESTED) !== 0, data: b.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return ok(out);
}

/**
 * The framing checks of a run of attributes without building anything: an error, or undefined
 * when sound. After it, a walk `for (off = 0; off < b.length; off += align4(rdU16(b, off)))`
 * visits every attribute (length at off, type at off + 2, payload from off + 4).
 */
export function checkAttrs(b: Uint8Array, where: string): { ok: false; error: CodecError } | undefined {
  const n = b.length;
  let off = 0;
  while (off < n) {
    if (n - off < 4) return codecFail('short', `${where}: ${n - off} trailing bytes, less than an attribute header`);
    const len = rdU16(b, off);
    if (len < 4) return codecFail('length', `${where}: attribute ${rdU16(b, off + 2) & NLA_TYPE_MASK} at ${off} has length ${len}`);
    if (off + len > n) return codecFail('length', `${where}: attribute ${rdU16(b, off + 2) & NLA_TYPE_MASK} at ${off} runs past the end (${len} > ${n - off})`);
    off += align4(len);
  }
  return undefined;
}

/** One attribute, padded: header (length, type | flags) and payload. */
export function encodeAttr(type: number, payload: Uint8Array, flags = 0): Uint8Array {
  const len = 4 + payload.length;
  if (len > 0xffff) throw new BugError(`attribute ${type} too long: ${len}`);
  const out = new Uint8Array(align4(len));
  const dv = view(out);
  dv.setUint16(0, len, true);
  dv.setUint16(2, type | flags, true);
  out.set(payload, 4);
  return out;
}

/** Integer attributes: host order (u*) or network order (be*). */
export type IntKind = 'u8' | 'u16' | 'u32' | 'u64' | 'be16' | 'be32';

/** An integer attribute; `v` must be an integer the kind can hold (BugError otherwise). */
export function encodeIntAttr(type: number, kind: IntKind, v: unknown, what: string): Uint8Array {
  const num = (bits: 8 | 16 | 32 | 64): number => {
    if (typeof v !== 'number') throw new BugError(`${what}: not a number: ${String(v)}`);
    checkUint(v, bits, what);
    return v;
  };
  const fixed = (n: number, put: (dv: DataView) => void): Uint8Array => {
    const b = new Uint8Array(n);
    put(view(b));
    return encodeAttr(type, b);
  };
  switch (kind) {
    case 'u8': return fixed(1, (dv) => dv.setUint8(0, num(8)));
    case 'u16': return fixed(2, (dv) => dv.setUint16(0, num(16), true));
    case 'u32': return fixed(4, (dv) => dv.setUint32(0, num(32), true));
    case 'u64': return fixed(8, (dv) => dv.setBigUint64(0, BigInt(num(64)), true));
    case 'be16': return fixed(2, (dv) => dv.setUint16(0, num(16), false));
    case 'be32': return fixed(4, (dv) => dv.setUint32(0, num(32), false));
  }
}

/**
 * A NUL-terminated name (scheduler, interface, persistence engine, extack message): printable
 * ASCII up to the first NUL of b[s, e), or a 'value' error naming `what`.
 */
export function readName(b: Uint8Array, s: number, e: number, what: string): Result<string, CodecError> {
  let text = '';
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 0) break;
    if (c < 0x20 || c > 0x7e) return codecFail('value', `${what}: byte 0x${c.toString(16)} in a name`);
    text += String.fromCharCode(c);
  }
  return ok(text);
}

/** A NUL-terminated name attribute; `v` must be printable ASCII (BugError otherwise). */
export function encodeNameAttr(type: number, v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string' || !/^[\x20-\x7e]*$/.test(v)) throw new BugError(`${what}: not a printable ASCII string: ${String(v)}`);
  const b = new Uint8Array(v.length + 1);
  for (let i = 0; i < v.length; i++) b[i] = v.charCodeAt(i);
  return encodeAttr(type, b);
}

// ---------------------------------------------------------------------------------------------
// Headers

/** The nlmsghdr at b[off]; the caller checked that 16 bytes are there. */
export function decodeNlHeader(b: Uint8Array, off: number): NlHeader & { len: number } {
  return { len: rdU32(b, off), type: rdU16(b, off + 4), flags: rdU16(b, off + 6), seq: rdU32(b, off + 8), port: rdU32(b, off + 12) };
}

function encodeNlHeader(h: NlHeader, len: number): Uint8Array {
  checkUint(h.type, 16, 'nlmsg_type');
  checkUint(h.flags, 16, 'nlmsg_flags');
  checkUint(h.seq, 32, 'nlmsg_seq');
  checkUint(h.port, 32, 'nlmsg_pid');
  checkUint(len, 32, 'nlmsg_len');
  const b = new Uint8Array(NLMSG_HDRLEN);
  const dv = view(b);
  dv.setUint32(0, len, true);
  dv.setUint16(4, h.type, true);
  dv.setUint16(6, h.flags, true);
  dv.setUint32(8, h.seq, true);
  dv.setUint32(12, h.port, true);
  return b;
}

/** genlmsghdr: command, version, two reserved bytes. */
export function encodeGenlHeader(cmd: number, version: number): Uint8Array {
  const g = new Uint8Array(GENL_HDRLEN);
  g[0] = cmd;
  g[1] = version;
  return g;
}

const headerOf = (h: NlHeader): NlHeader => ({ type: h.type, flags: h.flags, seq: h.seq, port: h.port });

// ---------------------------------------------------------------------------------------------
// Messages

/** Decodes a message body (what follows the nlmsghdr) given its header. */
export type BodyDecoder<M> = (header: NlHeader, body: Uint8Array) => Result<M, CodecError>;

/** One netlink message: exactly the bytes of one nlmsghdr's length (trailing padding allowed). */
export function decodeNlMessage<M>(b: Uint8Array, body: BodyDecoder<M>): Result<M, CodecError> {
  if (b.length < NLMSG_HDRLEN) return codecFail('short', `${b.length} bytes, less than a netlink header`);
  const h = decodeNlHeader(b, 0);
  if (h.len < NLMSG_HDRLEN || h.len > b.length) return codecFail('length', `nlmsg_len ${h.len} with ${b.length} bytes`);
  if (align4(h.len) < b.length) return codecFail('length', `${b.length - h.len} bytes after a message of ${h.len}`);
  return body(headerOf(h), b.subarray(NLMSG_HDRLEN, h.len));
}

/** A datagram holding one or more messages (a dump part, an ack after a reply). */
export function decodeNlMessages<M>(b: Uint8Array, body: BodyDecoder<M>): Result<M[], CodecError> {
  const out: M[] = [];
  let off = 0;
  while (off < b.length) {
    if (b.length - off < NLMSG_HDRLEN) return codecFail('short', `${b.length - off} trailing bytes at ${off}, less than a netlink header`);
    const len = rdU32(b, off);
    if (len < NLMSG_HDRLEN || off + len > b.length) return codecFail('length', `nlmsg_len ${len} at ${off} with ${b.length - off} bytes left`);
    const m = decodeNlMessage(b.subarray(off, off + len), body);
    if (!m.ok) return codecFail(m.error.reason, `message at ${off}: ${m.error.detail}`);
    out.push(m.value);
    off += align4(len);
  }
  return ok(out);
}

/** The body of NLMSG_ERROR (ack or error), of NLMSG_DONE, or of any other message (kept as hex). */
export function decodeNlBody(header: NlHeader, p: Uint8Array): Result<NlMessage, CodecError> {
  if (header.type === NLMSG_ERROR) {
    if (p.length < 4 + NLMSG_HDRLEN) return codecFail('short', `NLMSG_ERROR payload of ${p.length} bytes`);
    const e = -(rdU32(p, 0) | 0);
    const rq = decodeNlHeader(p, 4);
    const request: EchoedHeader = { len: rq.len, ...headerOf(rq) };
    let off = 4 + NLMSG_HDRLEN;
    let requestPayload: string | undefined;
    if (!(header.flags & NLM_F_CAPPED)) {
      if (rq.len < NLMSG_HDRLEN || 4 + rq.len > p.length) return codecFail('length', `NLMSG_ERROR echoes ${rq.len} bytes of request with ${p.length - 4} present`);
      requestPayload = hex(p.subarray(off, 4 + rq.len));
      off = 4 + align4(rq.len);
    }
    let extack: ErrorMessage['extack'];
    if (header.flags & NLM_F_ACK_TLVS && off < p.length) {
      const tl = splitAttrs(p.subarray(off), 'extack');
      if (!tl.ok) return tl;
      let message: string | undefined;
      let offset: number | undefined;
      for (const a of tl.value) {
        if (a.type === 1) {
          const s = readName(a.data, 0, a.data.length, 'extack.msg');
          if (!s.ok) return s;
          message = s.value;
        } else if (a.type === 2 && a.data.length === 4) offset = rdU32(a.data, 0);
      }
      if (message !== undefined || offset !== undefined) {
        extack = { ...(message !== undefined ? { message } : {}), ...(offset !== undefined ? { offset } : {}) };
      }
    }
    const base = { header, request, ...(requestPayload !== undefined ? { requestPayload } : {}) };
    if (e === 0) return ok({ kind: 'ack', ...base });
    if (e < 0) return codecFail('value', `NLMSG_ERROR with positive error ${-e}`);
    return ok({ kind: 'error', header, errno: e, errnoName: errnoName(e), request, ...(requestPayload !== undefined ? { requestPayload } : {}), ...(extack ? { extack } : {}) });
  }
  if (header.type === NLMSG_DONE) {
    if (p.length < 4) return codecFail('short', `NLMSG_DONE payload of ${p.length} bytes`);
    return ok({ kind: 'done', header, status: rdU32(p, 0) | 0 });
  }
  return ok({ kind: 'other', header, payload: hex(p) });
}

/** What follows the nlmsghdr of an ack, error, done or other message. */
export function encodeNlBody(m: NlMessage): Uint8Array {
  switch (m.kind) {
    case 'ack':
    case 'error': {
      const e = new Uint8Array(4);
      view(e).setInt32(0, m.kind === 'ack' ? 0 : -m.errno, true);
      const parts = [e, encodeNlHeader(m.request, m.request.len)];
      if (m.requestPayload !== undefined) {
        const rp = unhex(m.requestPayload);
        const padded = new Uint8Array(align4(rp.length));
        padded.set(rp);
        parts.push(padded);
      }
      if (m.kind === 'error' && m.extack) {
        if (m.extack.message !== undefined) parts.push(encodeNameAttr(1, m.extack.message, 'extack.msg'));
        if (m.extack.offset !== undefined) parts.push(encodeIntAttr(2, 'u32', m.extack.offset, 'extack.offs'));
      }
      return concat(parts);
    }
    case 'done': {
      const payload = new Uint8Array(4);
      view(payload).setInt32(0, m.status, true);
      return payload;
    }
    case 'other':
      return unhex(m.payload);
  }
}

/** A whole message: nlmsghdr (length computed) and body. Throws BugError on values out of range. */
export function encodeNlMessage(header: NlHeader, body: Uint8Array): Uint8Array {
  return concat([encodeNlHeader(header, NLMSG_HDRLEN + body.length), body]);
}
