// Hooks and track scripts as real processes (/bin/sh): the whole process group dies at the
// deadline, output is bounded and drained, the daemon's environment does not leak, order holds.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { runChild, killChildGroups, CHILD_OUTPUT_BYTES } from '../../src/daemon/child.js';
import { HookQueues } from '../../src/daemon/hooks.js';
import type { ScriptRefusedError } from '../../src/core/script-run.js';
import { SECURE_POLICY } from '../../src/core/script-security.js';

/** Running (a zombie waiting for whoever inherited it to reap it is dead). */
const alive = (pid: number): boolean => {
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a script that forks and hangs: at the deadline the whole group is killed, grandchildren too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-child-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Three background sleepers write their pids, then the script itself hangs.
  const r = await runChild(['/bin/sh', '-c', `for i in 1 2 3; do sleep 60 & echo $! >> ${dir}/pids; done; sleep 60`], { timeoutMs: 300, killGraceMs: 200 });
  t.true(r.timedOut);
  t.is(r.signal, 'SIGTERM');
  const pids = readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n').map(Number);
  t.is(pids.length, 3);
  await sleep(100);
  t.deepEqual(pids.filter(alive), [], 'no descendant outlives the deadline');
});

test('a script that ignores TERM is killed with KILL after the grace', async (t) => {
  const r = await runChild(['/bin/sh', '-c', 'trap "" TERM; sleep 60 & wait; sleep 60'], { timeoutMs: 200, killGraceMs: 200 });
  t.true(r.timedOut);
  t.is(r.signal, 'SIGKILL');
  t.true(r.ms >= 350 && r.ms < 3000, `${r.ms} ms`);
});

test('a descendant left behind by a script that exited at once dies at the deadline too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-child-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The deadline leaves room for a slow start on a loaded machine (the shell must exit before it).
  const r = await runChild(['/bin/sh', '-c', `sleep 60 & echo $! > ${dir}/pid; exit 0`], { timeoutMs: 1500, killGraceMs: 100 });
  t.is(r.code, 0);
  t.false(r.timedOut);
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  t.true(alive(pid), `still there before the deadline (the script took ${r.ms} ms)`);
  await sleep(2000);
  t.false(alive(pid), 'gone after it');
});

test('10 MB of output: the child is not blocked or killed; the first 4 KiB are kept, the rest counted', async (t) => {
  const r = await runChild(['/bin/sh', '-c', 'head -c 10000000 /dev/zero | tr "\\0" x; echo done >&2; exit 3'], { timeoutMs: 10_000 });
  t.is(r.code, 3);
  t.false(r.timedOut);
  t.is(r.output.length, CHILD_OUTPUT_BYTES);
  t.is(r.dropped, 10_000_000 + 5 - CHILD_OUTPUT_BYTES);
});

test('the environment: a fixed PATH and the DUET_ variables; nothing of the daemon\'s own', async (t) => {
  process.env['DUET_TEST_SECRET'] = 'hunter2';
  t.teardown(() => { delete process.env['DUET_TEST_SECRET']; });
  const r = await runChild(['/usr/bin/env'], { timeoutMs: 5000, vars: { DUET_INSTANCE: 'VI_1' } });
  const env = Object.fromEntries(r.output.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  t.deepEqual(Object.keys(env).sort(), ['DUET_INSTANCE', 'LANG', 'PATH']);
  t.is(env['DUET_INSTANCE'], 'VI_1');
});

test('a program that does not exist rejects: refused by script security (on by default), ENOENT without it', async (t) => {
  const e = await t.throwsAsync(runChild(['/nonexistent/hook'], { timeoutMs: 1000 }));
  t.is((e as ScriptRefusedError).code, 'DUET_E_SCRIPT_REFUSED');
  t.is(e?.message, 'not run (script security): /nonexistent/hook: /nonexistent does not exist');
  const e2 = await t.throwsAsync(runChild(['/nonexistent/hook'], { timeoutMs: 1000, policy: { secure: false, env: [] } }));
  t.is((e2 as NodeJS.ErrnoException).code, 'ENOENT');
});

test('hooks on one queue run in order, one at a time; another queue is not held up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-hooks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'order');
  const p = { runHook: async (argv: readonly string[], vars: Record<string, string>, timeoutMs: number) => { const r = await runChild(argv, { timeoutMs, vars }); if (r.code !== 0) throw new Error(`exit ${r.code}`); } };
  const q = new HookQueues(p, pino({ level: 'silent' }) as never, () => 5000, () => SECURE_POLICY);
  // The first hook is the slowest: without the queue, the later ones would finish first.
  q.run('instance:VI_1', ['/bin/sh', '-c', `sleep 0.3; echo master >> ${out}`], {}, 'failed');
  q.run('instance:VI_1', ['/bin/sh', '-c', `sleep 0.1; echo backup >> ${out}`], {}, 'failed');
  q.run('instance:VI_1', ['/bin/sh', '-c', `echo fault >> ${out}`], {}, 'failed');
  q.run('instance:VI_2', ['/bin/sh', '-c', `echo other >> ${out}`], {}, 'failed');
  await q.idle();
  t.deepEqual(readFileSync(out, 'utf8').trim().split('\n'), ['other', 'master', 'backup', 'fault']);
});

test('a queue backed up past its bound refuses more (logged), and runs again once it drains', async (t) => {
  let release!: () => void;
  const ran: string[] = [];
  const gate = new Promise<void>((r) => { release = r; });
  const errors: string[] = [];
  const log = { error: (_o: object, m: string) => errors.push(m), warn: () => {} } as unknown as ReturnType<typeof pino>;
  const q = new HookQueues({ runHook: async (argv) => { ran.push(argv[0]!); await gate; } }, log as never, () => 5000, () => SECURE_POLICY, 3);
  for (const n of ['a', 'b', 'c', 'd']) q.run('x', [n], {}, 'failed');
  t.deepEqual(errors, ['hook not run: too many waiting behind a slow one']);
  release();
  await q.idle();
  t.deepEqual(ran, ['a', 'b', 'c']);
  q.run('x', ['e'], {}, 'failed');
  await q.idle();
  t.deepEqual(ran, ['a', 'b', 'c', 'e']);
});

test.serial('killChildGroups (serial: it kills every group of this process): everything still within its deadline dies at once (duet exiting)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-child-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runChild(['/bin/sh', '-c', `sleep 60 & echo $! > ${dir}/pid; exit 0`], { timeoutMs: 60_000 });
  t.is(r.code, 0);
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  t.true(alive(pid));
  t.true(killChildGroups() >= 1);
  await sleep(200);
  t.false(alive(pid));
});
