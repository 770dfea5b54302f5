// garp_lower_prio_repeat against the real kernel: a backup that was master for a moment took a
// client with its gratuitous ARP, then its lower-priority advert reaches the real master (duet),
// which must answer with its advert and a GARP so the client comes back at once.
// Lab 'tm4': d1 (duet, priority 150, master), bk (the flapping backup, forged: a GARP with its
// MAC and a priority-100 advert from its address), c (the client, its ARP entry and a capture).
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, inject, type DuetNode } from '../../lab/duet-node.js';
import { captureArp, type ArpCapture } from '../../lab/lab.js';
import { startAgent, type Agent } from '../helpers/agent.js';
import { encodeIpv4Vrrp } from '../../src/vrrp/codec.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;

const VIP = '192.0.2.100';
const BK = '192.0.2.12';
let lab: Lab;
let bk: Agent;
let cl: Agent;
let arp: ArpCapture;
const nodes: DuetNode[] = [];

if (root) {
  test.before(async () => {
    lab = await createLab('tm4', [
      { name: 'd1', addr: '192.0.2.11' },
      { name: 'bk', addr: BK },
      { name: 'c', addr: '192.0.2.13' },
    ]);
    [bk, cl] = await Promise.all([startAgent(lab, 'bk'), startAgent(lab, 'c')]);
    arp = await captureArp(lab, 'c');
  });
  test.afterEach.always((t) => {
    if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
    for (const n of nodes.splice(0)) n.cleanup();
  });
  test.after.always(async () => {
    arp?.proc.kill('SIGKILL');
    await Promise.all([bk?.stop(), cl?.stop()]);
    await lab?.destroy();
  });
}

/** The client's ARP entry for the VIP (lladdr), or undefined. */
async function clientMac(): Promise<string | undefined> {
  const { stdout } = await lab.exec('c', ['ip', '-j', 'neigh', 'show', VIP, 'dev', lab.host('c').ifname]);
  return (JSON.parse(stdout) as { lladdr?: string }[])[0]?.lladdr;
}

/**
 * duet master on d1 (garp settings as given), the client on d1's MAC, then the flap: bk's GARP
 * moves the client to bk, and bk's lower-priority advert goes to the group. Returns when the
 * advert was sent (epoch ms).
 */
async function flap(garp: string): Promise<number> {
  const d1 = await startDuet(lab, 'd1', pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150 })
    .replace('garp: { master_delay: 1, master_repeat: 2 }', `garp: ${garp}`));
  nodes.push(d1);
  await d1.waitState('VI_1', 'master');
  // Past the start-up announcements (a burst now, none delayed) and the first advert interval.
  await new Promise((r) => setTimeout(r, 300));
  await cl.call('udp.poke', { address: VIP, port: 9 });
  await waitFor(async () => (await clientMac()) === lab.host('d1').mac, { timeoutMs: 2000, intervalMs: 10, what: 'client on d1' });
  await bk.call('garp.arp', { ifname: lab.host('bk').ifname, ipv4: VIP, mac: lab.host('bk').mac });
  await waitFor(async () => (await clientMac()) === lab.host('bk').mac, { timeoutMs: 2000, intervalMs: 10, what: 'client taken by bk' });
  const at = Date.now();
  const adv = encodeIpv4Vrrp({ version: 3, vrid: 51, priority: 100, maxAdverIntCs: 10, addresses: [VIP] },
    { src: BK, dst: '224.0.0.18', ttl: 255, tos: 0xc0, id: 0 }, { pseudoHeader: true });
  await inject(lab, 'bk', '224.0.0.18', [adv]);
  return at;
}

rootTest('a lower-priority advert makes the master re-announce: the client is back on its MAC at once', async (t) => {
  const at = await flap('{ master_delay: 0, master_repeat: 1, lower_prio_repeat: 2, lower_prio_delay: 0 }');
  await waitFor(async () => (await clientMac()) === lab.host('d1').mac, { timeoutMs: 1000, intervalMs: 5, what: 'client back on d1' });
  t.log(`client back on d1 ${Date.now() - at} ms after the injector started (a node process: most of it)`);
  // The GARPs after the advert are d1's (bk sent none after it): lower_prio_repeat of them.
  await waitFor(() => arp.garps.filter((g) => g.address === VIP && g.at >= at).length >= 2, { timeoutMs: 1000, intervalMs: 10, what: 'two GARPs captured' });
  await new Promise((r) => setTimeout(r, 200));
  t.is(arp.garps.filter((g) => g.address === VIP && g.at >= at).length, 2, 'one burst of lower_prio_repeat');
  const st = await nodes[0]!.instance('VI_1');
  t.is(st?.state, 'master', 'it stays master');
});

rootTest('lower_prio_repeat 0: no re-announcement, the client stays on the flapping backup', async (t) => {
  const at = await flap('{ master_delay: 0, master_repeat: 1, lower_prio_repeat: 0 }');
  await new Promise((r) => setTimeout(r, 1000));
  t.is(await clientMac(), lab.host('bk').mac);
  t.is(arp.garps.filter((g) => g.address === VIP && g.at >= at).length, 0);
});
