// Textual IP addresses <-> wire bytes. Pure. IPv6 text is produced in RFC 5952 canonical form
// (lower case, leading zeros dropped, the first longest run of two or more zero groups as "::",
// IPv4-mapped addresses in mixed notation as inet_ntop prints them), so decoded addresses compare
// equal as strings. Parsing is strict: no zone ids, no octal/short IPv4 forms, and no prefix
// lengths but through parsePrefix.

import { err, ok, type Result } from './result.js';

/** IP address family: 4 or 6. */
export type Family = 4 | 6;

/** Bytes an address of this family takes on the wire. */
export const addrLen = (family: Family): 4 | 16 => (family === 4 ? 4 : 16);

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Dotted quad to 4 bytes; undefined unless exactly four decimal octets without leading zeros. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!DEC_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** 4 bytes at off as a dotted quad. The caller guarantees off + 4 <= b.length. */
export const formatIpv4 = (b: Uint8Array, off = 0): string =>
  `${b[off] ?? 0}.${b[off + 1] ?? 0}.${b[off + 2] ?? 0}.${b[off + 3] ?? 0}`;

/** Parse colon-separated groups; a dotted quad is accepted as the last part when allowed. */
function parseGroups(parts: readonly string[], v4Last: boolean): number[] | undefined {
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (v4Last && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIpv4(p);
      if (!v4) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      if (!HEX_GROUP.test(p)) return undefined;
      groups.push(parseInt(p, 16));
    }
  }
  return groups;
}

/** RFC 4291 §2.2 text (any of its three forms) to 16 bytes; undefined when malformed. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const dbl = text.indexOf('::');
  if (dbl !== -1 && text.indexOf('::', dbl + 1) !== -1) return undefined; // at most one "::" (also rejects ":::")
  let head: number[] | undefined;
  let tail: number[] | undefined;
  if (dbl === -1) {
    head = parseGroups(text.split(':'), true);
    tail = [];
    if (!head || head.length !== 8) return undefined;
  } else {
    const h = text.slice(0, dbl);
    const t = text.slice(dbl + 2);
    head = h === '' ? [] : parseGroups(h.split(':'), false);
    tail = t === '' ? [] : parseGroups(t.split(':'), true);
    // "::" stands for at least one zero group.
    if (!head || !tail || head.length + tail.length > 7) return undefined;
  }
  const out = new Uint8Array(16);
  const put = (g: number, i: number): void => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; };
  head.forEach((g, i) => put(g, i));
  tail.forEach((g, i) => put(g, 8 - tail.length + i));
  return out;
}

/** 16 bytes at off in RFC 5952 form. The caller guarantees off + 16 <= b.length. */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[off + 2 * i] ?? 0) << 8) | (b[off + 2 * i + 1] ?? 0));
  // RFC 5952 §5: IPv4-mapped addresses (::ffff:0:0/96) in mixed notation.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(b, off + 12)}`;
  }
  // §4.2.1-4.2.3: shorten the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestStart === -1) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Drop an IPv6 zone index ("fe80::1%eth0" -> "fe80::1"): transports report link-local peers with one. */
export const stripZone = (text: string): string => {
  const i = text.indexOf('%');
  return i === -1 ? text : text.slice(0, i);
};

export const parseAddr = (family: Family, text: string): Uint8Array | undefined =>
  family === 4 ? parseIpv4(text) : parseIpv6(text);

export const formatAddr = (family: Family, b: Uint8Array, off = 0): string =>
  family === 4 ? formatIpv4(b, off) : formatIpv6(b, off);

/** The canonical text of an address of this family, or undefined when it is not one. */
export function canonicalAddr(family: Family, text: string): string | undefined {
  const b = parseAddr(family, text);
  return b && formatAddr(family, b);
}

// Checked parsing with a reason for the operator (the config, CLI options): one address, a
// unicast host address, an address with a prefix length; canonical text as above.

export interface IpAddress {
  address: string;
  family: Family;
}

export interface IpPrefix extends IpAddress {
  prefixLen: number;
}

/** Parse one address (no prefix, no zone). The error is a human phrase. */
export function parseIp(s: string): Result<IpAddress & { bytes: Uint8Array }, string> {
  const v4 = parseIpv4(s);
  if (v4) return ok({ address: formatAddr(4, v4), family: 4, bytes: v4 });
  if (s.includes(':')) {
    if (s.includes('%')) return err(`'${s}': zone indexes are not allowed`);
    const v6 = parseIpv6(s);
    if (v6) return ok({ address: formatAddr(6, v6), family: 6, bytes: v6 });
  }
  return err(`'${s}' is not an IPv4 or IPv6 address`);
}

/** Why an address cannot be a VIP or a VRRP peer, or undefined when it can. */
function notUnicast(family: Family, b: Uint8Array): string | undefined {
  const b0 = b[0] ?? 0;
  if (b.every((x) => x === 0)) return 'the unspecified address';
  if (family === 4) {
    if (b0 >= 224 && b0 <= 239) return 'a multicast address';
    if (b.every((x) => x === 255)) return 'the broadcast address';
    if (b0 === 127) return 'a loopback address';
    if (b0 === 0 || b0 >= 240) return 'a reserved address';
  } else {
    if (b0 === 0xff) return 'a multicast address';
    if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return 'the loopback address';
  }
  return undefined;
}

/** A unicast host address (VRRP peers, unicast source). */
export function parseUnicast(s: string): Result<IpAddress, string> {
  const r = parseIp(s);
  if (!r.ok) return r;
  const bad = notUnicast(r.value.family, r.value.bytes);
  if (bad) return err(`'${s}' is ${bad}`);
  return ok({ address: r.value.address, family: r.value.family });
}

/** "ADDR" or "ADDR/PREFIX"; the prefix defaults to the full length (32 or 128). */
export function parsePrefix(s: string): Result<IpPrefix, string> {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const r = parseUnicast(addr);
  if (!r.ok) return r;
  const max = r.value.family === 4 ? 32 : 128;
  if (slash < 0) return ok({ ...r.value, prefixLen: max });
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) < 1 || Number(p) > max) {
    return err(`prefix length must be 1..${max}, got '${p}'`);
  }
  return ok({ ...r.value, prefixLen: Number(p) });
}

// Throwing forms for adapters, where a bad address is a caller bug (config validated it).
export const isIpv4 = (a: string): boolean => parseIpv4(a) !== undefined;
export const isIpv6 = (a: string): boolean => parseIpv6(stripZone(a)) !== undefined;

export function ipv4Bytes(a: string): Uint8Array {
  const b = parseIpv4(a);
  if (!b) throw new TypeError(`not an IPv4 address: ${a}`);
  return b;
}

export function ipv6Bytes(a: string): Uint8Array {
  const b = parseIpv6(stripZone(a));
  if (!b) throw new TypeError(`not an IPv6 address: ${a}`);
  return b;
}

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new TypeError(`not a MAC address: ${mac}`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export const formatMac = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
