// One IPVS dump for many scrapes: sharedFetch with a fake clock and a counting fetch, then the
// real prom-client registry over a counting MetricsSource (concurrent scrapes, scrapes within
// metrics.ipvs_cache_ms, and 0 = a dump per scrape, still one for all of a scrape's metrics).
import test from 'ava';
import { sharedFetch } from '../../src/metrics/shared-fetch.js';
import { createMetrics, type MetricsSource } from '../../src/metrics/metrics.js';
import type { DaemonStatus } from '../../src/control/views.js';
import type { DestStats, Service, Table, TableStats } from '../../src/ipvs/model.js';
import { checkFamiliesText } from '../../src/check/prom-text.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

test('sharedFetch: callers during a fetch share it; its result serves ttl ms from when it began', async (t) => {
  let clock = 1000;
  let ttl = 1000;
  const calls: Array<ReturnType<typeof deferred<number>>> = [];
  const get = sharedFetch(() => { const d = deferred<number>(); calls.push(d); return d.promise; }, () => ttl, () => clock);

  const a = get();
  const b = get();
  t.is(calls.length, 1, 'concurrent callers share the fetch under way');
  clock += 300; // the fetch takes 300 ms
  calls[0]!.resolve(7);
  t.deepEqual(await Promise.all([a, b]), [7, 7]);

  clock += 600; // 900 ms after it began
  t.is(await get(), 7);
  t.is(calls.length, 1, 'kept within ttl');
  clock += 100; // 1000 ms: stale
  const c = get();
  t.is(calls.length, 2);
  calls[1]!.resolve(8);
  t.is(await c, 8);

  ttl = 5000; // read at each call, as a reload would change it
  clock += 4000;
  t.is(await get(), 8);
  t.is(calls.length, 2);
});

test('sharedFetch: ttl 0 shares only the fetch under way; a failure is shared and never kept', async (t) => {
  let n = 0;
  const pending: Array<ReturnType<typeof deferred<number>>> = [];
  const get = sharedFetch(() => { n++; const d = deferred<number>(); pending.push(d); return d.promise; }, () => 0, () => 0);
  const a = get();
  const b = get();
  t.is(n, 1);
  pending[0]!.resolve(1);
  t.deepEqual(await Promise.all([a, b]), [1, 1]);
  const c = get();
  t.is(n, 2, 'no keeping with ttl 0, even at the same instant');
  pending[1]!.resolve(2);
  await c;

  const failing = sharedFetch(() => { n++; return Promise.reject(new Error('netlink timeout')); }, () => 60_000, () => 0);
  n = 0;
  const [x, y] = [failing(), failing()];
  await t.throwsAsync(x, { message: 'netlink timeout' });
  await t.throwsAsync(y, { message: 'netlink timeout' });
  t.is(n, 1);
  await t.throwsAsync(failing());
  t.is(n, 2, 'a failure is not kept');
});

/** A daemon with one IPVS service of one real server, counting its IPVS dumps. */
function source(): MetricsSource & { dumps: number } {
  const dest = { conns: 5, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0, activeConns: 2, inactConns: 1, persistConns: 0 } as DestStats;
  const table: Table = new Map([['tcp:192.0.2.100:80', { dests: new Map([['192.0.2.12:80', { weight: 3 }]]) } as unknown as Service]]);
  const stats: TableStats = new Map([['tcp:192.0.2.100:80', { stats: dest, dests: new Map([['192.0.2.12:80', dest]]) }]]);
  const s = {
    dumps: 0,
    status: () => ({ instances: [], sockets: [], operator: {}, checkWorker: undefined }) as unknown as DaemonStatus,
    checkMetricsText: () => checkFamiliesText([]),
    checkLatency: async () => [],
    ipvsStats: async () => { s.dumps++; await new Promise((r) => setTimeout(r, 5)); return { table, stats }; },
    reconcileCounters: () => ({ reconciles: 0, reconcileErrors: 0, ops: {}, opFailures: 0 }),
    onEvent: () => () => {},
  };
  return s;
}

test('a scrape dumps IPVS once for all its metrics; concurrent scrapes and scrapes within ipvs_cache_ms share it', async (t) => {
  const src = source();
  let clock = 0;
  const m = createMetrics(src, { ipvsCacheMs: () => 1000, now: () => clock });
  t.teardown(() => m.close());
  const [one, two] = await Promise.all([m.registry.metrics(), m.registry.metrics()]);
  t.is(src.dumps, 1, 'two concurrent scrapes, eight IPVS metrics each: one dump');
  t.regex(one, /^duet_ipvs_weight\{service="tcp:192\.0\.2\.100:80",server="192\.0\.2\.12:80"\} 3$/m);
  t.regex(two, /^duet_ipvs_active_connections\{service="tcp:192\.0\.2\.100:80",server="192\.0\.2\.12:80"\} 2$/m);
  await new Promise((r) => setTimeout(r, 100)); // real time passes; the (fake) clock says 0 ms
  await m.registry.metrics();
  t.is(src.dumps, 1, 'a scrape within ipvs_cache_ms reads the kept dump');
  clock = 1000;
  await m.registry.metrics();
  t.is(src.dumps, 2, 'after ipvs_cache_ms, a new dump');
});

test('ipvs_cache_ms 0: one dump per scrape, still one for all of its metrics', async (t) => {
  const src = source();
  const m = createMetrics(src, { ipvsCacheMs: () => 0, now: () => 0 });
  t.teardown(() => m.close());
  await m.registry.metrics();
  t.is(src.dumps, 1);
  await m.registry.metrics();
  t.is(src.dumps, 2);
});
