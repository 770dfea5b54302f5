// Address checks for the config layer. Pure. Parsing and canonical text come from the VRRP
// codec's address module, so configured addresses compare equal, as strings, to decoded ones
// (IPv4 dotted quad without leading zeros, IPv6 in RFC 5952 form).

import { err, ok, type Result } from '../core/result.js';
import { formatAddr, parseIpv4, parseIpv6 } from '../core/addr.js';
import type { Family } from '../vrrp/types.js';

export type { Family };

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
