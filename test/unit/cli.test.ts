// The `duet` executable as a user meets it: check a good and a broken file, usage errors.
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
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

// Every subcommand answers --help with its own usage and exit 0; --version prints package.json's.
const SUBCOMMANDS = ['run', 'check', 'status', 'reload', 'events', 'failover', 'takeover', 'maintenance', 'restart',
  'weight', 'disable', 'enable', 'drain', 'ipvs', 'realserver', 'version'];
for (const cmd of SUBCOMMANDS) {
  test(`duet ${cmd} --help prints that command's usage only`, async (t) => {
    const r = await duet([cmd, '--help']);
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout.startsWith(`usage: duet ${cmd} `), r.stdout);
    t.false(r.stdout.includes('commands:'), 'not the global usage');
  });
}

test('duet --version and duet version print the package version; an unknown option names itself, no stack', async (t) => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const args of [['--version'], ['version'], ['-V']]) {
    const r = await duet(args);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim(), `duet ${pkg.version}`);
  }
  const bad = await duet(['status', '--bogus']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /Unknown option '--bogus'/);
  t.regex(bad.stderr, /usage: duet status/);
  t.notRegex(bad.stderr, /\n\s+at /, 'no stack trace');
  const unknown = await duet(['frobnicate', '--help']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command 'frobnicate'/);
});

// The demo and every bench script: --help is the script's own usage (exit 0); a bad option
// says what is wrong (exit 2) without a stack trace. Scripts are found from package.json.
const pkgScripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
for (const [name, line] of Object.entries(pkgScripts).filter(([n]) => n === 'demo' || n.startsWith('bench:'))) {
  const file = /node (\S+\.js)/.exec(line)?.[1];
  test(`npm run ${name} -- --help prints its usage; a bad option exits 2`, async (t) => {
    t.truthy(file, line);
    const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
      execFile(process.execPath, [file!, ...args], { timeout: 20_000 }, (e, stdout, stderr) =>
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 99) : 0, stdout, stderr }));
    });
    const h = await run(['--help']);
    t.is(h.code, 0, h.stderr);
    t.regex(h.stdout, new RegExp(`^usage: npm run ${name.replace(':', '\\:')}`));
    const b = await run(['--no-such-option']);
    t.is(b.code, 2, b.stdout);
    t.regex(b.stderr, /Unknown option '--no-such-option'/);
    t.notRegex(b.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('duet check warns about interfaces this host lacks (a reload would be refused) and still passes the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-cli-'));
  const f = join(dir, 'other-host.yaml');
  writeFileSync(f, 'vrrp:\n  instances:\n    - { name: VI_1, interface: nosuch9, vrid: 51, virtual_ipaddress: [192.0.2.100/24], track_interface: [lo] }\n');
  const r = await duet(['check', '-c', f]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ok \(1 VRRP instance\)/);
  t.regex(r.stderr, /^duet: warning: interface nosuch9 \(instance VI_1\) does not exist on this host$/m);
  t.notRegex(r.stderr, /interface lo /, 'lo exists everywhere');
});

test('duet check runs the script checks on this host: an unsafe program is an error with its line, a missing one a warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o777);
  const script = join(dir, 'chk.sh');
  writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const f = join(dir, 'duet.yaml');
  const conf = (prog: string) => `vrrp:\n  scripts:\n    chk: { command: [${prog}] }\n  instances:\n    - { name: VI_1, interface: lo, vrid: 51, virtual_ipaddress: [192.0.2.100/24], track_script: [chk] }\n`;
  writeFileSync(f, conf(script));
  const bad = await duet(['check', '-c', f]);
  t.is(bad.code, 1);
  t.is(bad.stderr.trim(), `${f}:3:22 vrrp.scripts.chk.command[0]: script security: ${script}: ${dir} is writable by every user (mode 0777); make it root-owned and writable only by root (or set insecure: true here, or scripts.security: false)`);
  writeFileSync(f, conf('/nonexistent/chk.sh'));
  const absent = await duet(['check', '-c', f]);
  t.is(absent.code, 0, absent.stderr);
  t.is(absent.stderr.trim(), `duet: warning: ${f}:3:22 vrrp.scripts.chk.command[0]: script security: /nonexistent/chk.sh: /nonexistent does not exist (duet run refuses this file here)`);
});
