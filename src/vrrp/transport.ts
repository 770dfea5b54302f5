// The one small interface every VRRP transport implements, shaped like node:dgram.
// Messages are VRRP payloads (no IP header); what the IP layer knew comes in rinfo.
import type { EventEmitter } from 'node:events';

export interface TransportRinfo {
  /** Sender address. */
  address: string;
  family: 'IPv4' | 'IPv6';
  /** Destination address of the packet (multicast group or our unicast address). */
  dst: string;
  /** Ingress interface name. */
  ifname: string;
  /** IPv4 TTL / IPv6 hop limit; undefined where the transport cannot see it (UDP). */
  ttl: number | undefined;
}

export interface TransportDrop {
  reason: 'short' | 'ip-header';
  detail: string;
  address?: string;
}

export interface VrrpTransport extends EventEmitter {
  /** Send a VRRP payload to dst (the multicast group or a unicast peer). Rejects on a socket error. */
  send(payload: Uint8Array, dst: string): Promise<void>;
  /** The source address this transport stamps on its packets (for the v3 pseudo-header checksum). */
  readonly srcAddress: string;
  close(): void;
  /**
   * Read what is already waiting in the socket, now: 'message' (and 'drop') for each packet, before
   * this returns; bounded. For a timer that fires after a slow turn while adverts wait unread.
   * Absent where the transport cannot read synchronously.
   */
  drain?(): void;
  on(event: 'message', fn: (msg: Buffer, rinfo: TransportRinfo) => void): this;
  on(event: 'drop', fn: (d: TransportDrop) => void): this;
  on(event: 'error', fn: (e: Error) => void): this;
}
