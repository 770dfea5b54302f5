// State files on a real file system (a temporary directory): written 0600 under a fresh name and
// renamed; symlinks, foreign or group-writable files and unsafe directories are refused; the
// platform ignores malformed content; a forged restart marker cannot stretch the resume window.
import test from 'ava';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { readStateFile, stateDirProblem, writeStateFile } from '../../src/daemon/state-files.js';
import { createLinuxPlatform } from '../../src/daemon/linux-platform.js';
import { decideResume, type RestartMarker } from '../../src/daemon/restart.js';
import { parseConfig } from '../../src/config/load.js';

const dir = (t: { teardown(fn: () => void): void }): string => {
  const d = mkdtempSync(join(tmpdir(), 'duet-state-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

test('a state file is written 0600, whole, under a fresh name; a symlink planted at the old fixed temp name is not followed', (t) => {
  const d = dir(t);
  const victim = join(d, 'victim');
  writeFileSync(victim, 'precious');
  symlinkSync(victim, join(d, 'operator.json.tmp'));
  writeStateFile(join(d, 'operator.json'), '{"a":1}');
  t.is(readFileSync(join(d, 'operator.json'), 'utf8'), '{"a":1}');
  t.is(statSync(join(d, 'operator.json')).mode & 0o777, 0o600);
  t.is(readFileSync(victim, 'utf8'), 'precious');
  t.deepEqual(readdirSync(d).sort(), ['operator.json', 'operator.json.tmp', 'victim'], 'no temporary file left');
});

test('reading refuses a symlink, a group-writable file; a missing file is undefined', (t) => {
  const d = dir(t);
  t.is(readStateFile(join(d, 'none.json')), undefined);
  writeFileSync(join(d, 'target'), '{}', { mode: 0o600 });
  symlinkSync(join(d, 'target'), join(d, 'link.json'));
  t.throws(() => readStateFile(join(d, 'link.json')), { message: /is a symlink/ });
  writeFileSync(join(d, 'loose.json'), '{}');
  chmodSync(join(d, 'loose.json'), 0o664);
  t.throws(() => readStateFile(join(d, 'loose.json')), { message: /writable by group or others/ });
});

test('a directory writable by others is unsafe; a fresh one is created 0700', (t) => {
  const d = dir(t);
  chmodSync(d, 0o1777);
  t.regex(stateDirProblem(d) ?? '', /writable by group or others \(mode 777\)/);
  const fresh = join(d, 'sub', 'state');
  t.is(stateDirProblem(fresh), undefined);
  t.is(statSync(fresh).mode & 0o777, 0o700);
});

test('the platform ignores a planted malformed operator.json, and everything in an unsafe directory', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'operator.json'), JSON.stringify({ VI_1: { mode: 'maintenance', sticky: 'yes', since: 0 } }), { mode: 0o600 });
  writeFileSync(join(d, 'ipvs-managed.json'), JSON.stringify(['tcp:192.0.2.100:80', '../../etc/passwd']), { mode: 0o600 });
  const p = await createLinuxPlatform(pino({ level: 'silent' }), { stateDir: d });
  t.teardown(() => p.close());
  t.is(p.loadOverrides(), undefined);
  t.is(p.loadManaged(), undefined);
  p.saveOverrides({ VI_1: { mode: 'maintenance', sticky: true, since: 1 } });
  t.deepEqual(p.loadOverrides(), { VI_1: { mode: 'maintenance', sticky: true, since: 1 } });
  // The same directory opened to everyone: nothing is read or written there.
  chmodSync(d, 0o777);
  const q = await createLinuxPlatform(pino({ level: 'silent' }), { stateDir: d });
  t.teardown(() => q.close());
  t.is(q.loadOverrides(), undefined);
  q.saveManaged(new Set(['tcp:192.0.2.100:80']));
  t.false(existsSync(join(d, 'ipvs-managed.json')) && readFileSync(join(d, 'ipvs-managed.json'), 'utf8').includes('"tcp:192.0.2.100:80"]'), 'not written');
});

test('a forged restart marker with a huge interval does not stretch the resume window past the config\'s', (t) => {
  const r = parseConfig('vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, advert_int: 1, virtual_ipaddress: [192.0.2.100/24] }\n', 't.yaml');
  if (!r.ok) throw new Error('config');
  const ic = r.value.vrrp.instances[0]!;
  const m: RestartMarker = { version: 1, at: 0, instances: { VI_1: { vrid: 51, interface: 'eth0', family: 4, version: 3, advertIntMs: 1e9, lastAdvertAt: 0 } } };
  t.deepEqual(decideResume(ic, m, undefined, 2000), { resume: true }, 'within 2.5 s of a 1 s config');
  t.like(decideResume(ic, m, undefined, 60_000), { resume: false, why: 'too late: 60000 ms since the last advert, window 2500 ms' });
});
