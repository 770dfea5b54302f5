// httpCheck against real HTTP and HTTPS servers on loopback: status ranges, body regex and MD5
// digest, the body bound, Host header defaults, failures (timeout, refused, reset, closed,
// garbage), TLS verification on and off, SNI, abort, and no leftover sockets or timers.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compileRegex, defaultHost, httpCheck, httpErrorReason } from '../../src/check/checkers/http.js';
import type { HttpCheckSpec } from '../../src/check/types.js';
import {
  HELLO, closedPort, handles, httpServer, httpsServer, selfSignedCert, serve, settledTo, target, type Cert,
} from './check-servers.js';

const never = new AbortController().signal;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(port: number, path: string, o: Partial<HttpCheckSpec> = {}): HttpCheckSpec {
  return {
    type: 'http', target: target(port), timeoutMs: 3000, method: 'GET', path,
    status: [{ from: 200, to: 299 }], tlsVerify: false, ...o,
  };
}

let certP: Promise<Cert> | undefined;
const cert = () => (certP ??= selfSignedCert());

/** What the check made the server see, via a spec whose regex must match `expected` exactly. */
async function serverSaw(s: HttpCheckSpec, expected: string): Promise<string> {
  const r = await httpCheck({ ...s, bodyRegex: `^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` }, never);
  return r.reason;
}

test.serial('leaves no socket or timer behind, whatever the outcome', async (t) => {
  const srv = await httpServer(t);
  const tls = await httpsServer(t, await cert());
  const refused = await closedPort();
  await wait(20);
  const before = handles();
  const rs = await Promise.all([
    httpCheck(spec(srv.port, '/ok'), never),
    httpCheck(spec(srv.port, '/ok', { bodyRegex: 'duet', bodyDigest: md5(HELLO) }), never),
    httpCheck(spec(srv.port, '/500'), never),
    httpCheck(spec(srv.port, '/slow', { timeoutMs: 100 }), never),
    httpCheck(spec(srv.port, '/reset'), never),
    httpCheck(spec(srv.port, '/big', { bodyRegex: 'y' }), never),
    httpCheck(spec(srv.port, '/big'), never),
    httpCheck(spec(refused, '/ok'), never),
    httpCheck(spec(tls.port, '/ok', { type: 'https', tlsVerify: true }), never),
    httpCheck(spec(tls.port, '/ok', { type: 'https' }), never),
  ]);
  t.deepEqual(rs.map((r) => r.reason), ['status 200', 'status 200', 'status 500', 'timeout', 'reset',
    'body too large', 'status 200', 'refused', 'tls: DEPTH_ZERO_SELF_SIGNED_CERT', 'status 200']);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('200 in range: ok "status 200", latency measured', async (t) => {
  const srv = await httpServer(t);
  const r = await httpCheck(spec(srv.port, '/ok'), never);
  t.deepEqual({ ok: r.ok, reason: r.reason }, { ok: true, reason: 'status 200' });
  t.true(r.latencyMs > 0 && r.latencyMs < 3000, `latency ${r.latencyMs}`);
});

test('500 against 200-299: "status 500"; against 500-599 or 404,500: ok', async (t) => {
  const srv = await httpServer(t);
  t.deepEqual(await httpCheck(spec(srv.port, '/500'), never).then((r) => [r.ok, r.reason]), [false, 'status 500']);
  t.true((await httpCheck(spec(srv.port, '/500', { status: [{ from: 500, to: 599 }] }), never)).ok);
  const two = [{ from: 404, to: 404 }, { from: 500, to: 500 }];
  t.true((await httpCheck(spec(srv.port, '/500', { status: two }), never)).ok);
  t.true((await httpCheck(spec(srv.port, '/nope', { status: two }), never)).ok);
  t.is((await httpCheck(spec(srv.port, '/ok', { status: two }), never)).reason, 'status 200');
});

test('body regex: match ok, no match "body mismatch", a bad regex "bad regex"', async (t) => {
  const srv = await httpServer(t);
  t.is((await httpCheck(spec(srv.port, '/ok', { bodyRegex: '^hello d[u]et\\n$' }), never)).reason, 'status 200');
  t.true((await httpCheck(spec(srv.port, '/ok', { bodyRegex: 'hello' }), never)).ok);
  const miss = await httpCheck(spec(srv.port, '/ok', { bodyRegex: 'goodbye' }), never);
  t.deepEqual([miss.ok, miss.reason], [false, 'body mismatch']);
  const bad = await httpCheck(spec(srv.port, '/ok', { bodyRegex: '(' }), never);
  t.deepEqual([bad.ok, bad.reason], [false, 'bad regex']);
});

test('body regex is checked on a failing status only after the status: "status 500" wins', async (t) => {
  const srv = await httpServer(t);
  t.is((await httpCheck(spec(srv.port, '/500', { bodyRegex: 'broken' }), never)).reason, 'status 500');
});

test('regexes are compiled once per source text', (t) => {
  t.is(compileRegex('a+b'), compileRegex('a+b'));
  t.not(compileRegex('a+b'), compileRegex('a+c'));
  t.is(compileRegex('('), null);
});

test('MD5 digest of the whole body: equal ok (any case), else "digest mismatch"', async (t) => {
  const srv = await httpServer(t);
  t.is((await httpCheck(spec(srv.port, '/ok', { bodyDigest: md5(HELLO) }), never)).reason, 'status 200');
  t.true((await httpCheck(spec(srv.port, '/ok', { bodyDigest: md5(HELLO).toUpperCase() }), never)).ok);
  const r = await httpCheck(spec(srv.port, '/ok', { bodyDigest: md5('hello duet') }), never);
  t.deepEqual([r.ok, r.reason], [false, 'digest mismatch']);
  // Both checks: both must hold.
  t.is((await httpCheck(spec(srv.port, '/ok', { bodyRegex: 'hello', bodyDigest: md5('x') }), never)).reason, 'digest mismatch');
  t.is((await httpCheck(spec(srv.port, '/ok', { bodyRegex: 'bye', bodyDigest: md5(HELLO) }), never)).reason, 'body mismatch');
});

test('a 2 MiB body: "body too large" with a body check, decided on status without one', async (t) => {
  const srv = await httpServer(t);
  const big = await httpCheck(spec(srv.port, '/big', { bodyDigest: md5('x') }), never);
  t.deepEqual([big.ok, big.reason], [false, 'body too large']);
  const plain = await httpCheck(spec(srv.port, '/big'), never);
  t.deepEqual([plain.ok, plain.reason], [true, 'status 200']);
});

test('Host header: address:port by default, bracketed on IPv6, the spec host when set; Connection: close', async (t) => {
  const srv = await httpServer(t);
  t.is(await serverSaw(spec(srv.port, '/host'), `GET 127.0.0.1:${srv.port} close`), 'status 200');
  t.is(await serverSaw(spec(srv.port, '/host', { host: 'www.example' }), 'GET www.example close'), 'status 200');
  t.is(await serverSaw(spec(srv.port, '/host', { method: 'POST' }), `POST 127.0.0.1:${srv.port} close`), 'status 200');
  const v6 = await httpServer(t, '::1');
  t.is(await serverSaw({ ...spec(v6.port, '/host'), target: target(v6.port, '::1') }, `GET [::1]:${v6.port} close`), 'status 200');
});

test('defaultHost leaves out the scheme\'s default port', (t) => {
  t.is(defaultHost('192.0.2.1', 4, 80, 80), '192.0.2.1');
  t.is(defaultHost('192.0.2.1', 4, 443, 443), '192.0.2.1');
  t.is(defaultHost('192.0.2.1', 4, 443, 80), '192.0.2.1:443');
  t.is(defaultHost('2001:db8::1', 6, 80, 80), '[2001:db8::1]');
  t.is(defaultHost('2001:db8::1', 6, 8080, 80), '[2001:db8::1]:8080');
});

test('bindAddress is the source address the server sees', async (t) => {
  const srv = await httpServer(t);
  const r = await httpCheck({ ...spec(srv.port, '/ok'), target: target(srv.port, '127.0.0.1', '127.0.0.2') }, never);
  t.is(r.reason, 'status 200');
  t.deepEqual(srv.peers, ['127.0.0.2']);
});

test('a server that never answers: "timeout" after timeoutMs', async (t) => {
  const srv = await httpServer(t);
  const r = await httpCheck(spec(srv.port, '/slow', { timeoutMs: 150 }), never);
  t.deepEqual([r.ok, r.reason], [false, 'timeout']);
  t.true(r.latencyMs >= 149 && r.latencyMs < 2000, `latency ${r.latencyMs}`);
});

test('the timeout bounds the body too: a body that stalls halfway is a "timeout"', async (t) => {
  const server = createNetServer((s) => {
    s.on('error', () => {});
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf');
  });
  const srv = await serve(t, server);
  const r = await httpCheck(spec(srv.port, '/', { timeoutMs: 150, bodyRegex: 'half' }), never);
  t.deepEqual([r.ok, r.reason], [false, 'timeout']);
  // Without a body check the head is enough.
  t.is((await httpCheck(spec(srv.port, '/'), never)).reason, 'status 200');
});

test('a connection closed mid-body: "reset"', async (t) => {
  const srv = await httpServer(t);
  const r = await httpCheck(spec(srv.port, '/half', { bodyRegex: 'partial' }), never);
  t.deepEqual([r.ok, r.reason], [false, 'reset']);
});

test('a closed port: "refused"', async (t) => {
  const r = await httpCheck(spec(await closedPort(), '/ok'), never);
  t.deepEqual([r.ok, r.reason], [false, 'refused']);
});

test('the server resets the connection: "reset"', async (t) => {
  const srv = await httpServer(t);
  const r = await httpCheck(spec(srv.port, '/reset'), never);
  t.deepEqual([r.ok, r.reason], [false, 'reset']);
});

test('the server closes without answering: "closed"', async (t) => {
  const srv = await serve(t, createNetServer((s) => { s.on('error', () => {}); s.once('data', () => s.end()); }));
  const r = await httpCheck(spec(srv.port, '/ok'), never);
  t.deepEqual([r.ok, r.reason], [false, 'closed']);
});

test('garbage that is not HTTP: "bad response"', async (t) => {
  const srv = await serve(t, createNetServer((s) => { s.on('error', () => {}); s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'); }));
  const r = await httpCheck(spec(srv.port, '/ok'), never);
  t.deepEqual([r.ok, r.reason], [false, 'bad response']);
});

test('aborted mid-request: "aborted"; an aborted signal: "aborted" without connecting', async (t) => {
  const srv = await httpServer(t);
  t.is((await httpCheck(spec(srv.port, '/ok'), AbortSignal.abort())).reason, 'aborted');
  await wait(20);
  t.deepEqual(srv.peers, []);
  const ac = new AbortController();
  const p = httpCheck(spec(srv.port, '/slow'), ac.signal);
  setTimeout(() => ac.abort(), 30);
  const r = await p;
  t.deepEqual([r.ok, r.reason], [false, 'aborted']);
  t.true(r.latencyMs < 500);
});

test('https, tlsVerify off: a self-signed certificate is accepted', async (t) => {
  const srv = await httpsServer(t, await cert());
  const r = await httpCheck(spec(srv.port, '/ok', { type: 'https', bodyRegex: '^hello duet' }), never);
  t.deepEqual([r.ok, r.reason], [true, 'status 200']);
});

test('https, tlsVerify on: a self-signed certificate fails with a tls reason', async (t) => {
  const srv = await httpsServer(t, await cert());
  const r = await httpCheck(spec(srv.port, '/ok', { type: 'https', tlsVerify: true, tlsName: 'rs.test' }), never);
  t.deepEqual([r.ok, r.reason], [false, 'tls: DEPTH_ZERO_SELF_SIGNED_CERT']);
});

test('https: tlsName is sent as SNI; no SNI for an IP; the Host name otherwise', async (t) => {
  const srv = await httpsServer(t, await cert());
  const s = spec(srv.port, '/sni', { type: 'https' });
  t.is(await serverSaw({ ...s, tlsName: 'rs.test' }, 'rs.test'), 'status 200');
  t.is(await serverSaw(s, 'false'), 'status 200');
  t.is(await serverSaw({ ...s, host: 'www.example:8443' }, 'www.example'), 'status 200');
});

test('https: Host default has the port unless 443; bindAddress applies to TLS too', async (t) => {
  const srv = await httpsServer(t, await cert());
  const s = spec(srv.port, '/host', { type: 'https', target: target(srv.port, '127.0.0.1', '127.0.0.2') });
  t.is(await serverSaw(s, `GET 127.0.0.1:${srv.port} close`), 'status 200');
  t.deepEqual(srv.peers, ['127.0.0.2']);
});

test('https against a plain HTTP server: a tls reason', async (t) => {
  const srv = await httpServer(t);
  const r = await httpCheck(spec(srv.port, '/ok', { type: 'https' }), never);
  t.false(r.ok);
  t.is(r.reason, 'tls: ERR_SSL_WRONG_VERSION_NUMBER');
});

test('error classification', (t) => {
  const e = (code: string, message = code) => Object.assign(new Error(message), { code });
  t.is(httpErrorReason(e('HPE_INVALID_CONSTANT'), false), 'bad response');
  t.is(httpErrorReason(e('ECONNRESET', 'socket hang up'), true), 'closed');
  t.is(httpErrorReason(e('ECONNRESET', 'read ECONNRESET'), true), 'reset');
  t.is(httpErrorReason(e('EHOSTUNREACH'), true), 'ehostunreach');
  t.is(httpErrorReason(e('CERT_HAS_EXPIRED'), true), 'tls: CERT_HAS_EXPIRED');
  t.is(httpErrorReason(e('ERR_TLS_CERT_ALTNAME_INVALID'), true), 'tls: ERR_TLS_CERT_ALTNAME_INVALID');
  const eproto = 'write EPROTO 806C:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl3_record.c:350:\n';
  t.is(httpErrorReason(e('EPROTO', eproto), true), 'tls: ERR_SSL_WRONG_VERSION_NUMBER');
  t.is(httpErrorReason(e('EPROTO', 'write EPROTO'), true), 'tls: EPROTO');
});

test('100 concurrent checks on fresh connections all pass', async (t) => {
  const srv = await httpServer(t);
  const s = spec(srv.port, '/ok', { bodyDigest: md5(HELLO) });
  const rs = await Promise.all(Array.from({ length: 100 }, () => httpCheck(s, never)));
  t.deepEqual(rs.filter((r) => r.reason !== 'status 200').map((r) => `${r.reason} ${Math.round(r.latencyMs)}`), []);
  t.is(srv.peers.length, 100);
});

/**
 * Verification that can succeed needs the test CA trusted, and specs have no CA option: a child
 * node trusts it through NODE_EXTRA_CA_CERTS (read at startup) and runs the checks.
 */
test('https, tlsVerify on with the CA trusted: the right name passes, a wrong one fails', async (t) => {
  const c = await cert();
  const srv = await httpsServer(t, c);
  const dir = await mkdtemp(join(tmpdir(), 'duet-ca-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, c.cert);
  const checker = new URL('../../src/check/checkers/http.js', import.meta.url).href;
  const base = spec(srv.port, '/ok', { type: 'https', tlsVerify: true });
  const specs = [
    { ...base, tlsName: 'rs.test' }, // SNI and verified name
    { ...base, tlsName: 'other.test' },
    { ...base, host: 'rs.test' }, // the Host name is the default
    base, // the address, 127.0.0.1, is not in the certificate
    { ...base, tlsName: '127.0.0.2' }, // an IP name other than the address: verified, no SNI
  ];
  const script = `import { httpCheck } from ${JSON.stringify(checker)};
    const specs = ${JSON.stringify(specs)};
    const rs = await Promise.all(specs.map((s) => httpCheck(s, new AbortController().signal)));
    process.stdout.write(JSON.stringify(rs.map((r) => r.reason)));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script],
    { env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }, timeout: 10_000 });
  t.deepEqual(JSON.parse(stdout), ['status 200', 'tls: ERR_TLS_CERT_ALTNAME_INVALID', 'status 200',
    'tls: ERR_TLS_CERT_ALTNAME_INVALID', 'status 200']);
});
