// VRRP over IPv6 (RFC 5798): a raw IPv6 socket for protocol 112 on one interface, through our own
// small N-API addon (native/vrrp6.c), because npm raw-socket has no recvmsg() and so cannot see
// the hop limit (§7.1: an advert must arrive with hop limit 255) nor the destination address.
//
// The addon's socket is pinned to the interface (SO_BINDTODEVICE), sends with hop limit 255
// (multicast and unicast), does not loop its multicast back, receives only the groups it joined
// (ff02::12 when `multicast`), and puts the source address on every packet (IPV6_PKTINFO, as
// keepalived does; not bind(), which would also filter received unicast to that one address):
// by default the interface's link-local address (RFC 5798 §5.1.2.2). The kernel builds the IPv6
// header; the VRRP checksum (over the IPv6 pseudo-header) is the codec's. Received packets come
// with the hop limit and destination from IPV6_HOPLIMIT / IPV6_PKTINFO; addresses are reported
// without a zone (rinfo.ifname says which link), in RFC 5952 form.
//
// The addon is built by `npm run build:native` (node-gyp, native/binding.gyp) into
// native/build/Release/vrrp6.node; without it createRaw6Transport rejects with an IoError.
import { EventEmitter } from 'node:events';
import { Rtnl, type AddressInfo } from '../netlink/rtnl.js';
import { requireAddon } from '../core/addon.js';
import { IoError } from '../core/errors.js';
import { formatIpv6, parseIpv6 } from '../core/addr.js';
import type { AdvertPacer, PacerOptions, TransportDrop, TransportRinfo, VrrpTransport } from './transport.js';
import { openNativePacer } from './advert-pacer.js';

export const VRRP_GROUP_V6 = 'ff02::12';

export interface Raw6TransportOptions {
  ifname: string;
  /**
   * Source address of every packet (and of the v3 pseudo-header checksum). Default: the
   * interface's link-local address when the transport is created: the first one the kernel
   * lists that has completed duplicate address detection, else the first still tentative (the
   * socket then has IPV6_FREEBIND, as the kernel refuses a tentative source address otherwise).
   * The kernel must accept the address as a source on this interface: checked at creation and
   * at every send (an IoError with cause.code EADDRNOTAVAIL once it is gone, e.g. with the link).
   * By default, an interface with no link-local address (administratively down, or no carrier
   * since it came up) fails creation.
   * Not re-read later. A zone ("fe80::1%eth0") is accepted if it names this interface.
   */
  srcAddress?: string;
  /** Join ff02::12 on the interface; false for unicast peers only. */
  multicast: boolean;
  /** Hop limit of sent packets, default 255 as RFC 5798 requires; anything else is for tests. */
  hopLimit?: number;
}

// ---- the addon (native/vrrp6.c) ----
type OnMessage = (payload: Buffer, src: string, dst: string, ifindex: number, hopLimit: number) => void;
interface NativeSocket {
  readonly ifindex: number;
  send(payload: Uint8Array, dst: string): void;
  /** Reads the datagrams waiting now (delivered to onMessage), at most 64; returns how many. */
  drain(): number;
  close(): void;
}
interface Vrrp6Addon {
  Socket: new (
    o: { ifname: string; srcAddress?: string; multicast: boolean; hopLimit?: number; freebind?: boolean },
    onMessage: OnMessage,
    onError: (e: Error & { code?: string }) => void,
  ) => NativeSocket;
}

/** The compiled addon, found from this module's directory upwards (dist/src/vrrp or src/vrrp). */
export const loadVrrp6Addon = (): Vrrp6Addon => requireAddon<Vrrp6Addon>(import.meta.url, 'vrrp6', 'IPv6 VRRP');

/** RFC 5952 text of an IPv6 address given with or without a zone; the zone separately. */
function splitAddress(text: string): { address: string; zone: string | undefined } | undefined {
  const i = text.indexOf('%');
  const b = parseIpv6(i === -1 ? text : text.slice(0, i));
  if (!b) return undefined;
  return { address: formatIpv6(b), zone: i === -1 ? undefined : text.slice(i + 1) };
}

const isLinkLocal = (a: string): boolean => {
  const b = parseIpv6(a);
  return b !== undefined && b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
};

/** The source address to bind, and whether it is still tentative (needs IPV6_FREEBIND). */
async function chooseSource(ifname: string, wanted: string | undefined): Promise<{ src: string; tentative: boolean }> {
  const rtnl = new Rtnl();
  let addrs: AddressInfo[];
  try {
    addrs = (await rtnl.listAddresses(ifname)).filter((a) => a.family === 6);
  } finally {
    rtnl.close();
  }
  if (wanted !== undefined) {
    const w = splitAddress(wanted);
    if (!w) throw new IoError(`raw6 transport on ${ifname}: source ${JSON.stringify(wanted)} is not an IPv6 address`);
    if (w.zone !== undefined && w.zone !== ifname) {
      throw new IoError(`raw6 transport on ${ifname}: source ${wanted} names another interface`);
    }
    const listed = addrs.find((a) => a.address === w.address);
    return { src: w.address, tentative: listed?.tentative === true && !listed.dadFailed };
  }
  const ll = addrs.filter((a) => isLinkLocal(a.address) && !a.dadFailed);
  const pick = ll.find((a) => !a.tentative) ?? ll[0];
  if (!pick) throw new IoError(`interface ${ifname} has no IPv6 link-local address to send from`);
  return { src: pick.address, tentative: pick.tentative };
}

class Raw6Transport extends EventEmitter implements VrrpTransport {
  readonly ifname: string;
  readonly srcAddress: string;
  private closed = false;
  private readonly sock: NativeSocket;
  private readonly ifindex: number;
  private readonly freebind: boolean;

  constructor(
    mod: Vrrp6Addon,
    o: { ifname: string; srcAddress: string; multicast: boolean; hopLimit: number; freebind: boolean },
  ) {
    super();
    this.ifname = o.ifname;
    this.srcAddress = o.srcAddress;
    // Callbacks run from the event loop only, never during this constructor.
    this.sock = new mod.Socket(
      o,
      (payload, src, dst, ifindex, hop) => this.onPacket(payload, src, dst, ifindex, hop),
      (e) => this.onSocketError(e),
    );
    this.ifindex = this.sock.ifindex;
    this.freebind = o.freebind;
  }

  /** The same packets as send(), from a thread of their own (native/advert_pacer.c). */
  openPacer(o: PacerOptions): AdvertPacer {
    if (this.closed) throw new IoError(`raw6 transport on ${this.ifname} is closed`);
    return openNativePacer(this.ifname, o, (payload) => Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { src: this.srcAddress, freebind: this.freebind });
  }

  private onPacket(payload: Buffer, src: string, dst: string, ifindex: number, hop: number): void {
    if (this.closed) return;
    // Pinned to the interface: another ifindex can only be a packet queued before SO_BINDTODEVICE.
    if (ifindex !== this.ifindex) return;
    const from = splitAddress(src)?.address;
    const to = splitAddress(dst)?.address;
    if (hop < 0 || from === undefined || to === undefined) {
      const drop: TransportDrop = {
        reason: 'ip-header',
        detail: `no ${hop < 0 ? 'hop limit' : from === undefined ? 'source' : 'destination'} for a packet on ${this.ifname}`,
        ...(from !== undefined ? { address: from } : {}),
      };
      this.emit('drop', drop);
      return;
    }
    const rinfo: TransportRinfo = { address: from, family: 'IPv6', dst: to, ifname: this.ifname, ttl: hop };
    this.emit('message', payload, rinfo);
  }

  private onSocketError(e: Error): void {
    if (this.closed) return;
    this.emit('error', new IoError(`raw IPv6 socket on ${this.ifname}: ${e.message}`, { cause: e }));
  }

  send(payload: Uint8Array, dst: string): Promise<void> {
    if (this.closed) return Promise.reject(new IoError(`raw6 transport on ${this.ifname} is closed`));
    const d = splitAddress(dst);
    if (!d) return Promise.reject(new IoError(`send on ${this.ifname}: ${JSON.stringify(dst)} is not an IPv6 address`));
    if (d.zone !== undefined && d.zone !== this.ifname && d.zone !== String(this.ifindex)) {
      return Promise.reject(new IoError(`send on ${this.ifname}: ${dst} names another interface`));
    }
    try {
      this.sock.send(payload, d.address);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(new IoError(`send to ${dst} on ${this.ifname}: ${(e as Error).message}`, { cause: e }));
    }
  }

  /** The adverts already waiting in the socket, read now (see VrrpTransport.drain). */
  drain(): void {
    if (!this.closed) this.sock.drain();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}

/** Open the IPv6 VRRP socket on one interface. Rejects with IoError if anything is missing or refused. */
export async function createRaw6Transport(o: Raw6TransportOptions): Promise<VrrpTransport> {
  if (!/^[^/\s%]{1,15}$/.test(o.ifname)) throw new IoError(`raw6 transport: invalid interface name ${JSON.stringify(o.ifname)}`);
  const hopLimit = o.hopLimit ?? 255;
  if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 255) throw new IoError(`raw6 transport: hop limit ${hopLimit} is not 1..255`);
  const mod = loadVrrp6Addon();
  const { src, tentative } = await chooseSource(o.ifname, o.srcAddress);
  try {
    return new Raw6Transport(mod, { ifname: o.ifname, srcAddress: src, multicast: o.multicast, hopLimit, freebind: tentative });
  } catch (e) {
    throw new IoError(`raw6 transport on ${o.ifname} (source ${src}): ${(e as Error).message}`, { cause: e });
  }
}
