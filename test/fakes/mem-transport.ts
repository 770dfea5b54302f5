// An in-memory VRRP transport: records what is sent; a test delivers packets with deliver().
import { EventEmitter } from 'node:events';
import type { TransportRinfo } from '../../src/vrrp/transport.js';

export class MemTransport extends EventEmitter {
  sent: { bytes: Uint8Array; dst: string }[] = [];
  closed = false;
  constructor(readonly srcAddress = '192.0.2.11', readonly ifname = 'eth0') { super(); }
  /** Set to make every send fail with it. */
  failSends: Error | undefined;
  async send(payload: Uint8Array, dst: string): Promise<void> {
    if (this.failSends) throw this.failSends;
    this.sent.push({ bytes: payload, dst });
  }
  close(): void { this.closed = true; }
  /** Packets waiting in the "socket": handed up by drain() (or flush()), not on their own. */
  waiting: { msg: Uint8Array; src: string }[] = [];
  /** Counts drain() calls. */
  drains = 0;
  drain(): void {
    this.drains++;
    for (const w of this.waiting.splice(0)) this.deliver(w.msg, w.src);
  }
  /** A packet as the socket would hand it up (VRRP payload; sender, TTL 255 unless said). */
  deliver(msg: Uint8Array, src: string, o: { dst?: string; ttl?: number } = {}): void {
    const rinfo: TransportRinfo = { address: src, family: src.includes(':') ? 'IPv6' : 'IPv4', dst: o.dst ?? '224.0.0.18', ifname: this.ifname, ttl: o.ttl ?? 255 };
    this.emit('message', Buffer.from(msg), rinfo);
  }
}
