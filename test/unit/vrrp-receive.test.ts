// checkReceived: RFC 5798 §7.1 / RFC 3768 §7.1 receiver checks, table-driven, one row per outcome.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkReceived, type ReceiveConfig } from '../../src/vrrp/receive.js';
import { decodeIpv4Vrrp } from '../../src/vrrp/codec.js';
import type { Advert, ReceivedAdvert, RejectReason } from '../../src/vrrp/types.js';

const v3cfg: ReceiveConfig = {
  version: 3, vrid: 51, family: 4, adverIntCs: 100, authType: 0, addresses: ['192.0.2.100'], checkTtl: true,
};
const v2cfg: ReceiveConfig = { ...v3cfg, version: 2, authType: 1, authPassword: 'duet' };
const v6cfg: ReceiveConfig = { ...v3cfg, family: 6, addresses: ['fe80::1', '2001:db8::100'] };

const v3adv: Advert = { version: 3, vrid: 51, priority: 150, maxAdverIntCs: 10, addresses: ['192.0.2.100'] };
const v2adv: Advert = { version: 2, vrid: 51, priority: 150, maxAdverIntCs: 100, addresses: ['192.0.2.100'], authType: 1, authData: 'duet' };
const v6adv: Advert = { ...v3adv, addresses: ['fe80::1', '2001:db8::100'] };

const rx = (advert: Advert, patch: Partial<ReceivedAdvert> = {}): ReceivedAdvert =>
  ({ family: 4, src: '192.0.2.11', dst: '224.0.0.18', ttl: 255, advert, ...patch });
const rx6 = (advert: Advert, patch: Partial<ReceivedAdvert> = {}): ReceivedAdvert =>
  ({ family: 6, src: 'fe80::11', dst: 'ff02::12', ttl: 255, advert, ...patch });

const own4 = new Set(['192.0.2.12']);
const own6 = new Set(['FE80::0012']); // non-canonical on purpose

type Want = RejectReason | { mismatch: boolean };
interface Row { name: string; cfg: ReceiveConfig; r: ReceivedAdvert; own?: ReadonlySet<string>; want: Want }

const rows: Row[] = [
  // accepted
  { name: 'v3 from a peer', cfg: v3cfg, r: rx(v3adv), want: { mismatch: false } },
  { name: 'v2 with the right password', cfg: v2cfg, r: rx(v2adv), want: { mismatch: false } },
  { name: 'v2 auth none', cfg: { ...v2cfg, authType: 0, authPassword: undefined }, r: rx({ ...v2adv, authType: 0, authData: undefined }), want: { mismatch: false } },
  { name: 'IPv6 v3 from a peer', cfg: v6cfg, r: rx6(v6adv), own: own6, want: { mismatch: false } },

  // family
  { name: 'IPv6 advert on an IPv4 instance', cfg: v3cfg, r: rx6(v6adv), want: 'family' },
  { name: 'IPv4 advert on an IPv6 instance', cfg: v6cfg, r: rx(v3adv), want: 'family' },

  // "MUST verify that the IPv4 TTL or IPv6 Hop Limit is 255."
  { name: 'TTL 254', cfg: v3cfg, r: rx(v3adv, { ttl: 254 }), want: 'ttl' },
  { name: 'TTL 1', cfg: v2cfg, r: rx(v2adv, { ttl: 1 }), want: 'ttl' },
  { name: 'hop limit 64', cfg: v6cfg, r: rx6(v6adv, { ttl: 64 }), want: 'ttl' },
  { name: 'TTL 254 with checkTtl off', cfg: { ...v3cfg, checkTtl: false }, r: rx(v3adv, { ttl: 254 }), want: { mismatch: false } },
  { name: 'TTL unknown to the transport', cfg: v3cfg, r: rx(v3adv, { ttl: undefined }), want: { mismatch: false } },

  // "MUST verify that the VRRP version is 3." / "... is 2."
  { name: 'v3 advert on a v2 instance', cfg: v2cfg, r: rx(v3adv), want: 'version' },
  { name: 'v2 advert on a v3 instance', cfg: v3cfg, r: rx(v2adv), want: 'version' },

  // "MUST verify that the VRID is configured on the receiving interface"
  { name: 'VRID 52', cfg: v3cfg, r: rx({ ...v3adv, vrid: 52 }), want: 'vrid' },
  { name: 'VRID 0', cfg: v2cfg, r: rx({ ...v2adv, vrid: 0 }), want: 'vrid' },

  // our own packet looped back
  { name: 'own IPv4 source', cfg: v3cfg, r: rx(v3adv, { src: '192.0.2.12' }), own: own4, want: 'own' },
  { name: 'own IPv6 source, compared canonically', cfg: v6cfg, r: rx6(v6adv, { src: 'fe80::12' }), own: own6, want: 'own' },
  { name: 'own IPv6 source with a zone index', cfg: v6cfg, r: rx6(v6adv, { src: 'fe80::12%veth0' }), own: own6, want: 'own' },

  // RFC 3768: "MUST perform authentication specified by Auth Type"
  { name: 'v2 auth none to a password instance', cfg: v2cfg, r: rx({ ...v2adv, authType: 0, authData: undefined }), want: 'auth-type' },
  { name: 'v2 password to an auth-none instance', cfg: { ...v2cfg, authType: 0, authPassword: undefined }, r: rx(v2adv), want: 'auth-type' },
  { name: 'v2 wrong password', cfg: v2cfg, r: rx({ ...v2adv, authData: 'dUet' }), want: 'auth' },
  { name: 'v2 password prefix', cfg: v2cfg, r: rx({ ...v2adv, authData: 'due' }), want: 'auth' },
  { name: 'v2 password with an inner NUL', cfg: v2cfg, r: rx({ ...v2adv, authData: 'duet\0x' }), want: 'auth' },
  { name: 'v2 empty password', cfg: v2cfg, r: rx({ ...v2adv, authData: '' }), want: 'auth' },

  // RFC 3768: "MUST verify that the Adver Interval in the packet is the same as the locally configured"
  { name: 'v2 interval 2 s against 1 s', cfg: v2cfg, r: rx({ ...v2adv, maxAdverIntCs: 200 }), want: 'interval' },
  { name: 'v3 interval differs: learned, not rejected', cfg: v3cfg, r: rx({ ...v3adv, maxAdverIntCs: 4095 }), want: { mismatch: false } },

  // Strict (the default): any difference in the address list drops the advert, as keepalived does
  { name: 'address list differs', cfg: v3cfg, r: rx({ ...v3adv, addresses: ['192.0.2.101'] }), want: 'address-list' },
  { name: 'extra address', cfg: v3cfg, r: rx({ ...v3adv, addresses: ['192.0.2.100', '192.0.2.101'] }), want: 'address-list' },
  { name: 'priority 255 (owner) with a different list', cfg: v3cfg, r: rx({ ...v3adv, priority: 255, addresses: ['192.0.2.1'] }), want: 'address-list' },
  { name: 'v2 owner with a different list', cfg: v2cfg, r: rx({ ...v2adv, priority: 255, addresses: ['192.0.2.101'] }), want: 'address-list' },
  { name: 'same set, other order and a duplicate', cfg: { ...v3cfg, addresses: ['192.0.2.100', '192.0.2.101'] }, r: rx({ ...v3adv, addresses: ['192.0.2.101', '192.0.2.100', '192.0.2.101'] }), want: { mismatch: false } },
  // Lenient: RFC 5798 §7.1 "MAY verify ... SHOULD log": flagged, not dropped
  { name: 'lenient: address list differs', cfg: { ...v3cfg, lenientAddressList: true }, r: rx({ ...v3adv, addresses: ['192.0.2.101'] }), want: { mismatch: true } },
  { name: 'lenient: extra address', cfg: { ...v3cfg, lenientAddressList: true }, r: rx({ ...v3adv, addresses: ['192.0.2.100', '192.0.2.101'] }), want: { mismatch: true } },
  // Lenient, RFC 3768 §7.1: v2 drops a differing list unless the sender is the owner
  { name: 'lenient: v2 address list differs: dropped', cfg: { ...v2cfg, lenientAddressList: true }, r: rx({ ...v2adv, addresses: ['192.0.2.101'] }), want: 'address-list' },
  { name: 'lenient: v2 owner with a different list: flagged', cfg: { ...v2cfg, lenientAddressList: true }, r: rx({ ...v2adv, priority: 255, addresses: ['192.0.2.101'] }), want: { mismatch: true } },
  { name: 'IPv6 set compared canonically', cfg: { ...v6cfg, addresses: ['FE80:0::1', '2001:DB8:0:0::100'] }, r: rx6(v6adv), want: { mismatch: false } },

  // first failing check wins: family, ttl, version, vrid, own, auth-type, auth, interval
  { name: 'order: ttl before version and vrid', cfg: v3cfg, r: rx({ ...v2adv, vrid: 9 }, { ttl: 1 }), want: 'ttl' },
  { name: 'order: version before vrid', cfg: v3cfg, r: rx({ ...v2adv, vrid: 9 }), want: 'version' },
  // keepalived: "Expected multicast packet but received unicast packet" (and the reverse)
  { name: 'unicast to a multicast instance', cfg: { ...v3cfg, expectDst: 'multicast' }, r: rx(v3adv, { dst: '192.0.2.12' }), want: 'destination' },
  { name: 'multicast to a unicast instance', cfg: { ...v3cfg, expectDst: 'unicast' }, r: rx(v3adv), want: 'destination' },
  { name: 'multicast to a multicast instance', cfg: { ...v3cfg, expectDst: 'multicast' }, r: rx(v3adv), want: { mismatch: false } },
  { name: 'IPv6 unicast to a unicast instance', cfg: { ...v6cfg, expectDst: 'unicast' }, r: rx6(v6adv, { dst: 'fe80::12' }), own: own6, want: { mismatch: false } },
  { name: 'order: vrid before own', cfg: v3cfg, r: rx({ ...v3adv, vrid: 9 }, { src: '192.0.2.12' }), own: own4, want: 'vrid' },
  { name: 'order: own before auth', cfg: v2cfg, r: rx({ ...v2adv, authData: 'x' }, { src: '192.0.2.12' }), own: own4, want: 'own' },
  { name: 'order: auth before interval', cfg: v2cfg, r: rx({ ...v2adv, authData: 'x', maxAdverIntCs: 300 }), want: 'auth' },
  // Unicast mode: only the configured peers (keepalived's check_unicast_src, always on here)
  { name: 'unicast from a listed peer', cfg: { ...v3cfg, expectDst: 'unicast', peers: ['192.0.2.99', '192.0.2.11'] }, r: rx(v3adv, { dst: '192.0.2.12' }), want: { mismatch: false } },
  { name: 'unicast from a host that is no peer', cfg: { ...v3cfg, expectDst: 'unicast', peers: ['192.0.2.99'] }, r: rx(v3adv, { dst: '192.0.2.12' }), want: 'not-a-peer' },
  // min_ttl / max_ttl (unicast): the range replaces "255 only"
  { name: 'unicast TTL 250 within min_ttl 250', cfg: { ...v3cfg, expectDst: 'unicast', peers: ['192.0.2.11'], ttlRange: { min: 250, max: 255 } }, r: rx(v3adv, { dst: '192.0.2.12', ttl: 250 }), want: { mismatch: false } },
  { name: 'unicast TTL 249 below min_ttl 250', cfg: { ...v3cfg, expectDst: 'unicast', peers: ['192.0.2.11'], ttlRange: { min: 250, max: 255 } }, r: rx(v3adv, { dst: '192.0.2.12', ttl: 249 }), want: 'ttl' },
  { name: 'unicast TTL 255 above max_ttl 64', cfg: { ...v3cfg, expectDst: 'unicast', peers: ['192.0.2.11'], ttlRange: { min: 0, max: 64 } }, r: rx(v3adv, { dst: '192.0.2.12', ttl: 255 }), want: 'ttl' },
  { name: 'unicast TTL 63 within max_ttl 64', cfg: { ...v3cfg, expectDst: 'unicast', peers: ['192.0.2.11'], ttlRange: { min: 0, max: 64 } }, r: rx(v3adv, { dst: '192.0.2.12', ttl: 63 }), want: { mismatch: false } },
  { name: 'unicast TTL 254 without a range', cfg: { ...v3cfg, expectDst: 'unicast', peers: ['192.0.2.11'] }, r: rx(v3adv, { dst: '192.0.2.12', ttl: 254 }), want: 'ttl' },
  { name: 'IPv6 peer compared canonically', cfg: { ...v6cfg, expectDst: 'unicast', peers: ['FE80:0::11'] }, r: rx6(v6adv, { dst: 'fe80::12' }), own: own6, want: { mismatch: false } },
];

for (const row of rows) {
  const label = typeof row.want === 'string' ? row.want : row.want.mismatch ? 'accepted, address mismatch' : 'accepted';
  test(`checkReceived: ${row.name} -> ${label}`, (t) => {
    const r = checkReceived(row.cfg, row.r, { addresses: row.own ?? own4 });
    if (typeof row.want === 'string') {
      t.false(r.ok);
      if (!r.ok) {
        t.is(r.error.reason, row.want, r.error.detail);
        t.true(r.error.detail.length > 0);
      }
    } else {
      t.true(r.ok, r.ok ? '' : `${r.error.reason}: ${r.error.detail}`);
      if (r.ok) {
        t.is(r.value.addressMismatch, row.want.mismatch);
        t.is(r.value.advert, row.r.advert, 'the advert is passed through');
      }
    }
  });
}

test('checkReceived: the table covers every reason checkReceived owns', (t) => {
  const covered = new Set(rows.map((r) => r.want).filter((w): w is RejectReason => typeof w === 'string'));
  const owned: RejectReason[] = ['family', 'ttl', 'version', 'vrid', 'own', 'auth-type', 'auth', 'interval', 'address-list', 'destination', 'not-a-peer'];
  t.deepEqual([...covered].sort(), [...owned].sort());
  t.true(rows.some((r) => typeof r.want !== 'string' && r.want.mismatch));
});

test('checkReceived: the keepalived vectors pass a matching instance', (t) => {
  const dir = join(process.cwd(), 'test/vectors/vrrp');
  const load = (name: string): ReceivedAdvert => {
    const d = decodeIpv4Vrrp(Uint8Array.from(Buffer.from(readFileSync(join(dir, `${name}.hex`), 'utf8').trim(), 'hex')));
    if (!d.ok) throw new Error(d.error.detail);
    return d.value;
  };
  const none = { ...v2cfg, authType: 0 as const, authPassword: undefined };
  const cases: Array<[string, ReceiveConfig]> = [
    ['v3-prio150', v3cfg], ['v3-prio0', v3cfg], ['v2-prio150-auth-none', none], ['v2-prio0', none], ['v2-auth-pass', v2cfg],
  ];
  for (const [name, cfg] of cases) {
    const r = checkReceived(cfg, load(name), { addresses: own4 });
    t.deepEqual(r.ok && r.value.addressMismatch, false, name);
  }
  // ... and the instance itself, as sender 192.0.2.11, drops its own.
  t.deepEqual(checkReceived(v3cfg, load('v3-prio150'), { addresses: new Set(['192.0.2.11']) }).ok, false);
});
