// IPVS generic-netlink codec: round trips on generated services, destinations and whole messages
// (fast-check, fixed seeds), the decoders' never-throw property on random and mutated bytes, and
// the typed errors of specific malformed inputs.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBody, decodeMessage, decodeMessages, encodeMessage, encodeRequest, type NetlinkMessage } from '../../src/ipvs/genl-codec.js';
import { destFromWire, ipvsRequest, serviceFromWire, statsFromWire, destToWire, serviceToWire } from '../../src/ipvs/genl-map.js';
import {
  IPVS_CMDS, type IpvsAttrs, type IpvsCmd, type WireDaemon, type WireDest, type WireService, type WireStats,
} from '../../src/ipvs/genl-fields.js';
import type { CodecErrorReason } from '../../src/netlink/attrs.js';
import {
  FORWARDS, NO_FLAGS, SCHEDULERS, TUNNEL_CSUMS, TUNNEL_TYPES, canonicalDest, type Destination, type Service,
} from '../../src/ipvs/model.js';
import { canonicalAddr, type Family } from '../../src/core/addr.js';
import { BugError } from '../../src/core/errors.js';
import type { Result } from '../../src/core/result.js';

const FAMILY_ID = 0x20;
const OPTS = { ipvsFamily: FAMILY_ID };
const REASONS: ReadonlySet<CodecErrorReason> = new Set(['short', 'length', 'attr-length', 'cmd', 'family', 'value']);
const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ---------------------------------------------------------------------------------------------
// Arbitraries

const arbFamily = fc.constantFrom<Family>(4, 6);
const arbAddr = (f: Family): fc.Arbitrary<string> => (f === 4 ? fc.ipV4() : fc.ipV6().map((a) => canonicalAddr(6, a)!));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });

const arbService: fc.Arbitrary<Service> = arbFamily.chain((family) => fc.record({
  fwmarkKind: fc.boolean(),
  protocol: fc.constantFrom('tcp', 'udp', 'sctp') as fc.Arbitrary<'tcp' | 'udp' | 'sctp'>,
  address: arbAddr(family),
  port: u16,
  fwmark: fc.integer({ min: 1, max: 0xffffffff }),
  scheduler: fc.constantFrom(...SCHEDULERS),
  persistent: fc.boolean(),
  onePacket: fc.boolean(),
  f1: fc.boolean(),
  f2: fc.boolean(),
  timeout: u32,
  len: fc.integer({ min: 0, max: family === 4 ? 32 : 128 }),
}).map((r): Service => {
  const flags = {
    ...NO_FLAGS, persistent: r.persistent, onePacket: r.onePacket,
    shFallback: r.scheduler === 'sh' && r.f1, shPort: r.scheduler === 'sh' && r.f2,
    mhFallback: r.scheduler === 'mh' && r.f1, mhPort: r.scheduler === 'mh' && r.f2,
  };
  const attrs = { family, scheduler: r.scheduler, flags, persistenceTimeoutS: r.timeout, persistenceNetmaskLen: r.len, dests: new Map<string, Destination>() };
  return r.fwmarkKind ? { kind: 'fwmark', fwmark: r.fwmark, ...attrs } : { kind: 'addr', protocol: r.protocol, address: r.address, port: r.port, ...attrs };
}));

const arbDest: fc.Arbitrary<Destination> = arbFamily.chain((family) => fc.record({
  family: fc.constant(family),
  address: arbAddr(family),
  port: u16,
  forward: fc.constantFrom(...FORWARDS),
  weight: fc.integer({ min: 0, max: 65535 }),
  upperThreshold: u32,
  lowerThreshold: u32,
  tunnelType: fc.constantFrom(...TUNNEL_TYPES),
  tunnelPort: u16,
  tunnelFlags: fc.constantFrom(...TUNNEL_CSUMS),
}));

/** An object with a random subset of fields in random key order (the order the wire will have). */
function arbObject<T extends object>(fields: { [K in keyof T]-?: fc.Arbitrary<T[K]> }, required: ReadonlyArray<keyof T> = []): fc.Arbitrary<T> {
  const keys = Object.keys(fields) as Array<keyof T>;
  return fc.shuffledSubarray(keys).chain((picked) => {
    const ks = [...picked, ...required.filter((k) => !picked.includes(k))];
    return fc.tuple(...ks.map((k) => fields[k] as fc.Arbitrary<unknown>)).map((vals) => {
      const o: Record<string, unknown> = {};
      ks.forEach((k, i) => { o[k as string] = vals[i]; });
      return o as T;
    });
  });
}

const safe64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const arbStats: fc.Arbitrary<WireStats> = arbObject<WireStats>({
  conns: u32, inpkts: u32, outpkts: u32, inbytes: safe64, outbytes: safe64, cps: u32, inpps: u32, outpps: u32, inbps: u32, outbps: u32,
});
const arbStats64: fc.Arbitrary<WireStats> = arbObject<WireStats>({
  conns: safe64, inpkts: safe64, outpkts: safe64, inbytes: safe64, outbytes: safe64, cps: safe64, inpps: safe64, outpps: safe64, inbps: safe64, outbps: safe64,
});
const arbName = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.'.split('')), maxLength: 15 });

const arbWireService: fc.Arbitrary<WireService> = fc.constantFrom(2, 10).chain((af) => arbObject<WireService>({
  af: fc.constant(af), protocol: u16, addr: arbAddr(af === 2 ? 4 : 6), port: u16, fwmark: u32, schedName: arbName,
  flags: fc.record({ flags: u32, mask: u32 }), timeout: u32, netmask: u32, stats: arbStats, peName: arbName, stats64: arbStats64,
}, ['af']));

const arbWireDest: fc.Arbitrary<WireDest> = fc.constantFrom(2, 10).chain((af) => arbObject<WireDest>({
  addr: arbAddr(af === 2 ? 4 : 6), port: u16, fwdMethod: u32, weight: u32, uThresh: u32, lThresh: u32, activeConns: u32,
  inactConns: u32, persistConns: u32, stats: arbStats, addrFamily: fc.constant(af), stats64: arbStats64,
  tunType: fc.integer({ min: 0, max: 255 }), tunPort: u16, tunFlags: u16,
}, ['addrFamily']));

const arbWireDaemon: fc.Arbitrary<WireDaemon> = arbObject<WireDaemon>({
  state: u32, mcastIfn: arbName, syncId: u32, syncMaxlen: u16, mcastGroup: fc.ipV4(), mcastGroup6: fc.ipV6().map((a) => canonicalAddr(6, a)!),
  mcastPort: u16, mcastTtl: fc.integer({ min: 0, max: 255 }),
});

const arbCmd = fc.constantFrom(...(IPVS_CMDS.filter((c) => c !== 'unspec') as IpvsCmd[]));
const arbHeader = fc.record({ type: fc.constant(FAMILY_ID), flags: u16, seq: u32, port: u32 });

const arbIpvsMessage: fc.Arbitrary<NetlinkMessage> = fc.record({ header: arbHeader, cmd: arbCmd, version: fc.integer({ min: 0, max: 255 }), nested: fc.boolean() })
  .chain(({ header, cmd, version, nested }) => {
    const attrs: fc.Arbitrary<IpvsAttrs> = cmd === 'set-info'
      ? arbObject<IpvsAttrs>({ version: u32, connTabSize: u32 } as never)
      : arbObject<IpvsAttrs>({ service: arbWireService, dest: arbWireDest, daemon: arbWireDaemon, timeoutTcp: u32, timeoutTcpFin: u32, timeoutUdp: u32 } as never);
    return attrs.map((a): NetlinkMessage => {
      const hasNest = a.service !== undefined || a.dest !== undefined || a.daemon !== undefined;
      return { kind: 'ipvs', header, cmd, version, nlaNested: nested && hasNest, attrs: a };
    });
  });

const arbEchoed = fc.record({ len: fc.integer({ min: 16, max: 200 }), type: u16, flags: u16, seq: u32, port: u32 });
const arbOtherMessage: fc.Arbitrary<NetlinkMessage> = fc.oneof(
  fc.record({ header: arbHeader.map((h) => ({ ...h, type: 2, flags: h.flags | 0x100 })), request: arbEchoed }).map((r): NetlinkMessage => ({ kind: 'ack', ...r })),
  fc.record({ header: arbHeader.map((h) => ({ ...h, type: 2, flags: h.flags & ~0x300 })), errno: fc.integer({ min: 1, max: 4095 }), payload: fc.uint8Array({ maxLength: 60 }) })
    .map((r): NetlinkMessage => ({
      kind: 'error', header: r.header, errno: r.errno, errnoName: '', request: { len: 16 + r.payload.length, type: FAMILY_ID, flags: 5, seq: r.header.seq, port: r.header.port }, requestPayload: toHex(r.payload),
    })),
  fc.record({ header: arbHeader.map((h) => ({ ...h, type: 3 })), status: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }).map((r): NetlinkMessage => ({ kind: 'done', ...r })),
  fc.record({ header: arbHeader.map((h) => ({ ...h, type: 0x10 })), payload: fc.uint8Array({ maxLength: 60 }) }).map((r): NetlinkMessage => ({ kind: 'other', header: r.header, payload: toHex(r.payload) })),
);

/** The decoder's view of a message (errno names filled in). */
const normalize = (m: NetlinkMessage): unknown => JSON.parse(JSON.stringify(m)) as unknown;

// ---------------------------------------------------------------------------------------------
// Round trips

test('property: a service survives model -> add request -> bytes -> decode -> model', (t) => {
  fc.assert(fc.property(arbService, u32, u32, (s, seq, port) => {
    const bytes = encodeRequest(ipvsRequest.newService(s), { ipvsFamily: FAMILY_ID, seq, port });
    const d = decodeMessage(bytes, OPTS);
    if (!d.ok || d.value.kind !== 'ipvs' || !d.value.attrs.service) return false;
    const back = serviceFromWire(d.value.attrs.service);
    t.deepEqual(back, { ok: true, value: s });
    return back.ok && d.value.header.seq === seq && d.value.header.port === port && d.value.cmd === 'new-service';
  }), { numRuns: 1000, seed: 3001 });
});

test('property: a destination survives model -> add request -> bytes -> decode -> model (tunnel fields canonical)', (t) => {
  fc.assert(fc.property(arbService, arbDest, (s, dst) => {
    const d = decodeMessage(encodeRequest(ipvsRequest.newDest(s, dst), { ipvsFamily: FAMILY_ID, seq: 1, port: 2 }), OPTS);
    if (!d.ok || d.value.kind !== 'ipvs' || !d.value.attrs.dest || !d.value.attrs.service) return false;
    t.deepEqual(destFromWire(d.value.attrs.dest), { ok: true, value: canonicalDest(dst) });
    const svc = d.value.attrs.service;
    return s.kind === 'fwmark' ? svc.fwmark === s.fwmark && svc.addr === undefined : svc.addr === s.address && svc.port === s.port && svc.fwmark === undefined;
  }), { numRuns: 1000, seed: 3002 });
});

test('property: whole IPVS messages (random attributes, random order, stats) round-trip through bytes', (t) => {
  fc.assert(fc.property(arbIpvsMessage, (m) => {
    const bytes = encodeMessage(m);
    const d = decodeMessage(bytes, OPTS);
    if (!d.ok) return false;
    t.deepEqual(normalize(d.value), normalize(m));
    return toHex(encodeMessage(d.value)) === toHex(bytes);
  }), { numRuns: 1500, seed: 3003 });
});

test('property: acks, errors, dones and other families round-trip through bytes', (t) => {
  fc.assert(fc.property(arbOtherMessage, (m) => {
    const bytes = encodeMessage(m);
    const d = decodeMessage(bytes, OPTS);
    if (!d.ok) return false;
    const want = m.kind === 'error' ? { ...m, errnoName: (d.value as { errnoName: string }).errnoName } : m;
    t.deepEqual(normalize(d.value), normalize(want));
    return toHex(encodeMessage(d.value)) === toHex(bytes);
  }), { numRuns: 1000, seed: 3004 });
});

test('property: the mappers agree with each other (serviceToWire / destToWire are what the requests carry)', (t) => {
  fc.assert(fc.property(arbService, arbDest, (s, dst) => {
    t.deepEqual(ipvsRequest.setService(s).attrs.service, serviceToWire(s));
    t.deepEqual(ipvsRequest.setDest(s, dst).attrs.dest, destToWire(dst));
    return true;
  }), { numRuns: 200, seed: 3005 });
});

// ---------------------------------------------------------------------------------------------
// Fuzz: decoders never throw

/** The decode verdict; when ok, re-encoding must not throw and must decode to the same value. */
function check(bytes: Uint8Array): boolean {
  const r = decodeMessage(bytes, OPTS);
  const many = decodeMessages(bytes, OPTS);
  if (!many.ok && !REASONS.has(many.error.reason)) return false;
  if (!r.ok) return REASONS.has(r.error.reason) && typeof r.error.detail === 'string';
  const again = decodeMessage(encodeMessage(r.value), OPTS);
  return again.ok && JSON.stringify(again.value) === JSON.stringify(r.value);
}

const VECTOR_DIR = join(process.cwd(), 'test/vectors/ipvs');
const seeds: Uint8Array[] = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.hex')).sort()
  .map((f) => fromHex(readFileSync(join(VECTOR_DIR, f), 'utf8')));

test('fuzz: random bytes never throw from the decoders', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), check), { numRuns: 5000, seed: 3101 }));
});

test('fuzz: a valid header over random genetlink attributes never throws', (t) => {
  // Random TLVs (types 0..20, some nested) under an IPVS header reach the attribute decoders.
  const tlv: fc.Memo<Uint8Array> = fc.memo((depth) => fc.tuple(
    fc.integer({ min: 0, max: 20 }), fc.boolean(),
    depth > 1 ? fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.array(tlv(depth - 1), { maxLength: 4 }).map(cat)) : fc.uint8Array({ maxLength: 24 }),
  ).map(([type, nested, payload]) => {
    const len = 4 + payload.length;
    const out = new Uint8Array((len + 3) & ~3);
    new DataView(out.buffer).setUint16(0, len, true);
    new DataView(out.buffer).setUint16(2, type | (nested ? 0x8000 : 0), true);
    out.set(payload, 4);
    return out;
  }));
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 0, max: 20 }), fc.array(tlv(3), { maxLength: 6 }), u16, (cmd, attrs, flags) => {
    const body = cat([Uint8Array.of(cmd, 1, 0, 0), ...attrs]);
    const hdr = new Uint8Array(16);
    const dv = new DataView(hdr.buffer);
    dv.setUint32(0, 16 + body.length, true);
    dv.setUint16(4, FAMILY_ID, true);
    dv.setUint16(6, flags, true);
    return check(cat([hdr, body]));
  }), { numRuns: 5000, seed: 3102 }));
});

function cat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

test('fuzz: mutated captured vectors (bit flips, overwrites, truncation, extension) never throw', (t) => {
  const arbMutant = fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('flip', 'set', 'cut', 'grow')), { minLength: 1, maxLength: 6 }))
    .map(([i, muts]) => {
      let b: Uint8Array = Uint8Array.from(seeds[i]!);
      for (const [pos, val, how] of muts) {
        if (b.length === 0) break;
        const p = pos % b.length;
        if (how === 'flip') b[p] = b[p]! ^ (1 << (val % 8));
        else if (how === 'set') b[p] = val;
        else if (how === 'cut') b = b.subarray(0, p);
        else b = cat([b, Uint8Array.of(val, val, val, val)]);
      }
      return b;
    });
  t.notThrows(() => fc.assert(fc.property(arbMutant, check), { numRuns: 10000, seed: 3103 }));
});

test('every captured vector truncated at every length gives a result, never an exception', (t) => {
  let n = 0;
  for (const b of seeds.slice(0, 40)) {
    for (let i = 0; i <= b.length; i++) {
      if (!check(b.subarray(0, i))) t.fail(`truncated to ${i}: ${toHex(b)}`);
      n++;
    }
  }
  t.true(n > 1000);
});

// ---------------------------------------------------------------------------------------------
// Specific malformed inputs

const reason = (r: Result<unknown, { reason: string }>): string => (r.ok ? 'ok' : r.error.reason);
// A captured NEW_SERVICE request (ipvsadm -A -t 192.0.2.100:80 -s rr).
const ADD_RR = '68000000200005000abe066b9400c0a2' + '01010000' + '540001800600010002000000060002000600000014000300c0000264000000000000000000000000060004000050000007000600727200000c00070000000000ffffffff080008000000000008000900ffffffff';

test('malformed inputs give the typed reason', (t) => {
  const b = fromHex(ADD_RR);
  t.is(reason(decodeMessage(b, OPTS)), 'ok');
  t.is(reason(decodeMessage(b.subarray(0, 10), OPTS)), 'short');
  t.is(reason(decodeMessage(b.subarray(0, 60), OPTS)), 'length', 'nlmsg_len beyond the bytes');
  t.is(reason(decodeMessage(cat([b, new Uint8Array(8)]), OPTS)), 'length', 'bytes after the message');
  const withCmd = (c: number): Uint8Array => { const x = Uint8Array.from(b); x[16] = c; return x; };
  t.is(reason(decodeMessage(withCmd(0), OPTS)), 'cmd');
  t.is(reason(decodeMessage(withCmd(18), OPTS)), 'cmd');
  const badNestLen = Uint8Array.from(b); badNestLen[20] = 2; // IPVS_CMD_ATTR_SERVICE length 2
  t.is(reason(decodeMessage(badNestLen, OPTS)), 'length');
  const longNest = Uint8Array.from(b); longNest[20] = 0x90; // runs past the end
  t.is(reason(decodeMessage(longNest, OPTS)), 'length');
  const badPort = Uint8Array.from(b); badPort[60] = 9; // IPVS_SVC_ATTR_PORT length 9: the next header is read from the name
  t.is(reason(decodeMessage(badPort, OPTS)), 'length', 'the next attribute is misaligned now');
  const shortPort = Uint8Array.from(b); shortPort[60] = 7; // 3-byte port, padding still fits
  t.is(reason(decodeMessage(shortPort, OPTS)), 'attr-length');
  const noAf = Uint8Array.from(b); noAf[26] = 0; // AF attribute type 1 -> 0 (unknown, skipped): the address has no family
  t.is(reason(decodeMessage(noAf, OPTS)), 'family');
  const af7 = Uint8Array.from(b); af7[28] = 7;
  t.is(reason(decodeMessage(af7, OPTS)), 'family');
  const badName = Uint8Array.from(b); badName[72] = 1; // "rr" -> "\x01r"
  t.is(reason(decodeMessage(badName, OPTS)), 'value');
  t.is(reason(decodeMessage(fromHex('14000000020000000000000000000000ffffffff'), OPTS)), 'short', 'error without the echoed header');
  t.is(reason(decodeMessage(fromHex('1400000003000200000000000000000000000000'), OPTS)), 'ok', 'done');
  t.is(reason(decodeMessage(fromHex('1200000003000200000000000000000000000000'.slice(0, 36)), OPTS)), 'short', 'done without its int');
  t.is(reason(decodeMessage(fromHex('24000000020000000100000000000000feffffff2000000020000500010000000000000000000000'.slice(0, 72)), OPTS)), 'length', 'uncapped error echoing more than present');
  t.is(reason(decodeBody({ type: FAMILY_ID, flags: 0, seq: 0, port: 0 }, Uint8Array.of(1, 1), OPTS)), 'short', 'no room for the genetlink header');
});

test('a destination without any family (no ADDR_FAMILY, no service AF) is a family error', (t) => {
  // NEW_DEST reply with IPVS_CMD_ATTR_DEST { ADDR_FAMILY 2, ADDR, PORT }, then ADDR_FAMILY renamed to type 0.
  const m: NetlinkMessage = { kind: 'ipvs', header: { type: FAMILY_ID, flags: 2, seq: 1, port: 1 }, cmd: 'new-dest', version: 1, nlaNested: false, attrs: { dest: { addrFamily: 2, addr: '192.0.2.21', port: 80 } } };
  const b = encodeMessage(m);
  t.is(reason(decodeMessage(b, OPTS)), 'ok');
  t.is(b[26], 11, 'IPVS_DEST_ATTR_ADDR_FAMILY is the first attribute of the nest');
  b[26] = 0;
  t.is(reason(decodeMessage(b, OPTS)), 'family');
  // With the service's family at hand (a dump of one service's destinations), the mapper copes.
  t.true(destFromWire({ addr: '192.0.2.21', port: 80, fwdMethod: 0, weight: 1 }, 4).ok);
  t.is(reason(destFromWire({ addr: '192.0.2.21', port: 80, fwdMethod: 0, weight: 1 })), 'family');
});

test('mapping refusals: what the model cannot hold is a MapError, not a wrong value', (t) => {
  const base: WireService = { af: 2, protocol: 6, addr: '192.0.2.1', port: 80, schedName: 'rr', flags: { flags: 2, mask: 0xffffffff }, timeout: 0, netmask: 0xffffffff };
  t.is(reason(serviceFromWire(base)), 'ok');
  t.is(reason(serviceFromWire({ ...base, netmask: 0xff00ff00 })), 'netmask');
  t.is(reason(serviceFromWire({ ...base, af: 10, addr: '::1', netmask: 129 })), 'netmask');
  t.is(reason(serviceFromWire({ ...base, schedName: 'nosuch' })), 'scheduler');
  t.is(reason(serviceFromWire({ ...base, af: 7 })), 'family');
  t.is(reason(serviceFromWire({ ...base, protocol: 1 })), 'protocol');
  t.is(reason(serviceFromWire({ af: 2, fwmark: 1 })), 'missing');
  const d: WireDest = { addrFamily: 2, addr: '192.0.2.21', port: 80, fwdMethod: 3, weight: 1 };
  t.like(destFromWire(d), { ok: true, value: { forward: 'route' } });
  t.like(destFromWire({ ...d, fwdMethod: 0x103 }), { ok: true, value: { forward: 'route' } }, 'only the forwarding bits count');
  t.is(reason(destFromWire({ ...d, fwdMethod: 5 })), 'forward');
  t.is(reason(destFromWire({ ...d, tunType: 3 })), 'tunnel');
  t.like(destFromWire({ ...d, fwdMethod: 2, tunType: 1, tunFlags: 3 }), { ok: true, value: { tunnelType: 'gue', tunnelFlags: 'remcsum' } });
  t.deepEqual(statsFromWire({}), { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 });
  t.is(statsFromWire({ stats: { conns: 1 }, stats64: { conns: 2 } }).conns, 2, 'STATS64 preferred');
});

test('u64 counters beyond 2^53 saturate (and still re-encode)', (t) => {
  const m: NetlinkMessage = { kind: 'ipvs', header: { type: FAMILY_ID, flags: 2, seq: 1, port: 1 }, cmd: 'new-service', version: 1, nlaNested: false, attrs: { service: { af: 2, stats64: { inbytes: 1 } } } };
  const b = encodeMessage(m);
  // The u64 inbytes sits in the last 8 bytes: make it 2^64 - 1.
  b.fill(0xff, b.length - 8);
  const d = decodeMessage(b, OPTS);
  t.like(d, { ok: true, value: { attrs: { service: { stats64: { inbytes: Number.MAX_SAFE_INTEGER } } } } });
  if (d.ok) t.notThrows(() => encodeMessage(d.value));
});

test('encoding a value a field cannot hold is a bug (BugError), not silent truncation', (t) => {
  const svc = { kind: 'addr', family: 4, protocol: 'tcp', address: '192.0.2.1', port: 70000, scheduler: 'rr', flags: NO_FLAGS, persistenceTimeoutS: 0, persistenceNetmaskLen: 32, dests: new Map() } as const;
  t.throws(() => encodeRequest(ipvsRequest.newService(svc), { ipvsFamily: FAMILY_ID, seq: 1, port: 1 }), { instanceOf: BugError });
  t.throws(() => encodeRequest(ipvsRequest.newService({ ...svc, port: 80, address: '2001:db8::1' }), { ipvsFamily: FAMILY_ID, seq: 1, port: 1 }), { instanceOf: BugError });
  t.throws(() => encodeRequest(ipvsRequest.newService({ ...svc, port: 80, persistenceNetmaskLen: 33 }), { ipvsFamily: FAMILY_ID, seq: 1, port: 1 }), { instanceOf: BugError });
});
