// Real-time scheduling and memory locking (config `realtime:`; keepalived's vrrp_rt_priority,
// checker_rt_priority and vrrp_no_swap). Linux applies a scheduling policy per thread, so each
// thread that wants one asks for itself: the daemon's main thread (VRRP) at start, the check
// worker thread when it starts. SCHED_RESET_ON_FORK is always added, so threads and processes
// started afterwards (libuv's pool, the check worker, the config loader, scripts) begin as
// ordinary SCHED_OTHER threads instead of inheriting the real-time policy.
//
// Memory: not mlockall(). V8 gives pages back with madvise(MADV_DONTNEED) and aborts the process
// when that fails, which it does (EINVAL) on locked pages: a node process under
// mlockall(MCL_FUTURE) dies as soon as a new thread's heap pages are discarded (measured: "Check
// failed: 0 == ret" in the first half second). So only what V8 never discards is locked: every
// file-backed mapping (node's and the libraries' code and data, the native addons) and the main
// thread's stack, with MLOCK_ONFAULT (pages already in memory, and those touched later, stay;
// nothing is read in just to be locked). The JavaScript heap is kept out of swap by the unit
// (MemorySwapMax=0), not here.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Koffi from 'koffi';

// koffi is loaded on first use, not at import: the check worker imports this module, and loading
// the native addon in a worker thread while the main thread runs has aborted node (seen once in
// the VM: a V8 abort in koffi's module registration). Only a worker with realtime.check_priority
// now loads it.
let koffiModule: typeof Koffi | undefined;
const koffi = (): typeof Koffi => (koffiModule ??= createRequire(import.meta.url)('koffi') as typeof Koffi);

export type RtPolicy = 'fifo' | 'rr';

/** What a thread asks for: a policy and a priority (1..99). */
export interface ThreadRealtime {
  readonly policy: RtPolicy;
  readonly priority: number;
}

/** The config's `realtime:` section, normalized. */
export interface RealtimeConfig {
  /** The main thread (VRRP adverts, timers, the control socket). */
  readonly vrrp?: ThreadRealtime;
  /** The check worker thread. */
  readonly check?: ThreadRealtime;
  readonly lockMemory: boolean;
  /** A master's adverts from a thread of their own, with its lease (config advert_thread, advert_lease_ms). */
  readonly advertThread?: { readonly leaseMs: number };
}

export type RtOutcome =
  | { readonly ok: true; readonly detail: string; readonly tid?: number }
  | { readonly ok: false; readonly errno: number; readonly error: string };

const SCHED_FIFO = 1;
const SCHED_RR = 2;
const SCHED_RESET_ON_FORK = 0x40000000;
const MLOCK_ONFAULT = 1;
const EPERM = 1;
const ENOMEM = 12;
const EAGAIN = 11;
const EINVAL = 22;
const ENOSYS = 38;

export const POLICY_NUMBER: Readonly<Record<RtPolicy, number>> = { fifo: SCHED_FIFO, rr: SCHED_RR };

/** Why sched_setscheduler failed, and what would let it succeed. */
export function schedError(errno: number, want: ThreadRealtime): string {
  const what = `SCHED_${want.policy.toUpperCase()} priority ${want.priority}`;
  switch (errno) {
    case EPERM:
      return `${what} refused (EPERM): needs CAP_SYS_NICE or RLIMIT_RTPRIO >= ${want.priority} `
        + `(systemd: LimitRTPRIO=${want.priority} or more, and RestrictRealtime=no; in a container, the runtime may forbid it)`;
    case EINVAL: return `${what} not accepted (EINVAL): priority out of range for the policy`;
    case ENOSYS: return `${what}: sched_setscheduler not available (ENOSYS)`;
    default: return `${what} failed: errno ${errno}`;
  }
}

/** Why mlock2 failed, and what would let it succeed. */
export function lockError(errno: number, bytes: number): string {
  const mb = Math.ceil(bytes / 1048576);
  switch (errno) {
    case ENOMEM:
    case EPERM:
      return `locking ${mb} MB refused (${errno === EPERM ? 'EPERM' : 'ENOMEM'}): needs CAP_IPC_LOCK or RLIMIT_MEMLOCK >= ${mb} MB (systemd: LimitMEMLOCK=infinity)`;
    case EAGAIN: return `locking ${mb} MB failed (EAGAIN): some pages could not be locked`;
    case ENOSYS: return 'mlock2 not available (ENOSYS; Linux 4.4 or later has it)';
    default: return `locking ${mb} MB failed: errno ${errno}`;
  }
}

/** A /proc/self/maps line's range and pathname, for what lockMemory() locks. */
export interface Mapping { start: bigint; end: bigint; path: string }

/**
 * The mappings lockMemory() locks: file-backed ones (a path starting with /, not deleted: a
 * memfd or a removed file) and the main thread's [stack]. Anonymous memory (V8's heap, malloc
 * arenas, thread stacks) is left alone.
 */
export function lockableMappings(maps: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (!m) continue;
    const path = m[3]!;
    if (!(path === '[stack]' || (path.startsWith('/') && !path.endsWith(' (deleted)') && !path.startsWith('/memfd:')))) continue;
    out.push({ start: BigInt(`0x${m[1]!}`), end: BigInt(`0x${m[2]!}`), path });
  }
  return out;
}

type Libc = {
  setscheduler: (pid: number, policy: number, param: Int32Array) => number;
  mlock2: (addr: bigint, len: bigint, flags: number) => number;
  gettid: () => number;
};
let libc: Libc | undefined;
function load(): Libc {
  if (libc) return libc;
  const lib = koffi().load('libc.so.6');
  libc = {
    setscheduler: lib.func('int sched_setscheduler(int pid, int policy, const int *param)') as Libc['setscheduler'],
    // The address as an integer: no pointer object per mapping.
    mlock2: lib.func('int mlock2(uintptr_t addr, size_t len, unsigned int flags)') as Libc['mlock2'],
    gettid: lib.func('int gettid(void)') as Libc['gettid'],
  };
  return libc;
}

/**
 * Give the calling thread a real-time policy (with SCHED_RESET_ON_FORK). pid 0 is the calling
 * thread on Linux, not the process: other threads keep their policy.
 */
export function setThreadRealtime(want: ThreadRealtime): RtOutcome {
  const l = load();
  if (l.setscheduler(0, POLICY_NUMBER[want.policy] | SCHED_RESET_ON_FORK, Int32Array.of(want.priority)) === 0) {
    return { ok: true, detail: `SCHED_${want.policy.toUpperCase()} priority ${want.priority}`, tid: l.gettid() };
  }
  const errno = koffi().errno();
  return { ok: false, errno, error: schedError(errno, want) };
}

/** Lock the file-backed mappings and the main stack (see the top of this file). */
export function lockMemory(maps = readFileSync('/proc/self/maps', 'utf8')): RtOutcome {
  const l = load();
  let bytes = 0n;
  let locked = 0;
  let firstErr: number | undefined;
  let failedBytes = 0n;
  const list = lockableMappings(maps);
  for (const m of list) {
    const len = m.end - m.start;
    if (l.mlock2(m.start, len, MLOCK_ONFAULT) === 0) {
      locked++;
      bytes += len;
    } else {
      firstErr ??= koffi().errno();
      failedBytes += len;
    }
  }
  if (firstErr !== undefined) {
    return { ok: false, errno: firstErr, error: `${lockError(firstErr, Number(failedBytes + bytes))} (${list.length - locked} of ${list.length} mappings not locked)` };
  }
  return { ok: true, detail: `${locked} mappings, ${Math.round(Number(bytes) / 1048576)} MB of address space (locked as touched)` };
}
