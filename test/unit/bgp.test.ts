// VIPs in bgp mode: the pure decision (announce or withdraw, and why), the tracker's `since`,
// the speaker output parsers, the config section, and the daemon on a fake platform and clock:
// the route in the export table follows quorum, links, maintenance (withdrawn before the VRRP
// handover), `duet withdraw/announce`, and a stop; the VIP stays on lo throughout.
import test from 'ava';
import { pino } from 'pino';
import { decide, BgpVip, type BgpInputs } from '../../src/bgp/decide.js';
import { parseBirdProtocols, parseFrrSummary } from '../../src/bgp/speaker.js';
import { Daemon, OperatorError } from '../../src/daemon/daemon.js';
import { formatIssue, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { DuetEvent } from '../../src/control/views.js';
import { parseRequest } from '../../src/control/protocol.js';
import { formatStatus } from '../../src/cli/format.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FakePlatform } from '../fakes/fake-platform.js';

const healthy: BgpInputs = { stopping: false, maintenance: false, operatorWithdraw: false, interfaces: [{ name: 'eth0', up: true }], services: [{ name: 'web', quorumUp: true }] };

test('decide: healthy announces; each gate withdraws with its reason, the most basic first', (t) => {
  t.like(decide(healthy), { announce: true, reason: 'healthy' });
  t.like(decide({ ...healthy, services: [{ name: 'web', quorumUp: undefined }] }), { announce: true, reason: 'healthy' }, 'no verdict yet is not a lost quorum');
  t.like(decide({ ...healthy, services: [{ name: 'web', quorumUp: false }, { name: 'dns', quorumUp: true }] }), { announce: false, reason: 'quorum-lost', detail: 'no quorum: web' });
  t.like(decide({ ...healthy, interfaces: [{ name: 'eth0', up: false }, { name: 'eth1', up: undefined }] }), { announce: false, reason: 'interface-down', detail: 'eth0 down, eth1 missing' });
  t.like(decide({ ...healthy, operatorWithdraw: true, services: [{ name: 'web', quorumUp: false }] }), { announce: false, reason: 'operator' });
  t.like(decide({ ...healthy, maintenance: true, operatorWithdraw: true }), { announce: false, reason: 'maintenance' });
  t.like(decide({ ...healthy, stopping: true, maintenance: true }), { announce: false, reason: 'stopping' });
  t.like(decide({ ...healthy, services: [] }), { announce: true, detail: 'no services gate it' });
  t.like(decide({ ...healthy, services: [{ name: 'web', quorumUp: true, pending: true }] }), { announce: false, reason: 'checks-pending', detail: 'no check result yet: web' });
  t.like(decide({ ...healthy, services: [{ name: 'web', quorumUp: false, pending: true }] }), { announce: false, reason: 'quorum-lost' });
  t.like(decide({ ...healthy, services: [{ name: 'web', quorumUp: false, ipvsFailed: true }, { name: 'dns', quorumUp: true, ipvsFailed: false }] }),
    { announce: false, reason: 'ipvs-failed', detail: 'not in the IPVS table: web' }, 'before quorum: checks may pass while nothing forwards');
  t.like(decide({ ...healthy, interfaces: [{ name: 'eth0', up: false }], services: [{ name: 'web', quorumUp: true, ipvsFailed: true }] }), { reason: 'interface-down' });
});

test('tracker: since is when the route last appeared or went; a new reason alone keeps it', (t) => {
  const v = new BgpVip('192.0.2.10');
  t.like(v.step(decide(healthy), 100, 1000), { announced: true, first: true });
  t.is(v.step(decide(healthy), 200, 1100), undefined);
  t.like(v.step(decide({ ...healthy, maintenance: true }), 300, 1200), { announced: false, reason: 'maintenance', first: false });
  t.is(v.step(decide({ ...healthy, maintenance: true, stopping: true }), 400, 1300), undefined);
  t.like(v.state, { announced: false, reason: 'stopping', sinceMs: 300, sinceWall: 1200, changes: 1 });
});

const BIRD = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     23:17:58.473
duet_vips  Kernel     master4    up     23:17:58.473
bfd1       BFD        ---        up     23:17:58.473
uplink     BGP        ---        up     23:18:03.056  Established
backup     BGP        ---        start  2026-12-01 10:00:00  Active        Socket: Connection refused
`;

test('speaker output: birdc show protocols and FRR show bgp summary json', (t) => {
  t.deepEqual(parseBirdProtocols(BIRD), [
    { name: 'uplink', state: 'Established', established: true, since: '23:18:03.056', info: 'Established' },
    { name: 'backup', state: 'Active', established: false, since: '2026-12-01 10:00:00', info: 'Active        Socket: Connection refused' },
  ]);
  t.is(parseBirdProtocols('Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory\n'), undefined);
  const frr = JSON.stringify({ ipv4Unicast: { peers: { '10.0.0.1': { state: 'Established', peerUptime: '00:01:02' }, '10.0.0.2': { state: 'Active' } } } });
  t.deepEqual(parseFrrSummary(frr)?.map((s) => [s.name, s.established]), [['10.0.0.1', true], ['10.0.0.2', false]]);
  t.is(parseFrrSummary('% Unknown command'), undefined);
});

const WEB = `virtual_servers:
  - name: web
    address: 192.0.2.10
    port: 80
    lb_kind: dr
    checks: [{ type: tcp }]
    real_servers: [{ address: 192.0.2.21 }]
`;

function config(bgp: string, vrrp = 'vrrp: { instances: [] }\n', extra = WEB): Config {
  const r = parseConfig(`node: { name: d1 }\n${vrrp}${extra}${bgp}`, 'test.yaml');
  if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
  return r.value;
}

function issues(yaml: string): string[] {
  const r = parseConfig(yaml, 'test.yaml');
  return r.ok ? [] : r.error.map(formatIssue);
}

const BGP = `bgp:
  table: 100
  speaker: { status_command: [/usr/sbin/birdc, -s, /run/bird/bird.ctl, show, protocols], status_interval: 1, status_timeout: 0.5 }
  vips:
    - { address: 192.0.2.10, track_interfaces: [eth0] }
`;

test('config: bgp section, services default to the virtual servers with the address; errors name the field', (t) => {
  const c = config(BGP);
  t.deepEqual(c.bgp, {
    table: 100, localDev: 'lo',
    speaker: { statusCommand: ['/usr/sbin/birdc', '-s', '/run/bird/bird.ctl', 'show', 'protocols'], statusFormat: 'bird', statusIntervalMs: 1000, statusTimeoutMs: 500 },
    vips: [{ address: '192.0.2.10', family: 4, prefixLen: 32, services: ['web'], trackInterfaces: ['eth0'] }],
  });
  t.like(config('bgp: { table: 4000, vips: [2001:db8:100::10] }\n', undefined, '').bgp, { table: 4000, vips: [{ address: '2001:db8:100::10', family: 6, prefixLen: 128, services: [], trackInterfaces: [] }] });
  t.deepEqual(issues('vrrp: { instances: [] }\n'), ['test.yaml:1:20 vrrp.instances: must not be empty when nothing else runs (no virtual_servers, no bgp section)']);
  t.deepEqual(issues(`vrrp: { instances: [] }\nbgp: { table: 254, vips: [{ address: 192.0.2.10, services: [nope] }, 192.0.2.10] }\n`), [
    'test.yaml:2:15 bgp.table: must not be a system table (253 default, 254 main, 255 local)',
    'test.yaml:2:61 bgp.vips[0].services[0]: no virtual server named \'nope\'',
    'test.yaml:2:70 bgp.vips[1]: 192.0.2.10 is listed twice',
  ]);
  t.deepEqual(issues(`vrrp:\n  instances: [{ name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.10/24] }]\nbgp: { vips: [192.0.2.10] }\n`),
    ['test.yaml:3:15 bgp.vips[0]: 192.0.2.10 is already a VIP of vrrp.instances[0] (VI_1) (a VIP is in VRRP or in BGP mode, not both)']);
});

const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };
const ROUTE = '100 192.0.2.10/32 lo';

async function setup(cfg = config(BGP)) {
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  p.scriptOutputs.set('/usr/sbin/birdc', BIRD);
  const d = new Daemon(cfg, p, clock, pino({ level: 'silent' }));
  const events: DuetEvent[] = [];
  d.onEvent((e) => events.push(e));
  await d.start();
  clock.advance(1); // the first speaker poll
  await flush();
  const vip = () => d.status().bgp?.vips[0];
  return { clock, p, d, events, vip };
}

test('daemon: the VIP is on lo from the start; its route follows quorum and the tracked link', async (t) => {
  const s = await setup();
  t.true(s.p.addresses.has('192.0.2.10/32 lo'), 'accepted locally');
  t.true(s.p.routes.has(ROUTE), 'announced: healthy');
  t.like(s.vip(), { announced: true, routed: true, reason: 'healthy', services: ['web'] });
  t.like(s.d.status().bgp?.speaker, { established: 1, error: undefined });

  s.p.checks!.emit({ kind: 'quorum', service: 'tcp:192.0.2.10:80', up: false, healthyWeight: 0, quorum: 1, hysteresis: 0 });
  await flush();
  t.false(s.p.routes.has(ROUTE), 'quorum lost: withdrawn');
  t.true(s.p.addresses.has('192.0.2.10/32 lo'), 'still accepted locally while withdrawn');
  t.like(s.vip(), { announced: false, reason: 'quorum-lost', detail: 'no quorum: web', sinceMs: 10_001 });
  t.like(s.events.filter((e) => e.type === 'bgp').at(-1), { vip: '192.0.2.10', announced: false, reason: 'quorum-lost' });

  s.p.checks!.emit({ kind: 'quorum', service: 'tcp:192.0.2.10:80', up: true, healthyWeight: 1, quorum: 1, hysteresis: 0 });
  await flush();
  t.true(s.p.routes.has(ROUTE));
  s.p.setLink('eth0', false);
  await flush();
  t.like(s.vip(), { announced: false, reason: 'interface-down', detail: 'eth0 down' });
  s.p.setLink('eth0', true);
  await flush();
  t.like(s.vip(), { announced: true, reason: 'healthy' });
  t.regex(formatStatus({ ...s.d.status(), nowMs: s.clock.now() }), /192\.0\.2\.10\s+ANNOUNCED\s+0\.0s\s+healthy[\s\S]*bgp speaker \(table 100\): 1 session established; uplink Established, backup Active/);
});

test('daemon: maintenance withdraws before the VRRP handover; withdraw/announce by the operator; a stop withdraws', async (t) => {
  const vrrp = 'vrrp:\n  instances: [{ name: VI_1, interface: eth0, vrid: 51, priority: 100, advert_int: 1, virtual_ipaddress: [192.0.2.100/24] }]\n';
  const s = await setup(config(BGP, vrrp));
  t.true(s.p.routes.has(ROUTE));
  const from = s.p.log.length;
  const r = await s.d.maintenance(true, { sticky: false, force: true });
  t.deepEqual(r.bgpWithdrawn, ['192.0.2.10']);
  t.false(s.p.routes.has(ROUTE));
  t.like(s.vip(), { announced: false, reason: 'maintenance' });
  t.is(s.p.log.slice(from).find((l) => l.startsWith('route')), 'route del 100 192.0.2.10/32');
  t.like(s.d.status().operator['VI_1'], { mode: 'maintenance' });
  await s.d.maintenance(false, { sticky: false, force: false });
  t.like(s.vip(), { announced: true, reason: 'healthy' });

  t.like(await s.d.bgpOperator('192.0.2.10', true), { announced: false, reason: 'operator' });
  t.false(s.p.routes.has(ROUTE));
  t.like(s.events.filter((e) => e.type === 'operator').at(-1), { action: 'withdraw', vip: '192.0.2.10' });
  // announce clears the operator's withdraw only: a lost quorum still holds it back.
  s.p.checks!.emit({ kind: 'quorum', service: 'tcp:192.0.2.10:80', up: false, healthyWeight: 0, quorum: 1, hysteresis: 0 });
  t.like(await s.d.bgpOperator('192.0.2.10', false), { announced: false, reason: 'quorum-lost' });
  s.p.checks!.emit({ kind: 'quorum', service: 'tcp:192.0.2.10:80', up: true, healthyWeight: 1, quorum: 1, hysteresis: 0 });
  await flush();
  t.true(s.p.routes.has(ROUTE));
  const e = await t.throwsAsync(s.d.bgpOperator('192.0.2.99', true));
  t.is((e as OperatorError).code, 'DUET_E_NO_VIP');

  await s.d.stop();
  t.false(s.p.routes.has(ROUTE), 'a stop withdraws');
  t.like(s.vip(), { announced: false, reason: 'stopping' });
  t.true(s.p.addresses.has('192.0.2.10/32 lo'), 'the address stays for flows still arriving');
});

test('daemon: a speaker that hangs or fails is reported, never waited on; a reload removes a gone VIP', async (t) => {
  const s = await setup();
  s.p.scriptExits.set('/usr/sbin/birdc', 1);
  s.p.scriptOutputs.set('/usr/sbin/birdc', 'Unable to connect to server control socket');
  s.clock.advance(1000);
  await flush();
  t.like(s.d.status().bgp?.speaker, { established: 0, error: 'exit 1: Unable to connect to server control socket' });
  t.true(s.p.routes.has(ROUTE), 'the speaker\'s state does not gate the route: it is what the speaker exports');
  await s.d.reload(config(BGP.replace('192.0.2.10', '192.0.2.11')));
  t.false(s.p.routes.has(ROUTE));
  t.false(s.p.addresses.has('192.0.2.10/32 lo'));
  t.true(s.p.routes.has('100 192.0.2.11/32 lo'));
});

test('daemon: a virtual server that failed to program into IPVS withdraws its VIP (ipvs-failed) until a reconcile adds it', async (t) => {
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  p.scriptOutputs.set('/usr/sbin/birdc', BIRD);
  p.kernel.failOn = (op) => (op.op === 'add-svc' ? 'Operation not supported' : undefined);
  const d = new Daemon(config(BGP), p, clock, pino({ level: 'silent' }));
  await d.start();
  clock.advance(1);
  await flush();
  t.like(d.status().bgp?.vips[0], { announced: false, reason: 'ipvs-failed', detail: 'not in the IPVS table: web' });
  t.false(p.routes.has(ROUTE));
  t.regex(formatStatus({ ...d.status(), nowMs: clock.now() }), /192\.0\.2\.10\s+WITHDRAWN\s+\S+\s+ipvs-failed/);
  // The kernel takes it now: the next reconcile (a reload here) adds the service, and the VIP is announced.
  p.kernel.failOn = undefined;
  await d.reload(config(BGP));
  await flush();
  t.like(d.status().bgp?.vips[0], { announced: true, reason: 'healthy' });
  t.true(p.routes.has(ROUTE));
});

test('control protocol: withdraw and announce take a VIP', (t) => {
  t.deepEqual(parseRequest('{"cmd":"withdraw","vip":"192.0.2.10"}'), { cmd: 'withdraw', vip: '192.0.2.10' });
  t.deepEqual(parseRequest('{"cmd":"announce"}'), { error: '"vip" (an address) is required' });
});

test('daemon: operator state lasts until a reload, sticky state across reloads and restarts (state directory)', async (t) => {
  const s = await setup();
  await s.d.maintenance(true, { sticky: false, force: true });
  await s.d.reload(config(BGP));
  t.like(s.vip(), { announced: true, reason: 'healthy' }, 'a reload ends non-sticky maintenance, as for VRRP overrides');
  await s.d.bgpOperator('192.0.2.10', true, true);
  await s.d.maintenance(true, { sticky: true, force: true });
  t.deepEqual(s.p.bgpOperator, { maintenance: true, withdrawn: ['192.0.2.10'] });
  await s.d.reload(config(BGP));
  t.like(s.vip(), { announced: false, reason: 'maintenance' }, 'sticky maintenance survives a reload');
  await s.d.stop();
  // The next run on the same state directory starts withdrawn, never announcing in between.
  const d2 = new Daemon(config(BGP), s.p, s.clock, pino({ level: 'silent' }));
  const from = s.p.log.length;
  await d2.start();
  t.false(s.p.log.slice(from).some((l) => l.startsWith('route add')), 'no announce at start');
  t.like(d2.status().bgp, { maintenance: true, operatorWithdrawn: ['192.0.2.10'] });
  await d2.maintenance(false, { sticky: false, force: false });
  t.like(d2.status().bgp?.vips[0], { announced: false, reason: 'operator' });
  await d2.bgpOperator('192.0.2.10', false);
  t.like(d2.status().bgp?.vips[0], { announced: true, reason: 'healthy' });
  t.deepEqual(s.p.bgpOperator, { maintenance: false, withdrawn: [] });
});
