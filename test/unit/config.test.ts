// Config layer: the shipped example loads, defaults fill, and each broken fixture in
// test/fixtures/config gives exactly the expected "file:line:col path: message" lines.
// Paths are relative to the project root (ava runs there).
import test from 'ava';
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatIssue, loadConfig, NOTHING_CONFIGURED, parseConfig, type ConfigIssue } from '../../src/config/load.js';
import type { Config, InstanceConfig } from '../../src/config/schema.js';

const FIX = 'test/fixtures/config';

async function mustLoad(file: string): Promise<Config> {
  const r = await loadConfig(file);
  if (!r.ok) throw new Error(`expected ${file} to load:\n${r.error.map(formatIssue).join('\n')}`);
  return r.value;
}

function mustParse(text: string): Config {
  const r = parseConfig(text, 'inline.yaml');
  if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
  return r.value;
}

function issuesOf(text: string): string[] {
  const r = parseConfig(text, 'inline.yaml');
  return r.ok ? [] : r.error.map(formatIssue);
}

/** One instance around the given extra lines (6-space indented fields). */
const oneInstance = (extra: string, vip = '192.0.2.100/24'): string =>
  `vrrp:\n  instances:\n    - name: VI_1\n      interface: eth0\n      vrid: 51\n      virtual_ipaddress: [${vip}]\n${extra}`;

// ---------------------------------------------------------------------------------------------
// The shipped example

test('conf/duet.yaml loads', async (t) => {
  const c = await mustLoad('conf/duet.yaml');
  t.is(c.node.name, 'lb1');
  t.is(c.log.level, 'info');
  t.deepEqual(c.vrrp.instances.map((i) => [i.name, i.interface, i.vrid, i.version, i.priority]), [
    ['VI_1', 'eth0', 51, 3, 150],
    ['VI_2', 'eth0', 52, 3, 150],
  ]);
  const vi1 = c.vrrp.instances[0];
  t.deepEqual(vi1?.vips, [{ address: '192.0.2.100', prefixLen: 24, family: 4 }]);
  t.deepEqual(vi1?.trackScripts, [{ name: 'chk_nginx', weight: -20 }]);
  t.deepEqual(c.vrrp.instances[1]?.trackScripts, [{ name: 'chk_nginx', weight: -30 }]);
  t.deepEqual(c.vrrp.scripts['chk_nginx'], {
    name: 'chk_nginx', command: ['/usr/bin/pgrep', '-x', 'nginx'], intervalMs: 2000, timeoutMs: 1000,
    weight: -20, rise: 2, fall: 2, insecure: false,
  });
  t.deepEqual(c.vrrp.syncGroups.map((g) => [g.name, g.instances]), [['G1', ['VI_1', 'VI_2']]]);
  t.deepEqual(vi1?.notify.master, [['/etc/duet/notify.sh', 'master']]);
});

// ---------------------------------------------------------------------------------------------
// Defaults and normalization

test('defaults fill a minimal instance', async (t) => {
  const c = await mustLoad(`${FIX}/minimal.yaml`);
  const expected: InstanceConfig = {
    name: 'VI_1',
    interface: 'eth0',
    vrid: 51,
    priority: 100,
    version: 3,
    adverIntCs: 100,
    preempt: true,
    preemptDelayMs: 0,
    auth: { type: 'none' },
    vips: [{ address: '192.0.2.100', prefixLen: 24, family: 4 }],
    family: 4,
    unicastPeers: [],
    transport: 'raw',
    udpPort: 1112,
    checksumPseudoHeader: true,
    addressList: 'strict',
    trackInterfaces: [],
    trackScripts: [],
    notify: {},
    garp: { masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 0, intervalMs: 0, lowerPrioRepeat: 5, lowerPrioDelayMs: 5000 },
  };
  t.deepEqual(c, {
    node: {},
    log: { level: 'info', format: 'json' },
    hooks: { timeoutMs: 30_000 },
    scripts: { secure: true, env: [] },
    realtime: { lockMemory: false },
    checkWorker: {},
    vrrp: { scripts: {}, instances: [expected], syncGroups: [] },
    virtualServers: [],
    lvsTimeouts: undefined,
    ipvsSysctl: {},
    control: undefined,
    metrics: undefined,
    syncDaemon: undefined,
  });
  t.false('name' in c.node, 'node.name stays absent: the daemon fills in the hostname');
});

test('durations become milliseconds', (t) => {
  const c = mustParse(`${oneInstance('      advert_int: 0.35\n      preempt_delay: 2.5\n      garp: { master_delay: 1, master_refresh: 60, interval: 20 }\n')}`);
  const i = c.vrrp.instances[0];
  t.is(i?.adverIntCs, 35);
  t.is(i?.preemptDelayMs, 2500);
  t.deepEqual(i?.garp, { masterDelayMs: 1000, masterRepeat: 5, masterRefreshMs: 60000, intervalMs: 20, lowerPrioRepeat: 5, lowerPrioDelayMs: 1000 });
  const lp = mustParse(oneInstance('      garp: { master_repeat: 3, lower_prio_repeat: 0, lower_prio_delay: 0.5 }\n')).vrrp.instances[0]?.garp;
  t.like(lp, { masterRepeat: 3, lowerPrioRepeat: 0, lowerPrioDelayMs: 500 });
  t.false(parseConfig(oneInstance('      garp: { lower_prio_repeat: 101 }\n'), 't.yaml').ok);
  t.is(mustParse(oneInstance('      advert_int: 0.01\n')).vrrp.instances[0]?.adverIntCs, 1);
  t.is(mustParse(oneInstance('      advert_int: 40.95\n')).vrrp.instances[0]?.adverIntCs, 4095);
});

test('track script defaults: timeout = interval, weight 0, rise/fall 1; instance weight overrides', (t) => {
  const c = mustParse(`vrrp:
  scripts:
    chk: { command: [/bin/true], interval: 3 }
    chk2: { command: [/bin/false], weight: 10 }
  instances:
    - name: VI_1
      interface: eth0
      vrid: 51
      virtual_ipaddress: [192.0.2.100/24]
      track_script: [chk, { name: chk2, weight: -5 }]
`);
  t.deepEqual(c.vrrp.scripts['chk'], { name: 'chk', command: ['/bin/true'], intervalMs: 3000, timeoutMs: 3000, weight: 0, rise: 1, fall: 1, insecure: false });
  t.deepEqual(c.vrrp.instances[0]?.trackScripts, [{ name: 'chk', weight: 0 }, { name: 'chk2', weight: -5 }]);
});

test('VIPs: string and mapping forms, default prefix, canonical IPv6', (t) => {
  const c = mustParse(oneInstance('', '2001:DB8:0:0::0100/64, { address: "2001:db8::101", dev: eth1, label: "eth1:b" }'));
  const i = c.vrrp.instances[0];
  t.is(i?.family, 6);
  t.deepEqual(i?.vips, [
    { address: '2001:db8::100', prefixLen: 64, family: 6 },
    { address: '2001:db8::101', prefixLen: 128, family: 6, dev: 'eth1', label: 'eth1:b' },
  ]);
  t.is(i?.checksumPseudoHeader, true);
});

test('v2 with auth; unicast; udp transport; track_interface forms', (t) => {
  const c = mustParse(oneInstance(`      version: 2
      auth: { type: pass, password: secret1 }
      unicast_src_ip: 192.0.2.11
      unicast_peer: [192.0.2.12, 192.0.2.13]
      transport: udp
      udp_port: 5000
      priority: 255
      track_interface: [eth1, { name: eth2, weight: -30 }]
      notify: { any: [/etc/duet/notify.sh] }
`));
  const i = c.vrrp.instances[0];
  t.deepEqual(i?.auth, { type: 'pass', password: 'secret1' });
  t.is(i?.unicastSrcIp, '192.0.2.11');
  t.deepEqual(i?.unicastPeers, ['192.0.2.12', '192.0.2.13']);
  t.is(i?.transport, 'udp');
  t.is(i?.udpPort, 5000);
  t.is(i?.priority, 255);
  t.is(i?.checksumPseudoHeader, false, 'v2 has no pseudo-header checksum');
  t.deepEqual(i?.trackInterfaces, [{ name: 'eth1', weight: 0 }, { name: 'eth2', weight: -30 }]);
  t.deepEqual(i?.notify, { any: [['/etc/duet/notify.sh']] });
});

test('checksum_pseudo_header: false is kept for v3 IPv4', (t) => {
  t.is(mustParse(oneInstance('      checksum_pseudo_header: false\n')).vrrp.instances[0]?.checksumPseudoHeader, false);
});

test('same vrid on another interface or family is fine', (t) => {
  const c = mustParse(`vrrp:
  instances:
    - { name: A, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }
    - { name: B, interface: eth1, vrid: 51, virtual_ipaddress: [198.51.100.1/24] }
    - { name: C, interface: eth0, vrid: 51, virtual_ipaddress: [2001:db8::1/64] }
`);
  t.is(c.vrrp.instances.length, 3);
});

// ---------------------------------------------------------------------------------------------
// Broken fixtures: exact messages

const BROKEN: Record<string, string[]> = {
  'priority-300': ['6:17 vrrp.instances[0].priority: must be 1..255, got 300'],
  'unknown-key': ["6:7 vrrp.instances[0].prority: unknown field 'prority' (did you mean 'priority'?)"],
  'missing-interface': ['3:7 vrrp.instances[0].interface: missing required field'],
  'bad-ip': ["7:11 vrrp.instances[0].virtual_ipaddress[0]: '192.0.2.300' is not an IPv4 or IPv6 address"],
  'duplicate-vrid': ['9:13 vrrp.instances[1].vrid: vrid 51 is already used on eth0 for IPv4 by vrrp.instances[0] (VI_1)'],
  'auth-v3': ['6:13 vrrp.instances[0].auth: only valid with version 2 (VRRPv3 has no authentication)'],
  'advert-int-v3': ['6:19 vrrp.instances[0].advert_int: must be 0.01..40.95 seconds in 0.01 steps for version 3, got 0.005'],
  'advert-int-v2': ['7:19 vrrp.instances[0].advert_int: must be whole seconds 1..255 for version 2, got 1.5'],
  'yaml-syntax': ['5:1: invalid YAML: Sequence item without - indicator'],
  'duplicate-key': ['5:7: invalid YAML: Map keys must be unique'],
  'unknown-script': ["12:11 vrrp.instances[0].track_script[1]: no script 'chk_haproxy' in vrrp.scripts"],
  'bad-sync-member': ["9:25 vrrp.sync_groups[0].instances[1]: no instance named 'VI_9'"],
  'bad-version': ['6:16 vrrp.instances[0].version: expected one of 2, 3, got 4'],
  'mixed-family': [
    '8:11 vrrp.instances[0].virtual_ipaddress[1]: IPv6 address in an IPv4 instance (one family per instance; the first VIP decides)',
    '9:22 vrrp.instances[0].unicast_peer[0]: is IPv6 but the instance is IPv4',
  ],
  'control-bad-limit': ['7:26 control.idle_timeout: must be 0.1..86400 seconds, got 0', '7:46 control.max_connections: must be 1..4096, got 0'],
  several: [
    "3:10 log.level: expected one of trace, debug, info, warn, error, got 'verbose'",
    "7:16 vrrp.scripts.chk.command: expected a command as a list [program, arg, ...], got 'pgrep nginx'",
    '11:13 vrrp.instances[0].vrid: must be 1..255, got 0',
    '12:26 vrrp.instances[0].virtual_ipaddress: must not be empty',
    '13:30 vrrp.instances[0].garp.master_repeat: must be 1..100, got 0',
    "13:33 vrrp.instances[0].garp.intervall: unknown field 'intervall' (did you mean 'interval'?)",
  ],
};

for (const [name, expected] of Object.entries(BROKEN)) {
  test(`broken fixture: ${name}`, async (t) => {
    const file = `${FIX}/${name}.yaml`;
    const r = await loadConfig(file);
    t.false(r.ok);
    if (r.ok) return;
    t.deepEqual(r.error.map(formatIssue), expected.map((e) => `${file}:${e}`));
  });
}

// ---------------------------------------------------------------------------------------------
// More checks, inline

const INLINE: [string, string, string[]][] = [
  ['auth password too long', oneInstance('      version: 2\n      auth: { type: pass, password: "123456789" }\n'),
    ['inline.yaml:8:37 vrrp.instances[0].auth.password: must be 1..8 bytes, got 9']],
  ['auth type unknown', oneInstance('      version: 2\n      auth: { type: ah }\n'),
    ["inline.yaml:8:21 vrrp.instances[0].auth.type: expected one of none, pass, got 'ah'"]],
  ['v2 is IPv4 only', oneInstance('      version: 2\n', '2001:db8::1'),
    ['inline.yaml:7:16 vrrp.instances[0].version: VRRP version 2 is IPv4 only; use version 3 for IPv6']],
  ['priority 0', oneInstance('      priority: 0\n'), ['inline.yaml:7:17 vrrp.instances[0].priority: must be 1..255, got 0']],
  ['priority fraction', oneInstance('      priority: 1.5\n'),
    ['inline.yaml:7:17 vrrp.instances[0].priority: must be a whole number 1..255, got 1.5']],
  ['priority as string', oneInstance('      priority: high\n'),
    ["inline.yaml:7:17 vrrp.instances[0].priority: expected a number, got 'high'"]],
  ['empty value', oneInstance('      priority:\n'),
    ['inline.yaml:7:7 vrrp.instances[0].priority: expected a number, got an empty value']],
  ['preempt_delay too long', oneInstance('      preempt_delay: 1001\n'),
    ['inline.yaml:7:22 vrrp.instances[0].preempt_delay: must be 0..1000 seconds, got 1001']],
  ['udp_port without udp', oneInstance('      udp_port: 1112\n'),
    ['inline.yaml:7:17 vrrp.instances[0].udp_port: only valid with transport: udp']],
  ['udp_auth without udp', oneInstance('      udp_auth: { key_file: /etc/duet/vrrp.key }\n'),
    ['inline.yaml:7:17 vrrp.instances[0].udp_auth: only valid with transport: udp (raw VRRP must stay wire-compatible: use auth: pass with version 2, which is cleartext)']],
  ['udp_auth relative key path', oneInstance('      transport: udp\n      udp_auth: { key_file: etc/vrrp.key }\n'),
    ["inline.yaml:8:29 vrrp.instances[0].udp_auth.key_file: must be an absolute path, got 'etc/vrrp.key'"]],
  ['udp_auth unknown field', oneInstance('      transport: udp\n      udp_auth: { keyfile: /k }\n'),
    ['inline.yaml:8:17 vrrp.instances[0].udp_auth.key_file: missing required field', "inline.yaml:8:19 vrrp.instances[0].udp_auth.keyfile: unknown field 'keyfile' (did you mean 'key_file'?)"]],
  ['min_ttl without unicast', oneInstance('      min_ttl: 250\n'),
    ['inline.yaml:7:16 vrrp.instances[0].min_ttl: only valid with unicast_peer (multicast adverts must have TTL 255)']],
  ['max_ttl with udp', oneInstance('      transport: udp\n      unicast_peer: [192.0.2.12]\n      max_ttl: 64\n'),
    ['inline.yaml:9:16 vrrp.instances[0].max_ttl: not available with transport: udp (a UDP socket cannot see the TTL); use udp_auth to authenticate the peer instead']],
  ['min_ttl above max_ttl', oneInstance('      unicast_peer: [192.0.2.12]\n      min_ttl: 200\n      max_ttl: 100\n'),
    ['inline.yaml:9:16 vrrp.instances[0].max_ttl: 100 is below min_ttl (200)']],
  ['min_ttl out of range', oneInstance('      unicast_peer: [192.0.2.12]\n      min_ttl: 256\n'),
    ['inline.yaml:8:16 vrrp.instances[0].min_ttl: must be 0..255, got 256']],
  ['pseudo-header with v2', oneInstance('      version: 2\n      checksum_pseudo_header: true\n'),
    ['inline.yaml:8:31 vrrp.instances[0].checksum_pseudo_header: only applies to version 3']],
  ['multicast VIP', oneInstance('', '224.0.0.18'),
    ["inline.yaml:6:27 vrrp.instances[0].virtual_ipaddress[0]: '224.0.0.18' is a multicast address"]],
  ['bad prefix', oneInstance('', '192.0.2.1/33'),
    ["inline.yaml:6:27 vrrp.instances[0].virtual_ipaddress[0]: prefix length must be 1..32, got '33'"]],
  ['leading zeros', oneInstance('', '192.0.2.010'),
    ["inline.yaml:6:27 vrrp.instances[0].virtual_ipaddress[0]: '192.0.2.010' is not an IPv4 or IPv6 address"]],
  ['duplicate VIP', oneInstance('', '192.0.2.1, 192.0.2.1/24'),
    ['inline.yaml:6:38 vrrp.instances[0].virtual_ipaddress[1]: duplicate of virtual_ipaddress[0] (192.0.2.1)']],
  ['label must name the device', oneInstance('', '{ address: 192.0.2.1, label: "eth1:x" }'),
    ["inline.yaml:6:56 vrrp.instances[0].virtual_ipaddress[0].label: must start with 'eth0:' (the device name), got 'eth1:x'"]],
  ['unicast peer is self', oneInstance('      unicast_src_ip: 192.0.2.1\n      unicast_peer: [192.0.2.1]\n'),
    ["inline.yaml:8:22 vrrp.instances[0].unicast_peer[0]: is this node's own unicast_src_ip"]],
  ['empty unicast_peer', oneInstance('      unicast_peer: []\n'),
    ['inline.yaml:7:21 vrrp.instances[0].unicast_peer: must not be empty']],
  ['bad interface name', oneInstance('      track_interface: ["eth0:1"]\n'),
    ["inline.yaml:7:25 vrrp.instances[0].track_interface[0]: must be an interface name (1..15 characters, no '/', ':' or spaces), got 'eth0:1'"]],
  ['track_interface weight', oneInstance('      track_interface: [{ name: eth1, weight: 300 }]\n'),
    ['inline.yaml:7:47 vrrp.instances[0].track_interface[0].weight: must be -254..254, got 300']],
  ['track_interface listed twice', oneInstance('      track_interface: [eth1, eth1]\n'),
    ["inline.yaml:7:31 vrrp.instances[0].track_interface[1]: 'eth1' is already listed at track_interface[0]"]],
  ['notify command as a string', oneInstance('      notify: { master: "/bin/notify master" }\n'),
    ["inline.yaml:7:25 vrrp.instances[0].notify.master: expected a command as a list [program, arg, ...], got '/bin/notify master'"]],
  ['notify state typo', oneInstance('      notify: { mastr: [/bin/true] }\n'),
    ["inline.yaml:7:17 vrrp.instances[0].notify.mastr: unknown field 'mastr' (did you mean 'master'?)"]],
  ['garp repeat 0', oneInstance('      garp: { master_repeat: 0 }\n'),
    ['inline.yaml:7:30 vrrp.instances[0].garp.master_repeat: must be 1..100, got 0']],
  ['duplicate instance name', `vrrp:
  instances:
    - { name: A, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.1] }
    - { name: A, interface: eth0, vrid: 52, virtual_ipaddress: [192.0.2.2] }
`, ["inline.yaml:4:15 vrrp.instances[1].name: duplicate instance name 'A' (also vrrp.instances[0] (A))"]],
  ['VIP in two instances', `vrrp:
  instances:
    - { name: A, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.1] }
    - { name: B, interface: eth0, vrid: 52, virtual_ipaddress: [192.0.2.1/24] }
`, ['inline.yaml:4:65 vrrp.instances[1].virtual_ipaddress[0]: 192.0.2.1 is already a VIP of vrrp.instances[0] (A)']],
  ['instance in two sync groups', `vrrp:
  instances:
    - { name: A, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.1] }
  sync_groups:
    - { name: G1, instances: [A] }
    - { name: G2, instances: [A] }
`, ["inline.yaml:6:31 vrrp.sync_groups[1].instances[0]: 'A' is already in sync group 'G1' (an instance may be in one group only)"]],
  ['no instances', 'vrrp:\n  instances: []\n', ['inline.yaml:2:14 vrrp.instances: must not be empty when nothing else runs (no virtual_servers, no bgp section)']],
  ['no vrrp section', 'log: { level: info }\n', ['inline.yaml:1:1 vrrp: missing required field']],
  ['empty file', '', [`inline.yaml:1:1: ${NOTHING_CONFIGURED}`]],
  ['only comments', '# vrrp:\n#   instances: []\n\n', [`inline.yaml:1:1: ${NOTHING_CONFIGURED}`]],
  ['a null document', '~\n', ['inline.yaml:1:1: expected a mapping with a vrrp section, got an empty value']],
  ['bad script name', `vrrp:
  scripts:
    "chk nginx": { command: [/bin/true] }
  instances:
    - { name: A, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.1] }
`, ["inline.yaml:3:5 vrrp.scripts[\"chk nginx\"]: invalid name 'chk nginx': must be 1..64 characters of A-Z a-z 0-9 _ . : -, got 'chk nginx'"]],
  ['missing script command', `vrrp:
  scripts:
    chk: { interval: 1 }
  instances:
    - { name: A, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.1] }
`, ['inline.yaml:3:10 vrrp.scripts.chk.command: missing required field']],
  ['alias points at its use', `x: &big 300
vrrp:
  instances:
    - { name: A, interface: eth0, vrid: 51, priority: *big, virtual_ipaddress: [192.0.2.1] }
`, ["inline.yaml:1:1 x: unknown field 'x'", 'inline.yaml:4:55 vrrp.instances[0].priority: must be 1..255, got 300']],
  ['alias without anchor', 'vrrp: *nowhere\n', ['inline.yaml:1:7: invalid YAML: alias *nowhere has no anchor before it']],
  ['collection as a key', '[a, b]: 1\nvrrp: {}\n', ['inline.yaml:1:1: invalid YAML: mapping keys must be plain names']],
  ['sync mesh with an instance', oneInstance('sync_daemon: { interface: eth0, mode: mesh, instance: VI_1 }\n'),
    ['inline.yaml:7:55 sync_daemon.instance: mode mesh follows no VRRP role (every node runs both daemons): remove it']],
  ['sync mode unknown', oneInstance('sync_daemon: { interface: eth0, mode: ring }\n'),
    ["inline.yaml:7:39 sync_daemon.mode: expected one of vrrp, mesh, got 'ring'"]],
  ['sync vrrp mode without instance', oneInstance('sync_daemon: { interface: eth0, syncid: 3 }\n'),
    ['inline.yaml:7:14 sync_daemon: needs exactly one of instance or sync_group (which VRRP role it follows)']],
];

test('sync_daemon mode mesh: no VRRP role followed, both daemons wanted', (t) => {
  const c = mustParse('vrrp: { instances: [] }\nvirtual_servers: [{ name: w, address: 192.0.2.10, port: 80, lb_kind: dr, real_servers: [{ address: 192.0.2.21 }] }]\nsync_daemon: { interface: eth0, mode: mesh, syncid: 9 }\n');
  t.deepEqual(c.syncDaemon, { interface: 'eth0', syncId: 9, follow: { kind: 'mesh' } });
  const v = mustParse(oneInstance('sync_daemon: { interface: eth0, instance: VI_1 }\n'));
  t.deepEqual(v.syncDaemon?.follow, { kind: 'instance', name: 'VI_1' }, 'mode vrrp is the default');
});

for (const [name, text, expected] of INLINE) {
  test(`inline: ${name}`, (t) => {
    t.deepEqual(issuesOf(text), expected);
  });
}

// ---------------------------------------------------------------------------------------------
// udp_auth key files: read by loadConfig (so check, start and reload refuse the same files)

const SECRET = '00112233445566778899aabbccddeeff0011223344556677';
async function withKeyFile(t: import('ava').ExecutionContext, body: string, mode: number, o: { uid?: number; symlink?: boolean } = {}): Promise<{ issues: string[]; cfg?: Config; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'duet-hmac-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const real = join(dir, 'vrrp.key');
  writeFileSync(real, body, { mode });
  chmodSync(real, mode);
  if (o.uid !== undefined) chownSync(real, o.uid, o.uid);
  const key = o.symlink ? join(dir, 'link.key') : real;
  if (o.symlink) symlinkSync(real, key);
  const yaml = join(dir, 'duet.yaml');
  writeFileSync(yaml, oneInstance(`      transport: udp\n      unicast_peer: [192.0.2.12]\n      udp_auth: { key_file: ${key} }\n`));
  const r = await loadConfig(yaml);
  return r.ok ? { issues: [], cfg: r.value, key } : { issues: r.error.map((i) => formatIssue({ ...i, file: 'duet.yaml' })), key };
}

const rootOnly = process.getuid?.() === 0 ? test : test.skip;

rootOnly('udp_auth: a root-owned 0600 key file is read into the instance, first key first', async (t) => {
  const { cfg, issues } = await withKeyFile(t, `# rotation: 2 signs\n2 ${SECRET}\n1 base64:${Buffer.alloc(16, 1).toString('base64')}\n`, 0o600);
  t.deepEqual(issues, []);
  const a = cfg?.vrrp.instances[0]?.udpAuth;
  t.deepEqual(a?.keys.map((k) => [k.id, Buffer.from(k.secret).toString('hex')]), [[2, SECRET], [1, '01'.repeat(16)]]);
});

const KEY_FILE_ERRORS: [string, string, number, { uid?: number; symlink?: boolean }, (key: string) => string[]][] = [
  ['readable by group', `1 ${SECRET}\n`, 0o640, {}, (k) => [`duet.yaml:9:29 vrrp.instances[0].udp_auth.key_file: key file ${k}: mode 0640 lets group or others read or write it; chmod 600 it`]],
  ['readable by others', `1 ${SECRET}\n`, 0o604, {}, (k) => [`duet.yaml:9:29 vrrp.instances[0].udp_auth.key_file: key file ${k}: mode 0604 lets group or others read or write it; chmod 600 it`]],
  ['owned by nobody', `1 ${SECRET}\n`, 0o600, { uid: 65534 }, (k) => [`duet.yaml:9:29 vrrp.instances[0].udp_auth.key_file: key file ${k}: owned by uid 65534, must be owned by root`]],
  ['a symlink', `1 ${SECRET}\n`, 0o600, { symlink: true }, (k) => [`duet.yaml:9:29 vrrp.instances[0].udp_auth.key_file: key file ${k}: is a symbolic link`]],
  ['a short key', '1 0011223344556677\n', 0o600, {}, (k) => [`duet.yaml:9:29 vrrp.instances[0].udp_auth.key_file: key file ${k}: line 1: key 1: the secret is 8 bytes, at least 16 are needed`]],
  ['no keys', '# empty\n', 0o600, {}, (k) => [`duet.yaml:9:29 vrrp.instances[0].udp_auth.key_file: key file ${k}: no keys (expected lines of ID SECRET)`]],
];
for (const [name, body, mode, o, want] of KEY_FILE_ERRORS) {
  rootOnly(`udp_auth key file refused: ${name}`, async (t) => {
    const { issues, key } = await withKeyFile(t, body, mode, o);
    t.deepEqual(issues, want(key));
    for (const i of issues) t.false(i.includes('0011223344'), 'no key material in errors');
  });
}

test('udp_auth: a missing key file is an issue at its line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-hmac-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'duet.yaml'), oneInstance(`      transport: udp\n      udp_auth: { key_file: ${dir}/none.key }\n`));
  const r = await loadConfig(join(dir, 'duet.yaml'));
  t.deepEqual(r.ok ? [] : r.error.map((i) => formatIssue({ ...i, file: 'duet.yaml' })), [`duet.yaml:8:29 vrrp.instances[0].udp_auth.key_file: key file ${dir}/none.key: no such file`]);
});

// ---------------------------------------------------------------------------------------------
// API details

test('unreadable file: one issue at line 0', async (t) => {
  const r = await loadConfig(`${FIX}/does-not-exist.yaml`);
  t.false(r.ok);
  if (r.ok) return;
  t.deepEqual(r.error, [{ file: `${FIX}/does-not-exist.yaml`, line: 0, col: 0, path: '', message: 'cannot read: no such file' }]);
});

test('formatIssue with and without a path', (t) => {
  const i: ConfigIssue = { file: 'conf/duet.yaml', line: 14, col: 5, path: 'vrrp.instances[0].priority', message: 'must be 1..255, got 300' };
  t.is(formatIssue(i), 'conf/duet.yaml:14:5 vrrp.instances[0].priority: must be 1..255, got 300');
  t.is(formatIssue({ ...i, path: '' }), 'conf/duet.yaml:14:5: must be 1..255, got 300');
});

test('ConfigError carries the issues and a stable code', (t) => {
  const r = parseConfig(oneInstance('      priority: 300\n      preempt_delay: 5000\n'), 'x.yaml');
  t.false(r.ok);
  if (r.ok) return;
  const e = new ConfigError(r.error);
  t.is(e.code, 'DUET_E_CONFIG');
  t.is(e.name, 'ConfigError');
  t.is(e.issues.length, 2);
  t.true(e instanceof Error);
  t.is(e.message.split('\n').length, 2);
});
