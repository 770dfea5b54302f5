// Past capacity, checks run late and say so, and no check is failed for lateness of our own
// making. Pure: timeoutVerdict (how much of its timeout a run had our attention for), the engine
// on a fake clock (late runs counted, a no-verdict timeout leaves the health alone), the status
// line. Real: an HTTP check against a real server while this thread is blocked, and the real
// check worker overloaded by a busy loop, with real servers: no false downs.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import { workerChecks } from '../../src/check/host.js';
import { CheckEngine, lateThresholdMs, type CheckEvent } from '../../src/check/engine.js';
import { httpCheck } from '../../src/check/checkers/index.js';
import { MAX_TIMEOUT_EXTENSIONS, timeoutVerdict } from '../../src/check/checkers/probe.js';
import type { CheckedService, CheckResult, CheckSpec, HttpCheckSpec } from '../../src/check/types.js';
import { lateLine } from '../../src/cli/format.js';
import { idleMetricsSource } from '../fakes/metrics-source.js';

test('timeoutVerdict: a timeout is one only when the server had the whole time of our attention', (t) => {
  t.deepEqual(timeoutVerdict({ elapsedMs: 1000.5, stallMs: 0, timeoutMs: 1000, extensions: 0 }), { kind: 'timeout' });
  t.deepEqual(timeoutVerdict({ elapsedMs: 1010, stallMs: 15, timeoutMs: 1000, extensions: 0 }), { kind: 'timeout' }, 'within the 2% slack');
  t.deepEqual(timeoutVerdict({ elapsedMs: 1300, stallMs: 700, timeoutMs: 1000, extensions: 0 }), { kind: 'extend', ms: 400 }, 'owed what the loop took');
  t.deepEqual(timeoutVerdict({ elapsedMs: 3000, stallMs: 2500, timeoutMs: 1000, extensions: MAX_TIMEOUT_EXTENSIONS }), { kind: 'inconclusive' });
  t.deepEqual(timeoutVerdict({ elapsedMs: 3000, stallMs: 1000, timeoutMs: 1000, extensions: MAX_TIMEOUT_EXTENSIONS }), { kind: 'timeout' }, 'had its time in the end');
});

const SPEC: CheckSpec = { type: 'tcp', target: { address: '192.0.2.21', family: 4, port: 80 }, timeoutMs: 100 };
const SVC: CheckedService = {
  name: 'web', kind: 'addr', protocol: 'tcp', address: '192.0.2.100', family: 4, port: 80, slowStartMs: 0, quorum: 1, hysteresis: 0,
  realServers: [{ family: 4, address: '192.0.2.21', port: 80, weight: 5, inhibitOnFailure: false, checks: [{ spec: SPEC, intervalMs: 1000, retryDelayMs: 1000, rise: 1, fall: 1 }] }],
};

test('engine: runs that start late are counted and the worst delay reported; a no-verdict timeout changes nothing', async (t) => {
  // A clock whose timers run only when the test says, at whatever time it says: a stalled loop.
  let now = 1000;
  let timers: Array<{ ms: number; fn: () => void }> = [];
  const clock = { now: () => now, at: (ms: number, fn: () => void) => { const e = { ms, fn }; timers.push(e); return () => { timers = timers.filter((x) => x !== e); }; } };
  const runDue = (at: number): void => { now = at; const due = timers.filter((x) => x.ms <= at); timers = timers.filter((x) => x.ms > at); for (const x of due) x.fn(); };
  const events: CheckEvent[] = [];
  const results: CheckResult[] = [{ ok: true, latencyMs: 1, reason: 'connected' }];
  const engine = new CheckEngine({
    clock, random: () => 0, onEvent: (e) => events.push(e),
    run: () => Promise.resolve(results.shift() ?? { ok: false, latencyMs: 100, reason: 'timeout', selfLateMs: 900 }),
  });
  engine.configure([SVC]);
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  runDue(1000);
  await settle();
  t.true(events.some((e) => e.kind === 'check' && e.to === 'up'));
  t.deepEqual(engine.pulse(), { lateRuns: 0, discounted: 0, behindMs: 0 });
  t.deepEqual(timers.map((x) => x.ms), [2000], 'next run due at 2000');
  // The loop comes back at 2400: the run starts 400 ms late, and its timeout was ours.
  runDue(2400);
  await settle();
  const l = engine.pulse();
  t.is(l.lateRuns, 1, `late past ${lateThresholdMs(1000)} ms`);
  t.is(l.behindMs, 400);
  t.is(l.discounted, 1, 'its timeout had no verdict');
  t.false(events.some((e) => e.kind === 'check' && e.to === 'down'), 'fall 1, yet not down: the timeout was ours');
  t.is(engine.status()[0]!.servers[0]!.checks[0]!.health, 'up');
  t.deepEqual(timers.map((x) => x.ms), [3000], 'and the next run keeps the schedule');
  t.is(engine.pulse().behindMs, 0, 'a new window');
  // On time, a run is not late (a few ms past due is not).
  runDue(3010);
  await settle();
  t.deepEqual(engine.pulse(), { lateRuns: 1, discounted: 2, behindMs: 10 });
  engine.stop();
});

test('the status line says checks run late, and how many timeouts were not counted', (t) => {
  t.is(lateLine(undefined), undefined);
  t.is(lateLine({ lateRuns: 0, discounted: 0, behindMs: 10 }), undefined);
  t.is(lateLine({ lateRuns: 12, discounted: 3, behindMs: 812.4 }),
    'checks: RUNNING LATE: up to 812 ms behind schedule in the last second; 12 runs started late, 3 timeouts not counted (this node was too busy to see the answer)');
  t.regex(lateLine({ lateRuns: 1, discounted: 0, behindMs: 0 })!, /^checks: on schedule now; 1 run started late/);
});

/** An HTTP server answering 200 after delayMs. */
async function slowServer(delayMs: number): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => { setTimeout(() => res.end('ok'), delayMs); });
  server.keepAliveTimeout = 1;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

const httpSpec = (port: number, timeoutMs: number): HttpCheckSpec => ({
  type: 'http', target: { address: '127.0.0.1', family: 4, port }, timeoutMs, method: 'GET', path: '/', status: [{ from: 200, to: 299 }], tlsVerify: false,
});

// Serial: it blocks this process's main thread, where the other real tests' servers answer (run
// alongside, their checks would see a server that really did not answer, and fail).
test.serial('real: an HTTP check whose thread is blocked past its timeout still sees the answer (not a timeout)', async (t) => {
  const { server, port } = await slowServer(40);
  t.teardown(() => server.close());
  // The check starts, then this thread is blocked for 3x its timeout: the connection completes and
  // the request waits unsent behind the block; the timer is overdue when the loop comes back.
  const run = httpCheck(httpSpec(port, 150), new AbortController().signal);
  const end = performance.now() + 450;
  while (performance.now() < end) { /* blocked */ }
  const r = await run;
  t.log(`${r.reason} after ${r.latencyMs.toFixed(0)} ms`);
  t.true(r.ok, `reason: ${r.reason}`);
  // And a server that does not answer in time still times out.
  const slow = await slowServer(400);
  t.teardown(() => slow.server.close());
  const r2 = await httpCheck(httpSpec(slow.port, 100), new AbortController().signal);
  t.false(r2.ok);
  t.is(r2.reason, 'timeout');
  t.is(r2.selfLateMs, undefined, 'a real timeout is a verdict');
});

test('real: the check worker overloaded by a busy loop runs checks late and says so, with no false downs', async (t) => {
  const { server, port } = await slowServer(20);
  t.teardown(() => server.close());
  process.env['DUET_TEST_BUSY_MS'] = '300';
  process.env['DUET_TEST_BUSY_EVERY_MS'] = '350';
  const servers = Array.from({ length: 40 }, (_, i) => ({
    family: 4 as const, address: `192.0.2.${i + 1}`, port: 80, weight: 1, inhibitOnFailure: false,
    checks: [{ spec: httpSpec(port, 150), intervalMs: 200, retryDelayMs: 200, rise: 1, fall: 1 }],
  }));
  const events: CheckEvent[] = [];
  const host = workerChecks({
    onEvent: (e) => events.push(e), onError: () => undefined,
    workerUrl: new URL('../fakes/busy-worker.js', import.meta.url), heartbeatMs: 200, heartbeatTimeoutMs: 3000,
  });
  delete process.env['DUET_TEST_BUSY_MS'];
  delete process.env['DUET_TEST_BUSY_EVERY_MS'];
  t.teardown(() => host.close());
  await host.configure([{ ...SVC, realServers: servers }]);
  await new Promise((r) => setTimeout(r, 4000));
  const late = host.liveness().late;
  const downs = events.filter((e) => e.kind === 'check' && e.to === 'down');
  const ups = events.filter((e) => e.kind === 'check' && e.to === 'up');
  t.log(`${ups.length} up, ${downs.length} down; late: ${JSON.stringify(late)}`);
  t.is(ups.length, 40, 'every check came up');
  t.deepEqual(downs.map((e) => e.kind === 'check' && `${e.server} ${e.reason}`), [], 'no check down');
  t.true((late?.lateRuns ?? 0) > 0, 'and it says checks ran late');
});

test('metrics: late runs, discounted timeouts, how far behind and what waits for admission, from the worker\'s heartbeat', async (t) => {
  const { createMetrics } = await import('../../src/metrics/metrics.js');
  const late = { lateRuns: 42, discounted: 3, behindMs: 812, queued: 1500, queuedTotal: 90000, inFlight: 64, maxInFlight: 16000 };
  const m = createMetrics(idleMetricsSource({
    status: () => ({ instances: [], sockets: [], operator: {}, checkWorker: { answering: true, restarts: 0, lastRestart: undefined, late } }) as never,
  }), { ipvsCacheMs: () => 0, now: () => 0 });
  t.teardown(() => m.close());
  const text = await m.text();
  t.regex(text, /^duet_check_late_runs_total 42$/m);
  t.regex(text, /^duet_check_timeouts_discounted_total 3$/m);
  t.regex(text, /^duet_check_lateness_seconds 0\.812$/m);
  t.regex(text, /^duet_check_queued 1500$/m);
  t.regex(text, /^duet_check_queued_total 90000$/m);
  t.regex(text, /^duet_check_in_flight 64$/m);
});
