// Minimal IPv4 header codec: raw IPv4 sockets deliver the header with each packet, and the
// keepalived test vectors carry one. Pure; no options are generated, received ones are skipped.
import { type Result, ok, err } from '../core/result.js';
import type { Reject } from './types.js';
import { inetChecksum } from './checksum.js';
import { formatIpv4, ipv4Bytes } from '../core/addr.js';

export const IPPROTO_VRRP = 112;

export interface Ipv4Header {
  tos: number;
  id: number;
  ttl: number;
  protocol: number;
  src: string;
  dst: string;
}


/** Split a received IPv4 packet into header fields and payload (bounded by the header's total length). */
export function decodeIpv4Header(pkt: Uint8Array): Result<{ header: Ipv4Header; payload: Uint8Array }, Reject> {
  if (pkt.length < 20) return err({ reason: 'short', detail: `${pkt.length} bytes, IPv4 header needs 20` });
  const vihl = pkt[0]!;
  if (vihl >> 4 !== 4) return err({ reason: 'ip-header', detail: `IP version ${vihl >> 4}` });
  const ihl = (vihl & 0x0f) * 4;
  const total = (pkt[2]! << 8) | pkt[3]!;
  if (ihl < 20 || ihl > pkt.length) return err({ reason: 'ip-header', detail: `header length ${ihl}` });
  // Linux raw sockets hand us the packet as received; a total length beyond the buffer is malformed.
  if (total < ihl || total > pkt.length) return err({ reason: 'ip-header', detail: `total length ${total}, have ${pkt.length}` });
  return ok({
    header: {
      tos: pkt[1]!,
      id: (pkt[4]! << 8) | pkt[5]!,
      ttl: pkt[8]!,
      protocol: pkt[9]!,
      src: formatIpv4(pkt, 12),
      dst: formatIpv4(pkt, 16),
    },
    payload: pkt.subarray(ihl, total),
  });
}

/** Build a 20-byte IPv4 header (DF clear, no options) followed by payload. */
export function encodeIpv4Packet(h: Ipv4Header, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + payload.length);
  const total = out.length;
  out.set([0x45, h.tos, total >> 8, total & 0xff, h.id >> 8, h.id & 0xff, 0, 0, h.ttl, h.protocol, 0, 0]);
  out.set(ipv4Bytes(h.src), 12);
  out.set(ipv4Bytes(h.dst), 16);
  const sum = inetChecksum(out.subarray(0, 20));
  out[10] = sum >> 8;
  out[11] = sum & 0xff;
  out.set(payload, 20);
  return out;
}
