// Config layer, virtual_servers: good files give exactly the normalized VirtualServerConfig;
// broken ones give exactly the expected "file:line:col path: message" lines.
import test from 'ava';
import { formatIssue, loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config, VirtualServerConfig } from '../../src/config/schema.js';

const FIX = 'test/fixtures/config';

async function mustLoad(file: string): Promise<Config> {
  const r = await loadConfig(file);
  if (!r.ok) throw new Error(`expected ${file} to load:\n${r.error.map(formatIssue).join('\n')}`);
  return r.value;
}

const VRRP = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';

/** A config whose virtual_servers list is `items` (each a flow mapping, one per line). */
const vs = (...items: string[]): string => `${VRRP}virtual_servers:\n${items.map((i) => `  - ${i}\n`).join('')}`;

function mustParse(text: string): VirtualServerConfig[] {
  const r = parseConfig(text, 'inline.yaml');
  if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
  return r.value.virtualServers;
}

function issuesOf(text: string): string[] {
  const r = parseConfig(text, 'inline.yaml');
  return r.ok ? [] : r.error.map(formatIssue);
}

const rs = (address: string, port: number, forward: 'masq' | 'route' | 'tunnel', o: object = {}) => ({
  address, family: (address.includes(":") ? 6 : 4) as 4 | 6, port, forward, weight: 1, upperThreshold: 0, lowerThreshold: 0, checks: [], inhibitOnFailure: false, ...o,
});
/** A virtual server's health fields when the config has none. */
const NO_HEALTH = { slowStartMs: 0, quorum: 1, hysteresis: 0 };

// ---------------------------------------------------------------------------------------------
// Good

/** The documented example's HTTP check, resolved for one real server. */
const httpCheck = (address: string) => ({
  intervalMs: 2000, retryDelayMs: 2000, rise: 2, fall: 3,
  spec: { type: 'http', target: { address, family: 4, port: 80 }, timeoutMs: 1000, method: 'GET', path: '/health', status: [{ from: 200, to: 200 }], tlsVerify: false },
});

test('conf/duet.yaml: the documented DR example', async (t) => {
  const c = await mustLoad('conf/duet.yaml');
  t.deepEqual(c.virtualServers, [{
    name: 'web', kind: 'addr', family: 4, protocol: 'tcp', address: '192.0.2.100', port: 80,
    scheduler: 'wrr', schedulerFlags: [], persistenceTimeoutS: 0, persistenceNetmaskLen: 32, onePacket: false, ...NO_HEALTH,
    realServers: [rs('192.0.2.21', 80, 'route', { weight: 3, checks: [httpCheck('192.0.2.21')] }), rs('192.0.2.22', 80, 'route', { checks: [httpCheck('192.0.2.22')] })],
  }]);
  t.is(c.vrrp.instances.length, 2, '`duet check` still says "2 VRRP instances"');
});

test('no virtual_servers: an empty list', (t) => {
  t.deepEqual(mustParse(VRRP), []);
});

test('every feature once: exact normalized output', async (t) => {
  const c = await mustLoad(`${FIX}/ipvs-full.yaml`);
  const expected: VirtualServerConfig[] = [
    {
      name: 'tcp:192.0.2.100:80', kind: 'addr', family: 4, protocol: 'tcp', address: '192.0.2.100', port: 80,
      scheduler: 'wrr', schedulerFlags: [], persistenceTimeoutS: 0, persistenceNetmaskLen: 32, onePacket: false, ...NO_HEALTH,
      realServers: [
        rs('192.0.2.21', 80, 'route', { weight: 3 }),
        rs('192.0.2.22', 80, 'route', { upperThreshold: 100, lowerThreshold: 50 }),
      ],
    },
    {
      name: 'api', kind: 'addr', family: 4, protocol: 'tcp', address: '192.0.2.100', port: 443,
      scheduler: 'wlc', schedulerFlags: [], persistenceTimeoutS: 600, persistenceNetmaskLen: 24, onePacket: false, ...NO_HEALTH,
      realServers: [rs('10.0.0.21', 8443, 'masq'), rs('192.0.2.23', 443, 'route', { weight: 0 })],
    },
    {
      name: 'udp:192.0.2.100:53', kind: 'addr', family: 4, protocol: 'udp', address: '192.0.2.100', port: 53,
      scheduler: 'sh', schedulerFlags: ['sh-port', 'sh-fallback'], persistenceTimeoutS: 0, persistenceNetmaskLen: 32,
      onePacket: true, ...NO_HEALTH, realServers: [rs('10.0.0.53', 53, 'masq')],
    },
    {
      name: 'fwmark6:10', kind: 'fwmark', family: 6, fwmark: 10,
      scheduler: 'mh', schedulerFlags: ['mh-fallback'], persistenceTimeoutS: 60, persistenceNetmaskLen: 64, onePacket: false, ...NO_HEALTH,
      realServers: [
        rs('2001:db8::21', 0, 'tunnel', { tunnel: { type: 'gue', port: 6080, csum: 'remcsum' } }),
        rs('2001:db8::22', 8080, 'tunnel', { tunnel: { type: 'gre', port: 0, csum: 'csum' } }),
      ],
    },
    {
      name: 'sctp:198.51.100.7:0', kind: 'addr', family: 4, protocol: 'sctp', address: '198.51.100.7', port: 0,
      scheduler: 'wlc', schedulerFlags: [], persistenceTimeoutS: 1, persistenceNetmaskLen: 16, onePacket: false, ...NO_HEALTH,
      realServers: [],
    },
    {
      name: 'fwmark6:4294967295', kind: 'fwmark', family: 6, fwmark: 4294967295,
      scheduler: 'wlc', schedulerFlags: [], persistenceTimeoutS: 0, persistenceNetmaskLen: 128, onePacket: false, ...NO_HEALTH,
      realServers: [],
    },
  ];
  t.deepEqual(c.virtualServers, expected);
});

test('real server lb_kind override to tun gets the default ipip tunnel; nat keeps its own port', (t) => {
  const [v] = mustParse(vs('{ address: 192.0.2.100, port: 80, lb_kind: dr, real_servers: [{ address: 192.0.2.21, lb_kind: tun }, { address: 192.0.2.22, lb_kind: nat, port: 8080 }] }'));
  t.deepEqual(v?.realServers, [
    rs('192.0.2.21', 80, 'tunnel', { tunnel: { type: 'ipip', port: 0, csum: 'nocsum' } }),
    rs('192.0.2.22', 8080, 'masq'),
  ]);
});

test('fwmark family: given, else the first real server\'s, else IPv4', (t) => {
  const got = mustParse(vs(
    '{ fwmark: 1, lb_kind: dr }',
    '{ fwmark: 2, lb_kind: dr, real_servers: [{ address: "2001:db8::1" }] }',
    '{ fwmark: 3, family: 6, lb_kind: dr }',
  ));
  t.deepEqual(got.map((v) => [v.name, v.family, v.persistenceNetmaskLen]), [['fwmark:1', 4, 32], ['fwmark6:2', 6, 128], ['fwmark6:3', 6, 128]]);
});

test('persistence_granularity: IPv4 mask or length, IPv6 length; canonical IPv6 addresses', (t) => {
  const got = mustParse(vs(
    '{ address: 192.0.2.1, port: 80, lb_kind: dr, persistence_timeout: 300, persistence_granularity: 255.255.255.128 }',
    '{ address: 192.0.2.2, port: 80, lb_kind: dr, persistence_timeout: 300, persistence_granularity: 0.0.0.0 }',
    '{ address: 192.0.2.3, port: 80, lb_kind: dr, persistence_timeout: 300, persistence_granularity: 32 }',
    '{ address: "2001:DB8::0:1", port: 80, lb_kind: dr, persistence_timeout: 300, persistence_granularity: 48 }',
  ));
  t.deepEqual(got.map((v) => [v.name, v.persistenceNetmaskLen]), [
    ['tcp:192.0.2.1:80', 25], ['tcp:192.0.2.2:80', 0], ['tcp:192.0.2.3:80', 32], ['tcp:[2001:db8::1]:80', 48],
  ]);
});

// ---------------------------------------------------------------------------------------------
// Broken fixtures: exact messages

const BROKEN: Record<string, string[]> = {
  'ipvs-broken': [
    "9:23 virtual_servers[0].scheduler_flags[0]: 'sh-port' needs scheduler: sh, got wrr",
    '10:17 virtual_servers[0].one_packet: only valid with protocol: udp (or a fwmark service)',
    "12:38 virtual_servers[0].real_servers[0].port: must be the virtual server's port (80) or omitted with lb_kind dr (only nat translates ports)",
    '13:40 virtual_servers[0].real_servers[1].weight: must be 0..65535, got -1',
    '14:20 virtual_servers[0].real_servers[2].address: is IPv6 but the virtual server is IPv4',
    '15:9 virtual_servers[0].real_servers[3]: duplicate of real_servers[1] (192.0.2.22:80)',
    '17:11 virtual_servers[1].port: only valid with address (a fwmark service matches any port)',
    '18:15 virtual_servers[1].protocol: only valid with address (a fwmark service matches any protocol)',
    '20:13 virtual_servers[1].tunnel: only valid with lb_kind: tun',
    '21:5 virtual_servers[2].port: missing required field',
    '23:30 virtual_servers[2].persistence_granularity: only valid with persistence_timeout',
    '24:5 virtual_servers[3]: needs address and port, or fwmark',
    "24:20 virtual_servers[3].wieght: unknown field 'wieght'",
  ],
  'ipvs-duplicates': [
    '6:28 virtual_servers[1].address: duplicate of virtual_servers[0] (tcp:192.0.2.100:80)',
    "7:13 virtual_servers[2].name: duplicate virtual server name 'web' (also virtual_servers[0])",
    '9:15 virtual_servers[4].fwmark: duplicate of virtual_servers[3] (fwmark6:10)',
    "10:13 virtual_servers[5].name: duplicate virtual server name 'fwmark6:10' (also virtual_servers[3])",
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
// More checks, inline (the list starts on line 5, each item on its own line)

const A = 'address: 192.0.2.100, port: 80';
const INLINE: [string, string, string[]][] = [
  ['not a list', `${VRRP}virtual_servers: { web: 1 }\n`,
    ['inline.yaml:4:18 virtual_servers: expected a list of virtual servers, got a mapping']],
  ['not a mapping', vs('web'), ["inline.yaml:5:5 virtual_servers[0]: expected a mapping, got 'web'"]],
  ['lb_kind missing', vs(`{ ${A} }`), ['inline.yaml:5:5 virtual_servers[0].lb_kind: missing required field']],
  ['lb_kind unknown', vs(`{ ${A}, lb_kind: DR }`), ["inline.yaml:5:48 virtual_servers[0].lb_kind: expected one of nat, dr, tun, got 'DR'"]],
  ['address and fwmark', vs(`{ ${A}, fwmark: 1, lb_kind: dr }`),
    ['inline.yaml:5:47 virtual_servers[0].fwmark: not valid with address (a virtual server is address and port, or fwmark)']],
  ['family with an address', vs(`{ ${A}, family: 4, lb_kind: dr }`),
    ["inline.yaml:5:47 virtual_servers[0].family: only valid with fwmark (an address service takes its address's family)"]],
  ['fwmark 0', vs('{ fwmark: 0, lb_kind: dr }'), ['inline.yaml:5:15 virtual_servers[0].fwmark: must be 1..4294967295, got 0']],
  ['multicast VIP', vs('{ address: 239.1.1.1, port: 80, lb_kind: dr }'),
    ["inline.yaml:5:16 virtual_servers[0].address: '239.1.1.1' is a multicast address"]],
  ['port out of range', vs('{ address: 192.0.2.100, port: 65536, lb_kind: dr }'),
    ['inline.yaml:5:35 virtual_servers[0].port: must be 0..65535, got 65536']],
  ['port 0 without persistence', vs('{ address: 192.0.2.100, port: 0, lb_kind: dr }'),
    ['inline.yaml:5:35 virtual_servers[0].port: 0 (all ports) needs persistence_timeout']],
  ['unknown scheduler', vs(`{ ${A}, lb_kind: dr, scheduler: fifo }`),
    ["inline.yaml:5:63 virtual_servers[0].scheduler: expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos, got 'fifo'"]],
  ['scheduler flag twice', vs(`{ ${A}, lb_kind: dr, scheduler: mh, scheduler_flags: [mh-port, mh-port] }`),
    ["inline.yaml:5:94 virtual_servers[0].scheduler_flags[1]: 'mh-port' is listed twice"]],
  ['persistence timeout too long', vs(`{ ${A}, lb_kind: dr, persistence_timeout: 2678401 }`),
    ['inline.yaml:5:73 virtual_servers[0].persistence_timeout: must be 0..2678400, got 2678401']],
  ['non-contiguous netmask', vs(`{ ${A}, lb_kind: dr, persistence_timeout: 9, persistence_granularity: 255.0.255.0 }`),
    ["inline.yaml:5:101 virtual_servers[0].persistence_granularity: must be a netmask with contiguous ones such as '255.255.255.0' or a prefix length 0..32, got '255.0.255.0'"]],
  ['IPv4 prefix 33', vs(`{ ${A}, lb_kind: dr, persistence_timeout: 9, persistence_granularity: 33 }`),
    ['inline.yaml:5:101 virtual_servers[0].persistence_granularity: must be a netmask or a prefix length 0..32, got 33']],
  ['IPv6 netmask as a mask', vs('{ address: "2001:db8::1", port: 80, lb_kind: dr, persistence_timeout: 9, persistence_granularity: "ffff::" }'),
    ["inline.yaml:5:103 virtual_servers[0].persistence_granularity: must be a prefix length 1..128 for IPv6, got 'ffff::'"]],
  ['IPv6 prefix 0', vs('{ fwmark: 5, family: 6, lb_kind: dr, persistence_timeout: 9, persistence_granularity: 0 }'),
    ['inline.yaml:5:91 virtual_servers[0].persistence_granularity: must be a prefix length 1..128 for IPv6, got 0']],
  ['granularity of the wrong type', vs(`{ ${A}, lb_kind: dr, persistence_timeout: 9, persistence_granularity: true }`),
    ["inline.yaml:5:101 virtual_servers[0].persistence_granularity: expected a netmask such as '255.255.255.0' or a prefix length, got true"]],
  ['one_packet on a fwmark service is fine, on tcp not', vs('{ fwmark: 5, lb_kind: dr, one_packet: true }', `{ ${A}, protocol: tcp, lb_kind: nat, one_packet: true }`),
    ['inline.yaml:6:80 virtual_servers[1].one_packet: only valid with protocol: udp (or a fwmark service)']],
  ['gue without a port', vs(`{ ${A}, lb_kind: tun, tunnel: { type: gue } }`),
    ['inline.yaml:5:61 virtual_servers[0].tunnel.port: missing required field (the GUE destination port)']],
  ['port on ipip', vs(`{ ${A}, lb_kind: tun, tunnel: { port: 5000 } }`), 
    ['inline.yaml:5:69 virtual_servers[0].tunnel.port: only valid with type: gue']],
  ['csum on ipip', vs(`{ ${A}, lb_kind: tun, tunnel: { csum: csum } }`), 
    ['inline.yaml:5:69 virtual_servers[0].tunnel.csum: only valid with type: gue or gre (ipip has no checksum option)']],
  ['remcsum on gre', vs(`{ ${A}, lb_kind: tun, tunnel: { type: gre, csum: remcsum } }`), 
    ['inline.yaml:5:80 virtual_servers[0].tunnel.csum: remcsum is only valid with type: gue']],
  ['tunnel on a real server that is not tun', vs(`{ ${A}, lb_kind: tun, real_servers: [{ address: 192.0.2.21, lb_kind: dr, tunnel: { type: gre } }] }`), 
    ['inline.yaml:5:112 virtual_servers[0].real_servers[0].tunnel: only valid with lb_kind: tun']],
  ['lower threshold above upper', vs(`{ ${A}, lb_kind: dr, real_servers: [{ address: 192.0.2.21, upper_threshold: 10, lower_threshold: 11 }] }`), 
    ['inline.yaml:5:128 virtual_servers[0].real_servers[0].lower_threshold: must not exceed upper_threshold (10), got 11']],
  ['lower threshold without upper', vs(`{ ${A}, lb_kind: dr, real_servers: [{ address: 192.0.2.21, lower_threshold: 1 }] }`), 
    ['inline.yaml:5:107 virtual_servers[0].real_servers[0].lower_threshold: must not exceed upper_threshold (0), got 1']],
  ['weight too big', vs(`{ ${A}, lb_kind: dr, real_servers: [{ address: 192.0.2.21, weight: 65536 }] }`), 
    ['inline.yaml:5:98 virtual_servers[0].real_servers[0].weight: must be 0..65535, got 65536']],
  ['real server typo', vs(`{ ${A}, lb_kind: dr, real_servers: [{ address: 192.0.2.21, wieght: 2 }] }`), 
    ["inline.yaml:5:90 virtual_servers[0].real_servers[0].wieght: unknown field 'wieght' (did you mean 'weight'?)"]],
  ['real server as a string', vs(`{ ${A}, lb_kind: dr, real_servers: [192.0.2.21] }`), 
    ["inline.yaml:5:67 virtual_servers[0].real_servers[0]: expected a mapping {address, port, weight, ...}, got '192.0.2.21'"]],
  ['bad name', vs(`{ name: "web server", ${A}, lb_kind: dr }`), 
    ["inline.yaml:5:13 virtual_servers[0].name: must be 1..64 characters of A-Z a-z 0-9 _ . : -, got 'web server'"]],
  ['field typo with a hint', vs(`{ ${A}, lb_kind: dr, schedular: rr }`), 
    ["inline.yaml:5:52 virtual_servers[0].schedular: unknown field 'schedular' (did you mean 'scheduler'?)"]],
];

for (const [name, text, expected] of INLINE) {
  test(`inline: ${name}`, (t) => {
    t.deepEqual(issuesOf(text), expected);
  });
}

test('control: the read-only status socket needs a group name and an absolute path; limits are bounded', (t) => {
  t.deepEqual(issuesOf(`${VRRP}control: {}\n`), [], 'every field optional');
  t.deepEqual(issuesOf(`${VRRP}control: { idle_timeout: 0.05, max_connections: 5000 }\n`), [
    'inline.yaml:4:26 control.idle_timeout: must be 0.1..86400 seconds, got 0.05',
    'inline.yaml:4:49 control.max_connections: must be 1..4096, got 5000',
  ]);
  t.deepEqual(issuesOf(`${VRRP}control: { status_group: 'Adm!', status_socket: run/x.sock }\n`), [
    "inline.yaml:4:26 control.status_group: must be a group name, got 'Adm!'",
    "inline.yaml:4:49 control.status_socket: must be an absolute path, got 'run/x.sock'",
  ]);
});

test('lvs_timeouts: keepalived names, seconds, each optional; bad values positioned', (t) => {
  const base = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';
  const ok = parseConfig(`${base}lvs_timeouts: { tcp: 7200, udp: 60 }\n`, 't.yaml');
  t.true(ok.ok);
  if (ok.ok) t.deepEqual(ok.value.lvsTimeouts, { tcp: 7200, tcpFin: undefined, udp: 60 });
  const bad = parseConfig(`${base}lvs_timeouts: { tcp: 0, tcp_fin: 5 }\n`, 't.yaml');
  t.false(bad.ok);
  if (!bad.ok) t.deepEqual(bad.error.map(formatIssue), [
    't.yaml:4:22 lvs_timeouts.tcp: must be 1..31536000, got 0',
    "t.yaml:4:25 lvs_timeouts.tcp_fin: unknown field 'tcp_fin' (did you mean 'tcpfin'?)",
  ]);
});

test('ipvs_sysctl: booleans become 0/1, omitted keys stay out, bad values positioned', (t) => {
  const base = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';
  const ok = parseConfig(`${base}ipvs_sysctl: { sloppy_tcp: true, expire_nodest_conn: false, conn_reuse_mode: 3 }\n`, 't.yaml');
  t.true(ok.ok);
  if (ok.ok) t.deepEqual(ok.value.ipvsSysctl, { sloppy_tcp: '1', expire_nodest_conn: '0', conn_reuse_mode: '3' });
  const none = parseConfig(base, 't.yaml');
  if (none.ok) t.deepEqual(none.value.ipvsSysctl, {});
  const bad = parseConfig(`${base}ipvs_sysctl: { sloppy_tcp: yes please, conn_reuse_mode: 4, sloppy_udp: true }\n`, 't.yaml');
  t.false(bad.ok);
  if (!bad.ok) t.deepEqual(bad.error.map(formatIssue).map((l) => l.replace(/:\d+:\d+ /, ' ')), [
    "t.yaml ipvs_sysctl.sloppy_tcp: expected true or false, got 'yes please'",
    't.yaml ipvs_sysctl.conn_reuse_mode: must be 0..3, got 4',
    "t.yaml ipvs_sysctl.sloppy_udp: unknown field 'sloppy_udp' (did you mean 'sloppy_tcp'?)",
  ]);
});
