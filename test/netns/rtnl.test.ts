// rtnetlink adapter against the real kernel, in a namespace.
import test from 'ava';
import { createLab, run, waitFor, type Lab } from '../../lab/netns.js';
import { startAgent, type Agent, type AgentEvent } from '../helpers/agent.js';
import type { AddressInfo, LinkEvent, LinkInfo } from '../../src/netlink/rtnl.js';

const root = process.getuid?.() === 0;
// Tests share the lab and its agents: one at a time, whatever the command line says.
const rootTest = root ? test.serial : test.skip;

let lab: Lab;
let A: Agent;
let dev: string;

const ipAddrs = async (): Promise<string[]> => {
  const { stdout } = await lab.exec('a', ['ip', '-j', 'addr', 'show', 'dev', dev]);
  const [l] = JSON.parse(stdout) as { addr_info: { local: string; prefixlen: number; label?: string }[] }[];
  return l!.addr_info.map((a) => `${a.local}/${a.prefixlen}${a.label && a.label !== dev ? ` ${a.label}` : ''}`);
};

if (root) {
  test.before(async () => {
    lab = await createLab('dt3', [
      { name: 'a', addr: '192.0.2.11', addr6: '2001:db8::11' },
      { name: 'b', addr: '192.0.2.12', addr6: '2001:db8::12' },
    ]);
    dev = lab.host('a').ifname;
    A = await startAgent(lab, 'a');
  });
  test.after.always(async () => {
    await A?.stop();
    await lab?.destroy();
  });
}

rootTest('routes in a BGP export table: add and delete idempotent, IPv4 and IPv6, a table above 255', async (t) => {
  const routes = async (family: '-4' | '-6', table: number): Promise<string[]> => {
    const { stdout } = await lab.exec('a', ['ip', family, '-j', 'route', 'show', 'table', String(table)]);
    return (JSON.parse(stdout || '[]') as { dst: string; dev: string; protocol: string }[]).map((r) => `${r.dst} ${r.dev} ${r.protocol}`);
  };
  for (let i = 0; i < 2; i++) {
    await A.call('rtnl.addRoute', { table: 100, ifname: 'lo', address: '198.51.100.10', prefixLen: 32 });
    await A.call('rtnl.addRoute', { table: 1000, ifname: 'lo', address: '198.51.100.11', prefixLen: 32 });
    await A.call('rtnl.addRoute', { table: 100, ifname: 'lo', address: '2001:db8:100::10', prefixLen: 128 });
  }
  t.deepEqual(await routes('-4', 100), ['198.51.100.10 lo static']);
  t.deepEqual(await routes('-4', 1000), ['198.51.100.11 lo static']);
  t.deepEqual(await routes('-6', 100), ['2001:db8:100::10 lo static']);
  t.deepEqual(await routes('-4', 254).then((r) => r.filter((x) => x.startsWith('198.51.100.'))), [], 'nothing in main');
  for (let i = 0; i < 2; i++) {
    // A route of scope link is deleted too (the delete matches any scope, as `ip route del`).
    await A.call('rtnl.delRoute', { table: 100, address: '198.51.100.10', prefixLen: 32 });
    await A.call('rtnl.delRoute', { table: 1000, address: '198.51.100.11', prefixLen: 32 });
    await A.call('rtnl.delRoute', { table: 100, address: '2001:db8:100::10', prefixLen: 128 });
  }
  t.deepEqual([...await routes('-4', 100), ...await routes('-4', 1000), ...await routes('-6', 100)], []);
});

rootTest('IPv4: add (idempotent), list, delete (idempotent)', async (t) => {
  await A.call('rtnl.add', { ifname: dev, address: '192.0.2.100', prefixLen: 24, label: `${dev}:vip` });
  await A.call('rtnl.add', { ifname: dev, address: '192.0.2.100', prefixLen: 24, label: `${dev}:vip` });
  await A.call('rtnl.add', { ifname: dev, address: '192.0.2.101', prefixLen: 32 });
  t.deepEqual((await ipAddrs()).filter((x) => x.startsWith('192.')).sort(), [
    '192.0.2.101/32',
    '192.0.2.11/24',
    `192.0.2.100/24 ${dev}:vip`,
  ].sort());
  const listed = await A.call<AddressInfo[]>('rtnl.list', { ifname: dev });
  const vip = listed.find((a) => a.address === '192.0.2.100');
  t.like(vip, { ifname: dev, family: 4, prefixLen: 24, label: `${dev}:vip`, secondary: true });
  t.like(listed.find((a) => a.address === '192.0.2.11'), { secondary: false, prefixLen: 24 });
  t.like(listed.find((a) => a.address === '192.0.2.101'), { secondary: false, prefixLen: 32 });
  const all = await A.call<AddressInfo[]>('rtnl.list');
  t.true(all.some((a) => a.ifname === 'lo' && a.address === '127.0.0.1'));

  await A.call('rtnl.del', { ifname: dev, address: '192.0.2.100', prefixLen: 24 });
  await A.call('rtnl.del', { ifname: dev, address: '192.0.2.100', prefixLen: 24 });
  await A.call('rtnl.del', { ifname: dev, address: '192.0.2.101', prefixLen: 32 });
  t.deepEqual(await ipAddrs().then((a) => a.filter((x) => x.startsWith('192.'))), ['192.0.2.11/24']);
});

rootTest('IPv6: add without DAD (usable at once), list, delete', async (t) => {
  await A.call('rtnl.add', { ifname: dev, address: '2001:db8::100', prefixLen: 64 });
  await A.call('rtnl.add', { ifname: dev, address: '2001:DB8:0:0::100', prefixLen: 64 });
  const listed = await A.call<AddressInfo[]>('rtnl.list', { ifname: dev });
  t.like(listed.find((a) => a.address === '2001:db8::100'), { family: 6, prefixLen: 64, tentative: false, dadFailed: false });
  t.true((await ipAddrs()).includes('2001:db8::100/64'));
  await A.call('rtnl.del', { ifname: dev, address: '2001:db8::100', prefixLen: 64 });
  await A.call('rtnl.del', { ifname: dev, address: '2001:db8::100', prefixLen: 64 });
  t.false((await ipAddrs()).includes('2001:db8::100/64'));
});

rootTest('concurrent requests on one Rtnl are queued, not interleaved', async (t) => {
  const r = await A.call<{ listed: string[]; left: string[] }>('rtnl.burst', { ifname: dev, count: 20 }, 10_000);
  t.is(r.listed.filter((x) => x.startsWith('198.18.')).length, 20);
  t.deepEqual(r.left.filter((x) => x.startsWith('198.18.')), []);
});

rootTest('failures are IoErrors naming the exact object', async (t) => {
  const e1 = await t.throwsAsync(A.call('rtnl.add', { ifname: 'nosuch0', address: '192.0.2.100', prefixLen: 24 }));
  t.is((e1 as { code?: string }).code, 'DUET_E_IO');
  t.regex(e1!.message, /rtnl add 192\.0\.2\.100\/24 dev nosuch0: ENODEV/);
  const e2 = await t.throwsAsync(A.call('rtnl.add', { ifname: dev, address: '192.0.2.100', prefixLen: 33 }));
  t.is((e2 as { code?: string }).code, 'DUET_E_IO');
  t.regex(e2!.message, new RegExp(`rtnl add 192\\.0\\.2\\.100/33 dev ${dev}: EINVAL`));
  const e3 = await t.throwsAsync(A.call('rtnl.getLink', { ifname: 'nosuch0' }));
  t.regex(e3!.message, /get link nosuch0: ENODEV/);
});

rootTest('getLink reports index, state and MAC', async (t) => {
  const l = await A.call<LinkInfo>('rtnl.getLink', { ifname: dev });
  const { stdout } = await lab.exec('a', ['cat', `/sys/class/net/${dev}/ifindex`]);
  t.like(l, { name: dev, index: Number(stdout), up: true, running: true, lowerUp: true, operState: 'up', mac: lab.host('a').mac });
});

// Admin state changes are notified at once. Carrier changes go through the kernel's linkwatch,
// which runs at most once a second for non-urgent devices (see linkwatch_urgent_event; a NIC,
// or a veth whose peer has the same ifindex, as here): a carrier loss within 1 s of the
// previous link event is reported up to ~1 s late, on a quiet link within milliseconds.
rootTest('link down and up are observed within 2.5 s (admin down, then carrier loss)', async (t) => {
  await A.call('rtnl.watch');
  const linkEv = (pred: (l: LinkEvent) => boolean) => (e: AgentEvent) => e.event === 'link' && pred(e.link as LinkEvent);
  const since = () => A.events.length;
  const after = (n: number, pred: (l: LinkEvent) => boolean) => (e: AgentEvent) =>
    A.events.indexOf(e) >= n && linkEv(pred)(e);

  // 1. admin down on a's own interface
  let n = since();
  let t0 = Date.now();
  await lab.exec('a', ['ip', 'link', 'set', dev, 'down']);
  let ev = await A.waitEvent(after(n, (l) => l.name === dev && !l.up && !l.running), 2500, 'admin-down event');
  t.log(`admin down seen after ${(ev.at as number) - t0} ms`);
  t.true((ev.at as number) - t0 < 2500);
  n = since();
  await lab.exec('a', ['ip', 'link', 'set', dev, 'up']);
  ev = await A.waitEvent(after(n, (l) => l.name === dev && l.up && l.running), 2000, 'up event');
  t.like(ev.link, { type: 'new', lowerUp: true, operState: 'up' });

  // 2. the bridge side goes down: carrier loss, a stays admin up. Let linkwatch's 1 s rate
  // limit lapse first (a quiet link, as a NIC usually is when its cable is pulled).
  const lastAt = () => Math.max(...A.events.filter((e) => e.event === 'link').map((e) => e.at as number));
  await waitFor(() => Date.now() - lastAt() > 1100, { timeoutMs: 3000, intervalMs: 50, what: 'quiet link' });
  n = since();
  t0 = Date.now();
  await run(['ip', '-n', lab.brNs, 'link', 'set', lab.host('a').brPort, 'down']);
  // linkwatch's rate limit is kernel-wide (link events of other namespaces count) and the bound
  // includes starting `ip`: allow 2.5 s, far below any polling interval it replaces.
  ev = await A.waitEvent(after(n, (l) => l.name === dev && l.up && !l.running), 2500, 'carrier-loss event');
  t.like(ev.link, { lowerUp: false });
  t.log(`carrier loss seen after ${(ev.at as number) - t0} ms`);
  t.true((ev.at as number) - t0 < 2500, `seen after ${(ev.at as number) - t0} ms`);
  n = since();
  await run(['ip', '-n', lab.brNs, 'link', 'set', lab.host('a').brPort, 'up']);
  await A.waitEvent(after(n, (l) => l.name === dev && l.running), 2000, 'carrier back');

  // 3. a link that disappears
  await lab.exec('a', ['ip', 'link', 'add', 'gone0', 'type', 'veth', 'peer', 'name', 'gone1']);
  n = since();
  await lab.exec('a', ['ip', 'link', 'del', 'gone0']);
  await A.waitEvent(after(n, (l) => l.type === 'del' && l.name === 'gone0'), 1000, 'del event');
  t.false(A.events.some((e) => e.event === 'link-error'));
});

// While a link watch runs the Rtnl keeps interface indexes (an address add needs no lookup
// first). A link deleted and made again under the same name has a new index: the address must
// go on the new link, whether the watch's events or a refused add (ENODEV) told the Rtnl first.
rootTest('with a link watch running, an address goes on a link made again under the same name', async (t) => {
  await A.call('rtnl.watch');
  const addrsOf = async (ifname: string): Promise<string[]> => {
    const { stdout } = await lab.exec('a', ['ip', '-j', 'addr', 'show', 'dev', ifname]);
    return (JSON.parse(stdout) as { addr_info: { local: string }[] }[])[0]!.addr_info.map((x) => x.local);
  };
  const indexOf = async (ifname: string): Promise<number> => (await A.call<LinkInfo>('rtnl.getLink', { ifname })).index;
  try {
    for (let round = 0; round < 3; round++) {
      await lab.exec('a', ['ip', 'link', 'add', 'kept0', 'type', 'veth', 'peer', 'name', 'kept1']);
      const index = await indexOf('kept0');
      await A.call('rtnl.add', { ifname: 'kept0', address: `198.18.1.${round + 1}`, prefixLen: 32 });
      t.deepEqual(await addrsOf('kept0'), [`198.18.1.${round + 1}`]);
      await A.call('rtnl.del', { ifname: 'kept0', address: `198.18.1.${round + 1}`, prefixLen: 32 });
      t.deepEqual(await addrsOf('kept0'), []);
      await lab.exec('a', ['ip', 'link', 'del', 'kept0']);
      // Made again at once: the add may race the watch's RTM_DELLINK.
      await lab.exec('a', ['ip', 'link', 'add', 'kept0', 'type', 'veth', 'peer', 'name', 'kept1']);
      await A.call('rtnl.add', { ifname: 'kept0', address: '198.18.1.100', prefixLen: 32 });
      t.deepEqual(await addrsOf('kept0'), ['198.18.1.100']);
      t.not(await indexOf('kept0'), index);
      await lab.exec('a', ['ip', 'link', 'del', 'kept0']);
    }
  } finally {
    await lab.exec('a', ['ip', 'link', 'del', 'kept0']).catch(() => undefined);
  }
});
