// MISC_CHECK: run a program (argv, no shell), healthy on exit 0. With `dynamic` (keepalived
// misc_dynamic): 0 healthy with its weight unchanged, 1 unhealthy, 2..255 healthy with
// weight = code - 2.
//
// Before each run the program is checked under the scripts policy (absolute path, script
// security, script user: core/script-run.ts); a refused one is a failed check with the reason.
// It gets a small fixed environment plus the variables the config passes through.
//
// The child runs in its own process group (detached: setsid), so a timeout or an abort kills
// the whole group with SIGKILL: a shell script's own children (sleep, curl...) go too. The
// verdict waits for the child to be reaped, so when a check resolves its process is gone.
import { spawn, type ChildProcess } from 'node:child_process';
import type { CheckResult, ExecCheckSpec } from '../types.js';
import { planSpawn, ScriptRefusedError } from '../../core/script-run.js';
import { Probe, probeOf, tag } from './probe.js';

/** After SIGKILL, how long to wait for the exit before giving up on it (D state, say). */
const REAP_GRACE_MS = 1000;

class ExecProbe extends Probe {
  private child: ChildProcess | undefined;
  /** Why we killed it: the reason reported once it is reaped. */
  private killedFor: string | undefined;
  private grace: NodeJS.Timeout | undefined;

  constructor(private readonly spec: ExecCheckSpec) { super(); }

  protected begin(): void {
    const argv = this.spec.argv;
    if (argv.length === 0 || argv[0] === '') { this.finish(false, 'spawn: no program'); return; }
    let plan;
    try {
      plan = planSpawn(argv, this.spec.policy);
    } catch (e) {
      this.finish(false, e instanceof ScriptRefusedError ? e.message : spawnReason(e));
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true, shell: false, ...plan });
    this.child = child;
    tag(child, this);
    child.once('exit', onExit);
    // Spawn failures (ENOENT, EACCES) arrive here, without an 'exit'.
    child.on('error', onSpawnError);
  }

  override onTimeout(): void { this.kill('timeout'); }

  protected override onAbort(): void { this.kill('aborted'); }

  protected override describeThrow(e: unknown): string { return spawnReason(e); }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.killedFor !== undefined) { this.finish(false, this.killedFor); return; }
    if (code === null) { this.finish(false, `signal ${signal ?? 'unknown'}`); return; }
    if (code === 0) { this.finish(true, 'exit 0'); return; }
    if (this.spec.dynamic && code >= 2) { this.finish(true, `exit ${code}`, code - 2); return; }
    this.finish(false, `exit ${code}`);
  }

  /** Kill the group, then report `reason` once the child is reaped (or after a grace period). */
  private kill(reason: string): void {
    if (this.killedFor !== undefined) return;
    this.killedFor = reason;
    this.disarm();
    const child = this.child;
    if (child === undefined || child.pid === undefined || !running(child)) { this.finish(false, reason); return; }
    killGroup(child);
    this.grace = setTimeout(onGrace, REAP_GRACE_MS, this);
  }

  /** 'error' means "did not start" only while there is no pid; otherwise its exit will come. */
  spawnFailed(err: Error): void {
    if (this.child?.pid === undefined) this.finish(false, spawnReason(err));
  }

  giveUp(): void { this.finish(false, this.killedFor ?? 'timeout'); }

  protected release(): void {
    if (this.grace !== undefined) { clearTimeout(this.grace); this.grace = undefined; }
    const child = this.child;
    if (child !== undefined && child.pid !== undefined && running(child)) killGroup(child);
  }
}

function running(child: ChildProcess): boolean { return child.exitCode === null && child.signalCode === null; }

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // No group (it raced to exit): the child alone, if it is still there.
    child.kill('SIGKILL');
  }
}

function onExit(this: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
  probeOf<ExecProbe>(this).exited(code, signal);
}

function onSpawnError(this: ChildProcess, err: Error): void { probeOf<ExecProbe>(this).spawnFailed(err); }

function onGrace(probe: ExecProbe): void { probe.giveUp(); }

function spawnReason(err: unknown): string {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return `spawn: ${typeof code === 'string' ? code : 'error'}`;
}

export function execCheck(spec: ExecCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new ExecProbe(spec).run(signal, spec.timeoutMs);
}
