// VRRP advertisement codec: RFC 3768 §5 (v2) and RFC 5798 §5 (v3). Pure: bytes in, values out.
// Decoding checks well-formedness only, in a fixed order (size bounds, version, type, exact length,
// checksum, v2 auth type) and never throws; checks that need our configuration (TTL, VRID, own
// packets, auth, interval) are checkReceived's (receive.ts). Encoding throws BugError for adverts
// no correct caller builds (out-of-range fields, unparsable addresses).
import { type Result, ok, err } from '../core/result.js';
import { BugError } from '../core/errors.js';
import type { Advert, AuthType, Family, ReceivedAdvert, Reject, RejectReason, VrrpVersion } from './types.js';
import { inetChecksum } from './checksum.js';
import { IPPROTO_VRRP, decodeIpv4Header, encodeIpv4Packet } from './ipv4-header.js';
import { addrLen, formatAddr, parseAddr, parseIpv4, stripZone } from '../core/addr.js';

export const VRRP_TYPE_ADVERTISEMENT = 1;
/** Version/type, VRID, priority, count, auth type|rsvd+max adver int, checksum. */
export const VRRP_HEADER_LEN = 8;
/** v2 only: the authentication data trailing the addresses. */
export const VRRP_AUTH_LEN = 8;
export const VRRP_MAX_ADDRS = 255;
/** v3: 12-bit Max Adver Int, centiseconds. */
export const VRRP_V3_MAX_ADVER_INT_CS = 0xfff;

export interface CodecOptions {
  family: Family;
  /** IP source and destination of the packet; only the v3 pseudo-header checksum reads them. */
  src: string;
  dst: string;
  /**
   * v3: checksum over the pseudo-header (src, dst, zero, 112, length) + message, RFC 5798 §5.2.8.
   * Default true; false is an interop switch for peers that checksum the message only.
   */
  pseudoHeader?: boolean;
}

/** IPv4 header fields for encodeIpv4Vrrp (protocol is always 112). */
export interface Ipv4Fields {
  src: string;
  dst: string;
  ttl: number;
  tos: number;
  id: number;
}

/** Exact message length for a version, family and address count. */
export const advertLength = (version: VrrpVersion, family: Family, count: number): number =>
  VRRP_HEADER_LEN + count * addrLen(family) + (version === 2 ? VRRP_AUTH_LEN : 0);

const minLength = (family: Family): number => advertLength(3, family, 1);
const maxLength = (family: Family): number => advertLength(family === 4 ? 2 : 3, family, VRRP_MAX_ADDRS);

const reject = (reason: RejectReason, detail: string): { ok: false; error: Reject } => err({ reason, detail });

const utf8Encoder = new TextEncoder();
// Non-fatal (invalid bytes become U+FFFD) and BOM-preserving, so decoding never throws.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * The 8-byte wire form of a v2 simple password: its UTF-8 bytes (as keepalived copies them from
 * its configuration), NUL-padded. Undefined when longer than 8 bytes.
 */
export function authDataBytes(password: string): Uint8Array | undefined {
  const b = utf8Encoder.encode(password);
  if (b.length > VRRP_AUTH_LEN) return undefined;
  const out = new Uint8Array(VRRP_AUTH_LEN);
  out.set(b);
  return out;
}

/** A password as decodeAdvert reports it: trailing NUL padding removed. */
export const trimAuthData = (s: string): string => s.replace(/\0+$/, '');

function decodeAuthData(b: Uint8Array): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return utf8Decoder.decode(b.subarray(0, end));
}

/** The pseudo-header of RFC 5798 §5.2.8: RFC 768 layout for IPv4, RFC 8200 §8.1 for IPv6. */
function pseudoHeaderBytes(family: Family, src: Uint8Array, dst: Uint8Array, length: number): Uint8Array {
  if (family === 4) {
    const ph = new Uint8Array(12);
    ph.set(src, 0);
    ph.set(dst, 4);
    ph.set([0, IPPROTO_VRRP, length >> 8, length & 0xff], 8);
    return ph;
  }
  const ph = new Uint8Array(40);
  ph.set(src, 0);
  ph.set(dst, 16);
  ph.set([length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff, 0, 0, 0, IPPROTO_VRRP], 32);
  return ph;
}

/** Checksum of msg as sent (field zero) or as received (result 0 when correct); a Reject when src/dst are unusable. */
function advertChecksum(version: VrrpVersion, msg: Uint8Array, o: CodecOptions): number | Reject {
  if (version === 2 || o.pseudoHeader === false) return inetChecksum(msg);
  // A zone index on a link-local src/dst is socket metadata, not part of the address.
  const src = parseAddr(o.family, o.family === 6 ? stripZone(o.src) : o.src);
  const dst = parseAddr(o.family, o.family === 6 ? stripZone(o.dst) : o.dst);
  if (!src || !dst) {
    return { reason: 'family', detail: `pseudo-header needs IPv${o.family} addresses, got ${o.src} -> ${o.dst}` };
  }
  return inetChecksum(pseudoHeaderBytes(o.family, src, dst, msg.length), msg);
}

/** Build the VRRP message (no IP header). Throws BugError for an advert no correct caller builds. */
export function encodeAdvert(a: Advert, o: CodecOptions): Uint8Array {
  const bug = (what: string): BugError => new BugError(`encodeAdvert: ${what}`);
  const byte = (x: number, what: string): number => {
    if (!Number.isInteger(x) || x < 0 || x > 255) throw bug(`${what} ${x} is not 0..255`);
    return x;
  };
  if (a.version !== 2 && a.version !== 3) throw bug(`version ${String(a.version)}`);
  if (a.version === 2 && o.family !== 4) throw bug('VRRPv2 is IPv4-only');
  const count = a.addresses.length;
  if (count < 1 || count > VRRP_MAX_ADDRS) throw bug(`${count} addresses, need 1..${VRRP_MAX_ADDRS}`);

  const msg = new Uint8Array(advertLength(a.version, o.family, count));
  msg[0] = (a.version << 4) | VRRP_TYPE_ADVERTISEMENT;
  msg[1] = byte(a.vrid, 'vrid');
  msg[2] = byte(a.priority, 'priority');
  msg[3] = count;
  if (a.version === 2) {
    // RFC 3768 §5.3.7: Adver Int in whole seconds.
    const authType = a.authType ?? 0;
    if (authType !== 0 && authType !== 1) throw bug(`auth type ${String(authType)}`);
    msg[4] = authType;
    msg[5] = byte(a.maxAdverIntCs / 100, 'v2 advert interval (s)');
    if (authType === 1) {
      const pw = authDataBytes(a.authData ?? '');
      if (!pw) throw bug('password longer than 8 bytes');
      msg.set(pw, msg.length - VRRP_AUTH_LEN);
    } else if (a.authData) {
      throw bug('auth data given with auth type 0');
    }
  } else {
    // RFC 5798 §5.2.7: 4 reserved bits (zero), 12-bit Max Adver Int in centiseconds.
    const mai = a.maxAdverIntCs;
    if (!Number.isInteger(mai) || mai < 0 || mai > VRRP_V3_MAX_ADVER_INT_CS) throw bug(`max adver int ${mai} cs`);
    msg[4] = mai >> 8;
    msg[5] = mai & 0xff;
  }
  const alen = addrLen(o.family);
  a.addresses.forEach((text, i) => {
    const b = parseAddr(o.family, text);
    if (!b) throw bug(`address ${JSON.stringify(text)} is not IPv${o.family}`);
    msg.set(b, VRRP_HEADER_LEN + i * alen);
  });
  const sum = advertChecksum(a.version, msg, o);
  if (typeof sum !== 'number') throw bug(sum.detail);
  msg[6] = sum >> 8;
  msg[7] = sum & 0xff;
  return msg;
}

/** Parse a VRRP message (no IP header). Well-formedness only; never throws. */
export function decodeAdvert(msg: Uint8Array, o: CodecOptions): Result<Advert, Reject> {
  const family = o.family;
  // Size bounds first, before any field is read.
  const min = minLength(family);
  const max = maxLength(family);
  if (msg.length < min) return reject('short', `${msg.length} bytes, an IPv${family} advertisement has at least ${min}`);
  if (msg.length > max) return reject('length', `${msg.length} bytes, an IPv${family} advertisement has at most ${max}`);

  const version = msg[0]! >> 4;
  if (version !== 2 && version !== 3) return reject('version', `version ${version}, not 2 or 3`);
  if (version === 2 && family === 6) return reject('version', 'VRRPv2 over IPv6 (v2 is IPv4-only)');

  const type = msg[0]! & 0x0f;
  if (type !== VRRP_TYPE_ADVERTISEMENT) return reject('type', `type ${type}, not 1 (ADVERTISEMENT)`);

  // The count is at least 1 (RFC 5798 §5.2.5) and fixes the length exactly (v2: plus auth data).
  const count = msg[3]!;
  if (count === 0) return reject('length', 'address count 0');
  const want = advertLength(version, family, count);
  if (msg.length !== want) return reject('length', `${count} addresses need ${want} bytes, have ${msg.length}`);

  const sum = advertChecksum(version, msg, o);
  if (typeof sum !== 'number') return err(sum);
  if (sum !== 0) {
    const how = version === 2 ? 'message only' : o.pseudoHeader === false ? 'without pseudo-header' : 'with pseudo-header';
    return reject('checksum', `v${version} checksum 0x${((msg[6]! << 8) | msg[7]!).toString(16).padStart(4, '0')} wrong (${how})`);
  }

  const addresses: string[] = [];
  const alen = addrLen(family);
  for (let i = 0; i < count; i++) addresses.push(formatAddr(family, msg, VRRP_HEADER_LEN + i * alen));
  const head = { version, vrid: msg[1]!, priority: msg[2]! } as const;

  if (version === 3) {
    // RFC 5798 §5.2.7: the 4 reserved bits are ignored on reception.
    return ok({ ...head, maxAdverIntCs: ((msg[4]! & 0x0f) << 8) | msg[5]!, addresses });
  }
  const authType = msg[4]!;
  // RFC 3768 §5.3.6: 0 none, 1 simple text password; 2 (IP AH) was removed.
  if (authType !== 0 && authType !== 1) return reject('auth-type', `auth type ${authType}, not 0 or 1`);
  const advert: Advert = { ...head, maxAdverIntCs: msg[5]! * 100, addresses, authType: authType as AuthType };
  // Auth type 0: the data is "set to zero on transmission and ignored on reception".
  if (authType === 1) advert.authData = decodeAuthData(msg.subarray(msg.length - VRRP_AUTH_LEN));
  return ok(advert);
}

/** Parse an IPv4 packet as a raw socket delivers it: IPv4 header, then the VRRP message. */
export function decodeIpv4Vrrp(pkt: Uint8Array, o: { pseudoHeader?: boolean } = {}): Result<ReceivedAdvert, Reject> {
  const ip = decodeIpv4Header(pkt);
  if (!ip.ok) return ip;
  const { header: h, payload } = ip.value;
  if (h.protocol !== IPPROTO_VRRP) return reject('ip-header', `protocol ${h.protocol}, not ${IPPROTO_VRRP}`);
  const adv = decodeAdvert(payload, { family: 4, src: h.src, dst: h.dst, pseudoHeader: o.pseudoHeader });
  if (!adv.ok) return adv;
  return ok({ family: 4, src: h.src, dst: h.dst, ttl: h.ttl, advert: adv.value });
}

/** IPv4 header + VRRP message, as decodeIpv4Vrrp reads it back (used for vectors and tests). */
export function encodeIpv4Vrrp(a: Advert, h: Ipv4Fields, o: { pseudoHeader?: boolean } = {}): Uint8Array {
  if (!parseIpv4(h.src) || !parseIpv4(h.dst)) throw new BugError(`encodeIpv4Vrrp: ${h.src} -> ${h.dst} is not IPv4`);
  const msg = encodeAdvert(a, { family: 4, src: h.src, dst: h.dst, pseudoHeader: o.pseudoHeader });
  return encodeIpv4Packet({ ...h, protocol: IPPROTO_VRRP }, msg);
}
