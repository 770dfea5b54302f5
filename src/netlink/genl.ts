// Generic netlink adapter: one socket, family ids resolved through the ctrl family, requests one
// at a time, replies handed back as raw messages (header + payload) for a pure codec to decode.
// A thin layer over npm `netlink` (0.3): its GenericNetlinkSocket does the ctrl look-up, its
// NetlinkSocket the sequence numbers, ACK flag and multipart grouping. requestMany() runs many
// requests through our addon native/genl_batch.c instead, when it is built (see below).
//
// What the package does not do, and this layer works around:
//  - kernel errors are Error("Request rejected: ENAME") without the errno number or extended
//    ack: requests go with checkError off, and the NLMSG_ERROR comes back as a message for the
//    caller's codec to decode (errno number, name, echoed request);
//  - two requests in flight on one socket confuse its multipart grouping ("Multipart message not
//    terminated properly"), and the kernel refuses a second dump while one runs: requests are
//    queued here;
//  - every request gets NLM_F_ACK, so a GET answered by a reply is followed by an ACK nobody
//    waits for; the package drops it (a 'message' event without listeners);
//  - it has no generic-netlink family bindings beyond ctrl: payloads are built by the caller;
//  - it is slow per request: each one is a JS round trip (message objects, a promise, a timer, a
//    poll wake-up, a MSG_PEEK and a recvmsg per datagram, parsing into objects), about 0.9 ms in
//    the qemu TCG VM (~50 us on the host), so an IPVS dump of 1,000 services (1,001 requests) took
//    ~1 s there in the socket layer alone. The time is CPU on the event loop, not waiting:
//    spreading the requests over 4-16 sockets in flight together measured no better (0.89-1.05 s
//    against 0.96 s). requestMany() therefore hands the whole list to the addon, which sends and
//    receives on a thread-pool thread with plain syscalls and returns all the answers in one
//    buffer (~0.15 s in the VM for the same 1,000 dumps, copies and splitting included).
//
// Sockets live in the network namespace of the process that creates them.
import { createRequire } from 'node:module';
import { createGenericNetlink, genl, FlagsGet, type GenericNetlinkSocket } from 'netlink';
import { findAddon } from '../core/addon.js';
import { IoError } from '../core/errors.js';
import { NLMSG_HDRLEN, align4, decodeNlHeader, type NlHeader } from './attrs.js';
import { errnoOf } from './errno.js';

/** A received message: nlmsghdr fields and the payload after it (genlmsghdr included). */
export interface GenlRaw extends NlHeader {
  readonly data: Uint8Array;
}

export interface GenlOptions {
  /** Reply deadline per request, ms (default 5000). */
  timeoutMs?: number;
  /**
   * requestMany() through the native addon (default true, when it is built); false: one
   * request() after the other, the path without the addon (for comparisons).
   */
  nativeBatch?: boolean;
}

// ---- the batch addon (native/genl_batch.c) ----
interface GenlBatchAddon {
  run(
    family: number, dump: boolean, payloads: readonly Uint8Array[], timeoutMs: number,
    done: (err: (Error & { code?: string; index?: number }) | null, data?: Buffer, ends?: Uint32Array) => void,
  ): void;
}

let addon: GenlBatchAddon | null | undefined;

/**
 * The compiled batch addon, found from this module's directory upwards (dist/src/netlink or
 * src/netlink), or null when it is not built (then requestMany() sends one request at a time).
 */
export function loadGenlBatchAddon(): GenlBatchAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const { file } = findAddon(import.meta.url, 'genl_batch');
  if (file === undefined) return addon;
  try {
    addon = createRequire(import.meta.url)(file) as GenlBatchAddon;
  } catch (e) {
    throw new IoError(`generic netlink addon ${file} does not load (rebuild it with \`npm run build:native\`): ${(e as Error).message}`, { cause: e });
  }
  return addon;
}

/**
 * Splits the addon's answer (whole messages back to back; request i's end at ends[i]) into
 * each request's messages. Pure.
 */
export function splitBatch(data: Uint8Array, ends: ArrayLike<number>): GenlRaw[][] {
  const out: GenlRaw[][] = [];
  let off = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    const msgs: GenlRaw[] = [];
    while (off < end) {
      const h = decodeNlHeader(data, off);
      if (off + NLMSG_HDRLEN > data.length || h.len < NLMSG_HDRLEN || off + h.len > end) throw new GenlError(`genl batch: message of ${h.len} bytes at ${off} of ${end}`, 'EPROTO');
      msgs.push({ type: h.type, flags: h.flags, seq: h.seq, port: h.port, data: data.subarray(off + NLMSG_HDRLEN, off + h.len) });
      off += align4(h.len);
    }
    out.push(msgs);
  }
  return out;
}

/** An I/O failure of a generic-netlink request, with the errno name when the kernel gave one. */
export class GenlError extends IoError {
  constructor(message: string, readonly errno: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class GenlSocket {
  private readonly sock: GenericNetlinkSocket;
  private readonly timeoutMs: number;
  private readonly batch: GenlBatchAddon | null;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(o: GenlOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.batch = o.nativeBatch === false ? null : loadGenlBatchAddon();
    try {
      this.sock = createGenericNetlink();
    } catch (e) {
      throw new GenlError(`generic netlink socket: ${(e as Error).message}`, errnoOf(e), { cause: e });
    }
    // Receive errors would otherwise be unhandled 'error' events; the request then times out.
    this.sock.socket.on('error', () => {});
  }

  /** Local port (nlmsg_pid of our requests). */
  get port(): number {
    return this.sock.socket.address().port;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** The family id of a generic-netlink family, or undefined when the kernel has none by that name. */
  resolveFamily(name: string): Promise<number | undefined> {
    return this.exclusive(async () => {
      if (this.closed) throw new GenlError(`resolve family ${name}: closed`, undefined);
      try {
        const r = await this.sock.ctrlRequest(genl.Commands.GET_FAMILY, { familyName: name }, { timeout: this.timeoutMs });
        const id = r[0]?.familyId;
        if (id === undefined) throw new GenlError(`resolve family ${name}: no family id in the ctrl reply`, undefined);
        return id;
      } catch (e) {
        if (e instanceof GenlError) throw e;
        const errno = errnoOf(e);
        if (errno === 'ENOENT') return undefined;
        throw new GenlError(`resolve family ${name}: ${errno ?? (e as Error).message}`, errno, { cause: e });
      }
    });
  }

  /**
   * Send one request (payload = genlmsghdr + attributes) and collect what answers it: the
   * parts of a dump (NLMSG_DONE excluded), a reply, or the NLMSG_ERROR (ack or error), undecoded.
   * Rejects with GenlError only when nothing came back (time-out, closed socket, send error).
   */
  request(family: number, payload: Uint8Array, o: { dump: boolean; what: string }): Promise<GenlRaw[]> {
    return this.exclusive(async () => {
      if (this.closed) throw new GenlError(`${o.what}: closed`, undefined);
      try {
        const [msgs] = await this.sock.socket.request(family, [payload], {
          flags: o.dump ? FlagsGet.DUMP : 0,
          timeout: this.timeoutMs,
          checkError: false,
        });
        return msgs.map((m) => ({ type: m.type, flags: m.flags, seq: m.seq, port: m.port, data: new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength) }));
      } catch (e) {
        const errno = /Timeout has been reached/.test((e as Error).message) ? 'ETIMEDOUT' : errnoOf(e);
        throw new GenlError(`${o.what}: ${errno ?? (e as Error).message}`, errno, { cause: e });
      }
    });
  }

  /**
   * request() for many requests of one kind, answered in order: what answers payloads[i] is
   * result[i], the same messages request() would give (seq and port aside). Through the native
   * addon when built: all requests on one socket of its own, off the event loop, one JS callback
   * in all; else one request() after the other. Rejects with GenlError when any request gets no
   * answer (time-out: no message for timeoutMs while waiting on one), naming what(i).
   */
  requestMany(family: number, payloads: readonly Uint8Array[], o: { dump: boolean; what: (i: number) => string }): Promise<GenlRaw[][]> {
    const batch = this.batch;
    if (!batch) return this.requestEach(family, payloads, o);
    return this.exclusive(() => new Promise<GenlRaw[][]>((resolve, reject) => {
      const what = payloads.length > 0 ? o.what(0) : 'genl batch';
      if (this.closed) return reject(new GenlError(`${what}: closed`, undefined));
      const done = (err: (Error & { code?: string; index?: number }) | null, data?: Buffer, ends?: Uint32Array): void => {
        if (err) {
          const errno = errnoOf(err);
          return reject(new GenlError(`${err.index !== undefined && err.index < payloads.length ? o.what(err.index) : what}: ${errno ?? err.message}`, errno, { cause: err }));
        }
        try {
          resolve(splitBatch(data!, ends!));
        } catch (e) {
          reject(e);
        }
      };
      try {
        batch.run(family, o.dump, payloads, this.timeoutMs, done);
      } catch (e) {
        const errno = errnoOf(e);
        reject(new GenlError(`${what}: ${errno ?? (e as Error).message}`, errno, { cause: e }));
      }
    }));
  }

  private async requestEach(family: number, payloads: readonly Uint8Array[], o: { dump: boolean; what: (i: number) => string }): Promise<GenlRaw[][]> {
    const out: GenlRaw[][] = [];
    for (let i = 0; i < payloads.length; i++) out.push(await this.request(family, payloads[i]!, { dump: o.dump, what: o.what(i) }));
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }
}
