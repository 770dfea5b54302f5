// One daemon per state directory (flock on duet.lock), and the status group's way to its socket.
import { mkdtempSync, rmSync, symlinkSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { lockStateDir } from '../../src/daemon/lock.js';
import { blockingDir } from '../../src/control/server.js';

const tmp = (t: { teardown(fn: () => void): void }): string => {
  const d = mkdtempSync(join(tmpdir(), 'duet-lock-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

test('the lock is taken once; a second taker is refused and told the holder; released, it can be taken again', (t) => {
  const dir = tmp(t);
  const a = lockStateDir(dir);
  t.true(a.ok);
  t.is(readFileSync(join(dir, 'duet.lock'), 'utf8'), `${process.pid}\n`);
  const b = lockStateDir(dir);
  t.false(b.ok);
  if (!b.ok) t.is(b.holder, process.pid);
  if (a.ok) a.release();
  const c = lockStateDir(dir);
  t.true(c.ok);
  if (c.ok) c.release();
});

test('a lock held by another process is refused; when that process dies (SIGKILL) the lock is free', async (t) => {
  const dir = tmp(t);
  const lockJs = fileURLToPath(new URL('../../src/daemon/lock.js', import.meta.url));
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `import { lockStateDir } from ${JSON.stringify(lockJs)}; const r = lockStateDir(${JSON.stringify(dir)}); console.log(r.ok); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  t.is(first, 'true');
  const held = lockStateDir(dir);
  t.false(held.ok);
  if (!held.ok) t.is(held.holder, child.pid);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const free = lockStateDir(dir);
  t.true(free.ok, 'the kernel dropped the dead holder\'s lock');
  if (free.ok) free.release();
});

test('a symlink planted as the lock file is not followed', (t) => {
  const dir = tmp(t);
  const target = join(dir, 'victim');
  writeFileSync(target, 'precious\n');
  symlinkSync(target, join(dir, 'duet.lock'));
  const r = lockStateDir(dir);
  t.false(r.ok);
  if (!r.ok) t.regex(r.error ?? '', /ELOOP|symbolic/);
  t.is(readFileSync(target, 'utf8'), 'precious\n');
});

test('blockingDir: the first directory the status group cannot search', (t) => {
  const modes: Record<string, { mode: number; gid: number }> = {
    '/': { mode: 0o755, gid: 0 }, '/run': { mode: 0o755, gid: 0 }, '/run/duet': { mode: 0o711, gid: 0 },
  };
  const stat = (p: string) => modes[p]!;
  t.is(blockingDir('/run/duet/duet-status.sock', 4, stat), undefined);
  modes['/run/duet'] = { mode: 0o750, gid: 0 };
  t.deepEqual(blockingDir('/run/duet/duet-status.sock', 4, stat), { dir: '/run/duet', mode: 0o750 });
  modes['/run/duet'] = { mode: 0o750, gid: 4 };
  t.is(blockingDir('/run/duet/duet-status.sock', 4, stat), undefined, 'group-owned and group-searchable');
  modes['/run'] = { mode: 0o700, gid: 0 };
  t.deepEqual(blockingDir('/run/duet/duet-status.sock', 4, stat), { dir: '/run', mode: 0o700 });
});
