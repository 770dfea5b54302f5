// ipvs/model: identity keys, attribute equality (tunnel fields only where they apply), and the
// IPv4 netmask <-> prefix length mapping the codec uses for persistence granularity.
import test from 'ava';
import fc from 'fast-check';
import {
  canonicalDest, destKey, fullNetmaskLen, ipv4LenFromMask, ipv4MaskFromLen, sameDestAttrs, serviceKey, type Destination,
} from '../../src/ipvs/model.js';

const d = (o: Partial<Destination> = {}): Destination => ({
  family: 4, address: '192.0.2.21', port: 80, forward: 'tunnel', weight: 1, upperThreshold: 0, lowerThreshold: 0,
  tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 'nocsum', ...o,
});

test('service keys: protocol, bracketed IPv6, fwmark per family', (t) => {
  t.is(serviceKey({ kind: 'addr', family: 4, protocol: 'sctp', address: '198.51.100.7', port: 0 }), 'sctp:198.51.100.7:0');
  t.is(serviceKey({ kind: 'addr', family: 6, protocol: 'udp', address: '::ffff:192.0.2.1', port: 53 }), 'udp:[::ffff:192.0.2.1]:53');
  t.is(serviceKey({ kind: 'fwmark', family: 4, fwmark: 4294967295 }), 'fwmark:4294967295');
  t.is(serviceKey({ kind: 'fwmark', family: 6, fwmark: 1 }), 'fwmark6:1');
  t.is(destKey({ family: 6, address: '2001:db8::1', port: 0 }), '[2001:db8::1]:0');
});

test('tunnel fields count only with tunnel forwarding, port only for gue, flags not for ipip', (t) => {
  t.true(sameDestAttrs(d({ forward: 'route', tunnelType: 'gre', tunnelFlags: 'csum' }), d({ forward: 'route' })));
  t.true(sameDestAttrs(d({ tunnelPort: 5 }), d()), 'ipip: port unused');
  t.true(sameDestAttrs(d({ tunnelFlags: 'csum' }), d()), 'ipip: flags unused');
  t.false(sameDestAttrs(d({ tunnelType: 'gue', tunnelPort: 5 }), d({ tunnelType: 'gue', tunnelPort: 6 })));
  t.false(sameDestAttrs(d({ tunnelType: 'gue', tunnelFlags: 'remcsum' }), d({ tunnelType: 'gue', tunnelFlags: 'csum' })));
  t.false(sameDestAttrs(d({ weight: 0 }), d()));
  t.deepEqual(canonicalDest(d({ forward: 'masq', tunnelType: 'gue', tunnelPort: 9, tunnelFlags: 'csum' })), d({ forward: 'masq' }));
  const c = d({ tunnelType: 'gue', tunnelPort: 6080, tunnelFlags: 'remcsum' });
  t.is(canonicalDest(c), c, 'already canonical: the same object');
});

test('IPv4 netmask <-> prefix length', (t) => {
  t.is(ipv4MaskFromLen(24), 0xffffff00);
  t.is(ipv4MaskFromLen(0), 0);
  t.is(ipv4MaskFromLen(32), 0xffffffff);
  t.is(ipv4LenFromMask(0xffffff80), 25);
  t.is(ipv4LenFromMask(0xff00ff00), undefined);
  t.is(ipv4LenFromMask(0x00ffffff), undefined);
  for (let n = 0; n <= 32; n++) t.is(ipv4LenFromMask(ipv4MaskFromLen(n)), n);
  t.throws(() => ipv4MaskFromLen(33), { message: /out of range/ });
  t.deepEqual([fullNetmaskLen(4), fullNetmaskLen(6)], [32, 128]);
});

test('property: only contiguous masks have a prefix length', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    // contiguous masks, and ones with a single bit flipped
    fc.tuple(fc.integer({ min: 0, max: 32 }), fc.integer({ min: -1, max: 31 })).map(([n, b]) => (ipv4MaskFromLen(n) ^ (b < 0 ? 0 : 1 << b)) >>> 0),
  ), (m) => {
    const lens = Array.from({ length: 33 }, (_, n) => n).filter((n) => ipv4MaskFromLen(n) === m);
    return ipv4LenFromMask(m) === lens[0] && lens.length <= 1;
  }), { numRuns: 2000, seed: 32 }));
});
