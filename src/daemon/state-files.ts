// The state directory (the IPVS services duet manages, sticky operator overrides, the restart
// marker) is read and written by root, so it is handled as keepalived's CVE-2018-19044/19045/19046
// taught: a directory anyone else can write to is not used at all; files are written to a fresh
// temporary name (O_EXCL, O_NOFOLLOW, mode 0600), synced, renamed into place and the directory
// synced; files are read without following symlinks, only when owned by us and writable by no
// one else; what they contain is validated by the caller. A failed write (a full disk) is
// reported and costs only that file: the running state is untouched.
import { closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

const MAX_STATE_BYTES = 1 << 20;

/** Why the directory must not be used, or undefined when it is safe (created 0700 if missing). */
export function stateDirProblem(dir: string, uid = process.geteuid?.() ?? 0): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (!st.isDirectory()) return `${dir} is not a directory`;
    if (st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not ${uid}`;
    if ((st.mode & 0o022) !== 0) return `${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
    return undefined;
  } catch (e) {
    return `${dir}: ${(e as Error).message}`;
  }
}

/** Write text to file atomically and durably; throws on failure (the temporary file is removed). */
export function writeStateFile(file: string, text: string): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = openSync(dir, constants.O_RDONLY);
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

/**
 * The file's text, or undefined when there is none. Throws when it is there but must not be
 * trusted: a symlink, not a regular file, owned by someone else, writable by others, too large.
 */
export function readStateFile(file: string, uid = process.geteuid?.() ?? 0): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${file} is a symlink`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    if (st.uid !== uid) throw new Error(`${file} is owned by uid ${st.uid}, not ${uid}`);
    if ((st.mode & 0o022) !== 0) throw new Error(`${file} is writable by group or others`);
    if (st.size > MAX_STATE_BYTES) throw new Error(`${file} is ${st.size} bytes (at most ${MAX_STATE_BYTES})`);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < st.size) { const r = readSync(fd, buf, n, st.size - n, n); if (r === 0) break; n += r; }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
