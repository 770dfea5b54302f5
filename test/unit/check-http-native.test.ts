// Plain-HTTP status-only checks on the native core (http.ts NativeHttpProbe over tcp_core.c):
// which checks go there, the request head byte for byte as node:http sends it, a response head
// in pieces, an oversized or truncated head, and nothing left in the core. The shared verdicts
// (status ranges, refused, reset, closed, garbage, timeout, abort) are check-http.test.ts's, whose
// status-only cases run on the core too.
import test from 'ava';
import { createServer as createNetServer, type Socket } from 'node:net';
import { httpCheck, httpCheckRunsOn } from '../../src/check/checkers/http.js';
import { nativeTcpInflight } from '../../src/check/checkers/tcp-native.js';
import type { HttpCheckSpec } from '../../src/check/types.js';
import { serve, target } from './check-servers.js';

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(port: number, o: Partial<HttpCheckSpec> = {}): HttpCheckSpec {
  return { type: 'http', target: target(port), timeoutMs: 3000, method: 'GET', path: '/x?y=1', status: [{ from: 200, to: 299 }], tlsVerify: false, ...o };
}

/** A raw server: records each request head, then runs `answer` on the socket. */
async function rawServer(t: Parameters<typeof serve>[0], answer: (s: Socket) => void): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const server = createNetServer((s) => {
    let got = '';
    s.setEncoding('latin1');
    s.on('error', () => undefined);
    s.on('data', (d: string) => {
      got += d;
      if (!got.includes('\r\n\r\n')) return;
      heads.push(got);
      got = '';
      answer(s);
    });
  });
  const r = await serve(t, server);
  return { port: r.port, heads };
}

test('status-only plain GET and HEAD run on the core; body checks, https and other methods on node:http', (t) => {
  t.is(httpCheckRunsOn(spec(80)), 'core');
  t.is(httpCheckRunsOn(spec(80, { method: 'HEAD' })), 'core');
  t.is(httpCheckRunsOn(spec(80, { bodyRegex: 'ok' })), 'node:http');
  t.is(httpCheckRunsOn(spec(80, { bodyDigest: 'd41d8cd98f00b204e9800998ecf8427e' })), 'node:http');
  t.is(httpCheckRunsOn(spec(443, { type: 'https' })), 'node:http');
  t.is(httpCheckRunsOn(spec(80, { method: 'POST' })), 'node:http');
});

test('the core sends the request head node:http sends, byte for byte', async (t) => {
  const srv = await rawServer(t, (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  const viaCore = await httpCheck(spec(srv.port, { host: 'www.example:8080' }), never);
  const viaNode = await httpCheck(spec(srv.port, { host: 'www.example:8080', bodyRegex: 'ok' }), never);
  t.deepEqual([viaCore.reason, viaNode.reason], ['status 200', 'status 200']);
  t.is(srv.heads.length, 2);
  t.is(srv.heads[0], srv.heads[1]);
  t.is(srv.heads[0], 'GET /x?y=1 HTTP/1.1\r\nHost: www.example:8080\r\nUser-Agent: duet-check\r\nConnection: close\r\n\r\n');
});

test('a response head in pieces is put together; the status decides', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.write('HTTP/1.0 50');
    setTimeout(() => s.write('3 Busy\r\nX-A: b\r'), 20);
    setTimeout(() => s.end('\n\r\nbody'), 40);
  });
  const r = await httpCheck(spec(srv.port), never);
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'status 503' });
  t.true((await httpCheck(spec(srv.port, { status: [{ from: 500, to: 503 }] }), never)).ok);
});

test.serial('a head cut short is "closed", one over 16 KiB or not HTTP is "bad response"; none left in the core', async (t) => {
  const cut = await rawServer(t, (s) => s.end('HTTP/1.1 200 OK\r\nContent-'));
  const huge = await rawServer(t, (s) => s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
  const junk = await rawServer(t, (s) => s.write('SSH-2.0-OpenSSH\r\n'));
  const rs = await Promise.all([httpCheck(spec(cut.port), never), httpCheck(spec(huge.port), never), httpCheck(spec(junk.port), never)]);
  t.deepEqual(rs.map((r) => r.reason), ['closed', 'bad response', 'bad response']);
  await wait(10);
  t.is(nativeTcpInflight(), 0);
});
