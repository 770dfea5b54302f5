// rtnetlink adapter: virtual addresses on and off, link state, link events. A thin layer over
// npm `netlink` (0.3), with the error policy the daemon needs:
//  - adding an address that exists (EEXIST) and deleting one that does not (EADDRNOTAVAIL)
//    succeed, so the caller can always state the desired outcome;
//  - any other failure is retried once, then thrown as an IoError naming the exact object,
//    e.g. "rtnl add 192.0.2.100/24 dev eth0: EPERM".
// The netlink package reports kernel errors as Error("Request rejected: ENAME").
//
// Sockets live in the network namespace of the process that creates the Rtnl.
import { createRtNetlink, FlagsNew, rt, type ifla, type RtNetlinkSocket, type NetlinkMessage } from 'netlink';
import { IoError } from '../core/errors.js';
import { formatIpv4, formatIpv6, formatMac, ipv4Bytes, ipv6Bytes, isIpv4, isIpv6 } from '../core/addr.js';
import { errnoOf } from './errno.js';

const AF_INET = 2;
const AF_INET6 = 10;
/** rtmsg.rtm_table for tables above 255 (the real id goes in RTA_TABLE). */
const RT_TABLE_COMPAT = 252;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;

/** RFC 2863 operational states, as in IFLA_OPERSTATE. */
const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof OPER_STATES)[number];

export interface LinkInfo {
  name: string;
  index: number;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_RUNNING: operationally up (RFC 2863 up or unknown): what track_interface wants. */
  running: boolean;
  /** IFF_LOWER_UP: carrier present. */
  lowerUp: boolean;
  operState: OperState;
  /** Hardware address, lower-case colon form; undefined for links without one. */
  mac: string | undefined;
  mtu: number | undefined;
}

export interface LinkEvent extends LinkInfo {
  /** 'new' covers every RTM_NEWLINK (state or attribute change); 'del' the link is gone. */
  type: 'new' | 'del';
}

export interface AddressInfo {
  ifname: string;
  index: number;
  family: 4 | 6;
  address: string;
  prefixLen: number;
  label: string | undefined;
  secondary: boolean;
  tentative: boolean;
  dadFailed: boolean;
  permanent: boolean;
}

export interface AddAddressOptions {
  /** IPv4 label (ip addr ... label eth0:vip); the kernel shows it in `ip addr`. */
  label?: string;
  /** IPv6: skip duplicate address detection (default true for a VIP, like keepalived). */
  nodad?: boolean;
}

export interface RtnlOptions {
  /** Reply deadline per request, ms (default 2000). */
  timeoutMs?: number;
}

type Family = 4 | 6;

function familyOf(address: string): Family {
  if (isIpv4(address)) return 4;
  if (isIpv6(address)) return 6;
  throw new IoError(`not an IP address: ${JSON.stringify(address)}`);
}

const addrBuf = (address: string, family: Family): Buffer =>
  Buffer.from(family === 4 ? ipv4Bytes(address) : ipv6Bytes(address));

function linkInfo(m: { data: rt.Link; attrs: ifla.LinkAttrs }): LinkInfo {
  const f = m.data.flags ?? {};
  const op = m.attrs.operstate;
  return {
    name: m.attrs.ifname ?? `if${m.data.index}`,
    index: m.data.index ?? 0,
    up: f.up === true,
    running: f.running === true,
    lowerUp: f.lowerUp === true,
    operState: (op !== undefined && OPER_STATES[op]) || 'unknown',
    mac: m.attrs.address && m.attrs.address.length > 0 ? formatMac(m.attrs.address) : undefined,
    mtu: m.attrs.mtu,
  };
}

export class Rtnl {
  private readonly sock: RtNetlinkSocket;
  private readonly timeoutMs: number;
  private watchSock: RtNetlinkSocket | undefined;
  private readonly watchers = new Set<{ cb: (e: LinkEvent) => void; onError?: (e: Error) => void }>();
  private closed = false;
  /** Requests go one at a time: see exclusive(). */
  private chain: Promise<unknown> = Promise.resolve();
  /** Requests taken by exclusive() and not yet settled. */
  private inFlight = 0;
  /**
   * Interface indexes by name, kept only while a link watch runs (its RTM_NEWLINK / RTM_DELLINK
   * keep them current): an address add then needs no link lookup first, one round trip less
   * between a takeover and its VIP. Without a watch every request looks the link up.
   */
  private readonly indexes = new Map<string, number>();

  constructor(o: RtnlOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? 2000;
    try {
      this.sock = createRtNetlink();
    } catch (e) {
      throw new IoError(`rtnetlink socket: ${(e as Error).message}`, { cause: e });
    }
    // Receive errors would otherwise be unhandled 'error' events; a request then times out.
    this.sock.socket.on('error', () => {});
  }

  /**
   * One request in flight per socket. The kernel refuses a second dump while one runs (EBUSY),
   * and the netlink package cannot tell apart replies interleaved with a multipart dump
   * ("Multipart message not terminated properly"); concurrent callers are queued instead.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // Nothing in flight: the request goes to the kernel in this call, not a microtask later
    // (after the rest of the caller's turn: a takeover's log lines and events).
    const idle = this.inFlight === 0;
    this.inFlight++;
    const p = idle ? (async () => fn())() : this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined).finally(() => { this.inFlight--; });
    return p;
  }

  /** Run a request; benign errno names resolve to undefined; others retried once, then IoError. */
  private async call<T>(what: string, fn: () => Promise<T>, benign: readonly string[] = []): Promise<T | undefined> {
    if (this.closed) throw new IoError(`rtnl ${what}: closed`);
    let last: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await this.exclusive(fn);
      } catch (e) {
        const name = errnoOf(e);
        if (name !== undefined && benign.includes(name)) return undefined;
        last = e;
      }
    }
    const name = errnoOf(last);
    throw new IoError(`rtnl ${what}: ${name ?? (last instanceof Error ? last.message : String(last))}`, { cause: last });
  }

  private get reqOpts() {
    return { timeout: this.timeoutMs };
  }

  private async indexOf(ifname: string, what: string): Promise<number> {
    return (await this.getLinkAs(ifname, what)).index;
  }

  private async getLinkAs(ifname: string, what: string): Promise<LinkInfo> {
    const r = await this.call(what, () => this.sock.getLink({}, { ifname }, this.reqOpts));
    const m = r?.[0];
    if (!m) throw new IoError(`rtnl ${what}: no reply for link ${ifname}`);
    return this.noteLink(linkInfo(m));
  }

  /** Keep a link's index while a watch runs (a renamed link's old name goes). */
  private noteLink(l: LinkInfo): LinkInfo {
    if (!this.watchSock) return l;
    for (const [n, i] of this.indexes) if (i === l.index && n !== l.name) this.indexes.delete(n);
    this.indexes.set(l.name, l.index);
    return l;
  }

  /**
   * A request on a link by index: the kept index when there is one (ENODEV with it, the link
   * went an instant before its event arrived, is tried again after a fresh lookup), else looked up first.
   */
  private async onLink<T>(ifname: string, what: string, req: (index: number) => Promise<T>): Promise<T> {
    const kept = this.indexes.get(ifname);
    if (kept !== undefined) {
      try {
        return await req(kept);
      } catch (e) {
        if (errnoOf((e as Error).cause) !== 'ENODEV') throw e;
        this.indexes.delete(ifname);
      }
    }
    return req(await this.indexOf(ifname, what));
  }

  /** Link state by name. Throws IoError (ENODEV) if there is no such link. */
  getLink(ifname: string): Promise<LinkInfo> {
    return this.getLinkAs(ifname, `get link ${ifname}`);
  }

  /** Link state by name; undefined if there is no such link (other failures throw IoError). */
  async findLink(ifname: string): Promise<LinkInfo | undefined> {
    const r = await this.call(`get link ${ifname}`, () => this.sock.getLink({}, { ifname }, this.reqOpts), ['ENODEV']);
    const m = r?.[0];
    if (!m) this.indexes.delete(ifname);
    return m ? this.noteLink(linkInfo(m)) : undefined;
  }

  async listLinks(): Promise<LinkInfo[]> {
    const r = await this.call('list links', () => this.sock.getLinks(undefined, undefined, this.reqOpts));
    return (r ?? []).map((m) => this.noteLink(linkInfo(m)));
  }

  /** Add an address; success if it is already there (EEXIST). */
  async addAddress(ifname: string, address: string, prefixLen: number, opts: AddAddressOptions = {}): Promise<void> {
    const family = familyOf(address);
    const what = `add ${address}/${prefixLen} dev ${ifname}`;
    const bytes = addrBuf(address, family);
    const nodad = family === 6 && (opts.nodad ?? true);
    const attrs: rt.AddressAttrs = { local: bytes, address: bytes };
    if (opts.label !== undefined) attrs.label = opts.label;
    await this.onLink(ifname, what, (index) => this.call(
      what,
      () =>
        this.sock.newAddress(
          { family: family === 4 ? AF_INET : AF_INET6, prefixlen: prefixLen, index, ...(nodad ? { flags: { nodad: true } } : {}) },
          attrs,
          { ...this.reqOpts, flags: FlagsNew.CREATE | FlagsNew.EXCL },
        ),
      ['EEXIST'],
    ));
  }

  /** Delete an address; success if it is not there (EADDRNOTAVAIL). */
  async delAddress(ifname: string, address: string, prefixLen: number): Promise<void> {
    const family = familyOf(address);
    const what = `del ${address}/${prefixLen} dev ${ifname}`;
    const bytes = addrBuf(address, family);
    await this.onLink(ifname, what, (index) => this.call(
      what,
      () =>
        this.sock.delAddress(
          { family: family === 4 ? AF_INET : AF_INET6, prefixlen: prefixLen, index },
          { local: bytes, address: bytes },
          this.reqOpts,
        ),
      ['EADDRNOTAVAIL'],
    ));
  }

  /**
   * A route ADDR/LEN dev IFNAME scope link in a routing table (proto static): the BGP export
   * table's entry for an announced VIP. Success if it is already there (EEXIST).
   */
  async addRoute(table: number, ifname: string, address: string, prefixLen: number): Promise<void> {
    const family = familyOf(address);
    const what = `add route ${address}/${prefixLen} dev ${ifname} table ${table}`;
    const index = await this.indexOf(ifname, what);
    await this.call(what, () => this.sock.newRoute(
      { family: family === 4 ? AF_INET : AF_INET6, dstLen: prefixLen, table: table < 256 ? table : RT_TABLE_COMPAT, protocol: 'STATIC', scope: 'LINK', type: 'UNICAST' },
      { dst: addrBuf(address, family), oif: index, table },
      { ...this.reqOpts, flags: FlagsNew.CREATE | FlagsNew.EXCL },
    ), ['EEXIST']);
  }

  /** Delete the route ADDR/LEN from a routing table; success if it is not there (ESRCH). */
  async delRoute(table: number, address: string, prefixLen: number): Promise<void> {
    const family = familyOf(address);
    await this.call(`del route ${address}/${prefixLen} table ${table}`, () => this.sock.delRoute(
      // Scope NOWHERE matches a route of any scope (as `ip route del`); 0 would match universe only.
      { family: family === 4 ? AF_INET : AF_INET6, dstLen: prefixLen, table: table < 256 ? table : RT_TABLE_COMPAT, scope: 'NOWHERE' },
      { dst: addrBuf(address, family), table },
      this.reqOpts,
    ), ['ESRCH']);
  }

  /** Addresses of one link, or of all links. */
  async listAddresses(ifname?: string): Promise<AddressInfo[]> {
    const what = `list addresses${ifname ? ` dev ${ifname}` : ''}`;
    const names = new Map<number, string>();
    let only: number | undefined;
    if (ifname !== undefined) {
      only = await this.indexOf(ifname, what);
      names.set(only, ifname);
    } else {
      for (const l of await this.listLinks()) names.set(l.index, l.name);
    }
    const r = (await this.call(what, () => this.sock.getAddresses(undefined, undefined, this.reqOpts))) ?? [];
    const out: AddressInfo[] = [];
    for (const m of r) {
      const index = m.data.index ?? 0;
      if (only !== undefined && index !== only) continue;
      const fam = m.data.family === AF_INET ? 4 : m.data.family === AF_INET6 ? 6 : undefined;
      const raw = m.attrs.local ?? m.attrs.address;
      if (fam === undefined || !raw) continue;
      const flags = { ...m.data.flags, ...m.attrs.flags };
      out.push({
        ifname: names.get(index) ?? `if${index}`,
        index,
        family: fam,
        address: fam === 4 ? formatIpv4(raw) : formatIpv6(raw),
        prefixLen: m.data.prefixlen ?? 0,
        label: m.attrs.label,
        secondary: flags.secondary === true,
        tentative: flags.tentative === true,
        dadFailed: flags.dadfailed === true,
        permanent: flags.permanent === true,
      });
    }
    return out;
  }

  /**
   * Subscribe to link events (RTNLGRP_LINK): every RTM_NEWLINK / RTM_DELLINK, in kernel order,
   * typically within a millisecond of the change. Consumers compare with the last state they
   * saw (NEWLINK also reports attribute changes). If the kernel drops notifications (ENOBUFS)
   * the current state of every link is re-read and delivered as 'new' events; other socket
   * errors go to onError. Returns the unsubscribe function; the last one closes the socket.
   * While any watcher is subscribed the socket keeps the event loop alive.
   */
  watchLinks(cb: (e: LinkEvent) => void, onError?: (e: Error) => void): () => void {
    if (this.closed) throw new IoError('rtnl watch links: closed');
    if (!this.watchSock) this.watchSock = this.openWatch();
    const w = onError ? { cb, onError } : { cb };
    this.watchers.add(w);
    return () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0 && this.watchSock) {
        this.watchSock.socket.close();
        this.watchSock = undefined;
        this.indexes.clear();
      }
    };
  }

  private deliver(e: LinkEvent): void {
    for (const w of [...this.watchers]) {
      try {
        w.cb(e);
      } catch (err) {
        w.onError?.(err as Error);
      }
    }
  }

  private openWatch(): RtNetlinkSocket {
    let s: RtNetlinkSocket;
    try {
      s = createRtNetlink({ ref: true } as Parameters<typeof createRtNetlink>[0]);
      s.addMembership('LINK');
    } catch (e) {
      throw new IoError(`rtnl watch links: ${(e as Error).message}`, { cause: e });
    }
    s.socket.on('message', (msgs: NetlinkMessage[]) => {
      for (const m of msgs) {
        if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) continue;
        let parsed;
        try {
          parsed = rt.parseLinkMessage(m.data);
        } catch {
          continue;
        }
        const l = linkInfo(parsed);
        if (m.type === RTM_NEWLINK) this.noteLink(l);
        else this.indexes.delete(l.name);
        this.deliver({ type: m.type === RTM_NEWLINK ? 'new' : 'del', ...l });
      }
    });
    s.socket.on('error', (e: Error) => {
      if (errnoOf(e) === 'ENOBUFS') {
        // Notifications were lost: no kept index is trusted until the links are read again.
        this.indexes.clear();
        this.listLinks().then(
          (ls) => ls.forEach((l) => this.deliver({ type: 'new', ...l })),
          (err: Error) => this.watchers.forEach((w) => w.onError?.(err)),
        );
        return;
      }
      const io = new IoError(`rtnl watch links: ${e.message}`, { cause: e });
      this.watchers.forEach((w) => w.onError?.(io));
    });
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    this.watchSock?.socket.close();
    this.watchSock = undefined;
    this.sock.socket.close();
  }
}
