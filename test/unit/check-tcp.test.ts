// tcpCheck against real listeners on loopback: connected / refused / errno / timeout / abort,
// bindAddress, the RST close, and that a finished check leaves no socket or timer behind.
import test from 'ava';
import { tcpCheck } from '../../src/check/checkers/tcp.js';
import type { TcpCheckSpec } from '../../src/check/types.js';
import { closedPort, handles, settledTo, target, tcpServer, unansweredPort } from './check-servers.js';

const never = new AbortController().signal;

function spec(port: number, address = '127.0.0.1', bindAddress?: string, timeoutMs = 1000): TcpCheckSpec {
  return { type: 'tcp', target: target(port, address, bindAddress), timeoutMs };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Serial tests run first and alone in this process: nothing else opens handles meanwhile.
// Long enough that a timer left armed would still be pending when the handles are counted.
const LONG = 5000;

test.serial('leaves no socket or timer behind, whatever the outcome', async (t) => {
  const srv = await tcpServer(t);
  const refused = await closedPort();
  const unanswered = await unansweredPort();
  t.teardown(() => unanswered.close());
  await wait(20); // closedPort's server finishes closing
  const before = handles();
  const results = await Promise.all([
    tcpCheck(spec(srv.port, '127.0.0.1', undefined, LONG), never),
    tcpCheck(spec(refused, '127.0.0.1', undefined, LONG), never),
    tcpCheck(spec(srv.port, '127.0.0.1', '192.0.2.1', LONG), never),
    tcpCheck(spec(srv.port, '127.0.0.1', undefined, LONG), AbortSignal.abort()),
    timedOut(unanswered.port),
  ]);
  t.deepEqual(results.map((r) => r.reason), ['connected', 'refused', 'eaddrnotavail', 'aborted', 'timeout']);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('a listener: ok "connected", latency measured', async (t) => {
  const srv = await tcpServer(t);
  const r = await tcpCheck(spec(srv.port), never);
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: true, reason: 'connected' });
  t.true(r.latencyMs > 0 && r.latencyMs < 1000, `latency ${r.latencyMs}`);
  t.false('weight' in r || 'agent' in r);
  await wait(20);
  t.deepEqual(srv.peers, ['127.0.0.1']);
});

test('IPv6 listener on ::1', async (t) => {
  const srv = await tcpServer(t, '::1');
  const r = await tcpCheck(spec(srv.port, '::1'), never);
  t.is(r.reason, 'connected');
  t.true(r.ok);
});

test('closes with a RST (no TIME_WAIT on the director): the server reads ECONNRESET', async (t) => {
  const srv = await tcpServer(t);
  t.true((await tcpCheck(spec(srv.port), never)).ok);
  for (let i = 0; i < 50 && srv.socketErrors.length === 0; i++) await wait(5);
  t.deepEqual(srv.socketErrors, ['ECONNRESET']);
});

test('a closed port: "refused"', async (t) => {
  const r = await tcpCheck(spec(await closedPort()), never);
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'refused' });
});

test('a closed port on ::1: "refused"', async (t) => {
  const r = await tcpCheck(spec(await closedPort('::1'), '::1'), never);
  t.is(r.reason, 'refused');
});

test('bindAddress is the source address the server sees', async (t) => {
  const srv = await tcpServer(t);
  const r = await tcpCheck(spec(srv.port, '127.0.0.1', '127.0.0.2'), never);
  t.is(r.reason, 'connected');
  await wait(20);
  t.deepEqual(srv.peers, ['127.0.0.2']);
});

test('a bindAddress not on this host: the errno, lower-cased', async (t) => {
  const srv = await tcpServer(t);
  const r = await tcpCheck(spec(srv.port, '127.0.0.1', '192.0.2.1'), never);
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'eaddrnotavail' });
});

test('a bindAddress that is not an address at all: a result, not a throw', async (t) => {
  const r = await tcpCheck(spec(1, '127.0.0.1', 'not-an-ip'), never);
  t.false(r.ok);
  t.is(r.reason, 'err_invalid_ip_address');
});

/**
 * A connect that completes in the kernel but after the deadline, as libuv sees it: the loop is
 * blocked past the deadline, and the next turn runs due timers before polling I/O.
 */
/** A check of a port whose listener never answers: its SYN is dropped. */
function timedOut(port: number) {
  return tcpCheck(spec(port, '127.0.0.1', undefined, 30), never);
}

test('the deadline passes before the connection completes: "timeout"', async (t) => {
  const u = await unansweredPort();
  t.teardown(() => u.close());
  const r = await timedOut(u.port);
  t.deepEqual({ ok: r.ok, reason: r.reason, selfLateMs: r.selfLateMs }, { ok: false, reason: 'timeout', selfLateMs: undefined });
  // Node's timers run on the loop's millisecond clock, so the timer may fire a fraction of a ms
  // before 30 ms have passed by performance.now(); timeoutVerdict() accepts up to 2 ms short.
  t.true(r.latencyMs >= 28, `latency ${r.latencyMs} ms`);
});

test('an already aborted signal: "aborted" without connecting', async (t) => {
  const srv = await tcpServer(t);
  const r = await tcpCheck(spec(srv.port), AbortSignal.abort());
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'aborted' });
  await wait(30);
  t.deepEqual(srv.peers, []);
});

test('aborted while connecting: "aborted"', async (t) => {
  const srv = await tcpServer(t);
  const ac = new AbortController();
  const p = tcpCheck(spec(srv.port), ac.signal);
  ac.abort();
  t.is((await p).reason, 'aborted');
});

test('500 concurrent checks all connect', async (t) => {
  const srv = await tcpServer(t);
  const s = spec(srv.port);
  const rs = await Promise.all(Array.from({ length: 500 }, () => tcpCheck(s, never)));
  t.is(rs.filter((r) => r.reason === 'connected').length, 500);
});

test('one shared signal aborts every check in flight', async (t) => {
  const srv = await tcpServer(t);
  const ac = new AbortController();
  const s = spec(srv.port);
  const ps = Array.from({ length: 50 }, () => tcpCheck(s, ac.signal));
  ac.abort();
  const rs = await Promise.all(ps);
  t.deepEqual(new Set(rs.map((r) => r.reason)), new Set(['aborted']));
});
