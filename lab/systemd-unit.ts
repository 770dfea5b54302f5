// The shipped systemd unit read the way systemd reads it, for tests that check the daemon
// against its sandbox without a systemd to run it: [Service] settings, the system calls its
// SystemCallFilter= allows (expanded with systemd-analyze), and what a strace log of the daemon
// did (system calls, socket families, errors, paths written).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const UNIT_FILE = fileURLToPath(new URL('../../systemd/duet.service', import.meta.url));

/** Settings of one section; a repeated key accumulates, an empty assignment resets it (as systemd). */
export function unitSection(text: string, section: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inSection = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) { inSection = line === `[${section}]`; continue; }
    if (!inSection || line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (value === '') { out.delete(key); continue; }
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

export function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; missing: boolean }> {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 16 << 20, timeout: 60_000 }, (e, stdout, stderr) => {
      const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      resolve({ code, stdout, stderr, missing: (e as NodeJS.ErrnoException | null)?.code === 'ENOENT' });
    });
  });
}

/** `systemd-analyze syscall-filter` (every group and its members, groups unexpanded) parsed. */
export function parseSyscallGroups(text: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const raw of text.split('\n')) {
    if (raw.startsWith('@')) { cur = []; groups.set(raw.trim(), cur); continue; }
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) { if (line === '') cur = undefined; continue; }
    cur?.push(line);
  }
  return groups;
}

/** The system calls a SystemCallFilter= allow list (with ~ deny lines) lets through. */
export function allowedSyscalls(filters: readonly string[], groups: ReadonlyMap<string, readonly string[]>): Set<string> {
  const expand = (name: string, seen = new Set<string>()): string[] => {
    if (!name.startsWith('@')) return [name];
    if (seen.has(name)) return [];
    seen.add(name);
    const members = groups.get(name);
    if (!members) throw new Error(`unknown system call group ${name}`);
    return members.flatMap((m) => expand(m, seen));
  };
  const allowed = new Set<string>();
  for (const f of filters) {
    const deny = f.startsWith('~');
    for (const word of (deny ? f.slice(1) : f).split(/\s+/).filter(Boolean)) {
      for (const s of expand(word)) if (deny) allowed.delete(s); else allowed.add(s);
    }
  }
  return allowed;
}

export interface TraceSummary {
  syscalls: Map<string, number>;
  families: Set<string>;
  /** "syscall(args) = -1 EPERM", at most a few of each. */
  denied: string[];
  /** Paths opened for writing, created, renamed to, removed or bound (unix sockets). */
  written: Set<string>;
  pids: Set<number>;
}

/**
 * A `strace -f -o FILE` log, from the line where `startAt` (node) is executed: what the wrapper
 * (setpriv) did before that is systemd's part of the work.
 */
export function summarizeTrace(text: string, startAt: string): TraceSummary {
  const s: TraceSummary = { syscalls: new Map(), families: new Set(), denied: [], written: new Set(), pids: new Set() };
  let started = false;
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(<\.\.\. )?([a-z_0-9]+)(?:\(| resumed>)(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, resumed, name, rest] = m as unknown as [string, string, string | undefined, string, string];
    if (!started) {
      if (name === 'execve' && rest.startsWith(`"${startAt}"`) && / = 0$/.test(rest)) started = true;
      else continue;
    }
    if (/ = -1 E(PERM|ACCES) /.test(rest) && s.denied.filter((d) => d.startsWith(`${name}(`)).length < 3) s.denied.push(`${name}(${rest}`);
    if (resumed) continue; // counted where it started
    s.pids.add(Number(pid));
    s.syscalls.set(name, (s.syscalls.get(name) ?? 0) + 1);
    const fam = /^(AF_[A-Z0-9]+)/.exec(rest);
    if ((name === 'socket' || name === 'socketpair') && fam) s.families.add(fam[1]!);
    const path = /"([^"]*)"/.exec(rest)?.[1];
    if (path === undefined || / = -1 /.test(rest)) continue;
    const writes = (name === 'openat' || name === 'open') ? /O_WRONLY|O_RDWR|O_CREAT/.test(rest)
      : ['mkdir', 'mkdirat', 'unlink', 'unlinkat', 'rmdir', 'rename', 'renameat', 'renameat2', 'chmod', 'fchmodat', 'chown', 'fchownat', 'truncate', 'symlink', 'symlinkat', 'link', 'linkat'].includes(name);
    if (writes) s.written.add(renameTarget(name, rest) ?? path);
    if (name === 'bind' && /sun_path="([^"]+)"/.test(rest)) s.written.add(/sun_path="([^"]+)"/.exec(rest)![1]!);
  }
  return s;
}

function renameTarget(name: string, rest: string): string | undefined {
  if (!name.startsWith('rename')) return undefined;
  return [...rest.matchAll(/"([^"]*)"/g)][1]?.[1];
}

export function readUnit(): Map<string, string[]> {
  return unitSection(readFileSync(UNIT_FILE, 'utf8'), 'Service');
}
