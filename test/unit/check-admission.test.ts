// Admission control (check/admission.ts): past capacity, checks wait their turn in FIFO order, at
// most perTurn start per loop turn and at most maxInFlight run at once; a check stopped while it
// waits never starts; the wait is lateness (the engine's figures) and is counted. Pure: a fake
// clock and a fake turn. Real: the real check worker overloaded by a busy loop, HTTP checks of
// a slow server in another process: this process's open fds stay under the bound, no check
// goes down.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { AdmissionGate, FD_RESERVE, inFlightFromFdLimit } from '../../src/check/admission.js';
import { CheckEngine, lateThresholdMs, type CheckEvent } from '../../src/check/engine.js';
import { workerChecks } from '../../src/check/host.js';
import type { CheckedService, CheckResult, CheckSpec } from '../../src/check/types.js';
import { lateLine } from '../../src/cli/format.js';
import { formatIssue, parseConfig } from '../../src/config/load.js';
import { exportKeepalived } from '../../src/import/keepalived-export.js';

const spec = (port: number, timeoutMs = 100): CheckSpec => ({ type: 'tcp', target: { address: '192.0.2.21', family: 4, port }, timeoutMs });
const portOf = (s: CheckSpec): number => (s.type === 'tcp' ? s.target.port : -1);
const OK: CheckResult = { ok: true, latencyMs: 1, reason: 'connected' };
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A gate on a fake clock and fake turns, over a fake run that finishes when the test says. */
function harness(perTurn: number, maxInFlight: number) {
  let now = 0;
  let turns: Array<() => void> = [];
  const started: Array<{ port: number; at: number; finish: (r?: CheckResult) => void }> = [];
  const gate = new AdmissionGate({
    clock: { now: () => now }, perTurn, maxInFlight,
    defer: (fn) => { turns.push(fn); },
    run: (s) => new Promise<CheckResult>((resolve) => { started.push({ port: portOf(s), at: now, finish: (r = OK) => resolve(r) }); }),
  });
  return {
    gate, started,
    set now(ms: number) { now = ms; },
    /** The next turn of the loop: what was deferred runs. */
    turn(): void { const fns = turns; turns = []; for (const fn of fns) fn(); },
    pendingTurns: (): number => turns.length,
  };
}

test('FIFO order, at most perTurn starts per turn, the rest on the next turns', (t) => {
  const h = harness(3, 100);
  const signal = new AbortController().signal;
  for (let p = 1; p <= 7; p++) void h.gate.run(spec(p), signal);
  t.deepEqual(h.started.map((s) => s.port), [1, 2, 3], 'three start in the turn they are due');
  t.like(h.gate.stats(), { queued: 4, queuedTotal: 4, inFlight: 3 });
  h.turn();
  t.deepEqual(h.started.map((s) => s.port), [1, 2, 3, 4, 5, 6]);
  // One due in this turn goes behind the ones already waiting.
  void h.gate.run(spec(8), signal);
  t.deepEqual(h.started.map((s) => s.port), [1, 2, 3, 4, 5, 6], 'the turn\'s three are used');
  h.turn();
  t.deepEqual(h.started.map((s) => s.port), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.like(h.gate.stats(), { queued: 0, queuedTotal: 5, inFlight: 8 });
  h.turn();
  void h.gate.run(spec(9), signal);
  t.is(h.started.length, 9, 'with no queue and room, a run starts at once');
});

test('at most maxInFlight run at once; a finished run makes room on the next turn', async (t) => {
  const h = harness(10, 2);
  const signal = new AbortController().signal;
  const results = [1, 2, 3, 4, 5].map((p) => h.gate.run(spec(p), signal));
  t.deepEqual(h.started.map((s) => s.port), [1, 2]);
  h.turn();
  h.turn();
  t.is(h.started.length, 2, 'no room: turns start nothing');
  t.is(h.pendingTurns(), 0, 'and nothing spins while nothing finishes');
  h.started[0]!.finish();
  t.deepEqual(await results[0], OK);
  t.is(h.gate.stats().inFlight, 1);
  h.turn();
  t.deepEqual(h.started.map((s) => s.port), [1, 2, 3]);
  t.is(h.gate.stats().inFlight, 2);
  h.started[1]!.finish();
  h.started[2]!.finish({ ok: false, latencyMs: 100, reason: 'timeout' });
  t.like(await results[2], { reason: 'timeout' }, 'a queued run gets its own result');
  h.turn();
  t.deepEqual(h.started.map((s) => s.port), [1, 2, 3, 4, 5]);
  t.like(h.gate.stats(), { queued: 0, inFlight: 2, maxInFlight: 2 });
});

test('a run whose check is stopped while it waits leaves the queue and never starts', async (t) => {
  const h = harness(1, 100);
  const keep = new AbortController();
  const stop = new AbortController();
  void h.gate.run(spec(1), keep.signal);
  const stopped = h.gate.run(spec(2), stop.signal);
  void h.gate.run(spec(3), keep.signal);
  t.is(h.gate.stats().queued, 2);
  stop.abort();
  t.deepEqual(await stopped, { ok: false, latencyMs: 0, reason: 'aborted' });
  t.is(h.gate.stats().queued, 1, 'it left the queue at once');
  h.turn();
  h.turn();
  t.deepEqual(h.started.map((s) => s.port), [1, 3], 'and never started; the next in line took its place');
  // Already aborted when it comes: not queued either.
  void h.gate.run(spec(4), keep.signal);
  t.like(await h.gate.run(spec(5), stop.signal), { reason: 'aborted' });
  h.turn();
  t.deepEqual(h.started.map((s) => s.port), [1, 3, 4]);
});

test('the wait is handed to the run as it starts, from the clock', (t) => {
  const h = harness(1, 100);
  const signal = new AbortController().signal;
  const waited: number[] = [];
  void h.gate.run(spec(1), signal, (ms) => waited.push(ms));
  void h.gate.run(spec(2), signal, (ms) => waited.push(ms));
  t.deepEqual(waited, [], 'the first did not wait: not told');
  h.now = 40;
  h.turn();
  t.deepEqual(waited, [40]);
  t.is(h.started[1]!.at, 40, 'started (its timeout armed) only now');
});

test('bounds: from the open-file limit with a reserve; limits below 1 refused', (t) => {
  t.is(inFlightFromFdLimit(20000), 16000);
  t.is(inFlightFromFdLimit(1024), 1024 - FD_RESERVE);
  t.is(inFlightFromFdLimit(100), 1);
  t.throws(() => inFlightFromFdLimit(Number.NaN), { message: /open-file limit NaN/ });
  t.throws(() => new AdmissionGate({ clock: { now: () => 0 }, defer: () => undefined, run: () => Promise.resolve(OK), perTurn: 0, maxInFlight: 5 }), { message: /at least 1/ });
});

test('config check_worker: unset by default, bounds when given, bad values at their line; export to keepalived notes it', (t) => {
  const base = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';
  const load = (yaml: string): ReturnType<typeof parseConfig> => parseConfig(base + yaml, 'duet.yaml');
  const d = load('');
  t.true(d.ok && Object.keys(d.value.checkWorker).length === 0);
  const v = load('check_worker:\n  max_in_flight: 4000\n  starts_per_turn: 128\n');
  t.true(v.ok);
  if (v.ok) t.deepEqual(v.value.checkWorker, { maxInFlight: 4000, perTurn: 128 });
  const issues = (yaml: string): string => { const r = load(yaml); return r.ok ? '' : r.error.map(formatIssue).join('\n'); };
  t.regex(issues('check_worker:\n  max_in_flight: 0\n'), /duet\.yaml:5:\d+.*check_worker\.max_in_flight.*got 0/);
  t.regex(issues('check_worker:\n  starts_per_turn: 2.5\n'), /check_worker\.starts_per_turn.*whole number/);
  t.regex(issues('check_worker:\n  per_thread: 5\n'), /per_thread/);
  const x = exportKeepalived(`${base}check_worker: { max_in_flight: 4000 }\n`, 'duet.yaml');
  t.true(x.notes.some((n) => n.field.startsWith('check_worker') && /no admission bounds/.test(n.why)), JSON.stringify(x.notes));
});

const SVC: CheckedService = {
  name: 'web', kind: 'addr', protocol: 'tcp', address: '192.0.2.100', family: 4, port: 80, slowStartMs: 0, quorum: 1, hysteresis: 0, realServers: [],
};

test('engine: time spent waiting for admission is lateness (late runs, behind, p99); a check waiting past its timeout is not down', async (t) => {
  // Six checks all due at 1000 (random 0); one start per turn; each turn is 100 ms later.
  let now = 1000;
  let timers: Array<{ ms: number; fn: () => void }> = [];
  let turns: Array<() => void> = [];
  const clock = { now: () => now, at: (ms: number, fn: () => void) => { const e = { ms, fn }; timers.push(e); return () => { timers = timers.filter((x) => x !== e); }; } };
  const startedAt: number[] = [];
  const gate = new AdmissionGate({
    clock, perTurn: 1, maxInFlight: 100, defer: (fn) => { turns.push(fn); },
    // A run that takes 50 ms of its 100 ms timeout from its real start: a pass.
    run: () => { startedAt.push(now); return Promise.resolve({ ok: true, latencyMs: 50, reason: 'connected' }); },
  });
  const events: CheckEvent[] = [];
  const engine = new CheckEngine({ clock, random: () => 0, onEvent: (e) => events.push(e), run: gate.run });
  const servers = [1, 2, 3, 4, 5, 6].map((i) => ({
    family: 4 as const, address: `192.0.2.${i}`, port: 80, weight: 1, inhibitOnFailure: false,
    checks: [{ spec: spec(80), intervalMs: 1000, retryDelayMs: 1000, rise: 1, fall: 1 }],
  }));
  engine.configure([{ ...SVC, realServers: servers }]);
  const due = timers.filter((x) => x.ms <= now);
  timers = timers.filter((x) => x.ms > now);
  for (const x of due) x.fn();
  for (let i = 0; i < 6; i++) {
    now += 100;
    const fns = turns; turns = [];
    for (const fn of fns) fn();
    await settle();
  }
  t.deepEqual(startedAt, [1000, 1100, 1200, 1300, 1400, 1500]);
  const l = engine.pulse();
  t.is(l.behindMs, 500, 'the last waited 500 ms');
  t.is(l.lateRuns, 4, `every run that waited more than ${lateThresholdMs(1000)} ms`);
  const timing = engine.timing();
  t.is(timing.runs, 6);
  t.is(timing.lateMaxMs, 500);
  t.is(events.filter((e) => e.kind === 'check' && e.to === 'down').length, 0);
  t.is(events.filter((e) => e.kind === 'check' && e.to === 'up').length, 6, 'each waited longer than its 100 ms timeout, and is up');
  t.regex(lateLine({ ...l, queued: 3 })!, /^checks: RUNNING LATE: up to 500 ms behind schedule in the last second, 3 waiting to start; 4 runs started late/);
  engine.stop();
});

test('engine: a run that waits while more runs fire than the lateness ring holds still counts its wait', async (t) => {
  // 17,001 checks due at 1000; one runs at a time: the rest wait while 17,000 fires pass the
  // ring (16,384 samples) by, so the second's own sample from fire() is gone when it starts.
  let now = 1000;
  let timers: Array<{ ms: number; fn: () => void }> = [];
  let turns: Array<() => void> = [];
  const clock = { now: () => now, at: (ms: number, fn: () => void) => { const e = { ms, fn }; timers.push(e); return () => { timers = timers.filter((x) => x !== e); }; } };
  const finish: Array<() => void> = [];
  const gate = new AdmissionGate({
    clock, perTurn: 1, maxInFlight: 1, defer: (fn) => { turns.push(fn); },
    run: () => new Promise<CheckResult>((resolve) => { finish.push(() => resolve(OK)); }),
  });
  const engine = new CheckEngine({ clock, random: () => 0, onEvent: () => undefined, run: gate.run });
  const servers = Array.from({ length: 17_001 }, (_, i) => ({
    family: 4 as const, address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, port: 80, weight: 1, inhibitOnFailure: false,
    checks: [{ spec: spec(80), intervalMs: 10_000, retryDelayMs: 10_000, rise: 1, fall: 1 }],
  }));
  engine.configure([{ ...SVC, realServers: servers }]);
  const due = timers; timers = [];
  for (const x of due) x.fn();
  t.like(gate.stats(), { inFlight: 1, queued: 17_000 });
  now = 3000;
  finish[0]!();
  await settle();
  const fns = turns; turns = [];
  for (const fn of fns) fn();
  t.is(finish.length, 2, 'the second started');
  t.is(engine.timing().lateMaxMs, 2000, 'its 2 s wait is in the ring');
  t.like(engine.pulse(), { behindMs: 2000, lateRuns: 1 });
  engine.stop();
});

/** A slow HTTP server in a child process (its sockets are not this process's fds). */
async function childServer(delayMs: number): Promise<{ port: number; stop: () => void }> {
  const src = `const s = require('node:http').createServer((q, r) => setTimeout(() => r.end('ok'), ${delayMs}));
s.keepAliveTimeout = 1; s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { port, stop: () => { child.kill(); } };
}

const fds = (): number => readdirSync('/proc/self/fd').length;

/**
 * The real check worker, busy 200 ms of every 300 ms, runs 300 HTTP checks every 300 ms of a
 * server that answers in 40 ms: after each busy spell every check is due at once. Returns the
 * peak of this process's open fds over its baseline, and the check events.
 */
async function overload(admission: { perTurn: number; maxInFlight: number } | undefined, port: number) {
  process.env['DUET_TEST_BUSY_MS'] = '200';
  process.env['DUET_TEST_BUSY_EVERY_MS'] = '300';
  const servers = Array.from({ length: 300 }, (_, i) => ({
    family: 4 as const, address: `192.0.${1 + (i >> 8)}.${i & 255}`, port: 80, weight: 1, inhibitOnFailure: false,
    checks: [{
      spec: { type: 'http' as const, target: { address: '127.0.0.1', family: 4 as const, port }, timeoutMs: 150, method: 'GET' as const, path: '/', status: [{ from: 200, to: 299 }], tlsVerify: false },
      intervalMs: 300, retryDelayMs: 300, rise: 1, fall: 1,
    }],
  }));
  const events: CheckEvent[] = [];
  const base = fds();
  const host = workerChecks({
    onEvent: (e) => events.push(e), onError: () => undefined, heartbeatMs: 200, heartbeatTimeoutMs: 5000,
    workerUrl: new URL('../fakes/busy-worker.js', import.meta.url), ...(admission ? { admission } : {}),
  });
  delete process.env['DUET_TEST_BUSY_MS'];
  delete process.env['DUET_TEST_BUSY_EVERY_MS'];
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, fds() - base); }, 2);
  try {
    await host.configure([{ ...SVC, realServers: servers }]);
    await new Promise((r) => setTimeout(r, 4000));
    return { peak, events, late: host.liveness().late };
  } finally {
    clearInterval(sampler);
    await host.close();
  }
}

// Serial: it measures this process's fds, which other tests' sockets would add to.
test.serial('real: the overloaded worker keeps its checks in flight under the bound, and none goes down for it', async (t) => {
  const server = await childServer(40);
  t.teardown(server.stop);
  const bound = 16;
  // The worker's own fds (its loop, the native core's epoll set) and a margin come on top.
  const slack = 12;
  const r = await overload({ perTurn: 8, maxInFlight: bound }, server.port);
  const downs = r.events.filter((e) => e.kind === 'check' && e.to === 'down');
  const ups = r.events.filter((e) => e.kind === 'check' && e.to === 'up');
  t.log(`peak open fds over baseline ${r.peak} (bound ${bound} + ${slack}); ${ups.length} up, ${downs.length} down; late: ${JSON.stringify(r.late)}`);
  t.true(r.peak <= bound + slack, `open fds ${r.peak} over baseline`);
  t.deepEqual(downs.map((e) => e.kind === 'check' && `${e.server} ${e.reason}`), [], 'no check down');
  t.is(ups.length, 300, 'every check came up');
  t.true((r.late?.queuedTotal ?? 0) > 0, 'checks waited for admission');
  t.true((r.late?.lateRuns ?? 0) > 0, 'and it says checks ran late');
});
