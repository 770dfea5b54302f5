// PING_CHECK: one ICMP (IPv4) or ICMPv6 echo; healthy on the reply, failed on a destination
// unreachable quoting it ("unreachable code N"), on a send error, or at the deadline.
//
// npm raw-socket (the witness's pinger) does not load in a worker thread, where checks run, so
// this opens raw sockets through libc with koffi, as the ARP guard does (vrrp/garp.ts):
// non-blocking, drained on a timer (koffi cannot wait on a descriptor in the event loop). The
// timer runs only while echoes are in flight, every 1 ms after a send and backing off to 8 ms,
// so the latency measured is that much coarse. Checks share one socket per family and source
// address (a raw socket gets a copy of every ICMP packet the host receives: one socket per
// check would multiply that), opened by the first echo and closed when none is in flight.
// Replies are matched on identifier (random per socket), sequence and source.
import { endianness } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { createRequire } from 'node:module';
import type Koffi from 'koffi';
import { canonicalAddr, formatAddr, parseAddr } from '../../core/addr.js';
import { icmpEcho, parseIcmp } from '../icmp-echo.js';
import type { CheckResult, PingCheckSpec } from '../types.js';
import { Probe } from './probe.js';

// Loaded at the first ping, not when the worker starts (most configs have no ping check).
const require = createRequire(import.meta.url);
let koffiModule: typeof Koffi | undefined;
const koffi = (): typeof Koffi => (koffiModule ??= require('koffi') as typeof Koffi);

const AF = { 4: 2, 6: 10 } as const;
const PROTO = { 4: 1, 6: 58 } as const;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EAGAIN = 11;
const LE = endianness() === 'LE';
const MAX_POLL_MS = 8;
/** Room for a burst of replies between two drains (SO_RCVBUFFORCE; capped by rmem_max without CAP_NET_ADMIN). */
const RCVBUF_BYTES = 1 << 20;
/** Packets read per drain before yielding (a flood of ICMP must not hold the thread). */
const DRAIN_BATCH = 256;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number | bigint;
  recvfrom(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: Buffer): number | bigint;
  bind(fd: number, addr: Buffer, addrlen: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  close(fd: number): number;
}

let libcCache: Libc | undefined;
function libc(): Libc {
  if (libcCache) return libcCache;
  const lib = koffi().load('libc.so.6');
  libcCache = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    recvfrom: lib.func('long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrlen)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
    close: lib.func('int close(int fd)'),
  } as Libc;
  return libcCache;
}

/** The last libc call's errno as Node names it (ENETUNREACH), wrapped as an errno-style error. */
function errnoError(syscall: string): Error & { code: string } {
  const n = koffi().errno();
  let code: string;
  try { code = getSystemErrorName(-n); } catch { code = `E${n}`; }
  return Object.assign(new Error(`${syscall}: ${code}`), { code });
}

/** sockaddr_in / sockaddr_in6 for an address (port 0). */
function sockaddr(family: 4 | 6, bytes: Uint8Array): Buffer {
  const b = Buffer.alloc(family === 4 ? 16 : 28);
  if (LE) b.writeUInt16LE(AF[family], 0); // sa_family is in host order
  else b.writeUInt16BE(AF[family], 0);
  b.set(bytes, family === 4 ? 4 : 8);
  return b;
}

/**
 * The kernel drops every ICMP type but echo reply and destination unreachable before they queue
 * on the socket (ICMP_FILTER, ICMP6_FILTER: a set bit blocks a type), and the queue is made
 * larger; both best effort (the parser ignores other types anyway).
 */
function keepOnlyEchoNews(c: Libc, fd: number, family: 4 | 6): void {
  // struct icmp_filter is one 32-bit word, struct icmp6_filter eight; host order; bit t is type t.
  const pass = family === 4 ? [0, 3] : [1, 129];
  const words = new Array<number>(family === 4 ? 1 : 8).fill(0xffffffff);
  for (const t of pass) words[t >> 5] = (words[t >> 5]! & ~(1 << (t & 31))) >>> 0;
  const f = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => (LE ? f.writeUInt32LE(w, i * 4) : f.writeUInt32BE(w, i * 4)));
  if (family === 4) c.setsockopt(fd, 255 /* SOL_RAW */, 1 /* ICMP_FILTER */, f, f.length);
  else c.setsockopt(fd, 58 /* IPPROTO_ICMPV6 */, 1 /* ICMP6_FILTER */, f, f.length);
  const size = Buffer.alloc(4);
  if (LE) size.writeInt32LE(RCVBUF_BYTES, 0); else size.writeInt32BE(RCVBUF_BYTES, 0);
  if (c.setsockopt(fd, 1 /* SOL_SOCKET */, 33 /* SO_RCVBUFFORCE */, size, 4) < 0) c.setsockopt(fd, 1, 8 /* SO_RCVBUF */, size, 4);
}

interface Waiter {
  readonly address: string;
  readonly probe: PingProbe;
}

/** One raw socket shared by the echoes in flight for a family and source address. */
class EchoSocket {
  private readonly fd: number;
  private readonly id = Math.floor(Math.random() * 0x10000);
  private seq = 0;
  private readonly waiting = new Map<number, Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private pollMs = 1;
  private readonly buf = Buffer.alloc(2048);
  private readonly from = Buffer.alloc(28);
  private readonly fromLen = Buffer.alloc(4);

  constructor(private readonly key: string, private readonly family: 4 | 6, bind: string | undefined) {
    const c = libc();
    const fd = c.socket(AF[family], SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, PROTO[family]);
    if (fd < 0) throw errnoError('socket');
    keepOnlyEchoNews(c, fd, family);
    if (bind !== undefined && c.bind(fd, sockaddr(family, parseAddr(family, bind)!), family === 4 ? 16 : 28) < 0) {
      const e = errnoError('bind');
      c.close(fd);
      throw e;
    }
    this.fd = fd;
  }

  /** Sends an echo to address for probe; throws an errno-style error when the send fails. */
  send(address: string, probe: PingProbe): number {
    let seq = this.seq;
    do seq = (seq + 1) & 0xffff; while (this.waiting.has(seq));
    this.seq = seq;
    const dst = parseAddr(this.family, address)!;
    const pkt = icmpEcho(this.id, seq, this.family, 'duet-chk');
    const to = sockaddr(this.family, dst);
    if (Number(libc().sendto(this.fd, pkt, pkt.length, 0, to, to.length)) < 0) throw errnoError('sendto');
    this.waiting.set(seq, { address: formatAddr(this.family, dst), probe });
    this.pollMs = 1;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(onPoll, this.pollMs, this);
    return seq;
  }

  forget(seq: number): void {
    this.waiting.delete(seq);
    if (this.waiting.size === 0) this.close();
  }

  poll(): void {
    this.timer = undefined;
    const c = libc();
    for (let i = 0; i < DRAIN_BATCH && this.waiting.size > 0; i++) {
      this.fromLen.writeUInt32LE(this.from.length, 0);
      const n = Number(c.recvfrom(this.fd, this.buf, this.buf.length, 0, this.from, this.fromLen));
      if (n < 0) {
        if (koffi().errno() === EAGAIN) break;
        // A socket error (ENOBUFS...): the echoes in flight fail; the next check opens anew.
        const e = errnoError('recvfrom');
        for (const w of [...this.waiting.values()]) w.probe.finish(false, e.code.toLowerCase());
        return;
      }
      this.received(this.buf.subarray(0, n));
    }
    if (this.waiting.size === 0) return;
    this.pollMs = Math.min(MAX_POLL_MS, this.pollMs * 2);
    this.timer = setTimeout(onPoll, this.pollMs, this);
  }

  private received(pkt: Buffer): void {
    const news = parseIcmp(pkt, this.family);
    if (news === undefined || news.id !== this.id) return;
    const w = this.waiting.get(news.seq);
    if (w === undefined) return;
    if (news.kind === 'reply') {
      const from = news.from ?? formatAddr(6, this.from, 8);
      if (from === w.address) w.probe.finish(true, 'reply');
    } else if (news.to !== undefined && formatAddr(this.family, news.to) === w.address) {
      w.probe.finish(false, `unreachable code ${news.code ?? 0}`);
    }
  }

  private close(): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    if (sockets.get(this.key) === this) sockets.delete(this.key);
    libc().close(this.fd);
  }
}

function onPoll(s: EchoSocket): void { s.poll(); }

const sockets = new Map<string, EchoSocket>();

function socketFor(family: 4 | 6, bind: string | undefined): EchoSocket {
  const key = `${family}|${bind ?? ''}`;
  let s = sockets.get(key);
  if (s === undefined) {
    s = new EchoSocket(key, family, bind);
    sockets.set(key, s);
  }
  return s;
}

class PingProbe extends Probe {
  private socket: EchoSocket | undefined;
  private seq = -1;

  constructor(private readonly spec: PingCheckSpec) { super(); }

  protected begin(): void {
    const t = this.spec.target;
    const address = canonicalAddr(t.family, t.address);
    if (address === undefined) { this.finish(false, 'bad address'); return; }
    const s = socketFor(t.family, t.bindAddress);
    try {
      this.seq = s.send(address, this);
      this.socket = s;
    } catch (e) {
      s.forget(-1); // closes it when nothing else is in flight
      throw e;
    }
  }

  protected release(): void {
    if (this.socket !== undefined) this.socket.forget(this.seq);
    this.socket = undefined;
  }
}

export function pingCheck(spec: PingCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new PingProbe(spec).run(signal, spec.timeoutMs);
}
