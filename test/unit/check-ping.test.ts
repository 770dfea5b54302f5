// pingCheck with real raw ICMP sockets on loopback (root): 127.0.0.1, ::1, a source address,
// many at once on one shared socket, no descriptor or timer left behind; the echo codec on
// crafted packets (replies, destination unreachable quoting our echo). Unreachable addresses
// on a real link are in test/netns/check-ping.test.ts.
import test from 'ava';
import { readdirSync } from 'node:fs';
import { pingCheck } from '../../src/check/checkers/ping.js';
import { icmpEcho, parseEchoReply, parseIcmp } from '../../src/check/icmp-echo.js';
import type { PingCheckSpec } from '../../src/check/types.js';
import { inetChecksum } from '../../src/vrrp/checksum.js';
import { handles, settledTo, target } from './check-servers.js';

const never = new AbortController().signal;
const spec = (address: string, o: { bind?: string; timeoutMs?: number } = {}): PingCheckSpec =>
  ({ type: 'ping', target: target(0, address, o.bind), timeoutMs: o.timeoutMs ?? 1000 });
const fds = (): number => readdirSync('/proc/self/fd').length;

test.serial('leaves no descriptor, socket or timer behind, whatever the outcome', async (t) => {
  const before = handles();
  const fdsBefore = fds();
  const rs = await Promise.all([
    pingCheck(spec('127.0.0.1', { timeoutMs: 5000 }), never),
    pingCheck(spec('::1', { timeoutMs: 5000 }), never),
    pingCheck(spec('127.0.0.1', { bind: '192.0.2.1', timeoutMs: 5000 }), never),
    pingCheck(spec('127.0.0.1', { timeoutMs: 5000 }), AbortSignal.abort()),
    pingCheck(spec('not an address'), never),
  ]);
  t.deepEqual(rs.map((r) => [r.ok, r.reason]), [[true, 'reply'], [true, 'reply'], [false, 'eaddrnotavail'], [false, 'aborted'], [false, 'bad address']]);
  t.deepEqual([...(await settledTo(before))], [...before]);
  t.is(fds(), fdsBefore);
});

test.serial('127.0.0.1 and ::1 answer; latency is measured', async (t) => {
  for (const a of ['127.0.0.1', '::1']) {
    const r = await pingCheck(spec(a), never);
    t.deepEqual([r.ok, r.reason], [true, 'reply'], a);
    t.true(r.latencyMs > 0 && r.latencyMs < 500, `${a}: ${r.latencyMs} ms`);
  }
});

test.serial('from a source address (bind_ip): 127.0.0.2 to 127.0.0.3', async (t) => {
  t.is((await pingCheck(spec('127.0.0.3', { bind: '127.0.0.2' }), never)).reason, 'reply');
});

test.serial('200 pings at once over the shared socket all get their own reply', async (t) => {
  const fdsBefore = fds();
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => pingCheck(spec(`127.0.${i >> 8}.${(i & 0xff) + 1}`), never)));
  t.is(rs.filter((r) => r.ok).length, 200);
  t.is(fds(), fdsBefore);
});

test.serial('aborted while waiting: "aborted"', async (t) => {
  const ac = new AbortController();
  const p = pingCheck(spec('127.0.0.1'), ac.signal);
  ac.abort();
  t.is((await p).reason, 'aborted');
});

/** An IPv4 header (20 bytes) from src to dst carrying protocol proto. */
function ip4(src: number[], dst: number[], proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45; h[9] = proto; h.set(src, 12); h.set(dst, 16);
  h.writeUInt16BE(20 + payload.length, 2);
  return Buffer.concat([h, payload]);
}

test('codec: an IPv4 echo request, its reply, and an unreachable quoting it', (t) => {
  const req = icmpEcho(0x1234, 7);
  t.is(req[0], 8);
  t.is(inetChecksum(req), 0, 'checksum valid');
  const reply = Buffer.from(req);
  reply[0] = 0;
  const pkt = ip4([10, 0, 0, 2], [10, 0, 0, 1], 1, reply);
  t.deepEqual(parseIcmp(pkt, 4), { kind: 'reply', id: 0x1234, seq: 7, from: '10.0.0.2' });
  t.deepEqual(parseEchoReply(pkt), { id: 0x1234, seq: 7 });
  const unreach = Buffer.concat([Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), ip4([10, 0, 0, 1], [10, 0, 0, 9], 1, req)]);
  const news = parseIcmp(ip4([10, 0, 0, 1], [10, 0, 0, 1], 1, unreach), 4);
  t.like(news, { kind: 'unreachable', id: 0x1234, seq: 7, code: 1 });
  t.deepEqual([...news!.to!], [10, 0, 0, 9]);
  t.is(parseIcmp(ip4([1, 1, 1, 1], [2, 2, 2, 2], 6, reply), 4), undefined, 'not ICMP');
  t.is(parseIcmp(pkt.subarray(0, 24), 4), undefined, 'truncated');
  t.is(parseIcmp(ip4([1, 1, 1, 1], [2, 2, 2, 2], 1, req), 4), undefined, 'a request is not news');
});

test('codec: ICMPv6 echo (checksum left to the kernel), reply and unreachable', (t) => {
  const req = icmpEcho(0xbeef, 9, 6, 'duet-chk');
  t.deepEqual([req[0], req.readUInt16BE(2)], [128, 0]);
  const reply = Buffer.from(req);
  reply[0] = 129;
  t.deepEqual(parseIcmp(reply, 6), { kind: 'reply', id: 0xbeef, seq: 9 });
  const inner = Buffer.alloc(40);
  inner[0] = 0x60; inner[6] = 58; inner[39] = 0x99;
  const news = parseIcmp(Buffer.concat([Buffer.from([1, 3, 0, 0, 0, 0, 0, 0]), inner, req]), 6);
  t.like(news, { kind: 'unreachable', id: 0xbeef, seq: 9, code: 3 });
  t.is(news!.to![15], 0x99);
});
