// Script security, as keepalived's enable_script_security: a program duet runs (track script,
// notify or quorum hook, exec check) is refused when a non-root user could change what runs, that
// is when the file or any directory on its path, up to /, is
//   - not owned by root, or
//   - a file, or a directory without the sticky bit, writable by its group (a non-root group)
//     or by everyone.
// Symbolic links are followed (each link must be root-owned, and its target's path is checked
// the same way), like the kernel resolves the path at exec. The final file must be a regular file
// with an execute bit. Unlike keepalived, which checks only programs run as root, every program
// is checked: a track script's exit status moves VRRP priority whoever runs it.
//
// Pure: the file system comes in as ScriptFs (lstat, readlink), so the rules are tested with
// fake stats; script-run.ts has the real one.

/** What the rules need of lstat(2). */
export interface FileStat {
  uid: number;
  gid: number;
  /** st_mode, with the file type bits. */
  mode: number;
}

export interface ScriptFs {
  /** lstat(2); throws an error with `code` (ENOENT, EACCES...) when it fails. */
  lstat(path: string): FileStat;
  /** readlink(2) of a symbolic link. */
  readlink(path: string): string;
}

export type ScriptVerdict =
  | { ok: true; resolved: string }
  | { ok: false; component: string; reason: string };

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_ISVTX = 0o1000;
/** As the kernel's MAXSYMLINKS: more than this is ELOOP. */
const MAX_LINKS = 40;

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

/** Why a non-root user could change this path component; undefined when none can. */
export function unsafeReason(st: FileStat): string | undefined {
  if (st.uid !== 0) return `is owned by uid ${st.uid}, not root`;
  const type = st.mode & S_IFMT;
  if (type === S_IFLNK) return undefined;
  if (type === S_IFDIR && (st.mode & S_ISVTX) !== 0) return undefined;
  if ((st.mode & 0o002) !== 0) return `is writable by every user (mode ${octal(st.mode)})`;
  if (st.gid !== 0 && (st.mode & 0o020) !== 0) return `is writable by group ${st.gid} (mode ${octal(st.mode)})`;
  return undefined;
}

/** The reason given for a component that is not there. */
export const ABSENT = 'does not exist';

function errnoReason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return ABSENT;
  if (code === 'EACCES') return 'cannot be searched (permission denied)';
  if (code === 'ENOTDIR') return 'is under something that is not a directory';
  return `cannot be examined (${typeof code === 'string' ? code : String(e)})`;
}

const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);
const parent = (dir: string): string => (dir === '/' ? '/' : dir.slice(0, dir.lastIndexOf('/')) || '/');

/**
 * Walk `program` (an absolute path) from / as exec would resolve it, checking each component
 * and each symbolic link's target. The verdict names the first unsafe component and why.
 */
export function checkScriptPath(program: string, fs: ScriptFs): ScriptVerdict {
  if (!program.startsWith('/')) return { ok: false, component: program, reason: 'is not an absolute path' };
  const refuse = (component: string, reason: string): ScriptVerdict => ({ ok: false, component, reason });
  const stat = (p: string): FileStat | string => {
    try { return fs.lstat(p); } catch (e) { return errnoReason(e); }
  };

  const root = stat('/');
  if (typeof root === 'string') return refuse('/', root);
  const rootWhy = unsafeReason(root);
  if (rootWhy) return refuse('/', rootWhy);

  // Components still to resolve, first one first; `dir` is the resolved directory so far.
  let todo = program.split('/').filter((s) => s !== '' && s !== '.');
  let dir = '/';
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '..') { dir = parent(dir); continue; }
    const path = join(dir, name);
    const st = stat(path);
    if (typeof st === 'string') return refuse(path, st);
    const why = unsafeReason(st);
    if (why) return refuse(path, why);
    const type = st.mode & S_IFMT;
    if (type === S_IFLNK) {
      if (++links > MAX_LINKS) return refuse(path, 'starts too many levels of symbolic links');
      let target: string;
      try { target = fs.readlink(path); } catch (e) { return refuse(path, errnoReason(e)); }
      if (target.startsWith('/')) dir = '/';
      todo = [...target.split('/').filter((s) => s !== '' && s !== '.'), ...todo];
      continue;
    }
    if (todo.length > 0) {
      if (type !== S_IFDIR) return refuse(path, 'is not a directory');
      dir = path;
      continue;
    }
    if (type !== S_IFREG) return refuse(path, 'is not a regular file');
    if ((st.mode & 0o111) === 0) return refuse(path, `is not executable (mode ${octal(st.mode)})`);
    return { ok: true, resolved: path };
  }
  // The path ended in a directory (a trailing '/', '..' or a link to a directory's parent).
  return refuse(dir, 'is not a regular file');
}

/** "/x/y: /x is writable by every user (mode 0777)" — for config errors and logs. */
export function describeRefusal(program: string, v: { component: string; reason: string }): string {
  return v.component === program ? `${program} ${v.reason}` : `${program}: ${v.component} ${v.reason}`;
}

// ---------------------------------------------------------------------------------------------
// script_user: "user" or "user:group", looked up in passwd(5) and group(5) text.

export interface RunAs {
  uid: number;
  gid: number;
}

/** Resolve "user" (its primary group) or "user:group" against /etc/passwd and /etc/group text. */
export function resolveUser(spec: string, passwd: string, group: string): { ok: true; value: RunAs } | { ok: false; error: string } {
  const [user = '', grp] = spec.split(':', 2);
  const pw = passwd.split('\n').map((l) => l.split(':')).find((f) => f.length >= 4 && f[0] === user);
  if (!pw) return { ok: false, error: `no user '${user}' in /etc/passwd` };
  const uid = Number(pw[2]);
  let gid = Number(pw[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || pw[2] === '' || pw[3] === '') return { ok: false, error: `user '${user}' has a malformed /etc/passwd line` };
  if (grp !== undefined) {
    const gr = group.split('\n').map((l) => l.split(':')).find((f) => f.length >= 3 && f[0] === grp);
    if (!gr) return { ok: false, error: `no group '${grp}' in /etc/group` };
    gid = Number(gr[2]);
    if (!Number.isInteger(gid) || gr[2] === '') return { ok: false, error: `group '${grp}' has a malformed /etc/group line` };
  }
  return { ok: true, value: { uid, gid } };
}

// ---------------------------------------------------------------------------------------------
// What the config says about running programs.

export interface ScriptPolicy {
  /** Refuse a program a non-root user could change (the checks above). */
  readonly secure: boolean;
  /** Run as this user ("name" or "name:group"); absent: as duet itself. */
  readonly user?: string;
  /** Names of duet's own environment variables passed through to the program. */
  readonly env: readonly string[];
}

/** The default: checked, run as duet, nothing of duet's environment passed. */
export const SECURE_POLICY: ScriptPolicy = { secure: true, env: [] };

/** The global policy for one program: `insecure` (per track script or exec check) turns the checks off. */
export const scriptPolicy = (global: ScriptPolicy, insecure: boolean): ScriptPolicy => (insecure && global.secure ? { ...global, secure: false } : global);
