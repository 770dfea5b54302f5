// VrrpInstance on a fake clock and an in-memory transport: the wiring between FSM, codec,
// receive checks, VIP sequencing and counters, without sockets.
import test from 'ava';
import { MemTransport } from '../fakes/mem-transport.js';
import { pino } from 'pino';
import { FakeClock } from '../fakes/fake-clock.js';
import { VrrpInstance, type InstanceSettings } from '../../src/vrrp/instance.js';
import { encodeAdvert, decodeAdvert } from '../../src/vrrp/codec.js';
import type { VrrpTransport, TransportRinfo } from '../../src/vrrp/transport.js';
import type { Advert } from '../../src/vrrp/types.js';

function setup(o: Partial<InstanceSettings> = {}) {
  const clock = new FakeClock();
  const transport = new MemTransport();
  const vipOps: string[] = [];
  const warnings: unknown[] = [];
  const log = pino({ level: 'silent' });
  log.warn = ((obj: unknown) => { warnings.push(obj); }) as typeof log.warn;
  let announced = 0;
  const reannounced: number[] = [];
  let reannounceCancelled = 0;
  const inst = new VrrpInstance({
    name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, family: 4, priority: 100, adverIntCs: 10,
    preempt: true, preemptDelayMs: 0, authType: 0, authPassword: undefined, vipAddresses: ['192.0.2.100'],
    unicastPeers: [], checksumPseudoHeader: true, checkTtl: true, lenientAddressList: false, ...o,
  }, {
    clock, log, transport: transport as unknown as VrrpTransport,
    vips: async (op) => { vipOps.push(op); },
    announce: () => { announced++; return () => {}; },
    reannounce: () => { reannounced.push(clock.now()); return () => { reannounceCancelled++; }; },
    notify: () => {},
  });
  const rinfo = (src = '192.0.2.12', ttl = 255): TransportRinfo => ({ address: src, family: 'IPv4', dst: '224.0.0.18', ifname: 'eth0', ttl });
  const advert = (priority: number, src = '192.0.2.12', extra: Partial<Advert> = {}) =>
    Buffer.from(encodeAdvert({ version: 3, vrid: 51, priority, maxAdverIntCs: 10, addresses: ['192.0.2.100'], ...extra }, { family: 4, src, dst: '224.0.0.18' }));
  return { clock, transport, vipOps, warnings, inst, rinfo, advert, announced: () => announced, reannounced, reannounceCancelled: () => reannounceCancelled };
}

const flush = () => new Promise((r) => setImmediate(r));

test('becomes master after Master_Down_Interval and sends well-formed adverts to the group', async (t) => {
  const s = setup();
  s.inst.start();
  // 3 x 100 ms + Skew_Time (priority 100: 156/256 x 100 ms = 60.9375 ms, 60.937 to the µs).
  t.is(s.inst.vrrp.masterDownDeadline, 360.937);
  s.clock.advance(360.9);
  t.is(s.inst.state, 'backup');
  s.clock.advance(0.1);
  t.is(s.inst.state, 'master');
  s.clock.advance(300);
  await flush();
  t.is(s.transport.sent.length, 4, 'one on entry, then every 100 ms');
  for (const p of s.transport.sent) {
    t.is(p.dst, '224.0.0.18');
    const d = decodeAdvert(p.bytes, { family: 4, src: '192.0.2.11', dst: '224.0.0.18' });
    t.true(d.ok);
    if (d.ok) t.like(d.value, { version: 3, vrid: 51, priority: 100, maxAdverIntCs: 10, addresses: ['192.0.2.100'] });
  }
  t.deepEqual(s.vipOps, ['del', 'add'], 'stale VIPs cleared at startup, added on master');
  t.is(s.announced(), 1, 'announced once the VIPs were in place');
  t.is(s.inst.counters.advertsSent, 4);
});

test('a higher-priority advert makes the master yield and drop its VIPs', async (t) => {
  const s = setup();
  s.inst.start();
  s.clock.advance(400);
  s.inst.receive(s.advert(200), s.rinfo());
  await flush();
  t.is(s.inst.state, 'backup');
  t.deepEqual(s.vipOps, ['del', 'add', 'del']);
  t.is(s.inst.status().masterAddress, '192.0.2.12');
  t.is(s.inst.counters.advertsReceived, 1);
});

test('a lower-priority advert: the master sends its advert and re-announces in the same turn; leaving master cancels the re-announcement', async (t) => {
  const s = setup();
  s.inst.start();
  s.clock.advance(1000);
  t.is(s.inst.state, 'master');
  const sent = s.transport.sent.length;
  s.inst.receive(s.advert(50), s.rinfo());
  t.deepEqual(s.reannounced, [1000], 'announced at once');
  t.is(s.transport.sent.length, sent + 1, 'and our advert handed to the transport in the same call');
  s.inst.receive(s.advert(50), s.rinfo());
  t.deepEqual(s.reannounced, [1000], 'not again within the advert interval');
  s.inst.receive(s.advert(200), s.rinfo());
  await flush();
  t.is(s.inst.state, 'backup');
  t.is(s.reannounceCancelled(), 1, 'the delayed burst is cancelled with the VIPs');
});

test('an expired Master_Down_Timer first reads the adverts waiting in the socket: one there keeps us backup', (t) => {
  const s = setup();
  s.transport.on('message', (m: Buffer, r: TransportRinfo) => s.inst.receive(m, r));
  s.inst.start();
  s.inst.receive(s.advert(150), s.rinfo());
  t.is(s.inst.state, 'backup');
  // A slow turn: the master's next advert arrived in time (at 100 ms) but is still unread when
  // the timer fires at 360.937 ms.
  s.transport.waiting.push({ msg: s.advert(150), src: '192.0.2.12' });
  s.clock.advance(361);
  t.is(s.transport.drains, 1, 'drained when the timer ran out');
  t.is(s.inst.state, 'backup', 'the waiting advert restarted the timer');
  t.is(s.inst.counters.advertsReceived, 2);
  t.true(s.inst.vrrp.masterDownDeadline! > 361);
  // Nothing waiting: the timer's expiry makes us master, as before.
  s.clock.advance(400);
  t.is(s.transport.drains, 2);
  t.is(s.inst.state, 'master');
  // A master's advert timer does not drain.
  s.clock.advance(300);
  t.is(s.transport.drains, 2);
});

test('bad packets are counted by reason, cause no transition, and their warnings are rate-limited', (t) => {
  const s = setup();
  s.inst.start();
  s.inst.receive(s.advert(200), s.rinfo());
  const good = s.advert(200);
  const badSum = Buffer.from(good); badSum[7]! ^= 0xff;
  for (let i = 0; i < 50; i++) s.inst.receive(badSum, s.rinfo());
  s.inst.receive(good, s.rinfo('192.0.2.12', 64));
  s.inst.receive(good.subarray(0, 5), s.rinfo());
  s.inst.receive(s.advert(200, '192.0.2.11'), s.rinfo('192.0.2.11'));
  t.deepEqual(s.inst.counters.dropped, { checksum: 50, ttl: 1, short: 1, own: 1 });
  t.is(s.inst.counters.advertsReceived, 1);
  t.is(s.inst.state, 'backup');
  t.is(s.inst.status().counters.transitions, 1, 'only init -> backup');
  t.is(s.warnings.length, 4, 'one warning per reason within the window, not 53');
  s.clock.advance(10_000);
  s.inst.receive(good, s.rinfo());  // keeps us backup
  s.inst.receive(badSum, s.rinfo());
  t.is(s.warnings.length, 5);
  t.like(s.warnings.at(-1) as object, { reason: 'checksum', suppressed: 49 });
});

test('v3 address-list mismatch: dropped by default (counted); with lenientAddressList logged and accepted; stop sends priority 0 and removes VIPs', async (t) => {
  const strict = setup();
  strict.inst.start();
  strict.inst.receive(strict.advert(200, '192.0.2.12', { addresses: ['192.0.2.200'] }), strict.rinfo());
  t.deepEqual(strict.inst.counters.dropped, { 'address-list': 1 });
  t.is(strict.inst.counters.advertsReceived, 0);
  const s = setup({ lenientAddressList: true });
  s.inst.start();
  s.inst.receive(s.advert(200, '192.0.2.12', { addresses: ['192.0.2.200'] }), s.rinfo());
  t.is(s.inst.counters.addressMismatch, 1);
  t.is(s.inst.counters.advertsReceived, 1);
  s.clock.advance(1000);
  t.is(s.inst.state, 'master');
  await flush();
  s.transport.sent = [];
  const ops = s.vipOps.length;
  const stopped = s.inst.stop();
  const d = decodeAdvert(s.transport.sent[0]!.bytes, { family: 4, src: '192.0.2.11', dst: '224.0.0.18' });
  t.true(d.ok && d.value.priority === 0);
  await flush();
  t.is(s.vipOps.length, ops, 'make-before-break: the VIPs stay until the new master shows itself');
  s.clock.advance(50);
  s.inst.receive(s.advert(100, '192.0.2.12', { addresses: ['192.0.2.200'] }), s.rinfo());
  await stopped;
  t.is(s.vipOps.at(-1), 'del');
  t.is(s.inst.state, 'init');
});

test('unicast peers get one advert each; v2 carries auth and whole seconds', async (t) => {
  const s = setup({ version: 2, adverIntCs: 100, authType: 1, authPassword: 'secret', unicastPeers: ['192.0.2.12', '192.0.2.13'], checksumPseudoHeader: false });
  s.inst.start();
  s.clock.advance(4000);
  await flush();
  t.is(s.inst.state, 'master');
  t.deepEqual(s.transport.sent.slice(0, 2).map((p) => p.dst), ['192.0.2.12', '192.0.2.13']);
  const d = decodeAdvert(s.transport.sent[0]!.bytes, { family: 4, src: '192.0.2.11', dst: '192.0.2.12' });
  t.true(d.ok);
  if (d.ok) t.like(d.value, { version: 2, maxAdverIntCs: 100, authType: 1, authData: 'secret' });
});

test('status (what `duet status` shows of an instance) never carries the v2 password, also after a wrong one was received', async (t) => {
  const s = setup({ version: 2, adverIntCs: 100, authType: 1, authPassword: 's3cr3t!', checksumPseudoHeader: false });
  s.inst.start();
  s.inst.receive(Buffer.from(encodeAdvert({ version: 2, vrid: 51, priority: 200, maxAdverIntCs: 100, authType: 1, authData: 'other!!', addresses: ['192.0.2.100'] }, { family: 4, src: '192.0.2.12', dst: '224.0.0.18' })), s.rinfo());
  s.clock.advance(4000);
  await flush();
  t.is(s.inst.state, 'master');
  t.is(s.inst.status().counters.dropped.auth, 1);
  t.false(/s3cr3t!|other!!/.test(JSON.stringify(s.inst.status())));
});

// The takeover is the VIP: its add goes to the platform in the call that ran the expired
// Master_Down_Timer, before the advert, the transition's log line and its event; the notify
// hook and the announcements wait for the add to finish.
test('takeover: the VIP add is requested first, in the timer call itself; log, event, notify and GARP after', async (t) => {
  const clock = new FakeClock();
  const transport = new MemTransport();
  const order: string[] = [];
  const log = pino({ level: 'silent' });
  log.info = ((_o: unknown, msg?: string) => { order.push(`log:${msg}`); }) as typeof log.info;
  let finishAdd: () => void = () => {};
  const inst = new VrrpInstance({
    name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, family: 4, priority: 100, adverIntCs: 10,
    preempt: true, preemptDelayMs: 0, authType: 0, authPassword: undefined, vipAddresses: ['192.0.2.100'],
    unicastPeers: [], checksumPseudoHeader: true, checkTtl: true, lenientAddressList: false,
  }, {
    clock, log, transport: { ...transport, srcAddress: transport.srcAddress, send: async (b: Uint8Array, dst: string) => { order.push('advert'); await transport.send(b, dst); } } as unknown as VrrpTransport,
    vips: (op) => { order.push(`vips:${op}`); return op === 'add' ? new Promise<void>((r) => { finishAdd = r; }) : Promise.resolve(); },
    announce: () => { order.push('garp'); return () => {}; },
    notify: (_f, to) => { order.push(`notify:${to}`); },
  });
  inst.on('transition', (e: { to: string }) => order.push(`event:${e.to}`));
  inst.start();
  await flush();
  order.length = 0;
  clock.advance(361);
  // Nothing awaited yet: what happened inside the timer's call.
  t.is(inst.state, 'master');
  t.deepEqual(order, ['vips:add', 'advert', 'log:transition', 'event:master']);
  await flush();
  t.deepEqual(order.slice(4), [], 'notify and GARP wait for the add');
  finishAdd();
  await flush();
  t.deepEqual(order.slice(4), ['garp', 'notify:master']);
});

test('only a backup\'s Master_Down_Timer is armed precise (a master\'s advert timer is not)', (t) => {
  const s = setup();
  s.inst.start();
  t.deepEqual(s.clock.pending(), [{ ms: 360.937, precise: true }]);
  s.clock.advance(361);
  t.is(s.inst.state, 'master');
  t.deepEqual(s.clock.pending(), [{ ms: 460.937, precise: false }]);
});
