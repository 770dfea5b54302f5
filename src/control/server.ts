// Unix-socket control server: the CLI's window into a running daemon. A slow or hostile client
// costs bounded memory and never delays adverts:
//  - the socket is bound under a umask that gives it its final mode at once (no window in which
//    it is more open than it should be), then handed to the status group if there is one;
//  - one request in flight per connection: reading stops while a request runs and until its
//    reply has left, so pipelined requests wait in the client's socket, not in our memory;
//  - a request line is bounded (maxLineBytes); a connection whose unsent output passes
//    maxQueuedBytes (an event stream or progress lines it does not read) is told and dropped;
//  - at most maxConnections at once (the next one gets a DUET_E_BUSY reply and is closed), and a
//    connection with nothing in flight is closed after idleMs.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorReply, parseRequest, type Request, type Reply } from './protocol.js';
import { stringifyInSlices } from './json-slices.js';

/** `progress` sends an interim line ({"progress": ...}) before the reply, e.g. while draining. */
export type Handler = (r: Request, progress: (p: unknown) => void, closed: Promise<void>) => Promise<Reply>;

/** A finished request (`cmd` or 'invalid'), how long its reply took, and whether it was ok. */
export type RequestObserver = (cmd: string, ms: number, ok: boolean) => void;

export interface ControlLimits {
  maxConnections: number;
  /** A connection with no request in flight is closed after this long without traffic. */
  idleMs: number;
  maxLineBytes: number;
  /** Unsent bytes a connection may hold before it is dropped as a slow client. */
  maxQueuedBytes: number;
}

export const DEFAULT_LIMITS: ControlLimits = { maxConnections: 64, idleMs: 60_000, maxLineBytes: 64 << 10, maxQueuedBytes: 1 << 20 };

/** Why a connection was closed by the server (for logs and counters). */
export type DropReason = 'busy' | 'idle' | 'line-too-long' | 'slow-client';

export interface ControlOptions {
  /** 0600 (root only) by default; the read-only status socket is 0660 with the status group. */
  mode?: number;
  gid?: number;
  onReply?: RequestObserver;
  onDrop?: (reason: DropReason) => void;
  limits?: Partial<ControlLimits>;
}

export async function listenControl(path: string, handle: Handler, o: ControlOptions = {}): Promise<Server> {
  const lim: ControlLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const mode = o.mode ?? 0o600;
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  // A socket file left by a killed daemon would make listen fail with EADDRINUSE. A live daemon's
  // socket is never removed: the caller holds the state directory's lock (see lock.ts) first.
  rmSync(path, { force: true });
  let open = 0;
  const server = createServer((conn) => {
    if (open >= lim.maxConnections) {
      o.onDrop?.('busy');
      conn.on('error', () => conn.destroy());
      conn.end(JSON.stringify(errorReply('DUET_E_BUSY', `too many control connections (${lim.maxConnections}); try again`)) + '\n');
      setTimeout(() => conn.destroy(), 1000).unref();
      return;
    }
    open++;
    conn.once('close', () => { open--; });
    serveConnection(conn, handle, lim, o);
  });
  // bind() creates the socket file with 0777 & ~umask: set the umask so that it is born with its
  // final mode. listen() on a path binds synchronously, so the umask is restored straight after.
  const old = process.umask(0o777 & ~mode);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
      process.umask(old);
    });
  } finally {
    process.umask(old);
  }
  try {
    if (o.gid !== undefined) chownSync(path, 0, o.gid);
    chmodSync(path, mode);
  } catch (e) {
    // A socket that cannot be given to its group is not left behind half made.
    server.close();
    rmSync(path, { force: true });
    throw e;
  }
  return server;
}

function serveConnection(conn: Socket, handle: Handler, lim: ControlLimits, o: ControlOptions): void {
  let buf = '';
  // idle: waiting for a request; running: the handler has it (an event stream runs until the
  // client hangs up); flushing: its reply is written but not yet taken by the client.
  let phase: 'idle' | 'running' | 'flushing' = 'idle';
  let dropped = false;
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  const drop = (reason: DropReason, reply?: Reply): void => {
    if (dropped) return;
    dropped = true;
    o.onDrop?.(reason);
    if (reply && !conn.destroyed) conn.end(JSON.stringify(reply) + '\n');
    // Whatever is queued may never be read: a bounded wait, then the connection goes.
    setTimeout(() => conn.destroy(), reply ? 1000 : 0).unref();
  };
  /** Writes a line unless the connection already holds too much unsent output. */
  const send = (line: string, written?: (err?: Error | null) => void): void => {
    if (dropped || conn.destroyed) return;
    if (conn.writableLength > lim.maxQueuedBytes) {
      drop('slow-client', errorReply('DUET_E_SLOW_CLIENT', `dropped: ${conn.writableLength} bytes were not read`));
      return;
    }
    conn.write(line, written);
  };
  conn.setEncoding('utf8');
  conn.on('error', () => conn.destroy());
  conn.setTimeout(lim.idleMs);
  conn.on('timeout', () => {
    if (phase === 'idle') drop('idle');
    else if (phase === 'flushing') drop('slow-client');
  });
  const tooLong = (): void => {
    buf = '';
    drop('line-too-long', errorReply('DUET_E_REQUEST', `request longer than ${lim.maxLineBytes} bytes`));
  };

  const next = (): void => {
    if (phase !== 'idle' || dropped) return;
    const nl = buf.indexOf('\n');
    if (nl < 0) {
      if (buf.length > lim.maxLineBytes) tooLong();
      else conn.resume();
      return;
    }
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (line.length > lim.maxLineBytes) { tooLong(); return; }
    // One request at a time: stop reading until its reply has been taken by the client.
    phase = 'running';
    conn.pause();
    const req = parseRequest(line);
    const t0 = performance.now();
    const reply: Promise<Reply> = 'error' in req
      ? Promise.resolve(errorReply('DUET_E_REQUEST', req.error))
      : handle(req, (p) => send(JSON.stringify({ progress: p }) + '\n'), closed).catch((e: unknown) => errorReply('DUET_E_INTERNAL', String(e)));
    void reply.then(async (r) => {
      o.onReply?.('error' in req ? 'invalid' : req.cmd, performance.now() - t0, r.ok);
      if (dropped || conn.destroyed) return;
      // A large reply (status at thousands of servers) is serialized a slice per turn.
      const text = await stringifyInSlices(r).catch((e: unknown) => JSON.stringify(errorReply('DUET_E_INTERNAL', `reply not serializable: ${String(e)}`)));
      if (dropped || conn.destroyed) return;
      phase = 'flushing';
      // The timer restarts from here: a client has idleMs to take its reply.
      conn.setTimeout(lim.idleMs);
      // The write's callback runs once the reply is handed to the kernel: the client took it.
      send(text + '\n', (err) => {
        if (err || dropped) return;
        phase = 'idle';
        conn.setTimeout(lim.idleMs);
        // The next request waits for the next turn of the event loop: a client that pipelines
        // thousands of them gets one per turn, and timers (adverts) run in between.
        setImmediate(next);
      });
    });
  };
  conn.on('data', (chunk: string) => {
    buf += chunk;
    if (phase !== 'idle' && buf.length > lim.maxLineBytes * 2) { tooLong(); return; }
    next();
  });
}

/** A group's id from /etc/group (Node has no getgrnam), or undefined. */
export function groupId(name: string, groupFile = '/etc/group'): number | undefined {
  for (const line of readFileSync(groupFile, 'utf8').split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/** The first directory above path that members of gid (not root, not the owner) cannot search. */
export function blockingDir(path: string, gid: number, stat: (p: string) => { mode: number; gid: number } = statSync): { dir: string; mode: number } | undefined {
  const dirs: string[] = [];
  for (let d = dirname(path); ; d = dirname(d)) {
    dirs.unshift(d);
    if (d === dirname(d)) break;
  }
  for (const dir of dirs) {
    const st = stat(dir);
    const x = st.gid === gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!x) return { dir, mode: st.mode & 0o7777 };
  }
  return undefined;
}
