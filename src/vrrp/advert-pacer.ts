// The native advert pacer (native/advert_pacer.c) behind the AdvertPacer interface. IPv4: packets
// framed by the caller's transport (header included, id 0); IPv6: VRRP payloads, sent from v6.src.
import { requireAddon } from '../core/addon.js';
import { IoError } from '../core/errors.js';
import { errnoName } from '../netlink/errno.js';
import type { AdvertPacer, PacerOptions, PacerStats } from './transport.js';

interface PacerAddon {
  open(ifname: string, leaseMs: number, policy: number, priority: number, src6?: string, freebind?: boolean): object;
  run(h: object, packets: Buffer[], dsts: string[], intervalMs: number): void;
  feed(h: object): void;
  stop(h: object): void;
  stats(h: object): { sent: number; errors: number; lastErrno: number; lapses: number; sinceLastSendMs: number; rtErrno: number };
  close(h: object): void;
}

const loadPacerAddon = (): PacerAddon => requireAddon<PacerAddon>(import.meta.url, 'advert_pacer', 'The advert thread (realtime.advert_thread)');

const POLICY = { fifo: 1, rr: 2 } as const;

/**
 * A pacer on ifname. frame: what is sent for a VRRP payload to dst (IPv4: the whole datagram;
 * IPv6: the payload itself, v6 giving the source and whether it needs IPV6_FREEBIND).
 */
export function openNativePacer(ifname: string, o: PacerOptions, frame: (payload: Uint8Array, dst: string) => Buffer, v6?: { src: string; freebind: boolean }): AdvertPacer {
  const a = loadPacerAddon();
  let h: object;
  try {
    const policy = o.realtime ? POLICY[o.realtime.policy] : 0;
    h = v6 ? a.open(ifname, o.leaseMs, policy, o.realtime?.priority ?? 0, v6.src, v6.freebind) : a.open(ifname, o.leaseMs, policy, o.realtime?.priority ?? 0);
  } catch (e) {
    throw new IoError(`advert thread on ${ifname}: ${(e as Error).message}`, { cause: e });
  }
  let closed = false;
  let last: PacerStats = { sent: 0, errors: 0, lastError: undefined, lapses: 0, sinceLastSendMs: undefined, realtimeError: undefined };
  return {
    run(adverts, intervalMs) {
      try {
        a.run(h, adverts.map((x) => frame(x.payload, x.dst)), adverts.map((x) => x.dst), intervalMs);
      } catch (e) {
        throw new IoError(`advert thread send on ${ifname}: ${(e as Error).message}`, { cause: e });
      }
    },
    feed() { a.feed(h); },
    stop() { if (!closed) a.stop(h); },
    /** After close(): the last figures (counters never go back). */
    stats(): PacerStats {
      if (closed) return last;
      const s = a.stats(h);
      last = {
        sent: s.sent, errors: s.errors, lastError: s.lastErrno ? errnoName(s.lastErrno) : undefined, lapses: s.lapses,
        sinceLastSendMs: s.sinceLastSendMs < 0 ? undefined : s.sinceLastSendMs,
        realtimeError: s.rtErrno ? errnoName(s.rtErrno) : undefined,
      };
      return last;
    },
    close() { if (!closed) { this.stats(); closed = true; a.close(h); } },
  };
}
