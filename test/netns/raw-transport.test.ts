// Raw VRRP transport against the real kernel: three hosts on a bridge, adapters in agents.
import test from 'ava';
import { createLab, type Lab } from '../../lab/netns.js';
import { startAgent, type Agent, type AgentEvent } from '../helpers/agent.js';
import { parseReceivedIpv4 } from '../../src/vrrp/raw-transport.js';
import { encodeIpv4Packet } from '../../src/vrrp/ipv4-header.js';

const root = process.getuid?.() === 0;
// Tests share the lab and its agents: one at a time, whatever the command line says.
const rootTest = root ? test.serial : test.skip;

// keepalived v3 advert, vrid 51, prio 150, 10 cs, VIP 192.0.2.100 (checksum for src .11)
const ADVERT = '31339601000ad3c1c0000264';
const GROUP = '224.0.0.18';

let lab: Lab;
let A: Agent;
let B: Agent;
let C: Agent;

const isMsg = (dst?: string, hex?: string) => (e: AgentEvent) =>
  e.event === 'message' && (dst === undefined || (e.rinfo as { dst: string }).dst === dst) && (hex === undefined || e.hex === hex);

if (root) {
  test.before(async () => {
    lab = await createLab('dt1', [
      { name: 'a', addr: '192.0.2.11' },
      { name: 'b', addr: '192.0.2.12' },
      { name: 'c', addr: '192.0.2.13' },
    ]);
    [A, B, C] = await Promise.all([startAgent(lab, 'a'), startAgent(lab, 'b'), startAgent(lab, 'c')]);
    await Promise.all([
      A.call('raw.open', { name: 't', ifname: lab.host('a').ifname, multicast: true }),
      B.call('raw.open', { name: 't', ifname: lab.host('b').ifname, multicast: true }),
      C.call('sniff.open', { ifname: lab.host('c').ifname }),
    ]);
  });
  test.after.always(async () => {
    await Promise.all([A?.stop(), B?.stop(), C?.stop()]);
    await lab?.destroy();
  });
}

rootTest('multicast advert arrives with TTL 255, source, group, interface; header as keepalived sends it', async (t) => {
  const hex = `${ADVERT}01`.slice(0, ADVERT.length); // the payload as is
  await A.call('send', { name: 't', hex, dst: GROUP });
  const m = await B.waitEvent(isMsg(GROUP, hex), 1000, 'multicast advert');
  t.deepEqual(m.rinfo, { address: '192.0.2.11', family: 'IPv4', dst: GROUP, ifname: lab.host('b').ifname, ttl: 255 });
  const s = await C.waitEvent((e) => e.event === 'sniff' && (e.hex as string).endsWith(hex), 1000, 'sniffed advert');
  const ip = Buffer.from(s.hex as string, 'hex');
  t.is(ip[0], 0x45);
  t.is(ip[1], 0xc0, 'TOS 0xc0 (network control)');
  t.is(ip[8], 255, 'TTL');
  t.is(ip[9], 112, 'protocol');
  t.is(ip.readUInt16BE(2), 20 + hex.length / 2, 'total length filled in');
  t.deepEqual([...ip.subarray(12, 20)], [192, 0, 2, 11, 224, 0, 0, 18]);
  t.false(A.events.some(isMsg()), 'the sender does not hear itself (IP_MULTICAST_LOOP 0)');
});

rootTest('an advert reaches the kernel before send() returns (not at the next poll phase)', async (t) => {
  const hex = ADVERT;
  const r = await A.call('sendInTurn', { name: 't', hex, dst: GROUP, ifname: lab.host('a').ifname }) as { inTurn: number };
  t.is(r.inTurn, 1, 'sendto ran within send()');
  await B.waitEvent(isMsg(GROUP, hex), 1000, 'the advert arrived');
});

rootTest('drain() reads the adverts waiting in the socket before it returns', async (t) => {
  const hex = ADVERT;
  const r = A.call('blockThenDrain', { name: 't', ms: 600 }) as Promise<{ drained: number }>;
  await new Promise((res) => setTimeout(res, 150));
  for (let i = 0; i < 3; i++) await B.call('send', { name: 't', hex, dst: GROUP });
  t.is((await r).drained, 3, 'all three, read in one call while the loop was still busy');
});

rootTest('unicast advert to a peer', async (t) => {
  const hex = 'aa'.repeat(8) + ADVERT;
  await A.call('send', { name: 't', hex, dst: '192.0.2.12' });
  const m = await B.waitEvent(isMsg('192.0.2.12', hex), 1000, 'unicast advert');
  t.deepEqual(m.rinfo, { address: '192.0.2.11', family: 'IPv4', dst: '192.0.2.12', ifname: lab.host('b').ifname, ttl: 255 });
});

rootTest('a packet sent with TTL 1 is reported with TTL 1, for the caller to reject', async (t) => {
  const hex = 'bb'.repeat(4) + ADVERT;
  await C.call('plain.send', { ifname: lab.host('c').ifname, hex, dst: GROUP, ttl: 1 });
  const m = await B.waitEvent(isMsg(GROUP, hex), 1000, 'TTL-1 advert');
  t.is((m.rinfo as { ttl: number }).ttl, 1);
  t.is((m.rinfo as { address: string }).address, '192.0.2.13');
});

rootTest('an explicit srcAddress is stamped on multicast and unicast packets', async (t) => {
  await lab.exec('a', ['ip', 'addr', 'add', '192.0.2.21/24', 'dev', lab.host('a').ifname]);
  const r = await A.call<{ srcAddress: string }>('raw.open', {
    name: 's', ifname: lab.host('a').ifname, multicast: true, srcAddress: '192.0.2.21',
  });
  t.is(r.srcAddress, '192.0.2.21');
  const hex1 = 'c1'.repeat(4) + ADVERT;
  const hex2 = 'c2'.repeat(4) + ADVERT;
  await A.call('send', { name: 's', hex: hex1, dst: GROUP });
  await A.call('send', { name: 's', hex: hex2, dst: '192.0.2.12' });
  const m1 = await B.waitEvent(isMsg(GROUP, hex1), 1000);
  const m2 = await B.waitEvent(isMsg('192.0.2.12', hex2), 1000);
  t.is((m1.rinfo as { address: string }).address, '192.0.2.21');
  t.is((m2.rinfo as { address: string }).address, '192.0.2.21');
  await A.call('close', { name: 's' });
});

rootTest('the default source is the primary address, not a secondary one', async (t) => {
  // a has 192.0.2.11 (primary) and, from the previous test or now, 192.0.2.21 (secondary)
  await lab.exec('a', ['ip', 'addr', 'replace', '192.0.2.21/24', 'dev', lab.host('a').ifname]);
  const r = await A.call<{ srcAddress: string }>('raw.open', { name: 'd', ifname: lab.host('a').ifname, multicast: true });
  t.is(r.srcAddress, '192.0.2.11');
  await A.call('close', { name: 'd' });
});

rootTest('multicast: false receives unicast only', async (t) => {
  await C.call('raw.open', { name: 'u', ifname: lab.host('c').ifname, multicast: false });
  const mc = 'd1'.repeat(4) + ADVERT;
  const uc = 'd2'.repeat(4) + ADVERT;
  await A.call('send', { name: 't', hex: mc, dst: GROUP });
  await A.call('send', { name: 't', hex: uc, dst: '192.0.2.13' });
  await C.waitEvent((e) => isMsg('192.0.2.13', uc)(e) && e.name === 'u', 1000, 'unicast on a non-multicast transport');
  // the multicast one was sent first and B has it: C's unicast-only transport must not
  await B.waitEvent(isMsg(GROUP, mc), 1000);
  t.false(C.events.some((e) => e.name === 'u' && isMsg(GROUP, mc)(e)));
  await C.call('close', { name: 'u' });
});

rootTest('a transport is pinned to its interface', async (t) => {
  // A second interface on b (a veth pair inside b) with its own transport sees nothing from the bridge.
  await lab.exec('b', ['sh', '-c', 'ip link add x0 type veth peer name x1 && ip addr add 198.51.100.1/24 dev x0 && ip link set x1 up && ip link set x0 up']);
  await B.call('raw.open', { name: 'dum', ifname: 'x0', multicast: true });
  const mc = 'e1'.repeat(4) + ADVERT;
  const uc = 'e2'.repeat(4) + ADVERT;
  const marker = 'e3'.repeat(4) + ADVERT;
  await A.call('send', { name: 't', hex: mc, dst: GROUP });
  await A.call('send', { name: 't', hex: uc, dst: '192.0.2.12' });
  await B.waitEvent((e) => e.name === 't' && isMsg(GROUP, mc)(e), 1000);
  await B.waitEvent((e) => e.name === 't' && isMsg('192.0.2.12', uc)(e), 1000);
  // packets reach every matching socket together; one more round trip drains the rest
  await A.call('send', { name: 't', hex: marker, dst: '192.0.2.12' });
  await B.waitEvent((e) => e.name === 't' && isMsg('192.0.2.12', marker)(e), 1000);
  t.deepEqual(B.events.filter((e) => e.name === 'dum'), [], 'nothing from the bridge on a transport bound to x0');
  await B.call('close', { name: 'dum' });
});

rootTest('I/O errors are IoErrors: missing interface, send after close, bad destination', async (t) => {
  const e1 = await t.throwsAsync(A.call('raw.open', { name: 'x', ifname: 'nosuch0', multicast: true }));
  t.is((e1 as { code?: string }).code, 'DUET_E_IO');
  t.regex(e1!.message, /nosuch0/);
  await A.call('raw.open', { name: 'y', ifname: lab.host('a').ifname, multicast: true });
  const e2 = await t.throwsAsync(A.call('send', { name: 'y', hex: ADVERT, dst: '2001:db8::1' }));
  t.is((e2 as { code?: string }).code, 'DUET_E_IO');
  // a send the kernel refuses: larger than the MTU (IP_HDRINCL packets are not fragmented)
  const e3 = await t.throwsAsync(A.call('send', { name: 'y', hex: '00'.repeat(1600), dst: '192.0.2.12' }));
  t.is((e3 as { code?: string }).code, 'DUET_E_IO');
  t.regex(e3!.message, /192\.0\.2\.12.*too long/i);
  await A.call('close', { name: 'y' });
  const e4 = await t.throwsAsync(A.call('send', { name: 'y', hex: ADVERT, dst: '192.0.2.12' }));
  t.regex(e4!.message, /no transport/); // the agent forgot it; the closed case is below
  await A.call('raw.open', { name: 'z', ifname: lab.host('a').ifname, multicast: true });
  const e5 = await t.throwsAsync(A.call('closeThenSend', { name: 'z', hex: ADVERT, dst: '192.0.2.12' }));
  t.is((e5 as { code?: string }).code, 'DUET_E_IO');
  t.regex(e5!.message, /closed/);
  t.false(A.events.some((e) => e.event === 'uncaught' || e.event === 'error'));
});

// ---- pure: what the transport does with odd packets (the kernel never delivers these) ----

test('malformed IPv4 packets become drops; other protocols are ignored', (t) => {
  const good = encodeIpv4Packet(
    { tos: 0xc0, id: 1, ttl: 255, protocol: 112, src: '192.0.2.11', dst: GROUP },
    Buffer.from(ADVERT, 'hex'),
  );
  const ok = parseReceivedIpv4(Buffer.from(good), '192.0.2.11', 'eth0');
  t.is(ok.kind, 'message');
  if (ok.kind === 'message') t.is(ok.payload.toString('hex'), ADVERT);

  const short = parseReceivedIpv4(Buffer.from(good.subarray(0, 12)), '192.0.2.11', 'eth0');
  t.like(short, { kind: 'drop', drop: { reason: 'short', address: '192.0.2.11' } });

  const truncated = Buffer.from(good.subarray(0, good.length - 2));
  t.like(parseReceivedIpv4(truncated, '192.0.2.11', 'eth0'), { kind: 'drop', drop: { reason: 'ip-header' } });

  const v6 = Buffer.from(good);
  v6[0] = 0x65;
  t.like(parseReceivedIpv4(v6, '192.0.2.11', 'eth0'), { kind: 'drop', drop: { reason: 'ip-header' } });

  const udp = Buffer.from(good);
  udp[9] = 17;
  t.deepEqual(parseReceivedIpv4(udp, '192.0.2.11', 'eth0'), { kind: 'ignore' });
});
