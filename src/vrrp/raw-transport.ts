// VRRP over a raw IP socket (protocol 112), one socket per interface: the adapter keepalived
// uses. Built on npm raw-socket, which has no bind() and no recvmsg(), hence:
//  - the socket is pinned to its interface with SO_BINDTODEVICE, so the ingress interface of
//    every packet is the configured one;
//  - IPv4 packets are sent with IP_HDRINCL and a header we build (like keepalived), so the
//    source address is exactly `srcAddress` for unicast and multicast alike, TTL 255, TOS 0xc0;
//  - the received IPv4 header gives TTL and destination.
// The socket options are still set (IP_TTL, IP_MULTICAST_*, IP_TOS) so nothing depends on
// IP_HDRINCL alone; IP_MULTICAST_LOOP 0 keeps our own adverts from coming back to us, and
// IP_MULTICAST_ALL 0 limits multicast reception to the group this socket joined.
// With SO_BINDTODEVICE the kernel treats any unicast destination as on-link (no route needed).
//
// Family-specific work sits behind `FamilyOps`. IPv6 needs IPV6_RECVHOPLIMIT + recvmsg to see
// the hop limit and the destination, which raw-socket cannot do; it is not provided yet.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Rtnl } from '../netlink/rtnl.js';
import { IoError } from '../core/errors.js';
import { ipv4Bytes, isIpv4 } from '../core/addr.js';
import { SOL_SOCKET, SO_BINDTODEVICE, IPPROTO_IP, IP_TOS, IP_TTL, IP_HDRINCL, IP_MULTICAST_IF, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_ADD_MEMBERSHIP, IP_MULTICAST_ALL, type RawSocket, type RawSocketModule } from './sockopt.js';
import { decodeIpv4Header, encodeIpv4Packet, IPPROTO_VRRP } from './ipv4-header.js';
import type { AdvertPacer, PacerOptions, TransportDrop, TransportRinfo, VrrpTransport } from './transport.js';
import { openNativePacer } from './advert-pacer.js';

export const VRRP_GROUP_V4 = '224.0.0.18';

export interface RawTransportOptions {
  ifname: string;
  family: 4;
  /**
   * Source address stamped on every packet. Default: the first primary (non-secondary) IPv4
   * address the kernel lists for the interface when the transport is created, i.e. the oldest
   * one of the widest scope. A VIP in the interface's own subnet is secondary and never chosen;
   * a VIP in a subnet of its own (a /32) only if it predates the interface's address. Give the
   * address explicitly when that matters. Not re-read later.
   */
  srcAddress?: string;
  /** Join the VRRP multicast group (224.0.0.18) on the interface; false for unicast peers only. */
  multicast: boolean;
  /** IP TOS / DSCP byte, default 0xc0 (network control), like keepalived. */
  tos?: number;
}

const require = createRequire(import.meta.url);
let rawModule: RawSocketModule | undefined;
const raw = (): RawSocketModule => (rawModule ??= require('raw-socket') as RawSocketModule);

const RECV_BUFFER = 65536; // a whole IP datagram: a short buffer would silently truncate
/** Packets drain() reads at most in one call (a flood cannot hold the loop). */
const MAX_DRAIN = 64;

/** struct ip_mreqn { in_addr multiaddr; in_addr address; int ifindex } (ifindex in host order). */
export function ipMreqn(group: string, address: string, ifindex: number): Buffer {
  const b = Buffer.alloc(12);
  b.set(ipv4Bytes(group), 0);
  b.set(ipv4Bytes(address), 4);
  if (os.endianness() === 'LE') b.writeInt32LE(ifindex, 8);
  else b.writeInt32BE(ifindex, 8);
  return b;
}

/**
 * Interface index and default source address, over rtnetlink: both come from the caller's own
 * network namespace (sysfs would be another namespace's after a bare setns/nsenter), and
 * os.networkInterfaces() omits interfaces that are down or without carrier, while a VRRP
 * router must be able to start on a link that is down (it goes to FAULT and waits).
 * The default source is the first primary IPv4 address in the kernel's order.
 */
export async function interfaceFacts(ifname: string): Promise<{ ifindex: number; firstIpv4: string | undefined }> {
  const rtnl = new Rtnl();
  try {
    const link = await rtnl.getLink(ifname);
    const addrs = await rtnl.listAddresses(ifname);
    return { ifindex: link.index, firstIpv4: addrs.find((a) => a.family === 4 && !a.secondary)?.address };
  } finally {
    rtnl.close();
  }
}

export type Parsed =
  | { kind: 'message'; payload: Buffer; rinfo: TransportRinfo }
  | { kind: 'drop'; drop: TransportDrop }
  | { kind: 'ignore' };

interface FamilyOps {
  addressFamily: 'IPv4' | 'IPv6';
  isAddress(a: string): boolean;
  defaultSource(facts: { firstIpv4: string | undefined }): string | undefined;
  /** Socket options after creation; throws with the option's name on failure. */
  configure(s: RawSocket, c: { ifname: string; ifindex: number; src: string; multicast: boolean; tos: number }): void;
  frame(payload: Uint8Array, src: string, dst: string, tos: number): Buffer;
  parse(pkt: Buffer, from: string, ifname: string): Parsed;
}

function setOpt(s: RawSocket, name: string, level: number, opt: number, value: number | Buffer): void {
  try {
    if (typeof value === 'number') s.setOption(level, opt, value);
    else s.setOption(level, opt, value, value.length);
  } catch (e) {
    throw new IoError(`setsockopt ${name}: ${(e as Error).message}`, { cause: e });
  }
}

const ipv4Ops: FamilyOps = {
  addressFamily: 'IPv4',
  isAddress: isIpv4,
  defaultSource: (f) => f.firstIpv4,
  configure(s, c) {
    setOpt(s, 'SO_BINDTODEVICE', SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${c.ifname}\0`));
    setOpt(s, 'IP_HDRINCL', IPPROTO_IP, IP_HDRINCL, 1);
    setOpt(s, 'IP_TOS', IPPROTO_IP, IP_TOS, c.tos);
    setOpt(s, 'IP_TTL', IPPROTO_IP, IP_TTL, 255);
    setOpt(s, 'IP_MULTICAST_IF', IPPROTO_IP, IP_MULTICAST_IF, ipMreqn('0.0.0.0', c.src, c.ifindex));
    setOpt(s, 'IP_MULTICAST_TTL', IPPROTO_IP, IP_MULTICAST_TTL, 255);
    setOpt(s, 'IP_MULTICAST_LOOP', IPPROTO_IP, IP_MULTICAST_LOOP, 0);
    // Only groups this socket joined: otherwise a raw socket also gets every group any other
    // socket joined on the interface (and a unicast-only transport would see multicast).
    setOpt(s, 'IP_MULTICAST_ALL', IPPROTO_IP, IP_MULTICAST_ALL, 0);
    if (c.multicast) {
      setOpt(s, 'IP_ADD_MEMBERSHIP', IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(VRRP_GROUP_V4, '0.0.0.0', c.ifindex));
    }
  },
  frame(payload, src, dst, tos) {
    // id 0: the kernel picks one; it also fills in the header checksum and total length.
    const pkt = encodeIpv4Packet({ tos, id: 0, ttl: 255, protocol: IPPROTO_VRRP, src, dst }, payload);
    return Buffer.from(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  },
  parse(pkt, from, ifname) {
    const r = decodeIpv4Header(pkt);
    if (!r.ok) {
      return { kind: 'drop', drop: { reason: r.error.reason === 'short' ? 'short' : 'ip-header', detail: r.error.detail, address: from } };
    }
    const { header, payload } = r.value;
    if (header.protocol !== IPPROTO_VRRP) return { kind: 'ignore' };
    return {
      kind: 'message',
      // raw-socket reuses its receive buffer: copy before handing it out.
      payload: Buffer.from(payload),
      rinfo: { address: header.src, family: 'IPv4', dst: header.dst, ifname, ttl: header.ttl },
    };
  },
};

const FAMILIES: Record<RawTransportOptions['family'], FamilyOps> = { 4: ipv4Ops };

// Transient conditions raw-socket reports as exceptions from recvfrom; not worth an 'error'.
const TRANSIENT = /temporarily unavailable|interrupted system call|would block/i;

class RawTransport extends EventEmitter implements VrrpTransport {
  private closed = false;
  private drainBuf: Buffer | undefined;
  private readonly pending = new Set<(e: Error) => void>();

  constructor(
    private readonly sock: RawSocket,
    private readonly ops: FamilyOps,
    readonly ifname: string,
    readonly srcAddress: string,
    private readonly tos: number,
  ) {
    super();
    sock.on('message', (buf: Buffer, from: string) => this.onPacket(buf, from));
    sock.on('error', (e: Error) => this.onSocketError(e));
    sock.on('close', () => this.onSocketClose());
  }

  private onPacket(buf: Buffer, from: string): void {
    if (this.closed) return;
    const p = this.ops.parse(buf, from, this.ifname);
    if (p.kind === 'message') this.emit('message', p.payload, p.rinfo);
    else if (p.kind === 'drop') this.emit('drop', p.drop);
  }

  private onSocketError(e: Error): void {
    if (this.closed || TRANSIENT.test(e.message)) return;
    this.emit('error', new IoError(`raw socket on ${this.ifname}: ${e.message}`, { cause: e }));
  }

  /** raw-socket closes the socket itself after a poll error; the transport is dead then. */
  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectPending(new IoError(`raw socket on ${this.ifname} closed`));
  }

  private rejectPending(e: Error): void {
    for (const reject of this.pending) reject(e);
    this.pending.clear();
  }

  send(payload: Uint8Array, dst: string): Promise<void> {
    if (this.closed) return Promise.reject(new IoError(`raw transport on ${this.ifname} is closed`));
    if (!this.ops.isAddress(dst)) {
      return Promise.reject(new IoError(`send on ${this.ifname}: ${JSON.stringify(dst)} is not an ${this.ops.addressFamily} address`));
    }
    const pkt = this.ops.frame(payload, this.srcAddress, dst, this.tos);
    return new Promise<void>((resolve, reject) => {
      const settle = (e: Error | null) => {
        if (!this.pending.delete(onClose)) return; // already rejected by close()
        if (e) reject(new IoError(`send to ${dst} on ${this.ifname}: ${e.message}`, { cause: e }));
        else resolve();
      };
      const onClose = (e: Error) => reject(e);
      this.pending.add(onClose);
      if (this.sendNow(pkt, dst)) { settle(null); return; }
      try {
        this.sock.send(pkt, 0, pkt.length, dst, (err) => settle(err));
      } catch (e) {
        settle(e as Error);
      }
    });
  }

  /**
   * sendto(2) now, in this turn of the event loop: raw-socket's send() waits for the poll phase to
   * report the socket writable, so a packet would leave only after everything else this turn does
   * (the transition's log lines, notify hooks, the VIP work). Only when nothing is queued ahead of
   * it (order is kept); a full socket buffer (EAGAIN) or an error falls back to the queued send,
   * which reports the error.
   */
  private sendNow(pkt: Buffer, dst: string): boolean {
    const send = this.sock.wrap?.send;
    if (!send || (this.sock.requests?.length ?? 0) > 0) return false;
    try {
      send.call(this.sock.wrap, pkt, 0, pkt.length, dst, () => {});
      return true;
    } catch {
      return false;
    }
  }

  /**
   * raw-socket reads one packet per poll event, so after a slow turn the waiting packets come in
   * one per loop iteration, after that iteration's timers. This reads them now (non-blocking
   * recvfrom until EAGAIN, at most MAX_DRAIN).
   */
  drain(): void {
    const recv = this.sock.wrap?.recv;
    if (this.closed || typeof recv !== 'function') return;
    this.drainBuf ??= Buffer.alloc(RECV_BUFFER);
    for (let i = 0; i < MAX_DRAIN; i++) {
      let got = false;
      try {
        recv.call(this.sock.wrap, this.drainBuf, (b: Buffer, n: number, src: string) => { got = true; this.onPacket(b.subarray(0, n), src); });
      } catch {
        return; // EAGAIN: nothing more waiting (a real error shows on the next poll)
      }
      if (!got || this.closed) return;
    }
  }

  /** The same packets as send(), from a thread of their own (native/advert_pacer.c). */
  openPacer(o: PacerOptions): AdvertPacer {
    if (this.closed) throw new IoError(`raw transport on ${this.ifname} is closed`);
    return openNativePacer(this.ifname, o, (payload, dst) => this.ops.frame(payload, this.srcAddress, dst, this.tos));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectPending(new IoError(`raw transport on ${this.ifname} closed before the send completed`));
    try {
      this.sock.close();
    } catch {
      /* already closed by raw-socket */
    }
  }
}

/** Open the VRRP raw socket on one interface. Rejects with IoError if anything is missing or refused. */
export async function createRawTransport(o: RawTransportOptions): Promise<VrrpTransport> {
  const ops = FAMILIES[o.family];
  if (!ops) throw new IoError(`raw transport: unsupported address family ${String(o.family)}`);
  if (!/^[^/\s]{1,15}$/.test(o.ifname)) throw new IoError(`raw transport: invalid interface name ${JSON.stringify(o.ifname)}`);
  const facts = await interfaceFacts(o.ifname);
  const ifindex = facts.ifindex;
  const src = o.srcAddress ?? ops.defaultSource(facts);
  if (src === undefined) throw new IoError(`interface ${o.ifname} has no ${ops.addressFamily} address to send from`);
  if (!ops.isAddress(src)) throw new IoError(`source ${JSON.stringify(src)} is not an ${ops.addressFamily} address`);
  const tos = o.tos ?? 0xc0;

  let sock: RawSocket;
  try {
    const r = raw();
    sock = r.createSocket({
      protocol: IPPROTO_VRRP,
      addressFamily: ops.addressFamily === 'IPv4' ? r.AddressFamily.IPv4 : r.AddressFamily.IPv6,
      bufferSize: RECV_BUFFER,
    });
  } catch (e) {
    throw new IoError(`raw socket (protocol ${IPPROTO_VRRP}) for ${o.ifname}: ${(e as Error).message}`, { cause: e });
  }
  // Until the handler below exists, a socket error must not become an uncaught exception.
  const early = (): void => {};
  sock.on('error', early);
  try {
    ops.configure(sock, { ifname: o.ifname, ifindex, src, multicast: o.multicast, tos });
    drainQueued(sock);
  } catch (e) {
    try {
      sock.close();
    } catch {
      /* ignore */
    }
    throw e instanceof IoError ? new IoError(`${o.ifname}: ${e.message}`, { cause: e }) : e;
  }
  const t = new RawTransport(sock, ops, o.ifname, src, tos);
  sock.off('error', early);
  return t;
}

/**
 * Packets that reached the socket between socket() and SO_BINDTODEVICE may come from any
 * interface; read and discard them (non-blocking recvfrom throws EAGAIN once empty).
 */
function drainQueued(sock: RawSocket): void {
  const recv = sock.wrap?.recv;
  if (typeof recv !== 'function') return;
  const buf = Buffer.alloc(RECV_BUFFER);
  for (let i = 0; i < 256; i++) {
    try {
      recv.call(sock.wrap, buf, () => {});
    } catch {
      return;
    }
  }
}

/** What the transport makes of one received IPv4 packet (exported for tests). */
export const parseReceivedIpv4 = (pkt: Buffer, from: string, ifname: string): Parsed => ipv4Ops.parse(pkt, from, ifname);
