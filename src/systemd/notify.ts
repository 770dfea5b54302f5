// systemd's notify protocol (sd_notify(3)): datagrams such as "READY=1", "WATCHDOG=1",
// "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1", "STATUS=..." to the AF_UNIX socket named in
// $NOTIFY_SOCKET (a path, or '@' for the abstract namespace). Node has no AF_UNIX datagram
// sockets, so this goes through libc via koffi, as the GARP sender does. Without
// $NOTIFY_SOCKET (not run by systemd with Type=notify) every call is a no-op.
import { getSystemErrorName } from 'node:util';
import koffi from 'koffi';
import { IoError } from '../core/errors.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
  bind: (fd: number, addr: Buffer, addrlen: number) => number;
  recv: (fd: number, buf: Buffer, len: number, flags: number) => number;
  close: (fd: number) => number;
}

let libc: Libc | undefined;
function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
    recv: lib.func('long recv(int fd, _Out_ void *buf, size_t len, int flags)'),
    close: lib.func('int close(int fd)'),
  } as Libc;
  return libc;
}

const errnoText = (): string => {
  const n = koffi.errno();
  try { return getSystemErrorName(-n); } catch { return `errno ${n}`; }
};

/** struct sockaddr_un for a path or an abstract name ('@name'); returns it and its length. */
export function sockaddrUn(path: string): { addr: Buffer; len: number } {
  const name = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  if (name.length > 107) throw new IoError(`unix socket name too long: ${path}`);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  // Abstract names are exactly their bytes; paths carry the terminating NUL.
  return { addr, len: 2 + name.length + (path.startsWith('@') ? 0 : 1) };
}

export interface Notifier {
  /** Send one state string ("READY=1", ...); false when there is no NOTIFY_SOCKET. */
  notify(state: string): boolean;
  readonly enabled: boolean;
  close(): void;
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env): Notifier {
  const path = env['NOTIFY_SOCKET'];
  if (!path) return { notify: () => false, enabled: false, close: () => {} };
  const c = load();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new IoError(`sd_notify: socket(AF_UNIX, SOCK_DGRAM): ${errnoText()}`);
  const { addr, len } = sockaddrUn(path);
  let open = true;
  return {
    enabled: true,
    notify(state) {
      if (!open) return false;
      const b = Buffer.from(state);
      if (c.sendto(fd, b, b.length, MSG_NOSIGNAL, addr, len) < 0) throw new IoError(`sd_notify ${state.split('\n')[0]} to ${path}: ${errnoText()}`);
      return true;
    },
    close() { if (open) { open = false; c.close(fd); } },
  };
}

/** The systemd watchdog interval from $WATCHDOG_USEC (and $WATCHDOG_PID, if set, must be us), ms. */
export function watchdogMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!(usec > 0)) return undefined;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return undefined;
  return usec / 1000;
}

/**
 * A datagram listener on a unix socket, for tests that play systemd: bind, then read what the
 * daemon sends. Non-blocking reads (MSG_DONTWAIT) polled by the caller.
 */
export function listenNotify(path: string): { read(): string[]; close(): void } {
  const c = load();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new IoError(`socket(AF_UNIX, SOCK_DGRAM): ${errnoText()}`);
  const { addr, len } = sockaddrUn(path);
  if (c.bind(fd, addr, len) < 0) {
    const e = errnoText();
    c.close(fd);
    throw new IoError(`bind ${path}: ${e}`);
  }
  const buf = Buffer.alloc(4096);
  const MSG_DONTWAIT = 0x40;
  return {
    read() {
      const out: string[] = [];
      for (;;) {
        const n = c.recv(fd, buf, buf.length, MSG_DONTWAIT);
        if (n < 0) return out;
        out.push(buf.subarray(0, n).toString());
      }
    },
    close() { c.close(fd); },
  };
}
