// udpCheck against real UDP sockets on loopback: an echo server, a closed port (ICMP port
// unreachable -> refused), a server that never answers (keepalived: fine unless a reply is
// required), reply data and length rules, bindAddress; parseHexString as keepalived reads HEX_STR.
import test from 'ava';
import { parseHexString, replyMatches, udpCheck } from '../../src/check/checkers/udp.js';
import type { UdpCheckSpec } from '../../src/check/types.js';
import { closedUdpPort, handles, settledTo, target, udpServer } from './check-servers.js';

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const echo = (d: Buffer): Buffer => d;
const silent = (): undefined => undefined;

function spec(port: number, o: Partial<UdpCheckSpec> = {}, address = '127.0.0.1', bind?: string): UdpCheckSpec {
  return { type: 'udp', target: target(port, address, bind), timeoutMs: 1000, requireReply: false, minReplyLength: 0, maxReplyLength: 255, ...o };
}

const hex = (s: string) => parseHexString(s, true)!;
const bytes = (s: string) => new Uint8Array(Buffer.from(s));

// Long enough that a timer left armed would still be pending when the handles are counted.
const LONG = 5000;

test.serial('leaves no socket or timer behind, whatever the outcome', async (t) => {
  const up = await udpServer(t, echo);
  const quiet = await udpServer(t, silent);
  const closed = await closedUdpPort();
  await wait(20);
  const before = handles();
  const rs = await Promise.all([
    udpCheck(spec(up.port, { requireReply: true, timeoutMs: LONG }), never),
    udpCheck(spec(closed, { timeoutMs: LONG }), never),
    udpCheck(spec(quiet.port, { timeoutMs: 100 }), never),
    udpCheck(spec(quiet.port, { timeoutMs: 100, requireReply: true }), never),
    udpCheck(spec(up.port, { timeoutMs: LONG }, '127.0.0.1', '192.0.2.1'), never),
    udpCheck(spec(up.port, { timeoutMs: LONG }), AbortSignal.abort()),
  ]);
  t.deepEqual(rs.map((r) => [r.ok, r.reason]), [
    [true, 'reply'], [false, 'refused'], [true, 'no reply (none required)'], [false, 'timeout'], [false, 'eaddrnotavail'], [false, 'aborted'],
  ]);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('an echo server: the payload arrives as sent and the reply passes', async (t) => {
  const srv = await udpServer(t, echo);
  const r = await udpCheck(spec(srv.port, { payload: bytes('PING'), requireReply: true, reply: hex('50 49 4e 47') }), never);
  t.deepEqual([r.ok, r.reason], [true, 'reply']);
  t.true(r.latencyMs < 1000);
  t.deepEqual(srv.got.map((g) => g.data.toString()), ['PING']);
});

test('no payload configured: 32 random bytes, as keepalived', async (t) => {
  const srv = await udpServer(t, echo);
  t.true((await udpCheck(spec(srv.port, { requireReply: true }), never)).ok);
  t.true((await udpCheck(spec(srv.port, { requireReply: true }), never)).ok);
  t.deepEqual(srv.got.map((g) => g.data.length), [32, 32]);
  t.notDeepEqual(srv.got[0]!.data, srv.got[1]!.data);
});

test('a closed port: the ICMP port unreachable makes it "refused" well before the timeout', async (t) => {
  const r = await udpCheck(spec(await closedUdpPort(), { timeoutMs: 3000 }), never);
  t.deepEqual([r.ok, r.reason], [false, 'refused']);
  t.true(r.latencyMs < 1000, `latency ${r.latencyMs}`);
});

test('a closed port on ::1: "refused"', async (t) => {
  t.is((await udpCheck(spec(await closedUdpPort('::1'), {}, '::1'), never)).reason, 'refused');
});

test('a server that never answers: healthy at the deadline unless a reply is required', async (t) => {
  const srv = await udpServer(t, silent);
  const ok = await udpCheck(spec(srv.port, { timeoutMs: 150 }), never);
  t.deepEqual([ok.ok, ok.reason], [true, 'no reply (none required)']);
  t.true(ok.latencyMs >= 149);
  const down = await udpCheck(spec(srv.port, { timeoutMs: 150, requireReply: true }), never);
  t.deepEqual([down.ok, down.reason], [false, 'timeout']);
  t.is(srv.got.length, 2);
});

test('reply data: prefix compare with x nibbles ignored; a mismatch fails', async (t) => {
  const srv = await udpServer(t, () => Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01]));
  const run = async (want: string) => (await udpCheck(spec(srv.port, { requireReply: true, reply: hex(want) }), never)).reason;
  t.is(await run('dead'), 'reply');
  t.is(await run('de ad be ef 01'), 'reply');
  t.is(await run('dxad bexf'), 'reply');
  t.is(await run('dead beee'), 'reply mismatch');
  // Longer than the reply: compared over the reply's length (keepalived check_udp_reply).
  t.is(await run('deadbeef01 ff ff'), 'reply');
});

test('reply length must be within min_reply_length..max_reply_length', async (t) => {
  const srv = await udpServer(t, () => Buffer.alloc(10));
  const run = async (min: number, max: number) => (await udpCheck(spec(srv.port, { requireReply: true, minReplyLength: min, maxReplyLength: max }), never)).reason;
  t.is(await run(0, 255), 'reply');
  t.is(await run(10, 10), 'reply');
  t.is(await run(11, 255), 'reply length 10');
  t.is(await run(0, 9), 'reply length 10');
});

test('IPv6 echo on ::1, and bindAddress is the source the server sees', async (t) => {
  const six = await udpServer(t, echo, '::1');
  t.is((await udpCheck(spec(six.port, { requireReply: true }, '::1'), never)).reason, 'reply');
  const four = await udpServer(t, echo);
  t.is((await udpCheck(spec(four.port, { requireReply: true }, '127.0.0.1', '127.0.0.2'), never)).reason, 'reply');
  t.deepEqual(four.got.map((g) => g.from), ['127.0.0.2']);
});

test('aborted while waiting for the reply: "aborted"', async (t) => {
  const srv = await udpServer(t, silent);
  const ac = new AbortController();
  const p = udpCheck(spec(srv.port, { requireReply: true }), ac.signal);
  setTimeout(() => ac.abort(), 20);
  t.is((await p).reason, 'aborted');
});

test('parseHexString reads keepalived HEX_STR', (t) => {
  const d = (s: string, masks = false) => {
    const r = parseHexString(s, masks);
    return r && [Buffer.from(r.data).toString('hex'), Buffer.from(r.mask).toString('hex')];
  };
  // The example of keepalived.conf(5).
  t.deepEqual(d('Ab12f 3 456 546443123'), ['ab120f0345065464431203', '0000000000000000000000']);
  t.deepEqual(d('  0a  '), ['0a', '00']);
  t.deepEqual(d('1x x2', true), ['1002', '0ff0']);
  t.is(d('1x'), undefined, 'x only where masks are allowed');
  t.is(d(''), undefined);
  t.is(d('   '), undefined);
  t.is(d('0g'), undefined);
});

test('replyMatches: masked nibbles and the shorter length', (t) => {
  const m = hex('ax 0b');
  t.true(replyMatches(Uint8Array.from([0xa7, 0x0b]), m.data, m.mask));
  t.false(replyMatches(Uint8Array.from([0xb7, 0x0b]), m.data, m.mask));
  t.true(replyMatches(Uint8Array.from([0xaf]), m.data, m.mask));
  t.true(replyMatches(new Uint8Array(0), m.data, m.mask));
});

test('a connect that fails (EACCES: broadcast without SO_BROADCAST) fails the check; nothing throws', async (t) => {
  // node runs a failed connect's callback with no `this`: a handler reading the probe from `this`
  // threw in the check worker, which then died and was restarted, and the check never concluded
  // (found by the keepalived import's differential VM test: ENETUNREACH there).
  const r = await udpCheck(spec(9, { timeoutMs: 1000 }, '255.255.255.255'), never);
  t.deepEqual([r.ok, r.reason], [false, 'eacces']);
});
