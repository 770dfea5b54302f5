// `duet export keepalived`, the way back from `duet import keepalived`: the export is checked by
// importing it again. import(export(x)) loads to the same config as x for test/fixtures/export/
// full.yaml (every field the export writes) and for the conf/ examples (with rise 1 on their
// checks, the one thing keepalived cannot express that five of them use); export(import(s))
// imports back to the same config for every Debian sample; the conf
// examples report exactly the fields listed here; each field keepalived lacks is reported with
// its YAML line; the CLI's exit statuses are import's. (keepalived -t on the exported files:
// test/netns/export-keepalived.test.ts.)
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { exportKeepalived } from '../../src/import/keepalived-export.js';
import { importKeepalived } from '../../src/import/keepalived.js';
import { fsReader } from '../../src/import/node-reader.js';
import { joinCommand, quoteWord, splitCommand } from '../../src/import/keepalived-words.js';
import { parseConfig } from '../../src/config/load.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FULL = join(ROOT, 'test/fixtures/export/full.yaml');
const SAMPLES = '/usr/share/doc/keepalived/samples';
const CLI = fileURLToPath(new URL('../../src/cli/duet.js', import.meta.url));

type Raw = Record<string, unknown>;
const fromText = (conf: string): ReturnType<typeof importKeepalived> =>
  importKeepalived('/exported.conf', { reader: { read: (p) => (p === '/exported.conf' ? conf : new Error('no such file')), glob: () => [] }, configId: 'high', resolveProgram: (p) => ({ killall: '/usr/bin/killall' } as Record<string, string>)[p] });

/** The export writes script_user root where duet runs programs as itself (root): the same. */
function withoutRootUser(raw: Raw): Raw {
  const s = raw['scripts'] as Raw | undefined;
  if (s?.['user'] === 'root') delete s['user'];
  return raw;
}

function loaded(raw: Raw, name: string): unknown {
  const c = parseConfig(stringify(raw), name);
  if (!c.ok) throw new Error(c.error.map((e) => `${e.line} ${e.path}: ${e.message}`).join('\n'));
  return c.value;
}

/** Export `raw`, import the result again, and both loaded; the export's reports too. */
function roundTrip(raw: Raw, name: string) {
  const e = exportKeepalived(stringify(raw), name);
  const back = fromText(e.conf);
  return { e, back, before: loaded(raw, name), after: back.yaml ? loaded(withoutRootUser(parse(back.yaml) as Raw), `${name} re-imported`) : undefined };
}

test('every field of the full fixture survives export and import', (t) => {
  const raw = parse(readFileSync(FULL, 'utf8')) as Raw;
  const { e, back, before, after } = roundTrip(raw, FULL);
  t.deepEqual(e.errors, []);
  t.deepEqual(e.untranslated, []);
  t.is(e.status, 'complete');
  t.deepEqual(back.untranslated, [], back.untranslated.map((u) => `${u.at.line} ${u.keyword}: ${u.why}`).join('\n'));
  t.deepEqual(after, before);
  // Control: the comparison sees a change (a priority off by one fails it).
  const changed = parse(readFileSync(FULL, 'utf8')) as { vrrp: { instances: Raw[] } };
  changed.vrrp.instances[0]!['priority'] = 151;
  t.notDeepEqual(loaded(changed as unknown as Raw, 'changed'), after);
});

// What each conf example loses: the fields keepalived has no equivalent for (line field).
const CONF_LOST: Record<string, string[]> = {
  'active-active.yaml': ['34 sync_daemon.mode', '42 virtual_servers[0].checks[0].rise', '47 bgp'],
  'dr-pair.yaml': ['54 virtual_servers[0].checks[0].rise'],
  'duet.yaml': ['351 virtual_servers[0].checks[0].rise'],
  'nat-pair.yaml': ['54 virtual_servers[0].checks[0].rise', '74 virtual_servers[1].checks[0].rise'],
  'tun-pair.yaml': ['44 virtual_servers[0].checks[0].rise', '54 virtual_servers[0].real_servers[1].checks[0].rise'],
  'unicast-pair.yaml': ['62 virtual_servers[0].checks[0].rise'],
};

test('the conf examples are all listed, and each reports exactly its lost fields', (t) => {
  t.deepEqual(readdirSync(join(ROOT, 'conf')).filter((f) => f.endsWith('.yaml')).sort(), Object.keys(CONF_LOST).sort());
  for (const [f, lost] of Object.entries(CONF_LOST)) {
    const e = exportKeepalived(readFileSync(join(ROOT, 'conf', f), 'utf8'), f);
    t.is(e.status, 'partial', f);
    t.deepEqual(e.untranslated.map((u) => `${u.line} ${u.field}`), lost, f);
    t.true(e.untranslated.every((u) => u.why.length > 10), f);
  }
});

/** A conf example with what its export only notes made explicit: rise 1, no names, no own-interface tracking. */
function asKeepalivedCan(raw: Raw): Raw {
  const vrrp = raw['vrrp'] as { instances: Raw[] };
  for (const i of vrrp.instances) {
    const t = i['track_interface'] as unknown[] | undefined;
    if (t) i['track_interface'] = t.filter((x) => (typeof x === 'string' ? x : (x as Raw)['name']) !== i['interface']);
  }
  for (const v of (raw['virtual_servers'] ?? []) as Raw[]) {
    delete v['name'];
    const lists = [v['checks'], ...((v['real_servers'] ?? []) as Raw[]).map((r) => r['checks'])];
    for (const l of lists) for (const c of (l ?? []) as Raw[]) c['rise'] = 1;
  }
  return raw;
}

for (const f of Object.keys(CONF_LOST).filter((x) => x !== 'active-active.yaml')) {
  test(`conf/${f} with rise 1 exports completely and imports back to the same config`, (t) => {
    const raw = asKeepalivedCan(parse(readFileSync(join(ROOT, 'conf', f), 'utf8')) as Raw);
    const { e, back, before, after } = roundTrip(raw, f);
    t.deepEqual(e.untranslated, []);
    t.is(back.status, 'complete', back.untranslated.map((u) => `${u.at.line} ${u.keyword}: ${u.why}`).join('\n'));
    t.deepEqual(after, before);
  });
}

const samples = existsSync(SAMPLES) ? readdirSync(SAMPLES).filter((f) => f.startsWith('keepalived.conf.')).sort() : [];
// Samples whose import's result does not export completely, and why.
const SAMPLE_PARTIAL: Record<string, string[]> = {};

test('the Debian samples are installed (apt-get install keepalived)', (t) => {
  t.true(samples.length >= 25, `${SAMPLES}: install the keepalived package (scripts/setup.sh does)`);
});

for (const s of samples) {
  test(`sample ${s}: its import exports and imports back to the same config`, (t) => {
    const first = importKeepalived(join(SAMPLES, s), { reader: fsReader, configId: 'high', resolveProgram: (p) => ({ killall: '/usr/bin/killall' } as Record<string, string>)[p] });
    t.deepEqual(first.errors, []);
    const e = exportKeepalived(first.yaml, `${s}.yaml`);
    t.deepEqual(e.untranslated.map((u) => `${u.line} ${u.field}`), SAMPLE_PARTIAL[s] ?? []);
    const back = fromText(e.conf);
    t.deepEqual(back.untranslated.map((u) => `${u.at.line} ${u.keyword}: ${u.why}`), []);
    // The same config, not the same text: the export writes keepalived's defaults explicitly
    // (advert_int 1, weight 1), which the first import had left to duet's equal ones.
    t.deepEqual(loaded(withoutRootUser(parse(back.yaml) as Raw), `${s} re-imported`), loaded(parse(first.yaml) as Raw, s));
  });
}

test('each field keepalived cannot express is reported at its YAML line', (t) => {
  const yaml = `vrrp:
  scripts:
    s: { command: [/usr/bin/true], interval: 1.5 }
  instances:
    - name: A
      interface: eth0
      vrid: 1
      transport: udp
      address_list: lenient
      virtual_ipaddress: [192.0.2.1/24]
      notify: { any: [/usr/bin/logger], dual_master: [/usr/bin/logger] }
      garp: { interval: 5 }
    - name: B
      interface: eth1
      vrid: 2
      virtual_ipaddress: [192.0.2.2/24]
      witness: { targets: [192.0.2.254] }
virtual_servers:
  - address: 192.0.2.1
    port: 80
    lb_kind: nat
    slow_start: 10
    checks:
      - { type: agent, connect_port: 9000, rise: 1 }
      - { type: http, method: HEAD, rise: 1 }
      - { type: dns, expect: [192.0.2.5], query_type: A, rise: 1 }
    real_servers: [{ address: 10.0.0.1, port: 80 }]
ipvs_sysctl: { sloppy_tcp: true }
`;
  const e = exportKeepalived(yaml, 'x.yaml');
  t.is(e.status, 'partial');
  t.deepEqual(e.untranslated.map((u) => `${u.line} ${u.field}`), [
    '3 vrrp.scripts.s.interval', '3 vrrp.scripts.s.timeout', '8 vrrp.instances[0].transport', '9 vrrp.instances[0].address_list', '11 vrrp.instances[0].notify.any',
    '11 vrrp.instances[0].notify.dual_master', '12 vrrp.instances[0].garp.interval', '17 vrrp.instances[1].witness', '22 virtual_servers[0].slow_start',
    '24 virtual_servers[0].checks[0]', '25 virtual_servers[0].checks[1].method', '26 virtual_servers[0].checks[2].expect', '28 ipvs_sysctl',
  ]);
  t.true(e.conf.includes('notify "/usr/bin/logger"'));
  t.false(e.conf.includes('dual'));
  t.false(e.conf.includes('agent'));
});

test('a config that does not load is not exported', (t) => {
  const e = exportKeepalived('vrrp:\n  instances:\n    - name: A\n      interface: eth0\n      vrid: 300\n      virtual_ipaddress: [192.0.2.1/24]\n', 'bad.yaml');
  t.is(e.status, 'failed');
  t.is(e.conf, '');
  t.deepEqual(e.errors.map((i) => `${i.line} ${i.path}`), ['5 vrrp.instances[0].vrid']);
});

test('a script user, a sync group following the daemon, and commands keepalived cannot quote', (t) => {
  const yaml = `scripts: { user: 'nobody:nogroup' }
vrrp:
  instances:
    - { name: A, interface: eth0, vrid: 1, virtual_ipaddress: [192.0.2.1/24], notify: { master: [/bin/echo, 'say "hi"'] } }
  sync_groups: [{ name: G, instances: [A] }]
sync_daemon: { interface: eth0, sync_group: G }
`;
  const e = exportKeepalived(yaml, 'x.yaml');
  t.true(e.conf.includes('  script_user nobody nogroup\n'));
  t.deepEqual(e.untranslated.map((u) => `${u.line} ${u.field}`), ['4 vrrp.instances[0].notify.master', '6 sync_daemon.sync_group']);
  t.false(e.conf.includes('lvs_sync_daemon'));
});

test('joinCommand is splitCommand\'s inverse through the config reader\'s double quotes', (t) => {
  for (const argv of [['/bin/a'], ['/bin/a', 'two words', '', 'x;y', '$HOME', 'a#b!c', 'back\\slash']]) {
    const j = joinCommand(argv);
    t.true('text' in j);
    if (!('text' in j)) continue;
    t.regex(j.text, /^".*"$/);
    t.deepEqual(splitCommand(j.text.slice(1, -1)), argv);
  }
  t.true('error' in joinCommand(['/bin/a', 'say "x"']));
  t.true('error' in joinCommand(['/bin/a', "it's"]));
  t.is(quoteWord('abc'), 'abc');
  t.is(quoteWord('a b'), '"a b"');
  t.is(quoteWord('a"b'), undefined);
});

function duet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr }));
  });
}

test('the CLI: complete 0, partial 4 (stderr lists file:line: field: why), failed 1, usage 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-export-'));
  try {
    const out = join(dir, 'keepalived.conf');
    const ok = await duet(['export', 'keepalived', '-c', FULL, '-o', out]);
    t.is(ok.code, 0, ok.stderr);
    t.is(ok.stdout, '');
    t.regex(readFileSync(out, 'utf8'), /^vrrp_instance VI_1 \{$/m);
    t.regex(ok.stderr, /exported completely/);

    const partial = await duet(['export', 'keepalived', '-c', join(ROOT, 'conf/dr-pair.yaml')]);
    t.is(partial.code, 4, partial.stderr);
    t.regex(partial.stdout, /^virtual_server 192\.0\.2\.100 80 \{$/m);
    t.true(partial.stderr.split('\n').some((l) => l.startsWith(`${join(ROOT, 'conf/dr-pair.yaml')}:54: virtual_servers[0].checks[0].rise: keepalived brings a server back after one success`)), partial.stderr);

    writeFileSync(join(dir, 'bad.yaml'), 'vrrp: [\n');
    const bad = await duet(['export', 'keepalived', '-c', join(dir, 'bad.yaml')]);
    t.is(bad.code, 1);
    t.regex(bad.stderr, /bad\.yaml:\d+:\d+: invalid YAML/);
    t.is(bad.stdout, '');
    const missing = await duet(['export', 'keepalived', '-c', join(dir, 'none.yaml')]);
    t.is(missing.code, 1);
    t.regex(missing.stderr, /none\.yaml: cannot read: no such file/);

    const usage = await duet(['export', 'haproxy']);
    t.is(usage.code, 2);
    t.regex(usage.stderr, /usage: duet export keepalived/);
    const help = await duet(['export', '--help']);
    t.is(help.code, 0);
    t.regex(help.stdout, /export keepalived \[-c FILE\] \[-o OUT\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
