// ipvs/diff: the smallest op list from a dump to the desired table, in an applicable order.
// Hand-written tables for each kind of change, then fast-check properties (fixed seeds):
// diff(x, x) is empty, applying the diff converges (and a second diff is empty), services
// duet does not manage are never touched, k weight changes are exactly k edit-dest ops.
import test from 'ava';
import fc from 'fast-check';
import { applyOps, diff, type Op } from '../../src/ipvs/diff.js';
import {
  destKey, NO_FLAGS, SCHEDULERS, sameService, sameTable, serviceKey, TUNNEL_CSUMS, TUNNEL_TYPES,
  type Destination, type Service, type Table,
} from '../../src/ipvs/model.js';
import { formatAddr } from '../../src/core/addr.js';

// ---------------------------------------------------------------------------------------------
// Builders

function dest(address: string, o: Partial<Destination> = {}): Destination {
  return {
    family: address.includes(':') ? 6 : 4, address, port: 80, forward: 'route', weight: 1,
    upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 'nocsum', ...o,
  };
}

const dmap = (ds: readonly Destination[]): Map<string, Destination> => new Map(ds.map((d) => [destKey(d), d]));

function svc(address: string, port: number, ds: readonly Destination[], o: Partial<Omit<Service, 'kind' | 'dests'>> = {}): Service {
  return {
    kind: 'addr', family: 4, protocol: 'tcp', address, port, scheduler: 'wlc', flags: NO_FLAGS,
    persistenceTimeoutS: 0, persistenceNetmaskLen: 32, ...o, dests: dmap(ds),
  } as Service;
}

function fwm(mark: number, ds: readonly Destination[], o: Partial<Omit<Service, 'kind' | 'dests'>> = {}): Service {
  return {
    kind: 'fwmark', family: 4, fwmark: mark, scheduler: 'wlc', flags: NO_FLAGS,
    persistenceTimeoutS: 0, persistenceNetmaskLen: 32, ...o, dests: dmap(ds),
  } as Service;
}

const table = (...ss: Service[]): Map<string, Service> => new Map(ss.map((s) => [serviceKey(s), s]));

/** Ops as short strings: "edit-dest tcp:192.0.2.100:80 192.0.2.21:80". */
const show = (ops: readonly Op[]): string[] =>
  ops.map((o) => `${o.op} ${serviceKey(o.svc)}${'dest' in o ? ` ${destKey(o.dest)}` : ''}`);

const none = new Set<string>();
const web = (ds = [dest('192.0.2.21'), dest('192.0.2.22')], o: Partial<Omit<Service, 'kind' | 'dests'>> = {}) =>
  svc('192.0.2.100', 80, ds, o);

// ---------------------------------------------------------------------------------------------
// Tables

test('identical tables: no ops', (t) => {
  t.deepEqual(diff(table(web(), fwm(10, [dest('10.0.0.1', { port: 0 })])), table(web(), fwm(10, [dest('10.0.0.1', { port: 0 })])), { managed: none }), []);
});

test('empty kernel: add-svc then its dests, in config order', (t) => {
  const want = table(web(), fwm(10, [dest('10.0.0.1', { port: 0 })]));
  const ops = diff(want, new Map(), { managed: none });
  t.deepEqual(show(ops), [
    'add-svc tcp:192.0.2.100:80',
    'add-dest tcp:192.0.2.100:80 192.0.2.21:80',
    'add-dest tcp:192.0.2.100:80 192.0.2.22:80',
    'add-svc fwmark:10',
    'add-dest fwmark:10 10.0.0.1:0',
  ]);
  t.is(ops[0]?.svc, want.get('tcp:192.0.2.100:80'), 'ops carry the desired objects');
  t.true(sameTable(applyOps(new Map(), ops), want));
});

for (const [what, change] of [
  ['scheduler', { scheduler: 'rr' }],
  ['persistence timeout', { persistenceTimeoutS: 300, flags: { ...NO_FLAGS, persistent: true } }],
  ['netmask', { persistenceNetmaskLen: 24 }],
  ['one-packet flag', { flags: { ...NO_FLAGS, onePacket: true } }],
  ['sh flags', { scheduler: 'sh', flags: { ...NO_FLAGS, shPort: true } }],
] as const) {
  test(`${what} change: one edit-svc, destinations untouched`, (t) => {
    const have = web();
    const want = web(undefined, change);
    const ops = diff(table(want), table(have), { managed: none });
    t.deepEqual(ops, [{ op: 'edit-svc', svc: want, old: have }]);
  });
}

for (const [what, change] of [
  ['weight', { weight: 5 }],
  ['upper threshold', { upperThreshold: 100 }],
  ['lower threshold', { lowerThreshold: 10, upperThreshold: 0 }],
  ['forwarding method', { forward: 'masq' }],
  ['tunnel type', { forward: 'tunnel', tunnelType: 'gre' }],
] as const) {
  test(`destination ${what} change: one edit-dest`, (t) => {
    const base = { forward: 'tunnel', tunnelType: 'ipip' } as const;
    const old = dest('192.0.2.21', what.startsWith('tunnel') ? base : {});
    const now = dest('192.0.2.21', what.startsWith('tunnel') ? { ...base, ...change } : change);
    const want = web([now, dest('192.0.2.22')]);
    const ops = diff(table(want), table(web([old, dest('192.0.2.22')])), { managed: none });
    t.deepEqual(ops, [{ op: 'edit-dest', svc: want, dest: now, old }]);
  });
}

test('tunnel fields that do not apply are not a change', (t) => {
  const a = web([dest('192.0.2.21', { forward: 'route', tunnelType: 'gue', tunnelPort: 6080, tunnelFlags: 'csum' })]);
  const b = web([dest('192.0.2.21', { forward: 'route' })]);
  t.deepEqual(diff(table(a), table(b), { managed: none }), []);
  const gre = (f: Destination['tunnelFlags'], port: number) =>
    web([dest('192.0.2.21', { forward: 'tunnel', tunnelType: 'gre', tunnelPort: port, tunnelFlags: f })]);
  t.deepEqual(diff(table(gre('remcsum', 1)), table(gre('nocsum', 0)), { managed: none }), [], 'gre: port unused, remcsum = nocsum');
  t.is(diff(table(gre('csum', 0)), table(gre('nocsum', 0)), { managed: none }).length, 1);
});

test('real servers replaced: new ones added before old ones go', (t) => {
  const want = web([dest('192.0.2.23'), dest('192.0.2.21', { weight: 2 })]);
  const have = web([dest('192.0.2.21'), dest('192.0.2.22')]);
  t.deepEqual(show(diff(table(want), table(have), { managed: none })), [
    'add-dest tcp:192.0.2.100:80 192.0.2.23:80',
    'edit-dest tcp:192.0.2.100:80 192.0.2.21:80',
    'del-dest tcp:192.0.2.100:80 192.0.2.22:80',
  ]);
});

test('a wanted service owns its whole destination set, even if added by hand', (t) => {
  const have = web([dest('192.0.2.21'), dest('192.0.2.22'), dest('198.51.100.9')]);
  t.deepEqual(show(diff(table(web()), table(have), { managed: none })), ['del-dest tcp:192.0.2.100:80 198.51.100.9:80']);
});

test('a managed service no longer wanted: one del-svc, no del-dest for its destinations', (t) => {
  const old = svc('192.0.2.101', 443, [dest('192.0.2.21', { port: 443 })]);
  const ops = diff(table(web()), table(web(), old), { managed: new Set(['tcp:192.0.2.101:443']) });
  t.deepEqual(ops, [{ op: 'del-svc', svc: old }]);
});

test('services duet does not manage are left alone', (t) => {
  const foreign = svc('203.0.113.5', 25, [dest('10.9.9.9', { port: 25 })], { scheduler: 'rr' });
  const have = table(foreign, fwm(99, []));
  t.deepEqual(diff(table(web()), have, { managed: new Set(['tcp:192.0.2.100:80']) }).map((o) => o.op), ['add-svc', 'add-dest', 'add-dest']);
  t.deepEqual(diff(new Map(), have, { managed: none }), []);
});

test('order: service ops, then deletions of managed services last', (t) => {
  const gone = fwm(7, [dest('10.0.0.7', { port: 0 })]);
  const want = table(web(undefined, { scheduler: 'rr' }), fwm(10, [dest('10.0.0.1', { port: 0 })]));
  const have = table(gone, web());
  t.deepEqual(show(diff(want, have, { managed: new Set(['fwmark:7']) })), [
    'edit-svc tcp:192.0.2.100:80',
    'add-svc fwmark:10',
    'add-dest fwmark:10 10.0.0.1:0',
    'del-svc fwmark:7',
  ]);
});

test('identity: family, protocol, port and fwmark family all tell services apart', (t) => {
  const v6 = svc('2001:db8::100', 80, [], { family: 6, persistenceNetmaskLen: 128 });
  const udp = { ...web([]), protocol: 'udp' } as Service;
  const keys = [web([]), udp, svc('192.0.2.100', 81, []), v6, fwm(10, []), fwm(10, [], { family: 6, persistenceNetmaskLen: 128 })].map(serviceKey);
  t.deepEqual(keys, ['tcp:192.0.2.100:80', 'udp:192.0.2.100:80', 'tcp:192.0.2.100:81', 'tcp:[2001:db8::100]:80', 'fwmark:10', 'fwmark6:10']);
  t.is(destKey(dest('2001:db8::21', { port: 8080 })), '[2001:db8::21]:8080');
});

test('applyOps refuses what the kernel would (EEXIST / ENOENT): a bug in the caller', (t) => {
  const have = table(web());
  t.throws(() => applyOps(have, [{ op: 'add-svc', svc: web() }]), { instanceOf: Error, message: /service exists/ });
  t.throws(() => applyOps(have, [{ op: 'add-dest', svc: web(), dest: dest('192.0.2.21') }]), { message: /destination exists/ });
  t.throws(() => applyOps(have, [{ op: 'del-dest', svc: web(), dest: dest('192.0.2.29') }]), { message: /no such destination/ });
  t.throws(() => applyOps(have, [{ op: 'edit-svc', svc: fwm(1, []), old: fwm(1, []) }]), { message: /no such service/ });
  const e = t.throws(() => applyOps(have, [{ op: 'del-svc', svc: fwm(1, []) }]));
  t.is((e as Error & { code?: string }).code, 'DUET_E_BUG');
  t.is(have.get('tcp:192.0.2.100:80')?.dests.size, 2, 'have is not modified');
});

// ---------------------------------------------------------------------------------------------
// Properties

/** Small pools, so generated tables overlap in keys and differ in attributes. */
const arbDest = (family: 4 | 6, fwmark: boolean): fc.Arbitrary<Destination> =>
  fc.record({
    host: fc.integer({ min: 1, max: 6 }),
    port: fwmark ? fc.constantFrom(0, 8080) : fc.constantFrom(80, 8080),
    forward: fc.constantFrom('masq', 'route', 'tunnel' as const),
    weight: fc.integer({ min: 0, max: 4 }),
    upperThreshold: fc.constantFrom(0, 100),
    lowerThreshold: fc.constantFrom(0, 50),
    tunnelType: fc.constantFrom(...TUNNEL_TYPES),
    tunnelPort: fc.constantFrom(0, 6080),
    tunnelFlags: fc.constantFrom(...TUNNEL_CSUMS),
  }).map(({ host, ...d }) => ({
    ...d,
    family,
    address: family === 4 ? formatAddr(4, Uint8Array.of(10, 0, 0, host)) : formatAddr(6, Uint8Array.of(0x20, 1, 0xd, 0xb8, ...new Array<number>(11).fill(0), host)),
  }));

const arbService: fc.Arbitrary<Service> = fc
  .record({
    family: fc.constantFrom(4 as const, 6 as const),
    fwmark: fc.boolean(),
    id: fc.integer({ min: 1, max: 4 }),
    protocol: fc.constantFrom('tcp', 'udp', 'sctp' as const),
    scheduler: fc.constantFrom(...SCHEDULERS.slice(0, 4), 'sh', 'mh'),
    flags: fc.record({
      persistent: fc.boolean(), onePacket: fc.boolean(), shFallback: fc.boolean(), shPort: fc.boolean(),
      mhFallback: fc.boolean(), mhPort: fc.boolean(),
    }),
    persistenceTimeoutS: fc.constantFrom(0, 300),
    netmaskShort: fc.boolean(),
  })
  .chain((s) =>
    fc.array(arbDest(s.family, s.fwmark), { maxLength: 5 }).map((ds): Service => {
      const attrs = {
        family: s.family, scheduler: s.scheduler, flags: s.flags, persistenceTimeoutS: s.persistenceTimeoutS,
        persistenceNetmaskLen: s.netmaskShort ? 24 : s.family === 4 ? 32 : 128, dests: dmap(ds),
      };
      return s.fwmark
        ? { kind: 'fwmark', fwmark: s.id, ...attrs }
        : { kind: 'addr', protocol: s.protocol, port: 80, address: s.family === 4 ? `192.0.2.${s.id}` : `2001:db8::${s.id}`, ...attrs };
    }),
  );

const arbTable: fc.Arbitrary<Table> = fc.array(arbService, { maxLength: 6 }).map((ss) => table(...ss));

/** want, have, and a managed set drawn from have's keys plus strangers. */
const arbCase = fc
  .record({ want: arbTable, have: arbTable, pick: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }) })
  .map(({ want, have, pick }) => ({
    want,
    have,
    managed: new Set([...[...have.keys()].filter((_, i) => pick[i]), 'fwmark:4242']),
  }));

const RUNS = { numRuns: 400, seed: 4242 };

test('property: diff(x, x) is empty, whatever is managed', (t) => {
  t.notThrows(() => fc.assert(fc.property(arbTable, fc.boolean(), (x, all) =>
    diff(x, x, { managed: all ? new Set(x.keys()) : none }).length === 0), RUNS));
});

test('property: applying the diff converges; a second diff is empty', (t) => {
  t.notThrows(() => fc.assert(fc.property(arbCase, ({ want, have, managed }) => {
    const after = applyOps(have, diff(want, have, { managed }));
    for (const [k, w] of want) if (!sameService(after.get(k) ?? fwm(0, []), w)) return false;
    for (const [k, h] of have) {
      if (want.has(k)) continue;
      if (managed.has(k) ? after.has(k) : after.get(k) !== h) return false;
    }
    for (const k of after.keys()) if (!want.has(k) && !have.has(k)) return false;
    return diff(want, after, { managed }).length === 0;
  }), RUNS));
});

test('property: unmanaged services are never touched', (t) => {
  t.notThrows(() => fc.assert(fc.property(arbCase, ({ want, have, managed }) =>
    diff(want, have, { managed }).every((o) => want.has(serviceKey(o.svc)) || managed.has(serviceKey(o.svc)))), RUNS));
});

test('property: a weight-only change of k destinations is exactly k edit-dest ops', (t) => {
  const arb = arbTable.chain((x) => {
    const all = [...x.entries()].flatMap(([k, s]) => [...s.dests.keys()].map((dk) => [k, dk] as const));
    return fc.subarray(all).map((chosen) => ({ x, chosen }));
  });
  t.notThrows(() => fc.assert(fc.property(arb, ({ x, chosen }) => {
    const want = new Map(x);
    for (const [k, dk] of chosen) {
      const s = want.get(k)!;
      const d = s.dests.get(dk)!;
      want.set(k, { ...s, dests: new Map(s.dests).set(dk, { ...d, weight: d.weight + 100 }) });
    }
    const ops = diff(want, x, { managed: new Set(x.keys()) });
    const got = ops.map((o) => (o.op === 'edit-dest' ? `${serviceKey(o.svc)} ${destKey(o.dest)}` : o.op)).sort();
    return JSON.stringify(got) === JSON.stringify(chosen.map(([k, dk]) => `${k} ${dk}`).sort());
  }), RUNS));
});

test('property: service attribute changes are edit-svc only, never delete and re-add', (t) => {
  const arb = fc.record({ x: arbTable, sched: fc.constantFrom(...SCHEDULERS), timeout: fc.constantFrom(0, 60, 300) });
  t.notThrows(() => fc.assert(fc.property(arb, ({ x, sched, timeout }) => {
    const want = new Map([...x].map(([k, s]) => [k, { ...s, scheduler: sched, persistenceTimeoutS: timeout }]));
    const ops = diff(want, x, { managed: new Set(x.keys()) });
    return ops.every((o) => o.op === 'edit-svc') && ops.length === [...x.values()].filter((s) => s.scheduler !== sched || s.persistenceTimeoutS !== timeout).length;
  }), RUNS));
});
