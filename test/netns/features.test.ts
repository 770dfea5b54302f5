// Tracking, notify hooks, sync groups, reload, UDP and unicast transports on a real duet pair.
import test from 'ava';
import { readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, inject, type DuetNode } from '../../lab/duet-node.js';
import { encodeIpv4Vrrp } from '../../src/vrrp/codec.js';
import { request } from '../../src/control/client.js';

const VIP = '192.0.2.100';
let lab: Lab;
const nodes: DuetNode[] = [];

test.before(async () => {
  lab = await createLab('df', [{ name: 'd1', addr: '192.0.2.11', addr6: '2001:db8::11' }, { name: 'd2', addr: '192.0.2.12', addr6: '2001:db8::12' }]);
  // A spare veth pair inside d1 to track: set down and up by the tests.
  await lab.exec('d1', ['ip', 'link', 'add', 'tk0', 'type', 'veth', 'peer', 'name', 'tk1']);
  await lab.exec('d1', ['ip', 'link', 'set', 'tk1', 'up']);
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'up']);
  await waitFor(async () => (await lab.exec('d1', ['cat', '/sys/class/net/tk0/operstate'])).stdout.trim() === 'up', { timeoutMs: 5000, what: 'tk0 up' });
});
test.afterEach.always(async (t) => {
  if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
  for (const n of nodes.splice(0)) n.cleanup();
  for (const h of ['d1', 'd2']) for (const v of [VIP, '192.0.2.101', '2001:db8::100']) await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', v.includes(':') ? `${v}/128` : `${v}/32`]).catch(() => undefined);
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'up']).catch(() => undefined);
});
test.after.always(async () => { await lab?.destroy(); });

async function start(host: 'd1' | 'd2', yaml: string): Promise<DuetNode> {
  const n = await startDuet(lab, host, yaml);
  nodes.push(n);
  return n;
}
const cfg = (host: 'd1' | 'd2', priority: number, extra = '', o: Partial<Parameters<typeof pairConfig>[1]> = {}) =>
  pairConfig(host, { ifname: lab.host(host).ifname, priority, extra, ...o });

test.serial('track_interface with a weight lowers priority and the peer preempts; recovery preempts back', async (t) => {
  const d1 = await start('d1', cfg('d1', 150, '      track_interface: [{ name: tk0, weight: -60 }]\n'));
  const d2 = await start('d2', cfg('d2', 100));
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'down']);
  await d2.waitState('VI_1', 'master', 3000);
  const s1 = await d1.waitState('VI_1', 'backup', 3000);
  t.is(s1.priority.effective, 90);
  t.is(d2.transitions().at(-1)?.['reason'], 'preempt');
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'up']);
  await d1.waitState('VI_1', 'master', 3000);
  t.is((await d1.instance('VI_1'))?.priority.effective, 150);
});

test.serial('track_interface without weight: FAULT drops the VIP and the peer takes over at once', async (t) => {
  const d1 = await start('d1', cfg('d1', 150, '      track_interface: [tk0]\n'));
  const d2 = await start('d2', cfg('d2', 100));
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'down']);
  await d1.waitState('VI_1', 'fault', 3000);
  await d2.waitState('VI_1', 'master', 3000);
  // The faulted master sent priority 0, so the backup did not wait for Master_Down_Interval.
  t.is(d2.transitions().at(-1)?.['reason'], 'master-released');
  const { stdout } = await lab.exec('d1', ['ip', '-o', 'addr', 'show']);
  t.false(stdout.includes(VIP));
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'up']);
  await d1.waitState('VI_1', 'master', 4000);
  t.deepEqual(d1.transitions().map((l) => l['reason']), ['startup', 'master-down-timer', 'fault', 'fault-cleared', 'preempt']);
});

test.serial('track_script with a weight; notify hooks get instance, from, to, reason', async (t) => {
  const flag = join(lab.prefix === 'df' ? '/tmp' : '/tmp', `duet-df-flag-${process.pid}`);
  const out = join('/tmp', `duet-df-notify-${process.pid}`);
  writeFileSync(flag, '');
  rmSync(out, { force: true });
  t.teardown(() => { rmSync(flag, { force: true }); rmSync(out, { force: true }); });
  const scripts = `  scripts:\n    chk_flag:\n      command: [/usr/bin/test, -f, ${flag}]\n      interval: 0.1\n      timeout: 2\n      weight: -60\n      fall: 2\n      rise: 1\n`;
  const yaml = cfg('d1', 150, `      track_script: [chk_flag]\n      notify:\n        any: [/bin/sh, -c, 'echo "$@" >> ${out}', notify]\n`)
    .replace('vrrp:\n', `vrrp:\n${scripts}`);
  const d1 = await start('d1', yaml);
  const d2 = await start('d2', cfg('d2', 100));
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  rmSync(flag);
  await d2.waitState('VI_1', 'master', 3000);
  t.is((await d1.waitState('VI_1', 'backup', 3000)).priority.effective, 90);
  writeFileSync(flag, '');
  await d1.waitState('VI_1', 'master', 3000);
  const lines = await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').trim().split('\n').length >= 4 ? readFileSync(out, 'utf8').trim().split('\n') : undefined, { timeoutMs: 3000, what: 'notify lines' });
  t.deepEqual(lines.slice(0, 4), ['VI_1 init backup startup', 'VI_1 backup master master-down-timer', 'VI_1 master backup higher-priority-advert', 'VI_1 backup master preempt']);
});

test.serial('sync group: a fault in one member moves both instances to the peer', async (t) => {
  const group = (host: 'd1' | 'd2', prio: number, track: string) => `node:
  name: ${host}
vrrp:
  instances:
    - { name: A, interface: ${lab.host(host).ifname}, vrid: 61, priority: ${prio}, advert_int: 0.1, virtual_ipaddress: [192.0.2.161/24]${track} }
    - { name: B, interface: ${lab.host(host).ifname}, vrid: 62, priority: ${prio}, advert_int: 0.1, virtual_ipaddress: [192.0.2.162/24] }
  sync_groups:
    - { name: G, instances: [A, B] }
`;
  const d1 = await start('d1', group('d1', 150, ', track_interface: [tk0]'));
  const d2 = await start('d2', group('d2', 100, ''));
  await d1.waitState('A', 'master');
  await d1.waitState('B', 'master');
  await d2.waitState('B', 'backup');
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'down']);
  await d2.waitState('A', 'master', 3000);
  await d2.waitState('B', 'master', 3000);
  t.is((await d1.instance('A'))?.state, 'fault');
  t.is((await d1.instance('B'))?.state, 'fault', 'the healthy member follows its group into fault');
  await lab.exec('d1', ['ip', 'link', 'set', 'tk0', 'up']);
  await d1.waitState('A', 'master', 4000);
  await d1.waitState('B', 'master', 4000);
});

test.serial('reload: an invalid config changes nothing; a valid one applies the change', async (t) => {
  const d1 = await start('d1', cfg('d1', 150));
  await d1.waitState('VI_1', 'master');
  const before = d1.transitions().length;
  writeFileSync(d1.configFile, cfg('d1', 150).replace('priority: 150', 'priority: 300'));
  d1.kill('SIGHUP');
  await waitFor(() => d1.logs.find((l) => l.msg.startsWith('reload rejected')), { timeoutMs: 3000, what: 'reload rejected log' });
  const rejected = d1.logs.find((l) => l.msg.startsWith('reload rejected'))!;
  t.regex(String((rejected['issues'] as string[])[0]), /duet\.yaml:\d+:\d+ vrrp\.instances\[0\]\.priority: must be 1\.\.255, got 300/);
  const viaCli = await request(d1.socket, { cmd: 'reload' });
  t.false(viaCli.ok);
  t.is((await d1.instance('VI_1'))?.state, 'master');
  t.is(d1.transitions().length, before, 'no transition from a rejected reload');
  // An unchanged config keeps the instance running untouched.
  writeFileSync(d1.configFile, cfg('d1', 150));
  const same = await request(d1.socket, { cmd: 'reload' });
  t.true(same.ok);
  t.deepEqual((same as { result: { unchanged: string[] } }).result.unchanged, ['VI_1']);
  t.is(d1.transitions().length, before);
  // A changed priority is applied in place: same state, no transition, no VIP flap.
  writeFileSync(d1.configFile, cfg('d1', 120));
  const changed = await request(d1.socket, { cmd: 'reload' });
  t.true(changed.ok);
  t.deepEqual((changed as { result: { updated: string[] } }).result.updated, ['VI_1']);
  const after = await d1.instance('VI_1');
  t.like(after, { state: 'master', priority: { configured: 120, effective: 120 } });
  t.is(d1.transitions().length, before, 'no transition from a priority change');
  // A changed VIP list replaces the instance.
  writeFileSync(d1.configFile, cfg('d1', 120, '', { vip: '192.0.2.101/24' }));
  const replaced = await request(d1.socket, { cmd: 'reload' });
  t.deepEqual((replaced as { result: { replaced: string[] } }).result.replaced, ['VI_1']);
  await d1.waitState('VI_1', 'master', 3000);
  await waitFor(async () => (await lab.exec('d1', ['ip', '-o', 'addr', 'show'])).stdout.includes('192.0.2.101/24'), { timeoutMs: 3000, what: 'new VIP' });
  t.false((await lab.exec('d1', ['ip', '-o', 'addr', 'show'])).stdout.includes(`${VIP}/24`), 'old VIP removed');
});

test.serial('UDP transport pair elects a master (duet-to-duet)', async (t) => {
  const extra = '      transport: udp\n      udp_port: 1112\n';
  const d1 = await start('d1', cfg('d1', 150, extra));
  const d2 = await start('d2', cfg('d2', 100, extra));
  await d1.waitState('VI_1', 'master');
  await waitFor(async () => (await d2.instance('VI_1'))?.masterAddress === '192.0.2.11', { timeoutMs: 3000, what: 'd2 hears d1 over UDP' });
  d1.kill('SIGTERM');
  await d2.waitState('VI_1', 'master', 3000);
  t.is(d2.transitions().at(-1)?.['reason'], 'master-released');
});

test.serial('unicast peers elect a master without multicast', async (t) => {
  const d1 = await start('d1', cfg('d1', 150, '      unicast_peer: [192.0.2.12]\n'));
  const d2 = await start('d2', cfg('d2', 100, '      unicast_peer: [192.0.2.11]\n'));
  await d1.waitState('VI_1', 'master');
  const s2 = await waitFor(async () => { const i = await d2.instance('VI_1'); return i?.masterAddress === '192.0.2.11' ? i : undefined; }, { timeoutMs: 3000, what: 'd2 hears d1 unicast' });
  t.is(s2.state, 'backup');
  t.is(Object.keys(s2.counters.dropped).length, 0);
});

test.serial('unicast: a well-formed priority-254 advert from a host that is no unicast_peer is dropped (not-a-peer); the same from the peer\'s address is obeyed', async (t) => {
  const d1 = await start('d1', cfg('d1', 150, '      unicast_peer: [192.0.2.12]\n'));
  await d1.waitState('VI_1', 'master');
  // Sent from d2's namespace with a source of our choosing, to d1's address, TTL 255.
  const forged = (src: string) => encodeIpv4Vrrp({ version: 3, vrid: 51, priority: 254, maxAdverIntCs: 10, addresses: ['192.0.2.100'] },
    { src, dst: '192.0.2.11', ttl: 255, tos: 0xc0, id: 0 }, { pseudoHeader: true });
  await inject(lab, 'd2', '192.0.2.11', [forged('192.0.2.66'), forged('192.0.2.66'), forged('192.0.2.66')], { gapMs: 50 });
  await waitFor(async () => (await d1.instance('VI_1'))?.counters.dropped['not-a-peer'] === 3 ? true : undefined, { timeoutMs: 3000, what: 'three not-a-peer drops' });
  t.is((await d1.instance('VI_1'))?.state, 'master', 'a stranger cannot demote the master');
  // Control: the same advert from the configured peer's address takes mastership (so the drop mattered).
  await inject(lab, 'd2', '192.0.2.11', [forged('192.0.2.12')]);
  await d1.waitState('VI_1', 'backup', 3000);
});

test.serial('a well-formed priority-254 advert with another address list is dropped (address-list), counted; with address_list: lenient it is obeyed (the RFC rule)', async (t) => {
  const d1 = await start('d1', cfg('d1', 150, ''));
  await d1.waitState('VI_1', 'master');
  const forged = (addresses: string[]) => encodeIpv4Vrrp({ version: 3, vrid: 51, priority: 254, maxAdverIntCs: 10, addresses },
    { src: '192.0.2.12', dst: '224.0.0.18', ttl: 255, tos: 0xc0, id: 0 }, { pseudoHeader: true });
  await inject(lab, 'd2', '224.0.0.18', [forged(['192.0.2.200']), forged(['192.0.2.200']), forged(['192.0.2.100', '192.0.2.200'])], { gapMs: 50 });
  await waitFor(async () => (await d1.instance('VI_1'))?.counters.dropped['address-list'] === 3 ? true : undefined, { timeoutMs: 3000, what: 'three address-list drops' });
  await new Promise((r) => setTimeout(r, 300));
  t.is((await d1.instance('VI_1'))?.state, 'master', 'another list cannot demote the master');
  // Lenient (a reload, in place): the same advert is taken, as RFC 5798 allows.
  writeFileSync(d1.configFile, readFileSync(d1.configFile, 'utf8').replace('      advert_int:', '      address_list: lenient\n      advert_int:'));
  const r = await request(d1.socket, { cmd: 'reload' });
  t.true(r.ok, JSON.stringify(r));
  await inject(lab, 'd2', '224.0.0.18', [forged(['192.0.2.200'])]);
  await d1.waitState('VI_1', 'backup', 3000);
  t.is((await d1.instance('VI_1'))?.counters.addressMismatch, 1);
});

test.serial('IPv6 VRRPv3 pair: link-local adverts with hop limit 255, VIP moves on kill -9 plus link down', async (t) => {
  const VIP6 = '2001:db8::100';
  const d1 = await start('d1', cfg('d1', 150, '', { vip: `${VIP6}/64`, vrid: 71 }));
  const d2 = await start('d2', cfg('d2', 100, '', { vip: `${VIP6}/64`, vrid: 71 }));
  await d1.waitState('VI_1', 'master');
  const b = await waitFor(async () => { const i = await d2.instance('VI_1'); return i?.masterAddress ? i : undefined; }, { timeoutMs: 3000, what: 'd2 hears d1 over IPv6' });
  t.regex(b.masterAddress!, /^fe80::/, 'v3 over IPv6 is sent from the link-local address');
  t.is(b.state, 'backup');
  t.deepEqual(b.counters.dropped, {});
  const has6 = async (h: string) => (await lab.exec(h, ['ip', '-6', '-o', 'addr', 'show'])).stdout.includes(VIP6);
  await waitFor(() => has6('d1'), { timeoutMs: 3000, what: 'VIP6 on d1' });
  t.false(await has6('d2'));
  d1.kill('SIGKILL');
  await lab.exec('d1', ['ip', 'link', 'set', lab.host('d1').ifname, 'down']);
  t.teardown(() => lab.exec('d1', ['ip', 'link', 'set', lab.host('d1').ifname, 'up']).then(() => undefined));
  await d2.waitState('VI_1', 'master', 3000);
  await waitFor(() => has6('d2'), { timeoutMs: 3000, what: 'VIP6 on d2' });
});

test.serial('reload naming a missing interface: applied with a warning, that instance in FAULT, the rest untouched; SIGHUP lives; the interface appears and the instance runs', async (t) => {
  const d1 = await start('d1', cfg('d1', 150));
  await d1.waitState('VI_1', 'master');
  const before = d1.transitions('VI_1').length;
  const typo = cfg('d1', 150) + '    - { name: VI_2, interface: nosuch9, vrid: 52, advert_int: 0.1, virtual_ipaddress: [192.0.2.101/24] }\n';
  writeFileSync(d1.configFile, typo);
  const r = await request(d1.socket, { cmd: 'reload' });
  t.true(r.ok, JSON.stringify(r));
  if (r.ok) t.deepEqual((r.result as { warnings?: string[] }).warnings, ['VI_2: no interface nosuch9 on this host; the instance stays in FAULT until it appears']);
  t.like(await d1.instance('VI_2'), { state: 'fault', faultReasons: ['interface nosuch9 missing'] });
  t.like(await d1.instance('VI_1'), { state: 'master' });
  // The same file again on SIGHUP: applied as unchanged, the daemon lives on.
  d1.kill('SIGHUP');
  await waitFor(() => d1.logs.filter((l) => l.msg === 'config reloaded').length >= 2, { timeoutMs: 5000, what: 'second reload logged' });
  t.is(d1.proc.exitCode, null, 'still running');
  // The interface appears: a socket is opened on it and the instance runs (no peer there: master).
  // (This kernel has no dummy links: a veth pair, both ends up so it has carrier.)
  await lab.exec('d1', ['ip', 'link', 'add', 'nosuch9', 'type', 'veth', 'peer', 'name', 'nosuch9p']);
  t.teardown(() => lab.exec('d1', ['ip', 'link', 'del', 'nosuch9']).then(() => undefined, () => undefined));
  await lab.exec('d1', ['ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'nosuch9']);
  await lab.exec('d1', ['ip', 'link', 'set', 'nosuch9p', 'up']);
  await lab.exec('d1', ['ip', 'link', 'set', 'nosuch9', 'up']);
  const vi2 = await d1.waitState('VI_2', 'master', 3000);
  t.deepEqual(vi2.faultReasons, []);
  t.true((await lab.exec('d1', ['ip', '-4', 'addr', 'show', 'dev', 'nosuch9'])).stdout.includes('192.0.2.101/24'));
  // Fixed: VI_2 goes away with its VIP.
  writeFileSync(d1.configFile, cfg('d1', 120));
  const fixed = await request(d1.socket, { cmd: 'reload' });
  t.true(fixed.ok, JSON.stringify(fixed));
  t.like(await d1.instance('VI_1'), { state: 'master', priority: { configured: 120 } });
  t.deepEqual((await d1.status()).instances.map((i) => i.name), ['VI_1']);
  t.false((await lab.exec('d1', ['ip', '-4', 'addr', 'show', 'dev', 'nosuch9'])).stdout.includes('192.0.2.101'));
  t.is(d1.transitions('VI_1').length, before, 'VI_1 never moved');
});
