// Generic netlink adapter: one socket, family ids resolved through the ctrl family, requests one
// at a time, replies handed back as raw messages (header + payload) for a pure codec to decode.
// A thin layer over npm `netlink` (0.3): its GenericNetlinkSocket does the ctrl look-up, its
// NetlinkSocket the sequence numbers, ACK flag and multipart grouping.
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
//  - it has no generic-netlink family bindings beyond ctrl: payloads are built by the caller.
//
// Sockets live in the network namespace of the process that creates them.
import { createGenericNetlink, genl, FlagsGet, type GenericNetlinkSocket } from 'netlink';
import { IoError } from '../core/errors.js';

/** A received message: nlmsghdr fields and the payload after it (genlmsghdr included). */
export interface GenlRaw {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly port: number;
  readonly data: Uint8Array;
}

export interface GenlOptions {
  /** Reply deadline per request, ms (default 5000). */
  timeoutMs?: number;
}

/** The errno name in an error from the netlink package ("Request rejected: ENOENT"), if any. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  const m = /Request rejected: (\w+)/.exec(e instanceof Error ? e.message : String(e));
  return m?.[1];
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
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(o: GenlOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? 5000;
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }
}
