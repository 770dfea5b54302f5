// Gratuitous ARP and unsolicited NA move a client's neighbour entry to the new master.
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startAgent, type Agent } from '../helpers/agent.js';
import { buildGarp, buildUnsolicitedNa } from '../../src/vrrp/garp.js';
import { inetChecksum } from '../../src/vrrp/checksum.js';

const root = process.getuid?.() === 0;
// Tests share the lab and its agents: one at a time, whatever the command line says.
const rootTest = root ? test.serial : test.skip;

const VIP = '192.0.2.100';
const VIP6 = '2001:db8::100';
let lab: Lab;
let B: Agent;
let C: Agent;

/** The client's neighbour entry for addr: lladdr and state, or undefined. */
async function neigh(addr: string): Promise<{ lladdr?: string; state?: string[] } | undefined> {
  const { stdout } = await lab.exec('c', ['ip', '-j', 'neigh', 'show', addr, 'dev', lab.host('c').ifname]);
  return (JSON.parse(stdout) as { lladdr?: string; state?: string[] }[])[0];
}

if (root) {
  test.before(async () => {
    lab = await createLab('dt4', [
      { name: 'a', addr: '192.0.2.11', addr6: '2001:db8::11' },
      { name: 'b', addr: '192.0.2.12', addr6: '2001:db8::12' },
      { name: 'c', addr: '192.0.2.13', addr6: '2001:db8::13' },
    ]);
    [B, C] = await Promise.all([startAgent(lab, 'b'), startAgent(lab, 'c')]);
  });
  test.after.always(async () => {
    await Promise.all([B?.stop(), C?.stop()]);
    await lab?.destroy();
  });
}

async function moveVip(t: { is: (a: unknown, b: unknown, m?: string) => void }, vip: string, prefixLen: number, announce: () => Promise<unknown>) {
  const a = lab.host('a');
  const b = lab.host('b');
  // 1. the VIP on a; the client talks to it and learns a's MAC
  await lab.exec('a', ['ip', 'addr', 'add', `${vip}/${prefixLen}`, 'dev', a.ifname, ...(vip.includes(':') ? ['nodad'] : [])]);
  await C.call('udp.poke', { address: vip, port: 9 });
  const entryIs = (mac: string) => async () => {
    const n = await neigh(vip);
    return n?.lladdr === mac ? n : undefined;
  };
  const before = await waitFor(entryIs(a.mac), {
    timeoutMs: 2000, what: `client entry for ${vip} -> a`,
  });
  t.is(before.lladdr, a.mac);
  // 2. the VIP moves to b (through the rtnl adapter); nothing tells the client yet
  await lab.exec('a', ['ip', 'addr', 'del', `${vip}/${prefixLen}`, 'dev', a.ifname]);
  await B.call('rtnl.add', { ifname: b.ifname, address: vip, prefixLen });
  t.is((await neigh(vip))?.lladdr, a.mac, 'still a before the announcement');
  // 3. b announces; the client's entry follows within a second
  const t0 = Date.now();
  await announce();
  const after = await waitFor(entryIs(b.mac), {
    timeoutMs: 1000, intervalMs: 5, what: `client entry for ${vip} -> b`,
  });
  t.is(after.lladdr, b.mac);
  return Date.now() - t0;
}

rootTest('gratuitous ARP from the new master moves the client ARP entry', async (t) => {
  const b = lab.host('b');
  const ms = await moveVip(t, VIP, 24, () => B.call('garp.arp', { ifname: b.ifname, ipv4: VIP, mac: b.mac }));
  t.log(`ARP entry moved ${ms} ms after the GARP call`);
});

rootTest('unsolicited NA from the new master moves the client neighbour entry', async (t) => {
  const b = lab.host('b');
  const ms = await moveVip(t, VIP6, 64, () => B.call('garp.na', { ifname: b.ifname, ipv6: VIP6, mac: b.mac }));
  t.log(`neighbour entry moved ${ms} ms after the NA call`);
});

rootTest('sending on a missing interface is an IoError', async (t) => {
  const e = await t.throwsAsync(B.call('garp.arp', { ifname: 'nosuch0', ipv4: VIP, mac: lab.host('b').mac }));
  t.is((e as { code?: string }).code, 'DUET_E_IO');
  t.regex(e!.message, /gratuitous ARP for 192\.0\.2\.100 on nosuch0/);
});

// ---- pure: packet layout ----

test('GARP is an ARP request with sender = target = VIP and target hw ff:ff:ff:ff:ff:ff (as keepalived)', (t) => {
  t.is(
    buildGarp('192.0.2.100', '02:00:00:00:00:02').toString('hex'),
    '0001' + '0800' + '06' + '04' + '0001' + '020000000002' + 'c0000264' + 'ffffffffffff' + 'c0000264',
  );
});

test('unsolicited NA: IPv6 header, override flag, target, TLLA option, valid checksum', (t) => {
  const p = buildUnsolicitedNa('2001:db8::100', '02:00:00:00:00:02');
  t.is(p.length, 72);
  t.is(p.subarray(0, 8).toString('hex'), '60000000' + '0020' + '3a' + 'ff');
  t.is(p.subarray(8, 24).toString('hex'), '20010db8000000000000000000000100');
  t.is(p.subarray(24, 40).toString('hex'), 'ff020000000000000000000000000001');
  const icmp = p.subarray(40);
  t.is(icmp[0], 136);
  t.is(icmp[1], 0);
  t.is(icmp[4], 0x20, 'O set, R and S clear');
  t.is(icmp.subarray(8, 24).toString('hex'), '20010db8000000000000000000000100');
  t.is(icmp.subarray(24).toString('hex'), '0201' + '020000000002');
  const pseudo = Buffer.concat([p.subarray(8, 40), Buffer.from([0, 0, 0, 32, 0, 0, 0, 58])]);
  t.is(inetChecksum(pseudo, icmp), 0, 'checksum verifies');
  t.is(buildUnsolicitedNa('2001:db8::100', '02:00:00:00:00:02', { router: true })[44], 0xa0);
});
