// Checked address parsing (core/addr.ts): what may be a VIP or a peer, canonical text, prefix handling.
import test from 'ava';
import { parseIp, parsePrefix, parseUnicast } from '../../src/core/addr.js';

test('IPv4 and IPv6 parse to canonical text', (t) => {
  t.deepEqual(parseUnicast('192.0.2.1'), { ok: true, value: { address: '192.0.2.1', family: 4 } });
  t.deepEqual(parseUnicast('2001:DB8:0:0:0:0:0:0100'), { ok: true, value: { address: '2001:db8::100', family: 6 } });
  t.deepEqual(parseUnicast('fe80::1'), { ok: true, value: { address: 'fe80::1', family: 6 } });
});

test('malformed addresses are rejected with a reason', (t) => {
  for (const bad of ['192.0.2', '192.0.2.256', '192.0.2.01', '1.2.3.4.5', 'eth0', '', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', 'g::1']) {
    const r = parseIp(bad);
    t.false(r.ok, bad);
    if (!r.ok) t.is(r.error, `'${bad}' is not an IPv4 or IPv6 address`);
  }
  t.deepEqual(parseIp('fe80::1%eth0'), { ok: false, error: "'fe80::1%eth0': zone indexes are not allowed" });
});

test('non-unicast addresses cannot be VIPs or peers', (t) => {
  const cases: [string, string][] = [
    ['0.0.0.0', 'the unspecified address'],
    ['224.0.0.18', 'a multicast address'],
    ['255.255.255.255', 'the broadcast address'],
    ['127.0.0.1', 'a loopback address'],
    ['240.0.0.1', 'a reserved address'],
    ['::', 'the unspecified address'],
    ['::1', 'the loopback address'],
    ['ff02::12', 'a multicast address'],
  ];
  for (const [a, why] of cases) t.deepEqual(parseUnicast(a), { ok: false, error: `'${a}' is ${why}` }, a);
});

test('prefixes: default full length, bounds per family', (t) => {
  t.deepEqual(parsePrefix('192.0.2.100/24'), { ok: true, value: { address: '192.0.2.100', family: 4, prefixLen: 24 } });
  t.deepEqual(parsePrefix('192.0.2.100'), { ok: true, value: { address: '192.0.2.100', family: 4, prefixLen: 32 } });
  t.deepEqual(parsePrefix('2001:db8::1'), { ok: true, value: { address: '2001:db8::1', family: 6, prefixLen: 128 } });
  t.deepEqual(parsePrefix('2001:db8::1/64'), { ok: true, value: { address: '2001:db8::1', family: 6, prefixLen: 64 } });
  t.deepEqual(parsePrefix('192.0.2.1/33'), { ok: false, error: "prefix length must be 1..32, got '33'" });
  t.deepEqual(parsePrefix('192.0.2.1/0'), { ok: false, error: "prefix length must be 1..32, got '0'" });
  t.deepEqual(parsePrefix('2001:db8::1/129'), { ok: false, error: "prefix length must be 1..128, got '129'" });
  t.deepEqual(parsePrefix('192.0.2.1/'), { ok: false, error: "prefix length must be 1..32, got ''" });
  t.deepEqual(parsePrefix('192.0.2.1/24/1'), { ok: false, error: "prefix length must be 1..32, got '24/1'" });
});
