// The native advert pacer (native/advert_pacer.c) behind the AdvertPacer interface. IPv4: packets
// framed by the caller's transport (header included, id 0); IPv6: VRRP payloads, sent from v6.src.
import { createRequire } from 'node:module';
import { findAddon } from '../core/addon.js';
import { IoError } from '../core/errors.js';
import type { AdvertPacer, PacerOptions, PacerStats } from './transport.js';

interface PacerAddon {
  open(ifname: string, leaseMs: number, policy: number, priority: number, src6?: string, freebind?: boolean): object;
  run(h: object, packets: Buffer[], dsts: string[], intervalMs: number): void;
  feed(h: object): void;
  stop(h: object): void;
  stats(h: object): { sent: number; errors: number; lastErrno: number; lapses: number; sinceLastSendMs: number; rtErrno: number; active: number };
  close(h: object): void;
}

let addon: PacerAddon | undefined;

export function loadPacerAddon(): PacerAddon {
  if (addon) return addon;
  const { file, tried } = findAddon(import.meta.url, 'advert_pacer');
  if (file === undefined) throw new IoError(`realtime.advert_thread needs native/build/Release/advert_pacer.node, which is not built: run \`npm run build:native\` (looked for ${tried.join(', ')})`);
  try {
    addon = createRequire(import.meta.url)(file) as PacerAddon;
    return addon;
  } catch (e) {
    throw new IoError(`advert pacer addon ${file} does not load (rebuild it with \`npm run build:native\`): ${(e as Error).message}`, { cause: e });
  }
}

/** Linux errno numbers a send can give, by name (for the log and `duet status`). */
const ERRNO: Record<number, string> = { 1: 'EPERM', 6: 'ENXIO', 9: 'EBADF', 11: 'EAGAIN', 13: 'EACCES', 19: 'ENODEV', 22: 'EINVAL', 90: 'EMSGSIZE', 100: 'ENETDOWN', 101: 'ENETUNREACH', 105: 'ENOBUFS', 113: 'EHOSTUNREACH' };
export const errnoName = (n: number): string => ERRNO[n] ?? `errno ${n}`;

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
