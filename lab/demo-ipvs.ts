// The director path of `npm run demo`: client -> VIP -> IPVS (DR, wrr 3:1) -> rs1/rs2, through a
// duet pair, then a failover (SIGKILL + link down on the master) and the same requests through the
// backup. One bash script does it all (lab/sh/demo-ipvs.sh, configs beside it), so it runs
// unchanged where IPVS is: on this host when its kernel has IPVS, otherwise in a throw-away VM on
// Debian's kernel (lab/vm.ts). In the VM every process start is slow, so the real servers are
// busybox httpd and the client is one bash per batch using /dev/tcp (lab/sh/vip-http.sh); only the
// two directors run node.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IpvsClient } from '../src/ipvs/genl-client.js';
import { runInVm, PROJECT_ROOT } from './vm.js';

/** The scenario (lab/sh/demo-ipvs.sh). Env: DUET_DEMO_PREFIX (namespace name prefix), NODE (node binary). cwd: project root. */
export const SCRIPT_FILE = join(PROJECT_ROOT, 'lab', 'sh', 'demo-ipvs.sh');

/** Does this kernel have IPVS (netlink family resolvable, which also autoloads ip_vs)? */
export async function hostHasIpvs(): Promise<boolean> {
  try {
    const c = await IpvsClient.open({ timeoutMs: 2000 });
    c.close();
    return existsSync('/proc/net/ip_vs');
  } catch {
    return false;
  }
}

export interface PathRun { code: number; stdout: string; where: 'vm' | 'host'; totalMs: number; bootMs?: number }

/** Run the scenario in a VM (Debian's kernel under qemu). */
export async function runInVmPath(timeoutMs: number): Promise<PathRun> {
  const t = performance.now();
  const r = await runInVm(`bash ${SCRIPT_FILE}\n`, { timeoutMs });
  const stdout = r.stdout + (r.code !== 0 && r.stderr ? `\n=== stderr\n${r.stderr}` : '');
  return { code: r.code, stdout, where: 'vm', totalMs: performance.now() - t, bootMs: r.bootMs };
}

/**
 * Run the scenario on this host (kernel has IPVS). Namespaces are prefixed demo-ipvs-; the script
 * removes them on exit, also on SIGTERM (sent by the returned promise's owner via `kill`).
 * UNTESTED here: the development host has no IPVS.
 */
export function runOnHostPath(timeoutMs: number): { done: Promise<PathRun>; kill: () => void } {
  const t = performance.now();
  const child = spawn('bash', [SCRIPT_FILE], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DUET_DEMO_PREFIX: 'demo-ipvs-', NODE: process.execPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  const kill = (): void => { if (child.exitCode === null) child.kill('SIGTERM'); };
  const timer = setTimeout(kill, timeoutMs);
  const done = new Promise<PathRun>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, where: 'host', totalMs: performance.now() - t });
    });
  });
  return { done, kill };
}

/** The `=== name` sections of the script's output. */
export function sections(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  let cur = '';
  for (const line of stdout.split('\n')) {
    const h = /^=== (.+)$/.exec(line);
    if (h) { cur = h[1]!; m.set(cur, ''); continue; }
    m.set(cur, (m.get(cur) ?? '') + line + '\n');
  }
  return m;
}

export const timing = (stdout: string, name: string): number | undefined => {
  const m = new RegExp(`^T ${name} (\\d+)$`, 'm').exec(stdout);
  return m ? Number(m[1]) : undefined;
};

/** `uniq -c` lines of a section → counts per answer. */
export function counts(section: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const m of section.matchAll(/^\s*(\d+) (\S+)$/gm)) r[m[2]!] = Number(m[1]);
  return r;
}

/** Milliseconds from the kill to d2's "transition to master" log line (its own clock, same machine). */
export function d2TransitionMs(stdout: string): number | undefined {
  const kill = /^KILL_EPOCH_MS (\d+)$/m.exec(stdout);
  const line = stdout.split('\n').find((l) => l.includes('"to":"master"') && l.startsWith('{'));
  if (!kill || !line) return undefined;
  try {
    const j = JSON.parse(line) as { time?: string | number };
    const at = typeof j.time === 'number' ? j.time : Date.parse(String(j.time));
    return Number.isFinite(at) ? at - Number(kill[1]) : undefined;
  } catch {
    return undefined;
  }
}
