// VRRP codec: spec vectors drive decode and byte-exact re-encode; fast-check drives round-trips
// and the never-throw property; test/corpus/vrrp is replayed.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeAdvert, decodeIpv4Vrrp, encodeAdvert, encodeIpv4Vrrp, advertLength, type CodecOptions,
} from '../../src/vrrp/codec.js';
import { decodeIpv4Header } from '../../src/vrrp/ipv4-header.js';
import { inetChecksum } from '../../src/vrrp/checksum.js';
import { canonicalAddr, formatIpv6, parseIpv4, parseIpv6 } from '../../src/core/addr.js';
import type { Advert, Family, ReceivedAdvert, RejectReason } from '../../src/vrrp/types.js';
import type { Result } from '../../src/core/result.js';

// ---------------------------------------------------------------------------------------------
// helpers

const ALL_REASONS: Record<RejectReason, true> = {
  short: true, 'ip-header': true, ttl: true, version: true, type: true, checksum: true, length: true,
  'auth-type': true, auth: true, vrid: true, interval: true, own: true, family: true, 'address-list': true, destination: true, 'not-a-peer': true,
  unauthenticated: true, 'unknown-key': true, 'bad-mac': true, replayed: true, 'unexpected-auth': true,
};
const isReason = (r: string): boolean => Object.hasOwn(ALL_REASONS, r);

function fromHex(text: string): Uint8Array {
  const h = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(h)) throw new Error(`bad hex: ${text.slice(0, 40)}`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
}
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The verdict of a decode as one comparable string: 'ok' or the reject reason. */
const verdict = (r: Result<unknown, { reason: RejectReason }>): string => (r.ok ? 'ok' : r.error.reason);

// Test-local IPv6 header (duet never sees one: raw IPv6 sockets strip it), for the IPv6 vector.
interface Ipv6Fields { trafficClass: number; flowLabel: number; hopLimit: number; nextHeader: number; src: string; dst: string }
function splitIpv6(pkt: Uint8Array): { ip: Ipv6Fields; payload: Uint8Array } {
  if (pkt.length < 40 || pkt[0]! >> 4 !== 6) throw new Error('not an IPv6 packet');
  const plen = (pkt[4]! << 8) | pkt[5]!;
  return {
    ip: {
      trafficClass: ((pkt[0]! & 0x0f) << 4) | (pkt[1]! >> 4),
      flowLabel: ((pkt[1]! & 0x0f) << 16) | (pkt[2]! << 8) | pkt[3]!,
      nextHeader: pkt[6]!,
      hopLimit: pkt[7]!,
      src: formatIpv6(pkt, 8),
      dst: formatIpv6(pkt, 24),
    },
    payload: pkt.subarray(40, 40 + plen),
  };
}
function buildIpv6(h: Ipv6Fields, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(40 + payload.length);
  out[0] = 0x60 | (h.trafficClass >> 4);
  out[1] = ((h.trafficClass & 0x0f) << 4) | (h.flowLabel >> 16);
  out[2] = (h.flowLabel >> 8) & 0xff;
  out[3] = h.flowLabel & 0xff;
  out[4] = payload.length >> 8;
  out[5] = payload.length & 0xff;
  out[6] = h.nextHeader;
  out[7] = h.hopLimit;
  out.set(parseIpv6(h.src)!, 8);
  out.set(parseIpv6(h.dst)!, 24);
  out.set(payload, 40);
  return out;
}

interface Vector {
  name: string;
  source: string;
  description: string;
  layer: 'ipv4' | 'ipv6';
  pseudoHeader?: boolean;
  ip: Record<string, unknown>;
  received: ReceivedAdvert;
  bytes: Uint8Array;
}

const VECTOR_DIR = join(process.cwd(), 'test/vectors/vrrp');
const vectors: Vector[] = readdirSync(VECTOR_DIR)
  .filter((f) => f.endsWith('.hex'))
  .sort()
  .map((f) => {
    const name = f.slice(0, -4);
    const json = JSON.parse(readFileSync(join(VECTOR_DIR, `${name}.json`), 'utf8')) as Omit<Vector, 'name' | 'bytes'>;
    return { ...json, name, bytes: fromHex(readFileSync(join(VECTOR_DIR, f), 'utf8')) };
  });
const vector = (name: string): Vector => {
  const v = vectors.find((x) => x.name === name);
  if (!v) throw new Error(`no vector ${name}`);
  return v;
};
const ipv4Payload = (pkt: Uint8Array): Uint8Array => {
  const d = decodeIpv4Header(pkt);
  if (!d.ok) throw new Error(d.error.detail);
  return d.value.payload;
};

// ---------------------------------------------------------------------------------------------
// vectors

test('vectors: the four keepalived vectors and the two constructed ones are present', (t) => {
  t.deepEqual(vectors.map((v) => v.name), [
    'v2-auth-pass', 'v2-prio0', 'v2-prio150-auth-none', 'v3-ipv6', 'v3-prio0', 'v3-prio150',
  ]);
  t.is(vectors.filter((v) => v.source === 'keepalived 2.2.7').length, 4);
  t.is(vectors.filter((v) => v.source === 'constructed').length, 2);
});

for (const v of vectors) {
  test(`vector ${v.name} (${v.source}): decodes to its json and re-encodes byte for byte`, (t) => {
    const pseudoHeader = v.pseudoHeader ?? true;
    if (v.layer === 'ipv4') {
      const h = decodeIpv4Header(v.bytes);
      if (!h.ok) return t.fail(h.error.detail);
      t.deepEqual(h.value.header, v.ip);
      t.deepEqual(decodeIpv4Vrrp(v.bytes, { pseudoHeader }), { ok: true, value: v.received });
      const ip = v.ip as { src: string; dst: string; ttl: number; tos: number; id: number };
      t.is(toHex(encodeIpv4Vrrp(v.received.advert, ip, { pseudoHeader })), toHex(v.bytes));
    } else {
      const { ip, payload } = splitIpv6(v.bytes);
      t.deepEqual(ip, v.ip);
      const o: CodecOptions = { family: 6, src: ip.src, dst: ip.dst, pseudoHeader };
      const d = decodeAdvert(payload, o);
      if (!d.ok) return t.fail(d.error.detail);
      const received: ReceivedAdvert = { family: 6, src: ip.src, dst: ip.dst, ttl: ip.hopLimit, advert: d.value };
      t.deepEqual(received, v.received);
      t.is(toHex(buildIpv6(ip, encodeAdvert(v.received.advert, o))), toHex(v.bytes));
    }
  });
}

test('v3: a checksum made without the pseudo-header is rejected unless the interop switch is off', (t) => {
  const pkt = vector('v3-prio150').bytes.slice();
  const msg = pkt.subarray(20);
  msg[6] = 0;
  msg[7] = 0;
  const sum = inetChecksum(msg);
  msg[6] = sum >> 8;
  msg[7] = sum & 0xff;
  const rx = decodeIpv4Vrrp(pkt, { pseudoHeader: true });
  t.is(verdict(rx), 'checksum');
  t.is(verdict(decodeIpv4Vrrp(pkt)), 'checksum', 'pseudo-header is the default');
  t.is(verdict(decodeIpv4Vrrp(pkt, { pseudoHeader: false })), 'ok');
  // And the keepalived (pseudo-header) vector fails under the switch.
  t.is(verdict(decodeIpv4Vrrp(vector('v3-prio150').bytes, { pseudoHeader: false })), 'checksum');
  // encodeAdvert with the switch off produces exactly that message.
  const adv = vector('v3-prio150').received.advert;
  t.is(toHex(encodeAdvert(adv, { family: 4, src: '192.0.2.11', dst: '224.0.0.18', pseudoHeader: false })), toHex(msg));
});

test('v3 IPv6: the pseudo-header covers src and dst, and a zone index on them is ignored', (t) => {
  const { ip, payload } = splitIpv6(vector('v3-ipv6').bytes);
  t.is(verdict(decodeAdvert(payload, { family: 6, src: 'fe80::12', dst: ip.dst })), 'checksum');
  t.is(verdict(decodeAdvert(payload, { family: 6, src: 'fe80::11%veth0', dst: ip.dst })), 'ok');
  t.is(verdict(decodeAdvert(payload, { family: 6, src: 'FE80:0:0::0011', dst: 'ff02:0::12' })), 'ok');
  t.is(verdict(decodeAdvert(payload, { family: 6, src: '192.0.2.1', dst: ip.dst })), 'family');
  t.is(verdict(decodeAdvert(payload, { family: 4, src: '192.0.2.1', dst: '224.0.0.18' })), 'length');
});

// ---------------------------------------------------------------------------------------------
// decode rejections, one per reason the codec owns

/** A message from a v2/v3 base with bytes patched; fixChecksum recomputes a correct checksum. */
function patched(base: Uint8Array, patch: (m: Uint8Array) => Uint8Array | void, o: CodecOptions & { fixChecksum?: boolean; version?: 2 | 3 }): Uint8Array {
  let m: Uint8Array = base.slice();
  m = patch(m) ?? m;
  if (o.fixChecksum && m.length >= 8) {
    m[6] = 0;
    m[7] = 0;
    let sum: number;
    if (o.version === 3) {
      const ph = new Uint8Array(12);
      ph.set(parseIpv4(o.src)!, 0);
      ph.set(parseIpv4(o.dst)!, 4);
      ph.set([0, 112, m.length >> 8, m.length & 0xff], 8);
      sum = inetChecksum(ph, m);
    } else sum = inetChecksum(m);
    m[6] = sum >> 8;
    m[7] = sum & 0xff;
  }
  return m;
}

const v4o: CodecOptions = { family: 4, src: '192.0.2.11', dst: '224.0.0.18' };
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

const decodeCases: Array<{ name: string; msg: () => Uint8Array; o?: CodecOptions; want: RejectReason | 'ok' }> = [
  { name: 'empty', msg: () => new Uint8Array(0), want: 'short' },
  { name: '11 bytes (IPv4 minimum is 12)', msg: () => ipv4Payload(vector('v3-prio150').bytes).subarray(0, 11), want: 'short' },
  { name: '23 bytes over IPv6 (minimum 24)', msg: () => new Uint8Array(23), o: { family: 6, src: 'fe80::1', dst: 'ff02::12' }, want: 'short' },
  { name: 'oversized IPv4 (1037 > 8+255*4+8)', msg: () => new Uint8Array(1037), want: 'length' },
  { name: 'oversized IPv6 (4089 > 8+255*16)', msg: () => new Uint8Array(4089), o: { family: 6, src: 'fe80::1', dst: 'ff02::12' }, want: 'length' },
  { name: 'version 1', msg: () => patched(ipv4Payload(vector('v3-prio150').bytes), (m) => { m[0] = 0x11; }, v4o), want: 'version' },
  { name: 'version 4', msg: () => patched(ipv4Payload(vector('v3-prio150').bytes), (m) => { m[0] = 0x41; }, v4o), want: 'version' },
  { name: 'v2 over IPv6', msg: () => concat(Uint8Array.of(0x21, 51, 100, 1, 0, 1, 0, 0), new Uint8Array(24)), o: { family: 6, src: 'fe80::1', dst: 'ff02::12' }, want: 'version' },
  { name: 'type 2', msg: () => patched(ipv4Payload(vector('v3-prio150').bytes), (m) => { m[0] = 0x32; }, { ...v4o, fixChecksum: true, version: 3 }), want: 'type' },
  { name: 'type 0', msg: () => patched(ipv4Payload(vector('v2-prio0').bytes), (m) => { m[0] = 0x20; }, v4o), want: 'type' },
  { name: 'v3 count 2, one address', msg: () => patched(ipv4Payload(vector('v3-prio150').bytes), (m) => { m[3] = 2; }, { ...v4o, fixChecksum: true, version: 3 }), want: 'length' },
  { name: 'v3 count 0', msg: () => patched(ipv4Payload(vector('v3-prio150').bytes), (m) => { m[3] = 0; }, { ...v4o, fixChecksum: true, version: 3 }), want: 'length' },
  { name: 'v3 trailing byte', msg: () => concat(ipv4Payload(vector('v3-prio150').bytes), Uint8Array.of(0)), want: 'length' },
  { name: 'v2 without auth data', msg: () => ipv4Payload(vector('v2-prio0').bytes).subarray(0, 12), want: 'length' },
  { name: 'v2 count 0, exact length', msg: () => patched(concat(Uint8Array.of(0x21, 51, 100, 0, 0, 1, 0, 0), new Uint8Array(8)), () => undefined, { ...v4o, fixChecksum: true, version: 2 }), want: 'length' },
  { name: 'v3 flipped priority bit', msg: () => patched(ipv4Payload(vector('v3-prio150').bytes), (m) => { m[2]! ^= 1; }, v4o), want: 'checksum' },
  { name: 'v2 flipped address bit', msg: () => patched(ipv4Payload(vector('v2-prio0').bytes), (m) => { m[11]! ^= 0x80; }, v4o), want: 'checksum' },
  { name: 'v3 from a different source (pseudo-header)', msg: () => ipv4Payload(vector('v3-prio150').bytes), o: { ...v4o, src: '192.0.2.12' }, want: 'checksum' },
  { name: 'v2 from a different source (no pseudo-header)', msg: () => ipv4Payload(vector('v2-prio0').bytes), o: { ...v4o, src: '192.0.2.99' }, want: 'ok' },
  { name: 'v2 auth type 2 (IP AH)', msg: () => patched(ipv4Payload(vector('v2-prio0').bytes), (m) => { m[4] = 2; }, { ...v4o, fixChecksum: true, version: 2 }), want: 'auth-type' },
  { name: 'v2 auth type 255', msg: () => patched(ipv4Payload(vector('v2-prio0').bytes), (m) => { m[4] = 255; }, { ...v4o, fixChecksum: true, version: 2 }), want: 'auth-type' },
  { name: 'v3 pseudo-header src is not IPv4', msg: () => ipv4Payload(vector('v3-prio150').bytes), o: { ...v4o, src: 'fe80::1' }, want: 'family' },
  { name: 'v3 reserved bits set are ignored', msg: () => patched(ipv4Payload(vector('v3-prio150').bytes), (m) => { m[4]! |= 0xf0; }, { ...v4o, fixChecksum: true, version: 3 }), want: 'ok' },
];

for (const c of decodeCases) {
  test(`decodeAdvert: ${c.name} -> ${c.want}`, (t) => {
    const r = decodeAdvert(c.msg(), c.o ?? v4o);
    t.is(verdict(r), c.want, r.ok ? '' : r.error.detail);
    if (!r.ok) t.true(r.error.detail.length > 0);
  });
}

test('decodeAdvert: checks run in order (size, version, type, length, checksum, auth type)', (t) => {
  const base = ipv4Payload(vector('v2-prio0').bytes);
  // Everything wrong at once -> the first check wins; then fix one thing at a time.
  const bad = base.slice();
  bad[0] = 0x12; // version 1, type 2
  bad[3] = 3; // count mismatch
  bad[4] = 9; // auth type
  t.is(verdict(decodeAdvert(bad.subarray(0, 10), v4o)), 'short');
  t.is(verdict(decodeAdvert(bad, v4o)), 'version');
  bad[0] = 0x22;
  t.is(verdict(decodeAdvert(bad, v4o)), 'type');
  bad[0] = 0x21;
  t.is(verdict(decodeAdvert(bad, v4o)), 'length');
  bad[3] = 1;
  t.is(verdict(decodeAdvert(bad, v4o)), 'checksum');
  t.is(verdict(decodeAdvert(patched(bad, () => undefined, { ...v4o, fixChecksum: true, version: 2 }), v4o)), 'auth-type');
});

test('decodeIpv4Vrrp: IP-layer rejections', (t) => {
  const pkt = vector('v3-prio150').bytes;
  t.is(verdict(decodeIpv4Vrrp(pkt.subarray(0, 19))), 'short');
  const tcp = pkt.slice();
  tcp[9] = 6;
  const r = decodeIpv4Vrrp(tcp);
  t.is(verdict(r), 'ip-header');
  if (!r.ok) t.regex(r.error.detail, /protocol 6/);
  const v6 = pkt.slice();
  v6[0] = 0x65;
  t.is(verdict(decodeIpv4Vrrp(v6)), 'ip-header');
  // The IP total length bounds the VRRP message: trailing link-layer padding is not part of it.
  const padded = concat(pkt, new Uint8Array(14));
  t.is(verdict(decodeIpv4Vrrp(padded)), 'ok');
  // An IP total length cutting into the message is a VRRP-level length problem.
  const cut = pkt.slice(0, 31);
  cut[3] = 31;
  t.is(verdict(decodeIpv4Vrrp(cut)), 'short');
});

test('decodeAdvert: v2 password keeps everything before the NUL padding', (t) => {
  const mk = (auth: number[]): Uint8Array => patched(
    concat(Uint8Array.of(0x21, 51, 100, 1, 1, 1, 0, 0), Uint8Array.of(192, 0, 2, 100), Uint8Array.from(auth)),
    () => undefined, { ...v4o, fixChecksum: true, version: 2 });
  const pw = (auth: number[]): string | undefined => {
    const r = decodeAdvert(mk(auth), v4o);
    return r.ok ? r.value.authData : `!${r.error.reason}`;
  };
  t.is(pw([0x61, 0x62, 0, 0, 0, 0, 0, 0]), 'ab');
  t.is(pw([0, 0, 0, 0, 0, 0, 0, 0]), '');
  t.is(pw([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38]), '12345678');
  t.is(pw([0x61, 0, 0x62, 0, 0, 0, 0, 0]), 'a\0b', 'an inner NUL is kept, so "a" does not match');
  t.is(pw([0xc3, 0xa9, 0, 0, 0, 0, 0, 0]), 'é', 'UTF-8, as keepalived copies it from its config');
  t.is(pw([0xff, 0, 0, 0, 0, 0, 0, 0]), '\ufffd', 'invalid UTF-8 does not throw');
  // Auth type 0: data ignored, no authData in the result.
  const none = decodeAdvert(patched(mk([1, 2, 3, 4, 5, 6, 7, 8]), (m) => { m[4] = 0; }, { ...v4o, fixChecksum: true, version: 2 }), v4o);
  t.true(none.ok && none.value.authType === 0 && !('authData' in none.value));
});

// ---------------------------------------------------------------------------------------------
// encode misuse is a bug

test('encodeAdvert: adverts no correct caller builds throw DUET_E_BUG', (t) => {
  const v3: Advert = { version: 3, vrid: 51, priority: 100, maxAdverIntCs: 100, addresses: ['192.0.2.100'] };
  const v2: Advert = { ...v3, version: 2, authType: 0 };
  const six: CodecOptions = { family: 6, src: 'fe80::1', dst: 'ff02::12' };
  const cases: Array<[string, Advert, CodecOptions]> = [
    ['v2 interval 150 cs (not whole seconds)', { ...v2, maxAdverIntCs: 150 }, v4o],
    ['v2 interval 256 s', { ...v2, maxAdverIntCs: 25600 }, v4o],
    ['v2 over IPv6', { ...v2, addresses: ['2001:db8::1'] }, six],
    ['v2 password of 9 bytes', { ...v2, authType: 1, authData: '123456789' }, v4o],
    ['v2 password of 5 chars, 10 bytes', { ...v2, authType: 1, authData: 'ééééé' }, v4o],
    ['v2 auth data with auth type 0', { ...v2, authData: 'x' }, v4o],
    ['v3 interval 4096 cs', { ...v3, maxAdverIntCs: 4096 }, v4o],
    ['v3 interval 1.5 cs', { ...v3, maxAdverIntCs: 1.5 }, v4o],
    ['priority 256', { ...v3, priority: 256 }, v4o],
    ['vrid -1', { ...v3, vrid: -1 }, v4o],
    ['no addresses', { ...v3, addresses: [] }, v4o],
    ['256 addresses', { ...v3, addresses: Array.from({ length: 256 }, () => '192.0.2.1') }, v4o],
    ['IPv6 address in an IPv4 advert', { ...v3, addresses: ['2001:db8::1'] }, v4o],
    ['IPv4 address in an IPv6 advert', v3, six],
    ['bad pseudo-header src', v3, { ...v4o, src: 'nope' }],
  ];
  for (const [name, a, o] of cases) {
    const e = t.throws(() => encodeAdvert(a, o), undefined, name);
    t.is((e as { code?: string } | undefined)?.code, 'DUET_E_BUG', name);
  }
  t.throws(() => encodeIpv4Vrrp(v3, { src: 'fe80::1', dst: '224.0.0.18', ttl: 255, tos: 0xc0, id: 0 }));
});

test('encodeAdvert: 255 addresses, the maximum, round-trip in both families', (t) => {
  for (const family of [4, 6] as const) {
    const addresses = Array.from({ length: 255 }, (_, i) => (family === 4 ? `10.0.${i >> 4}.${i}` : `2001:db8::${(i + 1).toString(16)}`));
    const a: Advert = { version: 3, vrid: 1, priority: 255, maxAdverIntCs: 4095, addresses };
    const o: CodecOptions = family === 4 ? v4o : { family: 6, src: 'fe80::1', dst: 'ff02::12' };
    const m = encodeAdvert(a, o);
    t.is(m.length, advertLength(3, family, 255));
    t.deepEqual(decodeAdvert(m, o), { ok: true, value: a });
  }
});

// ---------------------------------------------------------------------------------------------
// addresses

test('addr: RFC 5952 canonical text', (t) => {
  const cases: Array<[string, string]> = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: a single 0 group stays
    ['2001:db8::0:1', '2001:db8::1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3: the longest run
    ['0:0:0:0:0:0:0:0', '::'],
    ['::0:1', '::1'],
    ['1::', '1::'],
    ['FE80::0011', 'fe80::11'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // §5 mixed notation for IPv4-mapped
    ['::FFFF:c000:0201', '::ffff:192.0.2.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [input, want] of cases) t.is(canonicalAddr(6, input), want, input);
  for (const bad of ['', ':', ':::', '1:::2', '1::2::3', ':1::2', '1::2:', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9',
    '1:2:3:4::5:6:7:8', '12345::', 'g::', '1.2.3.4::', '::1.2.3', '::256.0.0.1', 'fe80::1%eth0', '::/0', ' ::1']) {
    t.is(parseIpv6(bad), undefined, JSON.stringify(bad));
  }
  t.is(canonicalAddr(4, '192.0.2.100'), '192.0.2.100');
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', '0x1.2.3.4', '::1']) {
    t.is(parseIpv4(bad), undefined, JSON.stringify(bad));
  }
});

const groupArb = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
const ipv6BytesArb = fc.array(groupArb, { minLength: 8, maxLength: 8 }).map((gs) => {
  const b = new Uint8Array(16);
  gs.forEach((g, i) => { b[2 * i] = g >> 8; b[2 * i + 1] = g & 0xff; });
  return b;
});

test('addr: IPv6 format/parse round-trips and agrees with the WHATWG URL serializer', (t) => {
  fc.assert(fc.property(ipv6BytesArb, (b) => {
    const s = formatIpv6(b);
    t.deepEqual(parseIpv6(s), b);
    t.is(canonicalAddr(6, s), s);
    const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    if (!mapped) t.is(`[${s}]`, new URL(`http://[${s}]/`).hostname);
  }), { numRuns: 3000, seed: 0x5952 });
});

// ---------------------------------------------------------------------------------------------
// round-trip properties

const byteArb = fc.integer({ min: 0, max: 255 });
const ipv4Arb = fc.tuple(byteArb, byteArb, byteArb, byteArb).map((o) => o.join('.'));
const ipv6Arb = ipv6BytesArb.map((b) => formatIpv6(b));
const addrArb = (family: Family): fc.Arbitrary<string> => (family === 4 ? ipv4Arb : ipv6Arb);
const addrsArb = (family: Family): fc.Arbitrary<string[]> =>
  fc.oneof({ weight: 9, arbitrary: fc.array(addrArb(family), { minLength: 1, maxLength: 8 }) },
    { weight: 1, arbitrary: fc.array(addrArb(family), { minLength: 1, maxLength: 255 }) });
const utf8Len = (s: string): number => new TextEncoder().encode(s).length;
const passwordArb = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'Z', '0', ' ', '\0'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 8 })
  .filter((s) => utf8Len(s) <= 8 && !s.endsWith('\0'));

const v2Arb: fc.Arbitrary<Advert> = fc.record({
  vrid: byteArb, priority: byteArb, seconds: byteArb, addresses: addrsArb(4),
  password: fc.option(passwordArb, { nil: undefined }),
}).map(({ vrid, priority, seconds, addresses, password }) => {
  const a: Advert = { version: 2, vrid, priority, maxAdverIntCs: seconds * 100, addresses, authType: password === undefined ? 0 : 1 };
  if (password !== undefined) a.authData = password;
  return a;
});
const v3Arb = (family: Family): fc.Arbitrary<Advert> => fc.record({
  version: fc.constant(3 as const), vrid: byteArb, priority: byteArb,
  maxAdverIntCs: fc.integer({ min: 0, max: 0xfff }), addresses: addrsArb(family),
});
const optsArb = (family: Family): fc.Arbitrary<CodecOptions> => fc.record({
  family: fc.constant(family), src: addrArb(family), dst: addrArb(family), pseudoHeader: fc.boolean(),
});
const advertCaseArb: fc.Arbitrary<[Advert, CodecOptions]> = fc.oneof(
  fc.tuple(v2Arb, optsArb(4)),
  fc.tuple(v3Arb(4), optsArb(4)),
  fc.tuple(v3Arb(6), optsArb(6)),
);

test('property: decodeAdvert(encodeAdvert(a)) is a (v2 and v3, IPv4 and IPv6)', (t) => {
  fc.assert(fc.property(advertCaseArb, ([a, o]) => {
    const m = encodeAdvert(a, o);
    t.is(m.length, advertLength(a.version, o.family, a.addresses.length));
    t.deepEqual(decodeAdvert(m, o), { ok: true, value: a });
  }), { numRuns: 3000, seed: 3768 });
});

test('property: decodeIpv4Vrrp(encodeIpv4Vrrp(a, h)) carries a and the IP fields', (t) => {
  const hArb = fc.record({ src: ipv4Arb, dst: ipv4Arb, ttl: byteArb, tos: byteArb, id: fc.integer({ min: 0, max: 0xffff }) });
  fc.assert(fc.property(fc.oneof(v2Arb, v3Arb(4)), hArb, fc.boolean(), (a, h, pseudoHeader) => {
    const pkt = encodeIpv4Vrrp(a, h, { pseudoHeader });
    t.deepEqual(decodeIpv4Vrrp(pkt, { pseudoHeader }), { ok: true, value: { family: 4, src: h.src, dst: h.dst, ttl: h.ttl, advert: a } });
    const ip = decodeIpv4Header(pkt);
    t.true(ip.ok && ip.value.header.tos === h.tos && ip.value.header.id === h.id);
    t.is(inetChecksum(pkt.subarray(0, 20)), 0, 'IPv4 header checksum');
  }), { numRuns: 2000, seed: 5798 });
});

// ---------------------------------------------------------------------------------------------
// never throw

/** Decode every way; throws (failing the property) only if a decoder throws or returns junk. */
function decodeAllWays(bytes: Uint8Array, o4: CodecOptions, o6: CodecOptions): void {
  const adverts = [decodeAdvert(bytes, o4), decodeAdvert(bytes, o6)] as const;
  const results: Array<Result<unknown, { reason: RejectReason; detail: string }>> = [
    ...adverts, decodeAdvert(bytes, { ...o4, pseudoHeader: false }),
    decodeAdvert(bytes, { ...o6, pseudoHeader: false }),
    decodeIpv4Vrrp(bytes), decodeIpv4Vrrp(bytes, { pseudoHeader: false }),
  ];
  for (const r of results) {
    if (r.ok) continue;
    if (!isReason(r.error.reason) || typeof r.error.detail !== 'string') throw new Error(`bad reject ${JSON.stringify(r.error)}`);
  }
  // Whatever decodes must re-encode to something that decodes the same (idempotence), unless a
  // password had invalid UTF-8 (replaced by U+FFFD, which may not fit 8 bytes any more).
  for (const [r, o] of [[adverts[0], o4], [adverts[1], o6]] as const) {
    if (!r.ok || r.value.authData?.includes('\ufffd')) continue;
    const again = decodeAdvert(encodeAdvert(r.value, o), o);
    if (!again.ok || JSON.stringify(again.value) !== JSON.stringify(r.value)) throw new Error('not idempotent');
  }
}

const o4Arb = optsArb(4);
const o6Arb = optsArb(6);

test('fuzz: arbitrary bytes never make a decoder throw', (t) => {
  const bytesArb = fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1100 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 4080, maxLength: 4100 }) },
  );
  t.notThrows(() => fc.assert(fc.property(bytesArb, o4Arb, o6Arb, (b, o4, o6) => decodeAllWays(b, o4, o6)), { numRuns: 5000, seed: 112 }));
});

test('fuzz: mutated valid packets never make a decoder throw', (t) => {
  // Valid starting points: the vectors (IPv4 packets and bare messages) and generated adverts.
  const seeds: Uint8Array[] = vectors.flatMap((v) => (v.layer === 'ipv4' ? [v.bytes, ipv4Payload(v.bytes)] : [splitIpv6(v.bytes).payload]));
  const baseArb = fc.oneof(
    fc.constantFrom(...seeds),
    advertCaseArb.map(([a, o]) => encodeAdvert(a, o)),
    fc.tuple(fc.oneof(v2Arb, v3Arb(4)), ipv4Arb, ipv4Arb).map(([a, s, d]) => encodeIpv4Vrrp(a, { src: s, dst: d, ttl: 255, tos: 0xc0, id: 1 })),
  );
  type Mutation =
    | { kind: 'set'; at: number; value: number }
    | { kind: 'flip'; at: number; bit: number }
    | { kind: 'truncate'; at: number }
    | { kind: 'append'; bytes: Uint8Array };
  const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: byteArb }),
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 20 }) }),
  );
  const mutate = (base: Uint8Array, ms: readonly Mutation[]): Uint8Array => {
    let b: Uint8Array = base.slice();
    for (const m of ms) {
      switch (m.kind) {
        case 'set': if (b.length) b[m.at % b.length] = m.value; break;
        case 'flip': if (b.length) b[m.at % b.length]! ^= 1 << m.bit; break;
        case 'truncate': b = b.slice(0, m.at % (b.length + 1)); break;
        case 'append': b = concat(b, m.bytes); break;
      }
    }
    return b;
  };
  // Half the time re-checksum the message (as v2 / v3 without pseudo-header do) so mutations
  // reach the checks and field decoding behind the checksum.
  const fixSum = (b: Uint8Array): Uint8Array => {
    if (b.length < 8) return b;
    b[6] = 0;
    b[7] = 0;
    const sum = inetChecksum(b);
    b[6] = sum >> 8;
    b[7] = sum & 0xff;
    return b;
  };
  const seen = new Set<string>();
  t.notThrows(() => fc.assert(fc.property(baseArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.boolean(), o4Arb, o6Arb,
    (base, ms, fix, o4, o6) => {
      const b = fix ? fixSum(mutate(base, ms)) : mutate(base, ms);
      decodeAllWays(b, o4, o6);
      seen.add(verdict(decodeAdvert(b, { ...o4, pseudoHeader: false })));
    }), { numRuns: 5000, seed: 0x21 }));
  // The mutations reach every check decodeAdvert owns.
  t.deepEqual([...seen].sort(), ['auth-type', 'checksum', 'length', 'ok', 'short', 'type', 'version']);
});

// ---------------------------------------------------------------------------------------------
// corpus replay

const CORPUS_DIR = join(process.cwd(), 'test/corpus/vrrp');
const corpus = existsSync(CORPUS_DIR) ? readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.hex')).sort() : [];

test('corpus: test/corpus/vrrp holds hand-picked malformed packets', (t) => {
  t.true(corpus.length >= 2, 'keep at least the hand-picked cases');
});

for (const f of corpus) {
  test(`corpus ${f}: decoders do not throw and give the pinned verdict`, (t) => {
    const name = f.slice(0, -4);
    const bytes = fromHex(readFileSync(join(CORPUS_DIR, f), 'utf8'));
    const o4: CodecOptions = { family: 4, src: '192.0.2.11', dst: '224.0.0.18' };
    const o6: CodecOptions = { family: 6, src: 'fe80::11', dst: 'ff02::12' };
    t.notThrows(() => decodeAllWays(bytes, o4, o6));
    const ip = decodeIpv4Header(bytes);
    if (ip.ok) t.notThrows(() => decodeAllWays(ip.value.payload, o4, o6));
    const pinned = join(CORPUS_DIR, `${name}.json`);
    if (existsSync(pinned)) {
      const { expect } = JSON.parse(readFileSync(pinned, 'utf8')) as { expect: RejectReason | 'ok' };
      const r = decodeIpv4Vrrp(bytes);
      t.is(verdict(r), expect, r.ok ? '' : r.error.detail);
    }
  });
}
