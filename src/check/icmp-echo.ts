// ICMP and ICMPv6 echo, pure: requests, and what a received packet says about one (a reply, or a
// destination unreachable quoting it). Used by the ping check and by the witness's pinger.
import { inetChecksum } from '../vrrp/checksum.js';

const IPPROTO_ICMP = 1;
const ECHO_REQUEST = { 4: 8, 6: 128 } as const;
const ECHO_REPLY = { 4: 0, 6: 129 } as const;
const UNREACHABLE = { 4: 3, 6: 1 } as const;

/**
 * An echo request with id and seq and an 8-byte payload (latin1 text, padded). IPv4: checksum
 * filled in; IPv6: left 0, the kernel fills it in on a raw ICMPv6 socket (RFC 3542 §3.1).
 */
export function icmpEcho(id: number, seq: number, family: 4 | 6 = 4, payload = 'duet-wit'): Buffer {
  const b = Buffer.alloc(16);
  b[0] = ECHO_REQUEST[family];
  b.writeUInt16BE(id & 0xffff, 4);
  b.writeUInt16BE(seq & 0xffff, 6);
  b.write(payload.slice(0, 8), 8, 'latin1');
  if (family === 4) b.writeUInt16BE(inetChecksum(b), 2);
  return b;
}

/** An echo reply (type 0) in a received IPv4 packet (header included): its id and seq, else undefined. */
export function parseEchoReply(pkt: Buffer): { id: number; seq: number } | undefined {
  const r = parseIcmp(pkt, 4);
  return r?.kind === 'reply' ? { id: r.id, seq: r.seq } : undefined;
}

/** What a received ICMP packet says about one of our echoes. */
export interface EchoNews {
  readonly kind: 'reply' | 'unreachable';
  readonly id: number;
  readonly seq: number;
  /** reply: who answered (IPv4: from the IP header; IPv6: the caller's, from recvfrom). */
  readonly from?: string;
  /** unreachable: where the quoted echo was going (4 or 16 address bytes). */
  readonly to?: Uint8Array;
  /** unreachable: the ICMP code (port, host, net, admin...). */
  readonly code?: number;
}

/**
 * An echo reply, or a destination unreachable quoting an echo request, in a packet read from a
 * raw socket: IPv4 with its IP header, IPv6 without (the kernel strips it). Anything else,
 * truncated or malformed: undefined.
 */
export function parseIcmp(pkt: Buffer, family: 4 | 6): EchoNews | undefined {
  let off = 0;
  let from: string | undefined;
  if (family === 4) {
    if (pkt.length < 20 || pkt[9] !== IPPROTO_ICMP) return undefined;
    off = (pkt[0]! & 0x0f) * 4;
    from = `${pkt[12]}.${pkt[13]}.${pkt[14]}.${pkt[15]}`;
  }
  if (pkt.length < off + 8) return undefined;
  const type = pkt[off]!;
  if (type === ECHO_REPLY[family] && pkt[off + 1] === 0) {
    const r: EchoNews = { kind: 'reply', id: pkt.readUInt16BE(off + 4), seq: pkt.readUInt16BE(off + 6) };
    return from === undefined ? r : { ...r, from };
  }
  if (type !== UNREACHABLE[family]) return undefined;
  const code = pkt[off + 1]!;
  // The quoted packet: its IP header, then at least the 8 bytes of our echo header.
  const inner = off + 8;
  if (family === 4) {
    if (pkt.length < inner + 20 || pkt[inner + 9] !== IPPROTO_ICMP) return undefined;
    const echo = inner + (pkt[inner]! & 0x0f) * 4;
    if (pkt.length < echo + 8 || pkt[echo] !== ECHO_REQUEST[4]) return undefined;
    return { kind: 'unreachable', id: pkt.readUInt16BE(echo + 4), seq: pkt.readUInt16BE(echo + 6), to: pkt.subarray(inner + 16, inner + 20), code };
  }
  const echo = inner + 40;
  if (pkt.length < echo + 8 || pkt[inner + 6] !== 58 || pkt[echo] !== ECHO_REQUEST[6]) return undefined;
  return { kind: 'unreachable', id: pkt.readUInt16BE(echo + 4), seq: pkt.readUInt16BE(echo + 6), to: pkt.subarray(inner + 24, inner + 40), code };
}
