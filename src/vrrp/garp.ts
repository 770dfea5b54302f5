// Gratuitous ARP (IPv4) and unsolicited Neighbour Advertisements (IPv6) for a new master, as
// keepalived sends them (vrrp_arp.c, vrrp_ndisc.c):
//  - ARP *request*, sender = target = VIP, sender hw = our MAC, target hw ff:ff:ff:ff:ff:ff,
//    to the Ethernet broadcast address;
//  - NA from the VIP to ff02::1 (33:33:00:00:00:01), hop limit 255, Override set, Solicited
//    clear, Router per option, with a Target Link-Layer Address option.
// One AF_PACKET/SOCK_DGRAM socket through libc via koffi (npm raw-socket has no packet
// sockets): the kernel builds the Ethernet header with the interface's own MAC, we give the
// ethertype and destination in sockaddr_ll. The socket is opened with protocol 0, so it never
// receives (a socket opened for ETH_P_ARP would queue a copy of every ARP frame on the host).
// Calls are synchronous; sendto on a packet socket does not block in practice.
// The dual-master guard also reads ARP (createArpWatch): a second packet socket, opened for
// ETH_P_ARP and bound to one interface, non-blocking, drained by the daemon on a timer while an
// instance on it is master (koffi cannot wait on a file descriptor in the event loop).
import os from 'node:os';
import { getSystemErrorName } from 'node:util';
import koffi from 'koffi';
import { IoError } from '../core/errors.js';
import { formatIpv4, formatMac, ipv4Bytes, ipv6Bytes, isIpv4, isIpv6, macBytes } from '../core/addr.js';
import { inetChecksum } from './checksum.js';

const AF_PACKET = 17;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const ETH_P_ARP = 0x0806;
const ETH_P_IPV6 = 0x86dd;
const IPPROTO_ICMPV6 = 58;
const ND_NEIGHBOR_ADVERT = 136;

const BROADCAST = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ALL_NODES_MAC = Uint8Array.from([0x33, 0x33, 0, 0, 0, 1]); // RFC 2464 §7 for ff02::1
const ALL_NODES = ipv6Bytes('ff02::1');

/** 28-byte ARP request announcing ipv4 at mac (Ethernet/IPv4). */
export function buildGarp(ipv4: string, mac: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // ARPHRD_ETHER
  b.writeUInt16BE(0x0800, 2); // ETH_P_IP
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(1, 6); // ARPOP_REQUEST
  b.set(macBytes(mac), 8);
  b.set(ipv4Bytes(ipv4), 14);
  b.set(BROADCAST, 18);
  b.set(ipv4Bytes(ipv4), 24);
  return b;
}

/** IPv6 header + unsolicited NA for ipv6 at mac (72 bytes), checksum filled in. */
export function buildUnsolicitedNa(ipv6: string, mac: string, o: { router?: boolean } = {}): Buffer {
  const src = ipv6Bytes(ipv6);
  const icmpLen = 24 + 8;
  const b = Buffer.alloc(40 + icmpLen);
  b.writeUInt32BE(0x60000000, 0); // version 6, traffic class 0, flow 0
  b.writeUInt16BE(icmpLen, 4);
  b[6] = IPPROTO_ICMPV6;
  b[7] = 255; // RFC 4861 §7.1.2: hop limit must be 255
  b.set(src, 8);
  b.set(ALL_NODES, 24);
  const icmp = b.subarray(40);
  icmp[0] = ND_NEIGHBOR_ADVERT;
  icmp[1] = 0;
  icmp[4] = (o.router ? 0x80 : 0) | 0x20; // R, O; S must be 0 to a multicast destination
  icmp.set(src, 8); // target address
  icmp[24] = 2; // Target Link-Layer Address option
  icmp[25] = 1; // length in units of 8 bytes
  icmp.set(macBytes(mac), 26);
  const pseudo = Buffer.alloc(40);
  pseudo.set(src, 0);
  pseudo.set(ALL_NODES, 16);
  pseudo.writeUInt32BE(icmpLen, 32);
  pseudo[39] = IPPROTO_ICMPV6;
  icmp.writeUInt16BE(inetChecksum(pseudo, icmp), 2);
  return b;
}

/** An Ethernet/IPv4 ARP packet (the payload a SOCK_DGRAM packet socket gives: no Ethernet header). */
export interface ArpPacket {
  /** 1 request, 2 reply. */
  op: number;
  senderMac: string;
  senderIp: string;
  targetIp: string;
}

/** Decode an ARP packet; undefined for anything but Ethernet/IPv4 ARP (short, other hardware or protocol). */
export function parseArp(b: Uint8Array): ArpPacket | undefined {
  if (b.length < 28) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint16(0) !== 1 || v.getUint16(2) !== 0x0800 || b[4] !== 6 || b[5] !== 4) return undefined;
  return { op: v.getUint16(6), senderMac: formatMac(b.subarray(8, 14)), senderIp: formatIpv4(b, 14), targetIp: formatIpv4(b, 24) };
}

/** struct sockaddr_ll (20 bytes). ifindex in host byte order, protocol in network order. */
function sockaddrLl(ifindex: number, ethertype: number, dstMac: Uint8Array): Buffer {
  const b = Buffer.alloc(20);
  const le = os.endianness() === 'LE';
  if (le) b.writeUInt16LE(AF_PACKET, 0);
  else b.writeUInt16BE(AF_PACKET, 0);
  b.writeUInt16BE(ethertype, 2);
  if (le) b.writeInt32LE(ifindex, 4);
  else b.writeInt32BE(ifindex, 4);
  // sll_hatype (2) and sll_pkttype (1) are ignored on send
  b[11] = 6; // sll_halen
  b.set(dstMac, 12);
  return b;
}

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number | bigint;
  recvfrom(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: Buffer): number | bigint;
  bind(fd: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
  if_nametoindex(name: string): number;
}

let libcCache: Libc | undefined;
function libc(): Libc {
  if (libcCache) return libcCache;
  const lib = koffi.load('libc.so.6');
  libcCache = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    recvfrom: lib.func('long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrlen)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
    close: lib.func('int close(int fd)'),
    if_nametoindex: lib.func('unsigned int if_nametoindex(const char *name)'),
  } as Libc;
  return libcCache;
}

function errnoText(): string {
  const n = koffi.errno();
  try {
    return getSystemErrorName(-n);
  } catch {
    return `errno ${n}`;
  }
}

export interface GarpSender {
  /** Broadcast a gratuitous ARP request for ipv4 at mac on ifname. Throws IoError. */
  sendGarp(ifname: string, ipv4: string, mac: string): void;
  /** Send an unsolicited NA for ipv6 at mac to ff02::1 on ifname. Throws IoError. */
  sendUnsolicitedNa(ifname: string, ipv6: string, mac: string, o?: { router?: boolean }): void;
  close(): void;
}

/** Open the packet socket (in the caller's network namespace). Throws IoError (EPERM without CAP_NET_RAW). */
export function createGarpSender(): GarpSender {
  let c: Libc;
  try {
    c = libc();
  } catch (e) {
    throw new IoError(`garp: cannot load libc through koffi: ${(e as Error).message}`, { cause: e });
  }
  let fd = c.socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new IoError(`garp: socket(AF_PACKET, SOCK_DGRAM): ${errnoText()}`);

  const ifindex = (ifname: string, what: string): number => {
    const i = c.if_nametoindex(ifname);
    if (i === 0) throw new IoError(`${what} on ${ifname}: no such interface (${errnoText()})`);
    return i;
  };
  const send = (what: string, ifname: string, ethertype: number, dstMac: Uint8Array, frame: Buffer): void => {
    if (fd < 0) throw new IoError(`${what} on ${ifname}: sender is closed`);
    const sll = sockaddrLl(ifindex(ifname, what), ethertype, dstMac);
    const n = Number(c.sendto(fd, frame, frame.length, 0, sll, sll.length));
    if (n < 0) throw new IoError(`${what} on ${ifname}: sendto: ${errnoText()}`);
    if (n !== frame.length) throw new IoError(`${what} on ${ifname}: sendto wrote ${n} of ${frame.length} bytes`);
  };

  return {
    sendGarp(ifname, ipv4, mac) {
      const what = `gratuitous ARP for ${ipv4}`;
      if (!isIpv4(ipv4)) throw new IoError(`${what}: not an IPv4 address`);
      send(what, ifname, ETH_P_ARP, BROADCAST, buildGarp(ipv4, mac));
    },
    sendUnsolicitedNa(ifname, ipv6, mac, o = {}) {
      const what = `unsolicited NA for ${ipv6}`;
      if (!isIpv6(ipv6)) throw new IoError(`${what}: not an IPv6 address`);
      send(what, ifname, ETH_P_IPV6, ALL_NODES_MAC, buildUnsolicitedNa(ipv6, mac, o));
    },
    close() {
      if (fd >= 0) c.close(fd);
      fd = -1;
    },
  };
}

const SOCK_NONBLOCK = 0o4000;
const PACKET_OUTGOING = 4;
const EAGAIN = 11;

export interface ArpWatch {
  /**
   * The ARP packets that arrived on the interface since the last call (at most max; frames this
   * host sent are left out). Throws IoError when the socket fails (the interface went away).
   */
  read(max: number): ArpPacket[];
  close(): void;
}

/** Open a non-blocking packet socket for ARP on ifname. Throws IoError. */
export function createArpWatch(ifname: string): ArpWatch {
  let c: Libc;
  try {
    c = libc();
  } catch (e) {
    throw new IoError(`arp watch: cannot load libc through koffi: ${(e as Error).message}`, { cause: e });
  }
  const ifindex = c.if_nametoindex(ifname);
  if (ifindex === 0) throw new IoError(`arp watch on ${ifname}: no such interface (${errnoText()})`);
  const proto = os.endianness() === 'LE' ? ((ETH_P_ARP & 0xff) << 8) | (ETH_P_ARP >> 8) : ETH_P_ARP; // htons
  let fd = c.socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
  if (fd < 0) throw new IoError(`arp watch on ${ifname}: socket(AF_PACKET, SOCK_DGRAM, ETH_P_ARP): ${errnoText()}`);
  const sll = sockaddrLl(ifindex, ETH_P_ARP, BROADCAST);
  if (c.bind(fd, sll, sll.length) < 0) {
    const err = errnoText();
    c.close(fd);
    throw new IoError(`arp watch on ${ifname}: bind: ${err}`);
  }
  const buf = Buffer.alloc(256);
  const from = Buffer.alloc(20);
  const fromLen = Buffer.alloc(4);
  const le = os.endianness() === 'LE';
  return {
    read(max) {
      const out: ArpPacket[] = [];
      for (let i = 0; i < max && fd >= 0; i++) {
        if (le) fromLen.writeUInt32LE(from.length, 0);
        else fromLen.writeUInt32BE(from.length, 0);
        const n = Number(c.recvfrom(fd, buf, buf.length, 0, from, fromLen));
        if (n < 0) {
          if (koffi.errno() === EAGAIN) break;
          throw new IoError(`arp watch on ${ifname}: recvfrom: ${errnoText()}`);
        }
        // Frames sent by this host come back to a packet socket as PACKET_OUTGOING.
        if (from[10] === PACKET_OUTGOING) continue;
        const p = parseArp(buf.subarray(0, Math.min(n, buf.length)));
        if (p) out.push(p);
      }
      return out;
    },
    close() {
      if (fd >= 0) c.close(fd);
      fd = -1;
    },
  };
}
