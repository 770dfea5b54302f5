// udp_auth's codec (seal/open), counters, replay window and key-file parser; then the same through
// a VrrpInstance on an in-memory transport: forged, tampered, replayed and reordered adverts are
// dropped and counted, never a transition; keys rotate without one; a restarted sender is heard.
import test from 'ava';
import { pino } from 'pino';
import { AdvertAuth, CounterSource, ReplayWindow, TRAILER_LEN, counterMs, open, parseKeyFile, readTrailer, seal, type AuthKey } from '../../src/vrrp/udp-auth.js';
import { VrrpInstance, type InstanceSettings } from '../../src/vrrp/instance.js';
import { encodeAdvert } from '../../src/vrrp/codec.js';
import type { VrrpTransport } from '../../src/vrrp/transport.js';
import { MemTransport } from '../fakes/mem-transport.js';
import { FakeClock } from '../fakes/fake-clock.js';

const K7: AuthKey = { id: 7, secret: new Uint8Array([...Array(32).keys()]) };
const K9: AuthKey = { id: 9, secret: new Uint8Array(32).fill(0x5a) };
const CTX = { src: '192.0.2.11', dst: '192.0.2.12', port: 1112 };
const PAYLOAD = Buffer.from('313364010000000ac0000264', 'hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// Computed outside duet, with openssl over the documented MAC input:
//   'duet-vrrp-udp-auth/1' | c000020b c000020c | 0458 | 000c | payload | 64756101 00000007 0123456789abcdef
//   openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f
const VECTOR_MAC = '1c5e63e40858551cebe28e307ee51d43decf1adaf38cc1f821664b75022a3d4c';

test('seal: payload, then magic, key id, counter and the HMAC computed independently', (t) => {
  const s = seal(PAYLOAD, CTX, K7, 0x0123456789abcdefn);
  t.is(s.length, PAYLOAD.length + TRAILER_LEN);
  t.is(hex(s), hex(PAYLOAD) + '64756101' + '00000007' + '0123456789abcdef' + VECTOR_MAC);
  const o = open(s, CTX, [K9, K7]);
  t.true(o.ok);
  if (o.ok) t.deepEqual({ payload: hex(o.value.payload), keyId: o.value.keyId, counter: o.value.counter }, { payload: hex(PAYLOAD), keyId: 7, counter: 0x0123456789abcdefn });
});

test('open: every byte of a sealed advert is covered (payload, magic, key id, counter, MAC)', (t) => {
  const s = seal(PAYLOAD, CTX, K7, 42n);
  const reasons = new Map<string, number>();
  for (let n = 0; n < s.length; n++) {
    const bad = Uint8Array.from(s);
    bad[n]! ^= 0x01;
    const o = open(bad, CTX, [K7]);
    t.false(o.ok, `byte ${n} flipped and accepted`);
    if (!o.ok) reasons.set(o.error.reason, (reasons.get(o.error.reason) ?? 0) + 1);
  }
  // magic: no trailer; key id: 7 -> another id; the rest: the MAC fails.
  t.deepEqual(Object.fromEntries(reasons), { unauthenticated: 4, 'unknown-key': 4, 'bad-mac': s.length - 8 });
});

test('open: the addresses and port are bound (no re-targeting, no other source, no other port)', (t) => {
  const s = seal(PAYLOAD, CTX, K7, 1n);
  for (const ctx of [{ ...CTX, src: '192.0.2.13' }, { ...CTX, dst: '192.0.2.13' }, { ...CTX, dst: '224.0.0.18' }, { ...CTX, port: 1113 }]) {
    const o = open(s, ctx, [K7]);
    t.like(o, { ok: false, error: { reason: 'bad-mac' } }, JSON.stringify(ctx));
  }
  t.true(open(s, CTX, [K7]).ok);
});

test('open: no trailer, truncated, a key not in the ring, a key with the right id and the wrong secret', (t) => {
  t.like(open(PAYLOAD, CTX, [K7]), { ok: false, error: { reason: 'unauthenticated' } });
  const s = seal(PAYLOAD, CTX, K7, 1n);
  t.like(open(s.subarray(0, s.length - 1), CTX, [K7]), { ok: false, error: { reason: 'unauthenticated' } });
  t.like(open(s, CTX, [K9]), { ok: false, error: { reason: 'unknown-key', detail: 'key id 7 is not in the key file (have 9)' } });
  t.like(open(s, CTX, [{ id: 7, secret: K9.secret }]), { ok: false, error: { reason: 'bad-mac' } });
  // an empty payload (only a trailer) cannot pass for an advert either
  t.like(open(s.subarray(s.length - TRAILER_LEN), CTX, [K7]), { ok: false, error: { reason: 'unauthenticated' } });
});

test('counters: from the wall clock, strictly increasing even when the clock stands still or steps back', (t) => {
  let wall = 1_700_000_000_000;
  const c = new CounterSource(() => wall);
  const a = c.next();
  t.is(counterMs(a), wall);
  const b = c.next();
  t.is(b, a + 1n, 'same millisecond: next sequence');
  wall -= 5000;
  const d = c.next();
  t.is(d, b + 1n, 'clock stepped back within a run: still increasing');
  wall += 10_000;
  t.is(counterMs(c.next()), wall);
  // A restarted sender (a new CounterSource) starts from its clock: above every counter of the
  // previous run as long as the clock did not step back past the previous run's last advert.
  const restarted = new CounterSource(() => wall + 1000);
  t.true(restarted.next() > d);
});

test('replay window: strictly increasing per sender; replay, duplicate and reordering dropped; senders independent', (t) => {
  const w = new ReplayWindow();
  t.true(w.check('a', 10n).ok);
  w.accept('a', 10n);
  t.like(w.check('a', 10n), { ok: false, error: { reason: 'replayed' } });
  t.like(w.check('a', 9n), { ok: false, error: { reason: 'replayed' } });
  t.true(w.check('a', 11n).ok);
  t.true(w.check('b', 1n).ok, 'another sender has its own window');
  const small = new ReplayWindow(2);
  small.accept('a', 1n); small.accept('b', 1n); small.accept('c', 1n);
  t.is(small.size, 2, 'bounded');
});

test('AdvertAuth: a sender and a receiver; replay and reordering dropped; a restarted sender or receiver carries on', (t) => {
  let wall = 1_700_000_000_000;
  const tx = new AdvertAuth([K7], () => wall);
  const rx = new AdvertAuth([K7], () => 0);
  const p1 = tx.seal(PAYLOAD, CTX);
  const p2 = tx.seal(PAYLOAD, CTX);
  const p3 = tx.seal(PAYLOAD, CTX);
  t.true(rx.open(p1, CTX).ok);
  t.true(rx.open(p3, CTX).ok);
  t.like(rx.open(p2, CTX), { ok: false, error: { reason: 'replayed' } }, 'reordered: older than the last accepted');
  t.like(rx.open(p3, CTX), { ok: false, error: { reason: 'replayed' } }, 'duplicate');
  t.like(rx.open(p1, CTX), { ok: false, error: { reason: 'replayed' } }, 'replayed');
  // The sender restarts 2 s later: a new counter source from its clock, accepted at once.
  wall += 2000;
  const tx2 = new AdvertAuth([K7], () => wall);
  t.true(rx.open(tx2.seal(PAYLOAD, CTX), CTX).ok);
  t.like(rx.open(p3, CTX), { ok: false, error: { reason: 'replayed' } }, 'the previous run\'s adverts stay replays');
  // The receiver restarts: no state, takes the next advert as it comes (no transition storm).
  const rx2 = new AdvertAuth([K7], () => 0);
  t.true(rx2.open(tx2.seal(PAYLOAD, CTX), CTX).ok);
  // A bad MAC does not move the window: the genuine next advert is still accepted.
  const forged = tx2.seal(PAYLOAD, CTX);
  const next = tx2.seal(PAYLOAD, CTX);
  forged[3]! ^= 1;
  t.like(rx2.open(forged, CTX), { ok: false, error: { reason: 'bad-mac' } });
  t.true(rx2.open(next, CTX).ok);
});

test('AdvertAuth: rotation keeps the window; the first key signs, every key verifies', (t) => {
  const wall = 1_700_000_000_000;
  const a = new AdvertAuth([K7], () => wall);
  const b = new AdvertAuth([K7], () => wall);
  const old = a.seal(PAYLOAD, CTX);
  t.true(b.open(old, CTX).ok);
  b.setKeys([K7, K9]);
  a.setKeys([K7, K9]);
  t.is(readTrailer(a.seal(PAYLOAD, CTX))!.keyId, 7, 'added second: still signing with 7');
  a.setKeys([K9, K7]);
  const rotated = a.seal(PAYLOAD, CTX);
  t.is(readTrailer(rotated)!.keyId, 9);
  t.true(b.open(rotated, CTX).ok);
  t.like(b.open(old, CTX), { ok: false, error: { reason: 'replayed' } }, 'the window survived setKeys');
  b.setKeys([K9]);
  t.like(b.open(seal(PAYLOAD, CTX, K7, 1n << 62n), CTX), { ok: false, error: { reason: 'unknown-key' } }, 'a removed key is refused');
});

test('parseKeyFile: ids, hex and base64 secrets, comments; errors give lines, never secrets', (t) => {
  const secretHex = '00112233445566778899aabbccddeeff';
  const b64 = Buffer.from(new Uint8Array(24).fill(7)).toString('base64');
  const r = parseKeyFile(`# keys\n\n2 ${secretHex}   # newest, signs\n1 base64:${b64}\n`);
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value.map((k) => [k.id, hex(k.secret)]), [[2, secretHex], [1, hex(new Uint8Array(24).fill(7))]]);
  const bad = parseKeyFile([
    '1 0011223344556677',            // 8 bytes
    'x 00112233445566778899aabbccddeeff',
    '3 not-a-secret-at-all-zzzzzzzzzzzzzz',
    '4',
    `5 ${secretHex}`,
    `5 ${secretHex}`,
    '0 00112233445566778899aabbccddeeff',
    '4294967296 00112233445566778899aabbccddeeff',
    '6 0011223',                      // odd hex
  ].join('\n'));
  t.false(bad.ok);
  if (!bad.ok) {
    t.deepEqual(bad.error, [
      'line 1: key 1: the secret is 8 bytes, at least 16 are needed',
      'line 2: key id must be a whole number 1..4294967295',
      'line 3: key 3: the secret is neither hex nor base64:...',
      "line 4: expected 'ID SECRET' (2 fields), got 1",
      'line 6: key id 5 is already on line 5',
      'line 7: key id must be a whole number 1..4294967295',
      'line 8: key id must be a whole number 1..4294967295',
      'line 9: key 6: the secret is neither hex nor base64:...',
    ]);
    for (const e of bad.error) t.false(e.includes('0011') || e.includes('zzzz'), e);
  }
  t.deepEqual(parseKeyFile('# nothing\n\n'), { ok: false, error: ['no keys (expected lines of ID SECRET)'] });
});

// ---------------------------------------------------------------------------------------------
// Through a VrrpInstance (unicast over UDP, the peer at .12; we are .11)

const PEER = '192.0.2.12';
const ME = '192.0.2.11';

function setup(keys: AuthKey[] = [K7], o: Partial<InstanceSettings> = {}) {
  const clock = new FakeClock();
  let wall = 1_700_000_000_000;
  const transport = new MemTransport(ME);
  const log = pino({ level: 'silent' });
  const warnings: Record<string, unknown>[] = [];
  log.warn = ((obj: Record<string, unknown>) => { warnings.push(obj); }) as typeof log.warn;
  const settings: InstanceSettings = {
    name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, family: 4, priority: 100, adverIntCs: 10,
    preempt: true, preemptDelayMs: 0, authType: 0, authPassword: undefined, vipAddresses: ['192.0.2.100'],
    unicastPeers: [PEER], checksumPseudoHeader: true, checkTtl: false, lenientAddressList: false,
    udpAuth: { keys, port: 1112 }, ...o,
  };
  const inst = new VrrpInstance(settings, {
    clock, log, transport: transport as unknown as VrrpTransport, vips: async () => {}, announce: () => () => {}, notify: () => {}, wallNow: () => wall,
  });
  // The peer's side: its own counter source (its clock), sealing for ME.
  let peer = new AdvertAuth(keys, () => wall);
  const advert = (priority: number) => encodeAdvert({ version: 3, vrid: 51, priority, maxAdverIntCs: 10, addresses: ['192.0.2.100'] }, { family: 4, src: PEER, dst: ME });
  const fromPeer = (priority: number) => peer.seal(advert(priority), { src: PEER, dst: ME, port: 1112 });
  return {
    clock, transport, inst, warnings, settings, advert, fromPeer,
    deliver: (b: Uint8Array) => inst.receive(b, { address: PEER, family: 'IPv4', dst: ME, ifname: 'eth0', ttl: undefined }),
    restartPeer: (ms: number, k = keys) => { wall += ms; peer = new AdvertAuth(k, () => wall); },
    tick: (ms: number) => { wall += ms; clock.advance(ms); },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

test('instance: what it sends is sealed for each peer and opens with the peer\'s key ring', async (t) => {
  const s = setup();
  s.inst.start();
  s.tick(600);
  await flush();
  t.is(s.inst.state, 'master');
  t.true(s.transport.sent.length >= 2);
  const rx = new AdvertAuth([K9, K7], () => 0);
  for (const p of s.transport.sent) t.like(rx.open(p.bytes, { src: ME, dst: p.dst, port: 1112 }), { ok: true }, p.dst);
});

test('instance: forged (no trailer, bad MAC, unknown key) priority-254 adverts are dropped and counted; no transition', async (t) => {
  const s = setup();
  s.inst.start();
  s.tick(400);
  t.is(s.inst.state, 'master');
  s.deliver(s.advert(254));
  const badMac = s.fromPeer(254); badMac[5]! ^= 0x40;
  s.deliver(badMac);
  s.deliver(seal(s.advert(254), { src: PEER, dst: ME, port: 1112 }, K9, 1n << 60n));
  t.is(s.inst.state, 'master');
  t.deepEqual(s.inst.counters.dropped, { unauthenticated: 1, 'bad-mac': 1, 'unknown-key': 1 });
  t.is(s.inst.counters.transitions, 2, 'init -> backup -> master only');
  t.true(s.warnings.some((w) => w['reason'] === 'bad-mac'));
  // Control: the genuine 254 advert demotes us.
  s.deliver(s.fromPeer(254));
  t.is(s.inst.state, 'backup');
});

test('instance: a replayed genuine advert is dropped; a restarted peer is heard at once', async (t) => {
  const s = setup();
  s.inst.start();
  const hi = s.fromPeer(200);
  s.deliver(hi);
  t.is(s.inst.state, 'backup');
  const release = s.fromPeer(0);
  s.deliver(release);
  s.tick(100);
  t.is(s.inst.state, 'master', 'the peer released');
  s.deliver(hi);
  t.is(s.inst.state, 'master', 'the replay of its priority-200 advert did nothing');
  t.is(s.inst.counters.dropped.replayed, 1);
  // The peer restarts (a new process, a new counter source) a second later: heard at once.
  s.restartPeer(1000);
  s.deliver(s.fromPeer(200));
  t.is(s.inst.state, 'backup');
  t.is(s.inst.counters.dropped.replayed, 1);
});

test('instance: key rotation by reconfigure (add, switch, remove) keeps state and window; no transition', async (t) => {
  const s = setup([K7]);
  s.inst.start();
  s.deliver(s.fromPeer(200));
  t.is(s.inst.state, 'backup');
  const before = s.inst.counters.transitions;
  const old = s.fromPeer(200);
  s.inst.reconfigure({ ...s.settings, udpAuth: { keys: [K7, K9], port: 1112 } });
  s.restartPeer(10, [K9, K7]);      // the peer switched to K9
  for (let n = 0; n < 5; n++) { s.deliver(s.fromPeer(200)); s.tick(100); }
  s.inst.reconfigure({ ...s.settings, udpAuth: { keys: [K9], port: 1112 } });
  for (let n = 0; n < 5; n++) { s.deliver(s.fromPeer(200)); s.tick(100); }
  t.is(s.inst.state, 'backup');
  t.is(s.inst.counters.transitions, before);
  t.deepEqual(s.inst.counters.dropped, {});
  s.deliver(old);
  t.like(s.inst.counters.dropped, { 'unknown-key': 1 }, 'K7 removed');
  // and what we send is signed with the new first key
  s.inst.force('master', 'operator');
  await flush();
  t.is(readTrailer(s.transport.sent.at(-1)!.bytes)!.keyId, 9);
});

test('instance without udp_auth: an authenticated advert is dropped as unexpected-auth', (t) => {
  const s = setup([K7], { udpAuth: undefined });
  s.inst.start();
  s.deliver(s.fromPeer(254));
  t.deepEqual(s.inst.counters.dropped, { 'unexpected-auth': 1 });
});
