// Script security and script_user with real files and processes: a temp tree made unsafe by
// chmod/chown (to nobody) and a symbolic link into a nobody-owned directory are refused, at load
// (positioned) and before a run (a file changed after load); a script runs as nobody (uid, gid,
// and no supplementary groups: `id` as the script sees it) with only the variables passed
// through; exec checks and track scripts obey the same policy (a refused track script fails).
import test from 'ava';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { runChild } from '../../src/daemon/child.js';
import { execCheck } from '../../src/check/checkers/exec.js';
import { realScriptHost, ScriptRefusedError } from '../../src/core/script-run.js';
import { SECURE_POLICY, type ScriptPolicy } from '../../src/core/script-security.js';
import { formatIssue, loadConfig } from '../../src/config/load.js';
import { TrackScript } from '../../src/vrrp/track-script.js';
import { realClock } from '../../src/core/clock.js';

const NOBODY = 65534;
const never = new AbortController().signal;

/** A root-owned 0755 temp directory (nobody may enter it) with an `id` script in it. */
function tree(t: { teardown(fn: () => void): void }): { dir: string; script: string } {
  const dir = mkdtempSync(join(tmpdir(), 'duet-scr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const script = join(dir, 'id.sh');
  writeFileSync(script, '#!/bin/sh\nid -u; id -g; id -G; echo "${PASS_ME-unset}|${HIDE_ME-unset}"\n', { mode: 0o755 });
  chmodSync(script, 0o755);
  return { dir, script };
}

const refusal = async (p: Promise<unknown>): Promise<string> => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof ScriptRefusedError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e.message;
};

test('a safe script runs; made unsafe after load (chmod, chown nobody) it is refused before the run, naming the component', async (t) => {
  const { dir, script } = tree(t);
  const r = await runChild([script], { timeoutMs: 5000 });
  t.is(r.code, 0);
  t.is(r.output.split('\n')[0], '0');

  chmodSync(dir, 0o777);
  t.is(await refusal(runChild([script], { timeoutMs: 5000 })), `not run (script security): ${script}: ${dir} is writable by every user (mode 0777)`);
  chmodSync(dir, 0o775);
  chownSync(dir, 0, NOBODY);
  t.is(await refusal(runChild([script], { timeoutMs: 5000 })), `not run (script security): ${script}: ${dir} is writable by group ${NOBODY} (mode 0775)`);
  chownSync(dir, 0, 0);
  t.is((await runChild([script], { timeoutMs: 5000 })).code, 0, 'group root may write (as keepalived)');
  chownSync(script, NOBODY, 0);
  t.is(await refusal(runChild([script], { timeoutMs: 5000 })), `not run (script security): ${script} is owned by uid ${NOBODY}, not root`);
  // Without script security it runs as before.
  t.is((await runChild([script], { timeoutMs: 5000, policy: { secure: false, env: [] } })).code, 0);
});

test('a symbolic link into a directory nobody owns is refused; a root-owned link to a safe file is followed', async (t) => {
  const { dir, script } = tree(t);
  const evil = join(dir, 'evil');
  mkdirSync(evil, { mode: 0o755 });
  writeFileSync(join(evil, 'x.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  chownSync(evil, NOBODY, NOBODY);
  symlinkSync('evil/x.sh', join(dir, 'bad'));
  symlinkSync(script, join(dir, 'good'));
  t.is(await refusal(runChild([join(dir, 'bad')], { timeoutMs: 5000 })), `not run (script security): ${join(dir, 'bad')}: ${evil} is owned by uid ${NOBODY}, not root`);
  t.is((await runChild([join(dir, 'good')], { timeoutMs: 5000 })).code, 0);
});

test('script_user nobody: the script runs as 65534:65534 without root\'s groups, and sees only the variables passed through', async (t) => {
  const { script } = tree(t);
  process.env['PASS_ME'] = 'yes';
  process.env['HIDE_ME'] = 'secret';
  t.teardown(() => { delete process.env['PASS_ME']; delete process.env['HIDE_ME']; });
  const policy: ScriptPolicy = { secure: true, user: 'nobody', env: ['PASS_ME'] };
  const r = await runChild([script], { timeoutMs: 5000, policy });
  t.is(r.code, 0, r.output);
  t.deepEqual(r.output.trim().split('\n'), [String(NOBODY), String(NOBODY), String(NOBODY), 'yes|unset']);
  const g = await runChild([script], { timeoutMs: 5000, policy: { ...policy, user: 'nobody:root' } });
  t.deepEqual(g.output.trim().split('\n').slice(0, 2), [String(NOBODY), '0']);
  t.is(await refusal(runChild([script], { timeoutMs: 5000, policy: { ...policy, user: 'duet-no-such-user' } })),
    `${script}: not run: script user duet-no-such-user: no user 'duet-no-such-user' in /etc/passwd`);
});

test('exec checks: run as script_user, refused (a failed check with the reason) when unsafe', async (t) => {
  const { dir } = tree(t);
  const check = join(dir, 'check.sh');
  writeFileSync(check, `#!/bin/sh\n[ "$(id -u)" = ${NOBODY} ]\n`, { mode: 0o755 });
  const spec = (policy: ScriptPolicy) => ({ type: 'exec' as const, argv: [check], timeoutMs: 5000, dynamic: false, policy });
  t.like(await execCheck(spec(SECURE_POLICY), never), { ok: false, reason: 'exit 1' });
  t.like(await execCheck(spec({ secure: true, user: 'nobody', env: [] }), never), { ok: true, reason: 'exit 0' });
  chmodSync(check, 0o757);
  t.like(await execCheck(spec({ secure: true, user: 'nobody', env: [] }), never), { ok: false, reason: `not run (script security): ${check} is writable by every user (mode 0757)` });
});

test('at load with the real host: unsafe and missing programs are positioned issues; a safe file loads', async (t) => {
  const { dir, script } = tree(t);
  const conf = join(dir, 'duet.yaml');
  const text = (prog: string) => `vrrp:\n  scripts:\n    chk: { command: [${prog}] }\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24], track_script: [chk] }\n`;
  writeFileSync(conf, text(script));
  t.true((await loadConfig(conf, { scriptHost: realScriptHost })).ok);
  chmodSync(script, 0o775);
  chownSync(script, 0, NOBODY);
  const r = await loadConfig(conf, { scriptHost: realScriptHost });
  t.deepEqual(r.ok ? [] : r.error.map(formatIssue), [
    `${conf}:3:22 vrrp.scripts.chk.command[0]: script security: ${script} is writable by group ${NOBODY} (mode 0775); make it root-owned and writable only by root (or set insecure: true here, or scripts.security: false)`,
  ]);
  writeFileSync(conf, text(join(dir, 'none.sh')));
  const m = await loadConfig(conf, { scriptHost: realScriptHost });
  t.deepEqual(m.ok ? [] : m.error.map(formatIssue), [`${conf}:3:22 vrrp.scripts.chk.command[0]: script security: ${join(dir, 'none.sh')} does not exist`]);
});

test('a track script refused at run time counts as a failure: the script goes down after fall', async (t) => {
  const { dir, script } = tree(t);
  let up: boolean | undefined;
  const ts = new TrackScript({ name: 'chk', command: [script], intervalMs: 30, timeoutMs: 1000, rise: 1, fall: 2 }, realClock, pino({ level: 'silent' }),
    (argv, ms) => runChild(argv, { timeoutMs: ms }), (u) => { up = u; });
  ts.start();
  t.teardown(() => ts.stop());
  await new Promise((r) => setTimeout(r, 200));
  t.is(up, undefined, 'a safe script stays up');
  chmodSync(dir, 0o777);
  for (let i = 0; i < 100 && up === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(up, false);
  t.false(ts.up);
});
