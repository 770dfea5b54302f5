// Hostile and broken VRRP packets against a running duet pair (master 150, backup 100, v3 0.1 s)
// from a third namespace, sent with IP_HDRINCL so TTL and payload are exactly ours. Most bad
// packets claim priority 255: if duet took one as an advert, the master would step down. So
// "no transition" is meaningful, and every packet must show up in a drop counter under its reason
// (instance counters.dropped, or DaemonStatus.unmatched for VRIDs nobody serves), on both nodes.
//
// Not reachable from the wire on Linux: DaemonStatus.unmatched '<if>/ip-header' and '<if>/short'
// (the kernel checks the IP header and its checksum before raw delivery, and fills in total
// length and checksum for IP_HDRINCL senders); those paths are covered by unit tests.
import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, inject, type DuetNode } from '../../lab/duet-node.js';
import { encodeIpv4Vrrp } from '../../src/vrrp/codec.js';
import { inetChecksum } from '../../src/vrrp/checksum.js';
import type { Advert } from '../../src/vrrp/types.js';

const VIP = '192.0.2.100';
const GROUP = '224.0.0.18';
const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;

let lab: Lab;
let d1: DuetNode;
let d2: DuetNode;

if (root) {
  test.before(async () => {
    lab = await createLab('bad', [
      { name: 'd1', addr: '192.0.2.11' },
      { name: 'd2', addr: '192.0.2.12' },
      { name: 'at', addr: '192.0.2.66' },
    ]);
    d1 = await startDuet(lab, 'd1', pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150 }));
    await d1.waitState('VI_1', 'master');
    d2 = await startDuet(lab, 'd2', pairConfig('d2', { ifname: lab.host('d2').ifname, priority: 100 }));
    await d2.waitState('VI_1', 'backup');
    await waitFor(async () => (await d2.instance('VI_1'))?.masterAddress === '192.0.2.11', { timeoutMs: 3000, what: 'd2 follows d1' });
  });
  test.afterEach.always(async (t) => {
    if (!t.passed) {
      for (const d of describeNodes([d1, d2].filter((n) => n !== undefined))) t.log(d);
    }
  });
  test.after.always(async () => {
    d1?.cleanup();
    d2?.cleanup();
    await lab?.destroy();
  });
}

// ---- packets ----

const ATTACKER = '192.0.2.66';
const advert = (o: Partial<Advert> = {}): Advert => ({ version: 3, vrid: 51, priority: 255, maxAdverIntCs: 10, addresses: [VIP], ...o });
const packet = (a: Advert, o: { ttl?: number; pseudoHeader?: boolean } = {}): Uint8Array =>
  encodeIpv4Vrrp(a, { src: ATTACKER, dst: GROUP, ttl: o.ttl ?? 255, tos: 0xc0, id: 0 }, { pseudoHeader: o.pseudoHeader ?? true });
/** Any bytes as the payload of an IPv4 protocol-112 packet. */
const ipWith = (payload: Uint8Array, ttl = 255): Uint8Array => {
  const p = new Uint8Array(20 + payload.length);
  p.set([0x45, 0xc0, 0, 0, 0, 0, 0, 0, ttl, 112, 0, 0, 192, 0, 2, 66, 224, 0, 0, 18]);
  p.set(payload, 20);
  return p; // the kernel fills in total length and header checksum
};
const edit = (p: Uint8Array, f: (msg: Uint8Array) => void): Uint8Array => { const q = Uint8Array.from(p); f(q.subarray(20)); return q; };
/** Recompute the v3 checksum (pseudo-header) after an edit, so only the edited field is wrong. */
const reChecksum = (p: Uint8Array): Uint8Array => edit(p, (m) => {
  m[6] = 0; m[7] = 0;
  const ph = new Uint8Array([...p.subarray(12, 20), 0, 112, m.length >> 8, m.length & 0xff]);
  const s = inetChecksum(ph, m);
  m[6] = s >> 8; m[7] = s & 0xff;
});
const badChecksum = (p: Uint8Array): Uint8Array => edit(p, (m) => { m[7]! ^= 0x01; });

/** Seeded PRNG (mulberry32): the same garbage on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- counters ----

type Counts = Record<string, number>;
interface Snapshot { counts: Counts; accepted: number }

async function snapshot(n: DuetNode): Promise<Snapshot> {
  const s = await n.status();
  const i = s.instances[0]!;
  const counts: Counts = {};
  for (const [k, v] of Object.entries(i.counters.dropped)) counts[`dropped.${k}`] = v ?? 0;
  for (const [k, v] of Object.entries(s.unmatched)) counts[`unmatched.${k}`] = v;
  return { counts, accepted: i.counters.advertsReceived };
}

function delta(a: Counts, b: Counts): Counts {
  const d: Counts = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = (b[k] ?? 0) - (a[k] ?? 0);
    if (x !== 0) d[k] = x;
  }
  return d;
}

/** Wait until the drop counters moved by exactly `want` since `before`; return the final delta. */
async function counted(n: DuetNode, before: Snapshot, want: Counts): Promise<Counts> {
  let last: Counts = {};
  await waitFor(async () => isDeepStrictEqual((last = delta(before.counts, (await snapshot(n)).counts)), want), { timeoutMs: 5000, intervalMs: 25, what: `${n.host} counters ${JSON.stringify(want)}` })
    .catch(() => undefined);
  return last;
}

const sum = (c: Counts): number => Object.values(c).reduce((a, b) => a + b, 0);

/** Both nodes still in their roles, answering status, with no transition since startup. */
async function unshaken(t: import('ava').ExecutionContext): Promise<void> {
  const [s1, s2] = [(await d1.instance('VI_1'))!, (await d2.instance('VI_1'))!];
  t.is(s1.state, 'master');
  t.is(s2.state, 'backup');
  t.is(s1.counters.transitions, 2, 'd1: init -> backup -> master only');
  t.is(s2.counters.transitions, 1, 'd2: init -> backup only');
  t.deepEqual(d1.transitions().map((l) => l['to']), ['backup', 'master']);
  t.deepEqual(d2.transitions().map((l) => l['to']), ['backup']);
  for (const n of [d1, d2]) {
    t.is(n.proc.exitCode, null, `${n.host} running`);
    t.is(n.proc.signalCode, null);
    t.false(n.logs.some((l) => l.level >= 50), `${n.host} logged no error`);
  }
  await waitFor(async () => (await d2.instance('VI_1'))?.masterAddress === '192.0.2.11', { timeoutMs: 2000, what: 'd2 follows d1' });
}

const dropLines = (n: DuetNode): Record<string, unknown>[] => n.logs.filter((l) => l.msg === 'advert dropped');

// ---- tests ----

rootTest('control: a well-formed advert (priority 1, with an IP Router Alert option) is accepted, not dropped', async (t) => {
  const [b1, b2] = [await snapshot(d1), await snapshot(d2)];
  const p = packet(advert({ priority: 1 }));
  const withOption = new Uint8Array(p.length + 4);
  withOption.set(p.subarray(0, 20));
  withOption[0] = 0x46; // IHL 6
  withOption.set([0x94, 0x04, 0x00, 0x00], 20); // RFC 2113 Router Alert
  withOption.set(p.subarray(20), 24);
  await inject(lab, 'at', GROUP, [withOption, p]);
  // The master hears nobody else: its advertsReceived moves only by ours.
  await waitFor(async () => (await snapshot(d1)).accepted - b1.accepted === 2, { timeoutMs: 3000, what: 'd1 accepted both' });
  t.deepEqual(delta(b1.counts, (await snapshot(d1)).counts), {});
  t.deepEqual(delta(b2.counts, (await snapshot(d2)).counts), {});
  await unshaken(t);
});

rootTest('each kind of malformed or wrong packet is dropped and counted under its reason on both nodes', async (t) => {
  const good = packet(advert());
  const cases: { what: string; pkt: Uint8Array; want: (ifname: string) => Counts }[] = [
    { what: 'truncated to header + 2 bytes', pkt: good.subarray(0, 30), want: () => ({ 'dropped.short': 1 }) },
    { what: 'VRRP header only', pkt: good.subarray(0, 28), want: () => ({ 'dropped.short': 1 }) },
    { what: 'count 2, one address', pkt: reChecksum(edit(good, (m) => { m[3] = 2; })), want: () => ({ 'dropped.length': 1 }) },
    { what: 'count 0', pkt: reChecksum(edit(good, (m) => { m[3] = 0; })), want: () => ({ 'dropped.length': 1 }) },
    { what: '4 trailing bytes', pkt: ipWith(new Uint8Array([...good.subarray(20), 0, 0, 0, 0])), want: () => ({ 'dropped.length': 1 }) },
    { what: 'TTL 1', pkt: packet(advert(), { ttl: 1 }), want: () => ({ 'dropped.ttl': 1 }) },
    { what: 'TTL 254', pkt: packet(advert(), { ttl: 254 }), want: () => ({ 'dropped.ttl': 1 }) },
    { what: 'wrong checksum, priority 255', pkt: badChecksum(good), want: () => ({ 'dropped.checksum': 1 }) },
    { what: 'checksum without pseudo-header', pkt: packet(advert(), { pseudoHeader: false }), want: () => ({ 'dropped.checksum': 1 }) },
    { what: 'zero checksum', pkt: edit(good, (m) => { m[6] = 0; m[7] = 0; }), want: () => ({ 'dropped.checksum': 1 }) },
    { what: 'v2 advert to a v3 instance', pkt: packet(advert({ version: 2, maxAdverIntCs: 100, authType: 0 })), want: () => ({ 'dropped.version': 1 }) },
    { what: 'version 1', pkt: reChecksum(edit(good, (m) => { m[0] = 0x11; })), want: () => ({ 'dropped.version': 1 }) },
    { what: 'version 15', pkt: reChecksum(edit(good, (m) => { m[0] = 0xf1; })), want: () => ({ 'dropped.version': 1 }) },
    { what: 'type 2', pkt: reChecksum(edit(good, (m) => { m[0] = 0x32; })), want: () => ({ 'dropped.type': 1 }) },
    { what: 'type 0', pkt: reChecksum(edit(good, (m) => { m[0] = 0x30; })), want: () => ({ 'dropped.type': 1 }) },
    { what: 'VRID 99', pkt: packet(advert({ vrid: 99 })), want: (i) => ({ [`unmatched.${i}/vrid-99`]: 1 }) },
    { what: 'VRID 0', pkt: reChecksum(edit(good, (m) => { m[1] = 0; })), want: (i) => ({ [`unmatched.${i}/vrid-0`]: 1 }) },
    { what: 'no VRRP payload at all', pkt: ipWith(new Uint8Array(0)), want: (i) => ({ [`unmatched.${i}/short`]: 1 }) },
    { what: 'one byte', pkt: ipWith(new Uint8Array([0x31])), want: (i) => ({ [`unmatched.${i}/short`]: 1 }) },
  ];
  const t0 = performance.now();
  for (const c of cases) {
    const [b1, b2] = [await snapshot(d1), await snapshot(d2)];
    await inject(lab, 'at', GROUP, [c.pkt]);
    for (const [n, b] of [[d1, b1], [d2, b2]] as const) {
      const want = c.want(lab.host(n.host).ifname);
      t.deepEqual(await counted(n, b, want), want, `${n.host}: ${c.what}`);
    }
    // The master hears no other router: nothing bad may count as an advert there.
    t.is((await snapshot(d1)).accepted, b1.accepted, `d1 accepted nothing for ${c.what}`);
  }
  // Each reason is logged, with its detail, at most once per 10 s window.
  const perReason = 1 + Math.floor((performance.now() - t0) / 10_000);
  for (const n of [d1, d2]) {
    const lines = dropLines(n);
    const reasons = lines.map((l) => String(l['reason']));
    t.deepEqual([...new Set(reasons)].sort(), ['checksum', 'length', 'short', 'ttl', 'type', 'version']);
    for (const r of new Set(reasons)) t.true(reasons.filter((x) => x === r).length <= perReason, `${n.host}: '${r}' logged ${reasons.filter((x) => x === r).length} times`);
    t.true(lines.every((l) => typeof l['detail'] === 'string' && l['src'] === ATTACKER));
  }
  await unshaken(t);
});

rootTest('random garbage of many lengths: every packet ends in exactly one drop counter, nothing is accepted', async (t) => {
  const rnd = prng(0xd0e7);
  const lengths = [0, 1, 2, 3, 7, 8, 9, 11, 12, 13, 15, 16, 19, 20, 24, 28, 40, 64, 100, 255, 256, 512, 1024, 1400];
  const pkts: Uint8Array[] = [];
  for (const len of lengths) {
    for (let k = 0; k < 4; k++) {
      const b = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256));
      if (k % 2 === 0 && len >= 2) b[1] = 51; // half of them reach the instance
      if (k === 2 && len >= 1) b[0] = 0x31; // looks like v3 ADVERTISEMENT
      pkts.push(ipWith(b, k === 3 ? Math.floor(rnd() * 256) : 255));
    }
  }
  const [b1, b2] = [await snapshot(d1), await snapshot(d2)];
  t.is(await inject(lab, 'at', GROUP, pkts, { gapMs: 1 }), pkts.length);
  for (const [n, b] of [[d1, b1], [d2, b2]] as const) {
    await waitFor(async () => sum(delta(b.counts, (await snapshot(n)).counts)) >= pkts.length, { timeoutMs: 5000, what: `${n.host} counted all garbage` });
    const d = delta(b.counts, (await snapshot(n)).counts);
    const dropped = Object.fromEntries(Object.entries(d).filter(([k]) => k.startsWith('dropped.')));
    const unmatched = sum(Object.fromEntries(Object.entries(d).filter(([k]) => k.startsWith('unmatched.'))));
    t.log(`${n.host}: ${pkts.length} garbage packets: ${JSON.stringify(dropped)}, unmatched ${unmatched}`);
    t.is(sum(d), pkts.length, `${n.host}: ${JSON.stringify(d)}`);
    t.true(Object.keys(d).every((k) => k.startsWith('dropped.') || k.startsWith('unmatched.')));
    t.true(Object.keys(d).some((k) => k.startsWith('dropped.')) && Object.keys(d).some((k) => k.startsWith('unmatched.')), 'both paths exercised');
  }
  t.is((await snapshot(d1)).accepted, b1.accepted, 'd1 accepted no garbage');
  await unshaken(t);
});

rootTest('a flood of 200 wrong-checksum priority-255 adverts: all counted, warn log rate-limited, no transition', async (t) => {
  const pkts = Array.from({ length: 200 }, (_, i) => badChecksum(packet(advert({ maxAdverIntCs: 1 + (i % 100) }))));
  const [b1, b2] = [await snapshot(d1), await snapshot(d2)];
  const [l1, l2] = [dropLines(d1).length, dropLines(d2).length];
  const t0 = performance.now();
  t.is(await inject(lab, 'at', GROUP, pkts, { gapMs: 1 }), 200);
  t.deepEqual(await counted(d1, b1, { 'dropped.checksum': 200 }), { 'dropped.checksum': 200 });
  t.deepEqual(await counted(d2, b2, { 'dropped.checksum': 200 }), { 'dropped.checksum': 200 });
  const floodMs = performance.now() - t0;
  // One line per reason per 10 s window: a flood this short adds at most one per node.
  const new1 = dropLines(d1).slice(l1);
  const new2 = dropLines(d2).slice(l2);
  t.true(new1.length <= 1 && new2.length <= 1, `'advert dropped' lines during a ${floodMs.toFixed(0)} ms flood: d1 ${new1.length}, d2 ${new2.length}`);
  t.true([...new1, ...new2].every((l) => l['reason'] === 'checksum'));
  // The pair keeps working through and after the flood: hold for several Master_Down_Intervals.
  const end = performance.now() + 1500;
  while (performance.now() < end) {
    t.is((await d1.instance('VI_1'))?.state, 'master');
    t.is((await d2.instance('VI_1'))?.state, 'backup');
    await new Promise((r) => setTimeout(r, 100));
  }
  await unshaken(t);
  t.true((await d2.instance('VI_1'))!.counters.advertsReceived > 0);
});

// Last: it disturbs the pair on purpose.
rootTest('control: the same priority-255 advert, well-formed, does take mastership (so the drops above mattered)', async (t) => {
  const b1 = await snapshot(d1);
  await inject(lab, 'at', GROUP, [packet(advert())]);
  await d1.waitState('VI_1', 'backup', 3000);
  t.is(d1.transitions().at(-1)?.['reason'], 'higher-priority-advert');
  t.is((await d1.instance('VI_1'))?.masterAddress, ATTACKER);
  t.deepEqual(delta(b1.counts, (await snapshot(d1)).counts), {});
  // The attacker goes quiet: d1 (higher priority, shorter Master_Down_Interval) takes back over.
  await d1.waitState('VI_1', 'master', 3000);
  t.is(d1.transitions().at(-1)?.['reason'], 'master-down-timer');
  // d2's Master_Down_Interval is only ~20 ms longer than d1's: it may flap to master a moment.
  await d2.waitState('VI_1', 'backup', 3000);
});
