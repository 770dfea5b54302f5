// The native TCP connect core (native/tcp_core.c through checkers/tcp-native.ts) against real
// listeners on loopback: the same verdicts and reasons as tcp.ts (connected / refused / errno /
// timeout / abort, IPv6, bindAddress, the RST close), results of many checks in batches, and
// nothing left behind: no fd in the core's set, no handle, no timer.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { nativeTcpCheck, nativeTcpInflight, tcpCheckKind } from '../../src/check/checkers/tcp-native.js';
import { runCheck } from '../../src/check/checkers/index.js';
import type { HttpCheckSpec, TcpCheckSpec } from '../../src/check/types.js';
import { httpCheck, httpCheckRunsOn } from '../../src/check/checkers/http.js';
import { closedPort, handles, settledTo, target, tcpServer, unansweredPort } from './check-servers.js';

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(port: number, address = '127.0.0.1', bindAddress?: string, timeoutMs = 1000): TcpCheckSpec {
  return { type: 'tcp', target: target(port, address, bindAddress), timeoutMs };
}

const LONG = 5000;

test.serial('the core is built and loads (npm run build:native): TCP checks run on it', (t) => {
  t.deepEqual(tcpCheckKind(), { kind: 'native' });
});

test.serial('leaves no fd, socket or timer behind, whatever the outcome', async (t) => {
  const srv = await tcpServer(t);
  const refused = await closedPort();
  const unanswered = await unansweredPort();
  t.teardown(() => unanswered.close());
  await wait(20);
  const before = handles();
  const results = await Promise.all([
    nativeTcpCheck(spec(srv.port, '127.0.0.1', undefined, LONG), never),
    nativeTcpCheck(spec(refused, '127.0.0.1', undefined, LONG), never),
    nativeTcpCheck(spec(srv.port, '127.0.0.1', '192.0.2.1', LONG), never),
    nativeTcpCheck(spec(srv.port, '127.0.0.1', undefined, LONG), AbortSignal.abort()),
    nativeTcpCheck(spec(unanswered.port, '127.0.0.1', undefined, 30), never),
  ]);
  t.deepEqual(results.map((r) => r.reason), ['connected', 'refused', 'eaddrnotavail', 'aborted', 'timeout']);
  t.is(nativeTcpInflight(), 0);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

/** Connections to or from a local port in any state (/proc/net/tcp): none once a check is closed. */
function socketsOnPort(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[3] !== '0A' && (`${f[1]} `.includes(hex) || `${f[2]} `.includes(hex)); // 0A: the listener
  }).length;
}

test.serial('a listener: ok "connected", latency measured; its application never sees the check (RST before the last ACK), nothing left in the kernel', async (t) => {
  const srv = await tcpServer(t);
  // The check holds back the handshake's last ACK (TCP_QUICKACK 0) and resets right after the
  // SYN-ACK, so the server's kernel drops the half-open connection and nothing is accepted. A
  // loop that stalls past the delayed-ACK timer (40 ms) lets the ACK out: of 3 runs, one will do.
  let accepted = 0;
  for (let i = 0; i < 3; i++) {
    const before = srv.peers.length;
    const r = await nativeTcpCheck(spec(srv.port), never);
    t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: true, reason: 'connected' });
    t.true(r.latencyMs > 0 && r.latencyMs < 1000, `latency ${r.latencyMs}`);
    await wait(50);
    if (srv.peers.length === before) break;
    accepted++;
  }
  t.true(accepted < 3, `the server accepted all ${accepted} checks`);
  for (let i = 0; i < 50 && socketsOnPort(srv.port) > 0; i++) await wait(5);
  t.is(socketsOnPort(srv.port), 0, 'no TIME_WAIT or half-open connection on either side');
});

test('runCheck sends tcp checks to the core', async (t) => {
  const srv = await tcpServer(t);
  t.is((await runCheck(spec(srv.port), never)).reason, 'connected');
  t.is((await runCheck(spec(await closedPort()), never)).reason, 'refused');
});

test('IPv6: a listener on ::1 connects, a closed port is refused', async (t) => {
  const srv = await tcpServer(t, '::1');
  t.is((await nativeTcpCheck(spec(srv.port, '::1'), never)).reason, 'connected');
  t.is((await nativeTcpCheck(spec(await closedPort('::1'), '::1'), never)).reason, 'refused');
});

test('bindAddress is the source address the server sees; one not on this host is its errno', async (t) => {
  // The server's application sees a TCP check only when it is accepted; an HTTP check on the core
  // (the same connect) is, so the source address is read from that.
  const srv = await tcpServer(t);
  srv.server.on('connection', (s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\n\r\n')));
  t.is((await nativeTcpCheck(spec(srv.port, '127.0.0.1', '127.0.0.2'), never)).reason, 'connected');
  const http: HttpCheckSpec = { type: 'http', target: target(srv.port, '127.0.0.1', '127.0.0.2'), timeoutMs: 1000, method: 'GET', path: '/', status: [{ from: 200, to: 299 }], tlsVerify: false };
  t.is(httpCheckRunsOn(http), 'core');
  t.is((await httpCheck(http, never)).reason, 'status 200');
  t.deepEqual(srv.peers.slice(-1), ['127.0.0.2']);
  t.deepEqual(await nativeTcpCheck(spec(srv.port, '127.0.0.1', '192.0.2.1'), never).then((r) => [r.ok, r.reason]), [false, 'eaddrnotavail']);
});

test('what the core does not parse goes to tcp.ts, with its reasons', async (t) => {
  const r = await nativeTcpCheck(spec(1, '127.0.0.1', 'not-an-ip'), never);
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'err_invalid_ip_address' });
});

// Serial (alone in the process): the core's count covers every check of this file.
test.serial('no answer before the deadline: "timeout", and the half-open connect is dropped', async (t) => {
  const u = await unansweredPort();
  t.teardown(() => u.close());
  const r = await nativeTcpCheck(spec(u.port, '127.0.0.1', undefined, 30), never);
  t.deepEqual({ ok: r.ok, reason: r.reason, selfLateMs: r.selfLateMs }, { ok: false, reason: 'timeout', selfLateMs: undefined });
  // The deadline's slack (probe.ts timeoutVerdict): 2 ms.
  t.true(r.latencyMs >= 28, `after ${r.latencyMs} ms`);
  t.is(nativeTcpInflight(), 0);
});

test('aborted before or while connecting: "aborted"', async (t) => {
  const srv = await tcpServer(t);
  t.is((await nativeTcpCheck(spec(srv.port), AbortSignal.abort())).reason, 'aborted');
  await wait(30);
  t.deepEqual(srv.peers, []);
  const ac = new AbortController();
  const p = nativeTcpCheck(spec(srv.port), ac.signal);
  ac.abort();
  t.is((await p).reason, 'aborted');
});

test.serial('2,000 concurrent checks: every one connects (results in batches), none left in the core', async (t) => {
  const srv = await tcpServer(t);
  const refused = await closedPort();
  // A long deadline: past the listener's backlog a SYN is retried after 1 s.
  const rs = await Promise.all(Array.from({ length: 2000 }, (_, i) => nativeTcpCheck(spec(i % 4 === 0 ? refused : srv.port, '127.0.0.1', undefined, 10_000), never)));
  t.is(rs.filter((r) => r.reason === 'connected').length, 1500);
  t.is(rs.filter((r) => r.reason === 'refused').length, 500);
  t.is(nativeTcpInflight(), 0);
});

test.serial('a worker terminated with checks in flight leaves none of their sockets open', async (t) => {
  const u = await unansweredPort();
  t.teardown(() => u.close());
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  const url = new URL('../../src/check/checkers/tcp-native.js', import.meta.url).href;
  const w = new Worker(`
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ nativeTcpCheck, nativeTcpInflight }) => {
      const never = new AbortController().signal;
      for (let i = 0; i < 50; i++) nativeTcpCheck({ type: 'tcp', target: { address: '127.0.0.1', family: 4, port: ${u.port} }, timeoutMs: 60000 }, never);
      parentPort.postMessage(nativeTcpInflight());
    });`, { eval: true });
  const inflight = await new Promise((resolve) => w.once('message', resolve));
  t.is(inflight, 50);
  t.true(fds() >= before + 50, `${before} -> ${fds()}`);
  await w.terminate();
  t.is(fds(), before);
});
