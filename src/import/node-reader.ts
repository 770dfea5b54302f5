// The import's I/O edge: files and globs from the file system, programs from PATH.
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ConfReader } from './keepalived-parse.js';
import { glob } from './glob.js';

export const fsReader: ConfReader = {
  read(path) {
    try { return readFileSync(path, 'utf8'); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return new Error(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message);
    }
  },
  glob: (pattern) => glob(pattern, {
    list: (dir) => { try { return readdirSync(dir); } catch { return undefined; } },
    exists: existsSync,
  }),
};

/** The first executable `name` in PATH (keepalived's execvp-like lookup when it loads a script). */
export function whichInPath(name: string, path = process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  for (const dir of path.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = `${dir.replace(/\/$/, '')}/${name}`;
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}
