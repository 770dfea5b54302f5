// execCheck with real programs: exit codes, misc_dynamic weights, signals, spawn errors, the
// timeout killing the whole process group (proved by pid), abort, and nothing left behind.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execCheck } from '../../src/check/checkers/exec.js';
import type { ExecCheckSpec } from '../../src/check/types.js';
import type { ScriptPolicy } from '../../src/core/script-security.js';
import { handles, settledTo } from './check-servers.js';

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Script security off: these tests are about spawning; its own tests are below. */
function spec(argv: string[], dynamic = false, timeoutMs = 2000, policy: ScriptPolicy = { secure: false, env: [] }): ExecCheckSpec {
  return { type: 'exec', argv, timeoutMs, dynamic, policy };
}

const sh = (script: string, dynamic = false, timeoutMs = 2000) => spec(['/bin/sh', '-c', script], dynamic, timeoutMs);

/** The process exists at all (a zombie does: it is dead but not reaped). */
function exists(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code !== 'ESRCH'; }
}

/** Running, i.e. exists and is not a zombie. */
function alive(pid: number): boolean {
  if (!exists(pid)) return false;
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z'; } catch { return false; }
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'duet-exec-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Waits (bounded) until a file has a line in it (a pid written by the script). */
async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return Number(text.trim());
    await wait(5);
  }
  throw new Error(`no pid in ${file}`);
}

test.serial('leaves no child, pipe or timer behind, whatever the outcome', async (t) => {
  const before = handles();
  const rs = await Promise.all([
    execCheck(spec(['/bin/true']), never),
    execCheck(spec(['/bin/false']), never),
    execCheck(spec(['/bin/sleep', '5'], false, 100), never),
    execCheck(spec(['/nonexistent/duet-check']), never),
  ]);
  t.deepEqual(rs.map((r) => r.reason), ['exit 0', 'exit 1', 'timeout', 'spawn: ENOENT']);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('/bin/true: ok "exit 0", no weight', async (t) => {
  const r = await execCheck(spec(['/bin/true']), never);
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: true, reason: 'exit 0' });
  t.false('weight' in r);
  t.true(r.latencyMs > 0 && r.latencyMs < 2000);
});

test('/bin/false: "exit 1", also with dynamic', async (t) => {
  t.deepEqual(await execCheck(spec(['/bin/false']), never).then((r) => [r.ok, r.reason]), [false, 'exit 1']);
  t.deepEqual(await execCheck(spec(['/bin/false'], true), never).then((r) => [r.ok, r.reason]), [false, 'exit 1']);
});

test('dynamic: exit 7 is healthy with weight 5; 255 gives 253; 2 gives 0; 0 keeps the weight', async (t) => {
  const r = await execCheck(sh('exit 7', true), never);
  t.deepEqual(r.ok, true);
  t.is(r.reason, 'exit 7');
  t.is(r.weight, 5);
  t.is((await execCheck(sh('exit 255', true), never)).weight, 253);
  t.is((await execCheck(sh('exit 2', true), never)).weight, 0);
  const zero = await execCheck(sh('exit 0', true), never);
  t.true(zero.ok);
  t.false('weight' in zero);
});

test('not dynamic: any non-zero exit fails', async (t) => {
  const r = await execCheck(sh('exit 7'), never);
  t.deepEqual([r.ok, r.reason, r.weight], [false, 'exit 7', undefined]);
});

test('arguments are passed as-is, without a shell', async (t) => {
  // With a shell the ';' would run `exit 3`; without one it is just a word for printf.
  t.is((await execCheck(spec(['/usr/bin/env', 'printf', '%s', ';exit 3']), never)).reason, 'exit 0');
  t.is((await execCheck(spec(['/bin/sh', '-c', 'test "$1" = "a b"', 'sh', 'a b']), never)).reason, 'exit 0');
});

test('killed by a signal: "signal SIGTERM"', async (t) => {
  const r = await execCheck(sh('kill -TERM $$; sleep 1'), never);
  t.deepEqual([r.ok, r.reason], [false, 'signal SIGTERM']);
});

test('a missing program: "spawn: ENOENT"; a directory: "spawn: EACCES"; no program; a relative one is not searched for', async (t) => {
  t.deepEqual(await execCheck(spec(['/nonexistent/duet-check']), never).then((r) => [r.ok, r.reason]), [false, 'spawn: ENOENT']);
  t.deepEqual(await execCheck(spec(['true']), never).then((r) => [r.ok, r.reason]), [false, 'true: not run: the program must be an absolute path']);
  t.is((await execCheck(spec([tmpdir()]), never)).reason, 'spawn: EACCES');
  t.is((await execCheck(spec([]), never)).reason, 'spawn: no program');
  t.is((await execCheck(spec(['/bad\0name']), never)).reason, 'spawn: ERR_INVALID_ARG_VALUE');
});

test('past the timeout: "timeout", and the child is gone when the check resolves', async (t) => {
  const dir = await tempDir(t);
  const pidFile = join(dir, 'pid');
  // exec: the pid written is the sleeping process itself (which wrote it, so it did run).
  const p = execCheck(sh(`echo $$ > ${pidFile}; exec sleep 10`, false, 300), never);
  const pid = await readPid(pidFile);
  const r = await p;
  t.deepEqual([r.ok, r.reason], [false, 'timeout']);
  t.true(r.latencyMs >= 299 && r.latencyMs < 2000, `latency ${r.latencyMs}`);
  t.false(exists(pid), 'killed and reaped by the time the check resolved');
});

test('the timeout kills the whole process group: a script\'s own child goes too', async (t) => {
  const dir = await tempDir(t);
  const pidFile = join(dir, 'pid');
  const p = execCheck(sh(`sleep 10 & echo $! > ${pidFile}; wait`, false, 300), never);
  const grandchild = await readPid(pidFile);
  t.is((await p).reason, 'timeout');
  // The orphan is reaped by init, not by us (and some inits are slow to reap): dead is enough.
  for (let i = 0; i < 40 && alive(grandchild); i++) await wait(5);
  t.false(alive(grandchild), 'killed');
});

test('aborted: "aborted", the child killed; an aborted signal spawns nothing', async (t) => {
  const dir = await tempDir(t);
  const pidFile = join(dir, 'pid');
  const ac = new AbortController();
  const p = execCheck(sh(`echo $$ > ${pidFile}; exec sleep 10`), ac.signal);
  const pid = await readPid(pidFile);
  ac.abort();
  const r = await p;
  t.deepEqual([r.ok, r.reason], [false, 'aborted']);
  t.false(exists(pid));
  const marker = join(dir, 'ran');
  t.is((await execCheck(sh(`touch ${marker}`), AbortSignal.abort())).reason, 'aborted');
  await wait(50);
  await t.throwsAsync(readFile(marker));
});
