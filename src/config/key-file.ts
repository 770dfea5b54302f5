// Reading a udp_auth key file, safely: an absolute path to a regular file (not a symlink), owned
// by root (or the user duet runs as), with no access for group or others, at most 64 KiB; then
// parsed by vrrp/udp-auth.ts. Errors name the file and the problem, never key material.
import { constants, promises as fs } from 'node:fs';
import { isAbsolute } from 'node:path';
import { type Result, err } from '../core/result.js';
import { parseKeyFile, type AuthKey } from '../vrrp/udp-auth.js';

export const KEY_FILE_MAX_BYTES = 64 * 1024;

/** The keys in file, or why they cannot be used (one message per problem). */
export async function readKeyFile(file: string): Promise<Result<AuthKey[], string[]>> {
  if (!isAbsolute(file)) return err([`key file ${file} must be an absolute path`]);
  let h: fs.FileHandle;
  try {
    h = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'ELOOP' ? 'is a symbolic link' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    return err([`key file ${file}: ${why}`]);
  }
  try {
    const st = await h.stat();
    const problems: string[] = [];
    if (!st.isFile()) return err([`key file ${file}: not a regular file`]);
    const me = process.geteuid?.() ?? 0;
    if (st.uid !== 0 && st.uid !== me) problems.push(`key file ${file}: owned by uid ${st.uid}, must be owned by root`);
    if ((st.mode & 0o077) !== 0) problems.push(`key file ${file}: mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} lets group or others read or write it; chmod 600 it`);
    if (st.size > KEY_FILE_MAX_BYTES) problems.push(`key file ${file}: ${st.size} bytes, at most ${KEY_FILE_MAX_BYTES}`);
    if (problems.length) return err(problems);
    const text = await h.readFile('utf8');
    const keys = parseKeyFile(text);
    return keys.ok ? keys : err(keys.error.map((m) => `key file ${file}: ${m}`));
  } finally {
    await h.close();
  }
}

/** Read each file once (instances may share one). */
export async function readKeyFiles(files: Iterable<string>): Promise<Map<string, Result<AuthKey[], string[]>>> {
  const out = new Map<string, Result<AuthKey[], string[]>>();
  for (const f of files) if (!out.has(f)) out.set(f, await readKeyFile(f));
  return out;
}
