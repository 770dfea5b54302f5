// The ARP half of the dual-master guard: while an instance is master, read the ARP packets on the
// interfaces that carry its IPv4 VIPs, and tell it when another MAC sends one with a VIP as its
// sender address (a GARP or ARP request from another holder of the address: a second master, or
// a host configured with the VIP by mistake). Unicast ARP replies to others are not seen on a
// switched network; broadcasts are, and a holder of an address broadcasts with it.
//
// A socket is open per interface only while a master uses it (a backup reads nothing), drained
// at the shortest advert interval of those masters (at least every 20 ms, at most every second),
// at most MAX_PER_POLL packets per round so a flood costs bounded work per interval (the kernel
// drops the rest at the socket's buffer). A socket that fails is closed, logged, and opened again
// after a second while it is still wanted.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ArpWatch, Platform } from './platform.js';

export const MAX_PER_POLL = 256;
const REOPEN_MS = 1000;

/** A running instance as the guard sees it. */
export interface ArpGuardTarget {
  name: string;
  master: boolean;
  advertMs: number;
  /** IPv4 VIPs and the interface each is on. */
  vips: readonly { dev: string; address: string }[];
  claim(address: string, mac: string): void;
}

interface Watch { w: ArpWatch; mac: string | undefined; cancel: (() => void) | undefined; pollMs: number }

export class ArpGuard {
  private readonly watches = new Map<string, Watch>();
  private readonly failedAt = new Map<string, number>();
  private retry: (() => void) | undefined;
  /** Packets read and claims passed on, for status and tests. */
  readonly counters = { packets: 0, claims: 0, errors: 0 };

  constructor(private readonly p: Platform, private readonly clock: Clock, private readonly log: Logger, private readonly targets: () => ArpGuardTarget[]) {}

  /** Open the watches masters need now, close the others (call after every transition or reload). */
  sync(): void {
    const want = new Map<string, number>();
    for (const t of this.targets()) {
      if (!t.master) continue;
      for (const v of t.vips) want.set(v.dev, Math.min(want.get(v.dev) ?? Infinity, t.advertMs));
    }
    for (const [dev, x] of [...this.watches]) {
      if (!want.has(dev)) this.close(dev, x);
    }
    const now = this.clock.now();
    for (const [dev, ms] of want) {
      const pollMs = Math.min(1000, Math.max(20, ms));
      const have = this.watches.get(dev);
      if (have) { have.pollMs = pollMs; continue; }
      const failed = this.failedAt.get(dev);
      if (failed !== undefined && now - failed < REOPEN_MS) { this.retryLater(); continue; }
      let w: ArpWatch;
      try {
        w = this.p.openArpWatch(dev);
      } catch (e) {
        this.fail(dev, `cannot open: ${String(e)}`);
        continue;
      }
      this.failedAt.delete(dev);
      let mac: string | undefined;
      try { mac = this.p.macAddress(dev).toLowerCase(); } catch { mac = undefined; }
      const x: Watch = { w, mac, cancel: undefined, pollMs };
      this.watches.set(dev, x);
      this.schedule(dev, x);
    }
  }

  stop(): void {
    this.retry?.();
    this.retry = undefined;
    for (const [dev, x] of [...this.watches]) this.close(dev, x);
  }

  private schedule(dev: string, x: Watch): void {
    x.cancel = this.clock.at(this.clock.now() + x.pollMs, () => { x.cancel = undefined; this.poll(dev, x); });
  }

  private poll(dev: string, x: Watch): void {
    if (this.watches.get(dev) !== x) return;
    let packets;
    try {
      packets = x.w.read(MAX_PER_POLL);
    } catch (e) {
      this.close(dev, x);
      this.fail(dev, String(e));
      return;
    }
    this.counters.packets += packets.length;
    if (packets.length) {
      const targets = this.targets().filter((t) => t.master);
      for (const a of packets) {
        const mac = a.senderMac.toLowerCase();
        // Our own ARP (the kernel's replies and our GARPs) carries our MAC; without a MAC to
        // compare with, nothing can be told apart, so nothing is claimed.
        if (x.mac === undefined || mac === x.mac) continue;
        for (const t of targets) {
          if (!t.vips.some((v) => v.dev === dev && v.address === a.senderIp)) continue;
          this.counters.claims++;
          t.claim(a.senderIp, mac);
        }
      }
    }
    // A claim may have changed the masters (it does not today, but keep the loop honest).
    if (this.watches.get(dev) === x) this.schedule(dev, x);
  }

  private close(dev: string, x: Watch): void {
    x.cancel?.();
    x.cancel = undefined;
    try { x.w.close(); } catch { /* closing is best effort */ }
    this.watches.delete(dev);
  }

  private fail(dev: string, why: string): void {
    this.counters.errors++;
    this.failedAt.set(dev, this.clock.now());
    this.log.warn({ dev, err: why }, 'ARP watch failed (dual-master detection by ARP is off on this interface until it reopens)');
    this.retryLater();
  }

  private retryLater(): void {
    if (this.retry) return;
    this.retry = this.clock.at(this.clock.now() + REOPEN_MS, () => { this.retry = undefined; this.sync(); });
  }
}
