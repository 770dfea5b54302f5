// The `duet` executable as a user meets it: check a good and a broken file, usage errors.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/duet.js', import.meta.url));

function duet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr }));
  });
}

test('duet check accepts the documented example', async (t) => {
  const r = await duet(['check', '-c', 'conf/duet.yaml']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /conf\/duet\.yaml: ok \(2 VRRP instances\)/);
});

test('duet check names file, line, column and field of each error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-cli-'));
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, readFileSync('conf/duet.yaml', 'utf8').replace('priority: 150 ', 'priority: 300 ').replace('vrid: 52', 'vrid: 52\n      prority: 10'));
  const r = await duet(['check', '-c', f]);
  t.is(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 2, r.stderr);
  t.regex(lines[0]!, new RegExp(`^${f}:\\d+:\\d+ vrrp\\.instances\\[0\\]\\.priority: must be 1\\.\\.255, got 300$`));
  t.regex(lines[1]!, /vrrp\.instances\[1\]\.prority: unknown field 'prority' \(did you mean 'priority'\?\)$/);
});

test('duet check on a missing file and an unknown command fail clearly', async (t) => {
  const r = await duet(['check', '-c', '/nonexistent/duet.yaml']);
  t.is(r.code, 1);
  t.regex(r.stderr, /\/nonexistent\/duet\.yaml/);
  const u = await duet(['frobnicate']);
  t.is(u.code, 2);
  t.regex(u.stderr, /unknown command 'frobnicate'/);
});

test('duet status without a daemon says where it looked', async (t) => {
  const r = await duet(['status', '-s', '/nonexistent/duet.sock']);
  t.is(r.code, 3);
  t.regex(r.stderr, /cannot reach the daemon at \/nonexistent\/duet\.sock/);
});
