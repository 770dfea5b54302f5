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

/** What an AdvertPacer has done since it was opened. */
export interface PacerStats {
  sent: number;
  errors: number;
  /** The last send error (a Node-style code such as 'ENODEV'), if any. */
  lastError: string | undefined;
  /** Times the thread stopped because the lease was not renewed. */
  lapses: number;
  /** Milliseconds since its last successful send; undefined: none yet. */
  sinceLastSendMs: number | undefined;
  /** Why the thread did not get the real-time policy asked for (undefined: it did, or none was asked). */
  realtimeError?: string | undefined;
}

/**
 * A master's adverts sent from a thread of their own, so a busy event loop does not delay them
 * (native/advert_pacer.c). The instance decides what and when to start; the thread repeats it
 * every interval while the lease (renewed by feed()) holds.
 */
export interface AdvertPacer {
  /** Send these adverts now (throws IoError if the first send fails; nothing is paced then), then every intervalMs. */
  run(adverts: readonly { payload: Uint8Array; dst: string }[], intervalMs: number): void;
  /** Renew the lease: the instance is alive and still master. Resumes sending after a lapse. */
  feed(): void;
  /** No more sends until the next run(). */
  stop(): void;
  stats(): PacerStats;
  close(): void;
}

export interface PacerOptions {
  /** Sends stop when feed() has not come for this long (a stuck event loop gives up mastership). */
  leaseMs: number;
  /** The thread's real-time policy (realtime.vrrp_priority), if any. */
  realtime?: { policy: 'fifo' | 'rr'; priority: number } | undefined;
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
  /** A pacer sending on this transport's interface, from this transport's source address; absent where none can be. */
  openPacer?(o: PacerOptions): AdvertPacer;
  on(event: 'message', fn: (msg: Buffer, rinfo: TransportRinfo) => void): this;
  on(event: 'drop', fn: (d: TransportDrop) => void): this;
  on(event: 'error', fn: (e: Error) => void): this;
}
