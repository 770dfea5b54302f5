// Script security, pure: the path rules on a fake file system (each unsafe kind of component,
// sticky directories, symbolic links absolute and relative, loops), script_user resolution from
// passwd/group text, and the checks at config load positioned at file:line of the program.
import test from 'ava';
import { checkScriptPath, resolveUser, type FileStat, type ScriptFs } from '../../src/core/script-security.js';
import { formatIssue, parseConfig, type ConfigIssue } from '../../src/config/load.js';
import type { ScriptHost } from '../../src/config/script-check.js';

const DIR = 0o040000;
const REG = 0o100000;
const LNK = 0o120000;

type Node = FileStat & { target?: string };

/** A fake tree: path → stat (and link target). */
function fakeFs(nodes: Record<string, Node>): ScriptFs & { stats: string[] } {
  const stats: string[] = [];
  return {
    stats,
    lstat(p) {
      stats.push(p);
      const n = nodes[p];
      if (!n) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      return n;
    },
    readlink(p) {
      const n = nodes[p];
      if (!n?.target) throw Object.assign(new Error(`EINVAL ${p}`), { code: 'EINVAL' });
      return n.target;
    },
  };
}

const dir = (mode = 0o755, uid = 0, gid = 0): Node => ({ uid, gid, mode: DIR | mode });
const file = (mode = 0o755, uid = 0, gid = 0): Node => ({ uid, gid, mode: REG | mode });
const link = (target: string, uid = 0): Node => ({ uid, gid: 0, mode: LNK | 0o777, target });

/** A safe tree: /, /etc, /etc/duet, /etc/duet/chk.sh. */
const SAFE: Record<string, Node> = { '/': dir(), '/etc': dir(), '/etc/duet': dir(), '/etc/duet/chk.sh': file() };

test('a root-owned path writable only by root is accepted; every component is examined', (t) => {
  const fs = fakeFs(SAFE);
  t.deepEqual(checkScriptPath('/etc/duet/chk.sh', fs), { ok: true, resolved: '/etc/duet/chk.sh' });
  t.deepEqual(fs.stats, ['/', '/etc', '/etc/duet', '/etc/duet/chk.sh']);
});

// Each kind of unsafe component, at each position: the verdict names that component and why.
const UNSAFE: [string, (n: Node) => Node, RegExp][] = [
  ['owned by a user', (n) => ({ ...n, uid: 1000 }), /^is owned by uid 1000, not root$/],
  ['world-writable', (n) => ({ ...n, mode: n.mode | 0o002 }), /^is writable by every user \(mode 07[57]7\)$/],
  ['group-writable, group not root', (n) => ({ ...n, gid: 50, mode: n.mode | 0o020 }), /^is writable by group 50 \(mode 07[57]5\)$/],
];
for (const [what, spoil, reason] of UNSAFE) {
  for (const at of Object.keys(SAFE)) {
    test(`refused: ${at} ${what}`, (t) => {
      const v = checkScriptPath('/etc/duet/chk.sh', fakeFs({ ...SAFE, [at]: spoil(SAFE[at]!) }));
      t.false(v.ok);
      if (v.ok) return;
      t.is(v.component, at);
      t.regex(v.reason, reason);
    });
  }
}

test('group-writable by root\'s group is accepted (as keepalived); a sticky directory anyone may write to is accepted only when root owns it', (t) => {
  t.true(checkScriptPath('/etc/duet/chk.sh', fakeFs({ ...SAFE, '/etc/duet': dir(0o775, 0, 0), '/etc/duet/chk.sh': file(0o775) })).ok);
  t.true(checkScriptPath('/etc/duet/chk.sh', fakeFs({ ...SAFE, '/etc/duet': dir(0o1777) })).ok);
  t.like(checkScriptPath('/etc/duet/chk.sh', fakeFs({ ...SAFE, '/etc/duet': dir(0o1777, 1000) })), { ok: false, component: '/etc/duet' });
  // The sticky bit does not make a world-writable file safe.
  t.like(checkScriptPath('/etc/duet/chk.sh', fakeFs({ ...SAFE, '/etc/duet/chk.sh': file(0o1777) })), { ok: false, component: '/etc/duet/chk.sh' });
});

test('missing, not a directory, not a regular file, not executable, relative', (t) => {
  t.like(checkScriptPath('/etc/duet/none.sh', fakeFs(SAFE)), { ok: false, component: '/etc/duet/none.sh', reason: 'does not exist' });
  t.like(checkScriptPath('/etc/duet/chk.sh/x', fakeFs(SAFE)), { ok: false, component: '/etc/duet/chk.sh', reason: 'is not a directory' });
  t.like(checkScriptPath('/etc/duet', fakeFs(SAFE)), { ok: false, component: '/etc/duet', reason: 'is not a regular file' });
  t.like(checkScriptPath('/etc/duet/chk.sh', fakeFs({ ...SAFE, '/etc/duet/chk.sh': file(0o644) })), { ok: false, reason: 'is not executable (mode 0644)' });
  t.like(checkScriptPath('chk.sh', fakeFs(SAFE)), { ok: false, reason: 'is not an absolute path' });
});

test('symbolic links are followed: the target path is checked too, relative targets from the link\'s directory', (t) => {
  const tree: Record<string, Node> = {
    '/': dir(), '/usr': dir(), '/usr/bin': dir(), '/usr/bin/check': file(),
    '/bin': link('usr/bin'), '/home': dir(), '/home/u': dir(0o755, 1000), '/home/u/chk.sh': file(),
    '/usr/local': dir(), '/usr/local/bin': dir(), '/usr/local/bin/up': link('../../bin/check'), '/usr/local/bin/mine': link('/home/u/chk.sh'),
  };
  t.deepEqual(checkScriptPath('/bin/check', fakeFs(tree)), { ok: true, resolved: '/usr/bin/check' });
  t.deepEqual(checkScriptPath('/usr/local/bin/up', fakeFs(tree)), { ok: true, resolved: '/usr/bin/check' });
  t.like(checkScriptPath('/usr/local/bin/mine', fakeFs(tree)), { ok: false, component: '/home/u', reason: 'is owned by uid 1000, not root' });
  t.like(checkScriptPath('/bin/check', fakeFs({ ...tree, '/bin': link('usr/bin', 1000) })), { ok: false, component: '/bin' });
  t.like(checkScriptPath('/etc/a', fakeFs({ ...SAFE, '/etc/a': link('b'), '/etc/b': link('a') })), { ok: false, reason: 'starts too many levels of symbolic links' });
  t.like(checkScriptPath('/etc/a', fakeFs({ ...SAFE, '/etc/a': link('/etc/nothing') })), { ok: false, component: '/etc/nothing', reason: 'does not exist' });
});

test('script_user: user, user:group, unknown names, malformed lines', (t) => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nodd:x::1:::\n';
  const group = 'root:x:0:\nnogroup:x:65534:\nduet:x:990:\n';
  t.deepEqual(resolveUser('nobody', passwd, group), { ok: true, value: { uid: 65534, gid: 65534 } });
  t.deepEqual(resolveUser('nobody:duet', passwd, group), { ok: true, value: { uid: 65534, gid: 990 } });
  t.deepEqual(resolveUser('ghost', passwd, group), { ok: false, error: "no user 'ghost' in /etc/passwd" });
  t.deepEqual(resolveUser('nobody:ghosts', passwd, group), { ok: false, error: "no group 'ghosts' in /etc/group" });
  t.false(resolveUser('odd', passwd, group).ok);
});

// ---------------------------------------------------------------------------------------------
// At config load

const host = (nodes: Record<string, Node>, users: Record<string, number> = { nobody: 65534 }): ScriptHost & { stats: string[] } => {
  const fs = fakeFs(nodes);
  return {
    fs,
    stats: fs.stats,
    lookupUser: (spec) => (spec in users ? { ok: true, value: { uid: users[spec]!, gid: users[spec]! } } : { ok: false, error: `no user '${spec}' in /etc/passwd` }),
  };
};

const TREE: Record<string, Node> = {
  ...SAFE, '/etc/duet/notify.sh': file(), '/tmp': dir(0o1777), '/tmp/evil.sh': file(0o755, 1000), '/srv': dir(0o777), '/srv/check': file(),
};

const CONF = (scripts = '', extra = ''): string => `${scripts}vrrp:
  scripts:
    chk: { command: [/etc/duet/chk.sh] }
    tmp: { command: [/tmp/evil.sh], interval: 2 }
  instances:
    - name: VI_1
      interface: eth0
      vrid: 51
      virtual_ipaddress: [192.0.2.100/24]
      track_script: [chk, tmp]
      notify: { master: [/etc/duet/notify.sh, master], backup: [/srv/check] }
virtual_servers:
  - address: 192.0.2.100
    port: 80
    lb_kind: nat
    quorum_down: [/srv/check, down]
    real_servers:
      - { address: 192.0.2.21, checks: [{ type: exec, command: [/srv/check]${extra} }] }
      - { address: 192.0.2.22, checks: [{ type: exec, command: [/srv/check]${extra} }] }
`;

function load(text: string, h: ScriptHost, warn?: (i: ConfigIssue) => void): string[] {
  const r = parseConfig(text, 'duet.yaml', { scriptHost: h, ...(warn ? { warn } : {}) });
  return r.ok ? [] : r.error.map(formatIssue);
}

test('at load: each unsafe program is an issue at its file:line, naming the component and why; one look per program', (t) => {
  const h = host(TREE);
  t.deepEqual(load(CONF(), h), [
    'duet.yaml:4:22 vrrp.scripts.tmp.command[0]: script security: /tmp/evil.sh is owned by uid 1000, not root; make it root-owned and writable only by root (or set insecure: true here, or scripts.security: false)',
    'duet.yaml:11:65 vrrp.instances[0].notify.backup[0]: script security: /srv/check: /srv is writable by every user (mode 0777); make it root-owned and writable only by root (or set scripts.security: false)',
    'duet.yaml:16:19 virtual_servers[0].quorum_down[0]: script security: /srv/check: /srv is writable by every user (mode 0777); make it root-owned and writable only by root (or set scripts.security: false)',
    'duet.yaml:18:65 virtual_servers[0].real_servers[0].checks[0].command[0]: script security: /srv/check: /srv is writable by every user (mode 0777); make it root-owned and writable only by root (or set insecure: true here, or scripts.security: false)',
    'duet.yaml:19:65 virtual_servers[0].real_servers[1].checks[0].command[0]: script security: /srv/check: /srv is writable by every user (mode 0777); make it root-owned and writable only by root (or set insecure: true here, or scripts.security: false)',
  ]);
  t.is(h.stats.filter((p) => p === '/srv').length, 1);
  // The same text without the host: only the text is checked.
  t.true(parseConfig(CONF(), 'duet.yaml').ok);
});

test('at load: insecure: true skips a script or exec check; scripts.security: false skips all; the policy reaches the config', (t) => {
  const text = CONF('', ', insecure: true').replace('interval: 2', 'interval: 2, insecure: true');
  t.deepEqual(load(text, host(TREE)).map((l) => l.split(' ')[1]), ['vrrp.instances[0].notify.backup[0]:', 'virtual_servers[0].quorum_down[0]:']);
  const off = parseConfig(CONF('scripts: { security: false, user: nobody, env: [TZ] }\n'), 'duet.yaml', { scriptHost: host(TREE) });
  t.true(off.ok);
  if (!off.ok) return;
  t.deepEqual(off.value.scripts, { secure: false, user: 'nobody', env: ['TZ'] });
  const exec = off.value.virtualServers[0]?.realServers[0]?.checks[0]?.spec;
  t.deepEqual(exec?.type === 'exec' ? exec.policy : undefined, { secure: false, user: 'nobody', env: ['TZ'] });
  const one = parseConfig(text, 'duet.yaml');
  t.true(one.ok);
  if (!one.ok) return;
  t.true(one.value.vrrp.scripts['tmp']?.insecure);
  const spec = one.value.virtualServers[0]?.realServers[0]?.checks[0]?.spec;
  t.deepEqual(spec?.type === 'exec' ? spec.policy : undefined, { secure: false, env: [] });
});

test('at load: an unknown scripts.user is an issue; a missing program is one too, or a warning when the caller asks (duet check)', (t) => {
  const tree = { ...TREE, '/tmp/evil.sh': file(), '/srv': dir() };
  t.deepEqual(load(CONF('scripts: { user: ghost }\n'), host(tree)), ["duet.yaml:1:18 scripts.user: no user 'ghost' in /etc/passwd"]);
  const gone = { ...tree } as Record<string, Node>;
  delete gone['/etc/duet/notify.sh'];
  t.deepEqual(load(CONF(), host(gone)), ['duet.yaml:11:26 vrrp.instances[0].notify.master[0]: script security: /etc/duet/notify.sh does not exist']);
  const warned: string[] = [];
  t.deepEqual(load(CONF(), host(gone), (i) => warned.push(formatIssue(i))), []);
  t.deepEqual(warned, ['duet.yaml:11:26 vrrp.instances[0].notify.master[0]: script security: /etc/duet/notify.sh does not exist']);
});

test('the text alone: a relative program, a bad user or env name are config errors', (t) => {
  const r = parseConfig(CONF('scripts: { user: "a b", env: [DUET_X, "1A", TZ] }\n').replace('[/etc/duet/chk.sh]', '[chk.sh]'), 'duet.yaml');
  t.deepEqual(r.ok ? [] : r.error.map(formatIssue), [
    "duet.yaml:1:18 scripts.user: must be a user name or user:group, got 'a b'",
    "duet.yaml:1:31 scripts.env[0]: must be an environment variable name (not DUET_*, those are duet's own), got 'DUET_X'",
    "duet.yaml:1:39 scripts.env[1]: must be an environment variable name (not DUET_*, those are duet's own), got '1A'",
    "duet.yaml:4:22 vrrp.scripts.chk.command[0]: program must be an absolute path (no PATH search), got 'chk.sh'",
  ]);
});
