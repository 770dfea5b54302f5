// Real-kernel harness: runs a shell script as root in a throw-away qemu VM booted on Debian's
// kernel, which has IPVS (the host's kernel does not). The VM sees the host's filesystem read-only
// under a tmpfs overlay (node, ipvsadm and the built project are there; writes vanish at exit),
// starts the script in the project root, and has no network to the outside (`-nic none`; socket
// links on 127.0.0.1 only when asked). Software emulation: a boot costs ~2.5-4.5 s, every process
// start inside 50-100 ms, so batch work into one script per VM.
//
// The machinery is in scripts/vm/: prepare.sh (kernel, modules, initramfs; cached under
// /var/cache/duet-vm or $DUET_VM_CACHE), init (the guest's PID 1), run.sh (boots one VM). This
// module prepares once per process, then drives run.sh with a job directory and reads the results.
// Failures to boot or time-outs reject with a VmError carrying the console tail: never a skip.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Project root (this file is build/lab/vm.js once built). */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const VM_DIR = join(PROJECT_ROOT, 'scripts', 'vm');

export interface VmOptions {
  /** Kill the VM after this long (boot included). Default 60 s. */
  timeoutMs?: number;
  /** Guest memory. Default 512 MB. */
  memMb?: number;
  /** Directory (host path, also valid inside) the script starts in. Default: the project root. */
  cwd?: string;
  /**
   * virtio NICs on qemu socket links bound to 127.0.0.1 (eth0, eth1, ... in the guest), e.g.
   * `['listen:47001']` on one VM and `['connect:47001']` on the other. Default: none.
   */
  nics?: Array<`listen:${number}` | `connect:${number}`>;
  /**
   * Boot the host's systemd as PID 1 and run the script as a unit, so it can start services with
   * systemctl (run.sh -S; the boot takes seconds longer). Default: no systemd.
   */
  systemd?: boolean;
}

export interface VmResult {
  /** The script's exit code. */
  code: number;
  stdout: string;
  stderr: string;
  /** Host clock, qemu start to the script's start. */
  bootMs: number;
  /** Host clock, qemu start to qemu exit. */
  totalMs: number;
  /** The serial console (kernel messages at loglevel 3, init's errors). */
  console: string;
  /** Tails of the daemons' logs (files named *log under /tmp/lab and /tmp/duet in the VM). */
  logs: string;
}

/** For a failed test: the job's exit code, its output's tail and the daemons' log tails. */
export function describeVm(vm: VmResult | undefined): string {
  if (!vm) return 'the VM job did not run (see the hook that started it)';
  // Lines cut at 400 characters: some jobs print whole JSON reports, which would drown CI's log.
  const cut = (text: string): string => text.split('\n').map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l)).join('\n');
  return cut(`VM job exit ${vm.code}\n--- job output (tail)\n${tail(vm.stdout + (vm.stderr ? `\n--- stderr\n${vm.stderr}` : ''), 40)}\n${vm.logs || '(no daemon logs)'}`);
}

export class VmError extends Error {
  readonly code = 'DUET_E_VM';
  constructor(
    message: string,
    readonly consoleTail: string,
    options?: { cause?: unknown },
  ) {
    super(consoleTail ? `${message}\n${consoleTail}` : message, options);
  }
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  timedOut: boolean;
}

function runScript(argv: string[], timeoutMs: number): Promise<Exit> {
  return new Promise((resolve, reject) => {
    // Own process group, so a time-out kills run.sh, timeout(1) and qemu together.
    const child = spawn('bash', argv, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    // The group outlives us unless we end it: do so when this process exits (Ctrl-C included).
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    process.once('exit', killGroup);
    // A worker ended by a signal (ava's timeout, Ctrl-C) fires no 'exit' by itself: end qemu, then go.
    const onSignal = (sig: NodeJS.Signals): void => { killGroup(); process.exit(sig === 'SIGINT' ? 130 : 143); };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-64 * 1024);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', killGroup);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve({ code, signal, stderr, timedOut });
    });
  });
}

let prepared: Promise<void> | undefined;

/** Runs scripts/vm/prepare.sh once per process (downloads the kernel the first time on a machine). */
export function prepareVm(): Promise<void> {
  prepared ??= (async () => {
    const r = await runScript([join(VM_DIR, 'prepare.sh')], 300_000);
    if (r.timedOut || r.code !== 0) {
      prepared = undefined;
      throw new VmError(`scripts/vm/prepare.sh failed (${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`})`, r.stderr.trim());
    }
  })();
  return prepared;
}

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Boots a VM, runs `script` with bash as root in it (cwd: the project root), and resolves with its
 * exit code and output. Rejects (VmError, console tail in the message) when the VM does not boot,
 * crashes or times out.
 */
export async function runInVm(script: string, o: VmOptions = {}): Promise<VmResult> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  await prepareVm();
  const dir = mkdtempSync(join(tmpdir(), 'duet-vm-'));
  try {
    writeFileSync(join(dir, 'job.sh'), script);
    const argv = [join(VM_DIR, 'run.sh'), '-d', dir, '-m', String(o.memMb ?? 512), '-t', String(timeoutMs / 1000), '-C', o.cwd ?? PROJECT_ROOT];
    for (const n of o.nics ?? []) argv.push('-N', n);
    if (o.systemd) argv.push('-S');
    // run.sh enforces the time-out on qemu itself; this one only catches a stuck run.sh.
    const r = await runScript(argv, timeoutMs + 15_000);
    const consoleLog = readText(join(dir, 'console.log'));
    const [bootMs = -1, totalMs = -1] = readText(join(dir, 'times')).trim().split(/\s+/).map(Number);
    const rc = readText(join(dir, 'rc')).trim();
    if (r.timedOut || rc === '') {
      const why = r.timedOut ? `run.sh did not finish within ${timeoutMs + 15_000} ms` : `the VM stopped without the job's exit code (run.sh exit ${r.code ?? r.signal})`;
      // What the job printed before it hung says where it hung.
      const out = tail(readText(join(dir, 'stdout')) + readText(join(dir, 'stderr')), 30);
      const detail = [r.stderr.trim(), r.stderr.includes('console tail') ? '' : `--- console tail:\n${tail(consoleLog, 40)}`, out ? `--- job output tail:\n${out}` : ''].filter(Boolean).join('\n');
      throw new VmError(`runInVm: ${why}`, detail);
    }
    return {
      code: Number(rc),
      stdout: readText(join(dir, 'stdout')),
      stderr: readText(join(dir, 'stderr')),
      bootMs,
      totalMs,
      console: consoleLog,
      logs: readText(join(dir, 'logs')),
    };
  } finally {
    if (!process.env.DUET_VM_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
