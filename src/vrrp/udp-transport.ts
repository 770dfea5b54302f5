// VRRP payloads over UDP (node:dgram), for duet-to-duet operation where raw sockets are not
// allowed. Not interoperable with keepalived or any RFC VRRP router.
//
// Two sockets, because node:dgram has neither IP_PKTINFO nor SO_BINDTODEVICE:
//  - `group` is bound to multicastGroup:port, so it receives only that group's packets
//    (membership joined on the interface's address);
//  - `unicast` is bound to srcAddress:port: it receives only packets addressed to us and sends
//    everything, so the source address is srcAddress. Multicast TTL 255, loopback off.
// Hence rinfo.dst is exact. What UDP cannot tell: the IP TTL (rinfo.ttl is undefined) and the
// real ingress interface (rinfo.ifname is the configured one; a packet to the group arriving
// on another interface where some other socket joined it would be reported as ours).
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { IoError } from '../core/errors.js';
import { isIpv4 } from '../core/addr.js';
import type { TransportRinfo, VrrpTransport } from './transport.js';

export interface UdpTransportOptions {
  ifname: string;
  /** Local IPv4 address on ifname: bound for unicast, used as the multicast interface. */
  srcAddress: string;
  port: number;
  /** Default 224.0.0.18. */
  multicastGroup?: string;
  /** Join the group (default true); false for unicast peers only. */
  multicast?: boolean;
}

class UdpTransport extends EventEmitter implements VrrpTransport {
  private closed = false;

  constructor(
    private readonly unicast: dgram.Socket,
    private readonly group: dgram.Socket | undefined,
    readonly ifname: string,
    readonly srcAddress: string,
    private readonly port: number,
    private readonly groupAddress: string,
  ) {
    super();
    unicast.on('message', (m, r) => this.onMessage(m, r, srcAddress));
    group?.on('message', (m, r) => this.onMessage(m, r, groupAddress));
    for (const s of [unicast, group]) {
      s?.on('error', (e) => {
        if (!this.closed) this.emit('error', new IoError(`udp transport on ${ifname}: ${e.message}`, { cause: e }));
      });
    }
  }

  private onMessage(msg: Buffer, r: dgram.RemoteInfo, dst: string): void {
    if (this.closed) return;
    if (msg.length === 0) {
      this.emit('drop', { reason: 'short', detail: 'empty datagram', address: r.address });
      return;
    }
    const rinfo: TransportRinfo = { address: r.address, family: 'IPv4', dst, ifname: this.ifname, ttl: undefined };
    this.emit('message', msg, rinfo);
  }

  send(payload: Uint8Array, dst: string): Promise<void> {
    if (this.closed) return Promise.reject(new IoError(`udp transport on ${this.ifname} is closed`));
    if (!isIpv4(dst)) return Promise.reject(new IoError(`send on ${this.ifname}: ${JSON.stringify(dst)} is not an IPv4 address`));
    return new Promise((resolve, reject) => {
      try {
        this.unicast.send(payload, this.port, dst, (e) => {
          if (e) reject(new IoError(`send to ${dst}:${this.port} on ${this.ifname}: ${e.message}`, { cause: e }));
          else resolve();
        });
      } catch (e) {
        reject(new IoError(`send to ${dst}:${this.port} on ${this.ifname}: ${(e as Error).message}`, { cause: e }));
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [this.unicast, this.group]) {
      try {
        s?.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** Used in tests and status output. */
  get multicastGroup(): string {
    return this.groupAddress;
  }
}

function bind(s: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    s.once('error', onError);
    s.bind({ port, address, exclusive: true }, () => {
      s.off('error', onError);
      resolve();
    });
  });
}

export async function createUdpTransport(o: UdpTransportOptions): Promise<VrrpTransport> {
  const groupAddress = o.multicastGroup ?? '224.0.0.18';
  const multicast = o.multicast ?? true;
  if (!isIpv4(o.srcAddress)) throw new IoError(`udp transport: source ${JSON.stringify(o.srcAddress)} is not an IPv4 address`);
  if (!isIpv4(groupAddress) || (Number(groupAddress.split('.')[0]) & 0xf0) !== 224) {
    throw new IoError(`udp transport: ${JSON.stringify(groupAddress)} is not an IPv4 multicast group`);
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new IoError(`udp transport: bad port ${o.port}`);

  const unicast = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  const group = multicast ? dgram.createSocket({ type: 'udp4', reuseAddr: true }) : undefined;
  const step = async (what: string, fn: () => void | Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      for (const s of [unicast, group]) {
        try {
          s?.close();
        } catch {
          /* not bound */
        }
      }
      throw new IoError(`udp transport on ${o.ifname}: ${what}: ${(e as Error).message}`, { cause: e });
    }
  };
  await step(`bind ${o.srcAddress}:${o.port}`, () => bind(unicast, o.port, o.srcAddress));
  await step('socket options', () => {
    unicast.setTTL(255);
    unicast.setMulticastTTL(255);
    unicast.setMulticastLoopback(false);
    unicast.setMulticastInterface(o.srcAddress);
  });
  if (group) {
    // reuseAddr: several processes on one host may listen to the group on the same port.
    await step(`bind ${groupAddress}:${o.port}`, () => bind(group, o.port, groupAddress));
    await step(`join ${groupAddress} on ${o.srcAddress}`, () => group.addMembership(groupAddress, o.srcAddress));
  }
  return new UdpTransport(unicast, group, o.ifname, o.srcAddress, o.port, groupAddress);
}
