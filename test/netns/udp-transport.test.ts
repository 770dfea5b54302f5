// UDP VRRP transport (duet-to-duet) against the real kernel.
import test from 'ava';
import { createLab, type Lab } from '../../lab/netns.js';
import { startAgent, type Agent, type AgentEvent } from '../helpers/agent.js';

const root = process.getuid?.() === 0;
// Tests share the lab and its agents: one at a time, whatever the command line says.
const rootTest = root ? test.serial : test.skip;

const PORT = 51112;
const GROUP = '224.0.0.18';
let lab: Lab;
let A: Agent;
let B: Agent;
let C: Agent;

const isMsg = (name: string, dst: string, hex: string) => (e: AgentEvent) =>
  e.event === 'message' && e.name === name && (e.rinfo as { dst: string }).dst === dst && e.hex === hex;

if (root) {
  test.before(async () => {
    lab = await createLab('dt2', [
      { name: 'a', addr: '192.0.2.11' },
      { name: 'b', addr: '192.0.2.12' },
      { name: 'c', addr: '192.0.2.13' },
    ]);
    [A, B, C] = await Promise.all([startAgent(lab, 'a'), startAgent(lab, 'b'), startAgent(lab, 'c')]);
    const open = (ag: Agent, h: string) =>
      ag.call('udp.open', { name: 't', ifname: lab.host(h).ifname, srcAddress: lab.host(h).addr, port: PORT });
    await Promise.all([open(A, 'a'), open(B, 'b'), C.call('sniff.open', { ifname: lab.host('c').ifname, protocol: 17 })]);
  });
  test.after.always(async () => {
    await Promise.all([A?.stop(), B?.stop(), C?.stop()]);
    await lab?.destroy();
  });
}

rootTest('multicast: delivered with source, group and interface; TTL 255 on the wire; no loopback', async (t) => {
  const hex = '3133960100' + '0ad3c1c0000264';
  await A.call('send', { name: 't', hex, dst: GROUP });
  const m = await B.waitEvent(isMsg('t', GROUP, hex), 1000, 'multicast datagram');
  // ttl is undefined (UDP cannot see it), so it is absent from the JSON line
  t.deepEqual(m.rinfo, { address: '192.0.2.11', family: 'IPv4', dst: GROUP, ifname: lab.host('b').ifname });
  const s = await C.waitEvent((e) => e.event === 'sniff' && (e.hex as string).endsWith(hex), 1000, 'sniffed datagram');
  const ip = Buffer.from(s.hex as string, 'hex');
  t.is(ip[8], 255, 'multicast TTL');
  t.is(ip.readUInt16BE(22), PORT, 'destination port');
  t.false(A.events.some((e) => e.event === 'message'), 'the sender does not hear itself');
});

rootTest('unicast: delivered with dst = our address, TTL 255 on the wire', async (t) => {
  const hex = 'aa'.repeat(12);
  await A.call('send', { name: 't', hex, dst: '192.0.2.12' });
  const m = await B.waitEvent(isMsg('t', '192.0.2.12', hex), 1000, 'unicast datagram');
  t.is((m.rinfo as { address: string }).address, '192.0.2.11');
  // and the TTL on the wire, seen by C's sniffer on a datagram addressed to C:
  await C.call('udp.open', { name: 'u', ifname: lab.host('c').ifname, srcAddress: '192.0.2.13', port: PORT });
  const hex2 = 'ab'.repeat(12);
  await A.call('send', { name: 't', hex: hex2, dst: '192.0.2.13' });
  await C.waitEvent(isMsg('u', '192.0.2.13', hex2), 1000);
  const s = await C.waitEvent((e) => e.event === 'sniff' && (e.hex as string).endsWith(hex2), 1000, 'sniffed unicast');
  t.is(Buffer.from(s.hex as string, 'hex')[8], 255, 'unicast TTL');
  await C.call('close', { name: 'u' });
});

rootTest('another group and port; unicast-only transports ignore the group', async (t) => {
  const port = PORT + 1;
  const group = '239.1.2.3';
  await A.call('udp.open', { name: 'g', ifname: lab.host('a').ifname, srcAddress: '192.0.2.11', port, multicastGroup: group });
  await B.call('udp.open', { name: 'g', ifname: lab.host('b').ifname, srcAddress: '192.0.2.12', port, multicastGroup: group });
  await C.call('udp.open', { name: 'g', ifname: lab.host('c').ifname, srcAddress: '192.0.2.13', port, multicastGroup: group, multicast: false });
  const hex = 'cc'.repeat(8);
  await A.call('send', { name: 'g', hex, dst: group });
  await B.waitEvent(isMsg('g', group, hex), 1000, 'datagram to 239.1.2.3');
  const marker = 'cd'.repeat(8);
  await A.call('send', { name: 'g', hex: marker, dst: '192.0.2.13' });
  await C.waitEvent(isMsg('g', '192.0.2.13', marker), 1000);
  t.false(C.events.some((e) => e.name === 'g' && (e.rinfo as { dst: string }).dst === group));
  await Promise.all([A.call('close', { name: 'g' }), B.call('close', { name: 'g' }), C.call('close', { name: 'g' })]);
});

rootTest('setup failures are IoErrors naming the step', async (t) => {
  const e1 = await t.throwsAsync(A.call('udp.open', { name: 'x', ifname: lab.host('a').ifname, srcAddress: '192.0.2.99', port: PORT }));
  t.is((e1 as { code?: string }).code, 'DUET_E_IO');
  t.regex(e1!.message, /bind 192\.0\.2\.99:51112.*EADDRNOTAVAIL/);
  const e2 = await t.throwsAsync(A.call('udp.open', { name: 'y', ifname: lab.host('a').ifname, srcAddress: '192.0.2.11', port: PORT }));
  t.is((e2 as { code?: string }).code, 'DUET_E_IO');
  t.regex(e2!.message, /EADDRINUSE/);
  t.false(A.events.some((e) => e.event === 'uncaught' || e.event === 'error'));
});
