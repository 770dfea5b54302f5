// Running a hook or a track script so it cannot hurt the daemon: argv (no shell), checked first
// under the script policy (absolute path, script security, script user: core/script-run.ts), its
// own process group (so the whole group can be killed, not just the direct child), a small fixed
// environment plus the DUET_* variables and the variables the config passes through (nothing else
// of the daemon's own environment leaks), output read all the
// way and kept only up to a bound (a chatty script neither blocks on a full pipe nor grows the
// daemon), and a deadline after which every process left in the group is killed: TERM, then KILL.
import { spawn } from 'node:child_process';
import { planSpawn } from '../core/script-run.js';
import { SECURE_POLICY, type ScriptPolicy } from '../core/script-security.js';

export { CHILD_ENV } from '../core/script-run.js';
/** Output kept for the log (stdout and stderr together); the rest is read and dropped. */
export const CHILD_OUTPUT_BYTES = 4096;
/** Between TERM and KILL of a group past its deadline. */
export const CHILD_KILL_GRACE_MS = 1000;

/** Process groups started here whose deadline has not passed yet. */
const live = new Set<number>();

/**
 * Kill every process group still within its deadline: duet is exiting, and nothing it started
 * may outlive it (as systemd's control-group kill would do for the unit). Synchronous, so it can
 * run in an 'exit' handler.
 */
export function killChildGroups(signal: NodeJS.Signals = 'SIGKILL'): number {
  let n = 0;
  for (const pgid of live) {
    try { process.kill(-pgid, signal); n++; } catch { /* ESRCH: gone */ }
  }
  live.clear();
  return n;
}

export interface ChildResult {
  /** Exit status of the direct child; null when it died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The deadline passed before the direct child exited. */
  timedOut: boolean;
  /** The first CHILD_OUTPUT_BYTES of stdout and stderr. */
  output: string;
  /** Bytes read past the bound. */
  dropped: number;
  ms: number;
}

export interface ChildOptions {
  timeoutMs: number;
  vars?: Readonly<Record<string, string>>;
  /** Default: SECURE_POLICY (checked, run as duet, no variables passed through). */
  policy?: ScriptPolicy;
  outputBytes?: number;
  killGraceMs?: number;
}

/**
 * Run argv to completion of its direct child. The group's deadline holds beyond that: any
 * descendant still running timeoutMs after the start is killed then. Rejects only when the
 * program cannot be started (ENOENT, EACCES) or the policy refuses it (ScriptRefusedError).
 */
export function runChild(argv: readonly string[], o: ChildOptions): Promise<ChildResult> {
  const [file, ...args] = argv;
  const t0 = performance.now();
  const limit = o.outputBytes ?? CHILD_OUTPUT_BYTES;
  const grace = o.killGraceMs ?? CHILD_KILL_GRACE_MS;
  return new Promise((resolve, reject) => {
    let child;
    try {
      const plan = planSpawn(argv, o.policy ?? SECURE_POLICY, o.vars);
      child = spawn(file!, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...plan });
    } catch (e) {
      reject(e);
      return;
    }
    const chunks: Buffer[] = [];
    let kept = 0;
    let dropped = 0;
    const take = (b: Buffer): void => {
      const room = limit - kept;
      if (room > 0) { chunks.push(b.subarray(0, room)); kept += Math.min(room, b.length); }
      dropped += Math.max(0, b.length - Math.max(room, 0));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // Streams held open by a descendant must not keep us waiting or error out.
    child.stdout.on('error', () => {});
    child.stderr.on('error', () => {});
    const pgid = child.pid;
    if (pgid !== undefined) live.add(pgid);
    let exited = false;
    let timedOut = false;
    const killGroup = (sig: NodeJS.Signals): void => {
      if (pgid === undefined) return;
      try { process.kill(-pgid, sig); } catch { /* ESRCH: the group is gone */ }
    };
    // The group's deadline: TERM, then KILL, whether or not the direct child has exited by then.
    const deadline = setTimeout(() => {
      if (!exited) timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => { killGroup('SIGKILL'); if (pgid !== undefined) live.delete(pgid); }, grace).unref();
    }, o.timeoutMs);
    deadline.unref();
    child.once('error', (e) => {
      clearTimeout(deadline);
      if (!exited) { exited = true; reject(e); }
    });
    let result: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const finish = (): void => {
      if (!result) return;
      const r = result;
      result = undefined;
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ ...r, timedOut, output: Buffer.concat(chunks).toString('utf8'), dropped, ms: Math.round(performance.now() - t0) });
    };
    child.once('exit', (code, signal) => {
      if (exited) return;
      exited = true;
      result = { code, signal };
      // Output still in the pipes is read until they close; a descendant that keeps them open
      // does not hold us for more than a moment.
      setTimeout(finish, 100).unref();
    });
    child.once('close', () => finish());
  });
}
