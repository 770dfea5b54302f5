// One daemon per state directory: an flock(2) on <state dir>/duet.lock, held for the life of the
// process (the kernel drops it however the process ends, so a killed daemon leaves no stale
// lock). A second daemon refuses to start instead of removing the first one's socket and
// fighting it for the VIPs. The file holds the holder's pid, for the error message only.
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

let flock: ((fd: number, op: number) => number) | undefined;

export type LockResult = { ok: true; file: string; release(): void } | { ok: false; file: string; holder?: number; error?: string };

export function lockStateDir(dir: string): LockResult {
  const file = join(dir, 'duet.lock');
  flock ??= koffi.load('libc.so.6').func('int flock(int fd, int op)') as (fd: number, op: number) => number;
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    return { ok: false, file, error: (e as Error).message };
  }
  if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = koffi.errno();
    closeSync(fd);
    if (errno !== EWOULDBLOCK) return { ok: false, file, error: `flock: errno ${errno}` };
    let holder: number | undefined;
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) holder = pid;
    } catch { /* the pid is only for the message */ }
    return { ok: false, file, ...(holder !== undefined ? { holder } : {}) };
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return { ok: true, file, release: () => { try { closeSync(fd); } catch { /* already closed */ } } };
}
