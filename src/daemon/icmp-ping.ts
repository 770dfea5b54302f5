// ICMP echo for the witness (Linux edge): one raw ICMP socket (npm raw-socket, as the VRRP
// transport), requests with our own identifier and a sequence number each, replies matched on
// identifier, sequence and source. IPv4 only. The codec is check/icmp-echo.ts (shared with the
// ping check, which cannot use npm raw-socket: that addon does not load in a worker thread).
import { createRequire } from 'node:module';
import { icmpEcho, parseEchoReply } from '../check/icmp-echo.js';
import { IoError } from '../core/errors.js';
import type { RawSocket, RawSocketModule } from '../vrrp/sockopt.js';

const require = createRequire(import.meta.url);
const IPPROTO_ICMP = 1;

export interface Pinger {
  /** Resolves true when address answers within timeoutMs, false otherwise (never rejects). */
  ping(address: string, timeoutMs: number): Promise<boolean>;
  close(): void;
}

export function createPinger(): Pinger {
  let sock: RawSocket | undefined;
  const id = process.pid & 0xffff;
  let seq = 0;
  const waiting = new Map<number, { address: string; done: (ok: boolean) => void }>();
  const open = (): RawSocket => {
    if (sock) return sock;
    let s: RawSocket;
    try {
      s = (require('raw-socket') as RawSocketModule).createSocket({ protocol: IPPROTO_ICMP });
    } catch (e) {
      throw new IoError(`raw ICMP socket: ${(e as Error).message}`, { cause: e });
    }
    s.on('message', (pkt: Buffer, source: string) => {
      const r = parseEchoReply(pkt);
      if (!r || r.id !== id) return;
      const w = waiting.get(r.seq);
      if (w && w.address === source) w.done(true);
    });
    // A socket error fails the pings in flight; the next ping opens a new socket.
    s.on('error', () => { for (const w of waiting.values()) w.done(false); try { s.close(); } catch { /* closed */ } if (sock === s) sock = undefined; });
    sock = s;
    return s;
  };
  return {
    ping(address, timeoutMs) {
      return new Promise((resolve) => {
        let s: RawSocket;
        try { s = open(); } catch { resolve(false); return; }
        const n = (seq = (seq + 1) & 0xffff);
        const timer = setTimeout(() => done(false), timeoutMs);
        const done = (ok: boolean): void => {
          if (waiting.get(n)?.done !== done) return;
          clearTimeout(timer);
          waiting.delete(n);
          resolve(ok);
        };
        waiting.set(n, { address, done });
        const pkt = icmpEcho(id, n);
        try {
          s.send(pkt, 0, pkt.length, address, (err) => { if (err) done(false); });
        } catch {
          done(false);
        }
      });
    },
    close() { for (const w of waiting.values()) w.done(false); try { sock?.close(); } catch { /* closed */ } sock = undefined; },
  };
}
