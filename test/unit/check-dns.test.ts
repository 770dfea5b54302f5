// dnsCheck against a real DNS server: Debian's dnsmasq on 127.0.0.1 (scripts/setup.sh installs
// dnsmasq-base; without it these tests are skipped with a message saying so). A and AAAA answers
// with expected values, NXDOMAIN, CNAME, TXT, truncation over UDP answered again over TCP; a closed
// port (refused) and a server that never answers (timeout) need no dnsmasq.
import test from 'ava';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dnsCheck } from '../../src/check/checkers/dns.js';
import type { DnsCheckSpec } from '../../src/check/types.js';
import { closedPort, closedUdpPort, handles, settledTo, target, udpServer } from './check-servers.js';

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DNSMASQ = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => existsSync(p));

function spec(port: number, o: Partial<DnsCheckSpec> = {}): DnsCheckSpec {
  return { type: 'dns', target: target(port), timeoutMs: 2000, queryType: 'A', name: 'web.test', expect: [], ...o };
}

/** 750 bytes of TXT in three strings: over the 512 bytes of a UDP answer without EDNS, so dnsmasq truncates it. */
const LONG_TXT = 'x'.repeat(250);

/** dnsmasq serving a small local zone on 127.0.0.1:port (UDP and TCP), nothing forwarded. */
async function startDnsmasq(): Promise<{ port: number; stop: () => Promise<void> }> {
  // A port free for both UDP and TCP (dnsmasq takes both).
  let port = 0;
  for (let i = 0; i < 20 && port === 0; i++) {
    const p = await closedPort();
    const u = createSocket('udp4');
    if (await new Promise<boolean>((resolve) => { u.once('error', () => resolve(false)); u.bind(p, '127.0.0.1', () => resolve(true)); })) port = p;
    u.close();
  }
  const child = spawn(DNSMASQ!, [
    '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=',
    '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`, '--local=/test/', '--user=root',
    '--host-record=web.test,10.0.0.1', '--host-record=web.test,10.0.0.2', '--host-record=six.test,2001:db8::1',
    '--cname=alias.test,web.test', '--txt-record=txt.test,hello world',
    `--txt-record=big.test,${LONG_TXT},${LONG_TXT},${LONG_TXT}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (i >= 100 || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error(`dnsmasq did not start on ${port}: ${err}`); }
    await wait(20);
  }
  return { port, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

test.serial('leaves no socket or timer behind, whatever the outcome', async (t) => {
  const quiet = await udpServer(t, () => undefined);
  const closed = await closedUdpPort();
  const answers = await udpServer(t, (q) => Buffer.concat([q.subarray(0, 2), Buffer.from([0x81, 0x80]), q.subarray(4)]));
  await wait(20);
  const before = handles();
  const rs = await Promise.all([
    dnsCheck(spec(answers.port, { timeoutMs: 5000 }), never),
    dnsCheck(spec(quiet.port, { timeoutMs: 100 }), never),
    dnsCheck(spec(closed, { timeoutMs: 5000 }), never),
    dnsCheck(spec(answers.port, { timeoutMs: 5000 }), AbortSignal.abort()),
  ]);
  t.deepEqual(rs.map((r) => [r.ok, r.reason]), [[true, 'NOERROR, 0 answers'], [false, 'timeout'], [false, 'refused'], [false, 'aborted']]);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('a server that never answers: "timeout"; replies with another id or not responses are ignored', async (t) => {
  const wrongId = await udpServer(t, (q) => Buffer.concat([Buffer.from([q[0]! ^ 0xff, q[1]!, 0x81, 0x80]), q.subarray(4)]));
  const r = await dnsCheck(spec(wrongId.port, { timeoutMs: 150 }), never);
  t.deepEqual([r.ok, r.reason], [false, 'timeout']);
  const echo = await udpServer(t, (q) => q);
  t.is((await dnsCheck(spec(echo.port, { timeoutMs: 150 }), never)).reason, 'timeout', 'its own query echoed is not a response');
});

test('garbage with the right id and QR: "bad reply"', async (t) => {
  const srv = await udpServer(t, (q) => Buffer.concat([q.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 5, 0, 0, 0, 0, 0, 0, 1, 2, 3])]));
  t.deepEqual(await dnsCheck(spec(srv.port), never).then((r) => [r.ok, r.reason]), [false, 'bad reply']);
});

if (DNSMASQ === undefined) {
  test('dnsmasq is installed (scripts/setup.sh installs dnsmasq-base): the DNS checks need a real server', (t) => {
    t.fail('no dnsmasq binary: run scripts/setup.sh');
  });
} else {
  let server: { port: number; stop: () => Promise<void> };
  test.before(async () => { server = await startDnsmasq(); });
  test.after.always(async () => { await server?.stop(); });

  test('dnsmasq: A answers, with expected addresses present or missing', async (t) => {
    const run = async (o: Partial<DnsCheckSpec>) => dnsCheck(spec(server.port, o), never).then((r) => [r.ok, r.reason]);
    t.deepEqual(await run({}), [true, 'NOERROR, 2 answers']);
    t.deepEqual(await run({ expect: ['10.0.0.2', '10.0.0.1'] }), [true, 'NOERROR, 2 answers']);
    t.deepEqual(await run({ expect: ['10.0.0.1', '10.0.0.9'] }), [false, 'NOERROR, 2 answers, missing 10.0.0.9']);
  });

  test('dnsmasq: AAAA compared in canonical form', async (t) => {
    const r = await dnsCheck(spec(server.port, { queryType: 'AAAA', name: 'six.test', expect: ['2001:DB8:0::1'] }), never);
    t.deepEqual([r.ok, r.reason], [true, 'NOERROR, 1 answer']);
  });

  test('dnsmasq: NXDOMAIN fails (keepalived: rcode != 0)', async (t) => {
    const r = await dnsCheck(spec(server.port, { name: 'nothere.test' }), never);
    t.deepEqual([r.ok, r.reason], [false, 'rcode NXDOMAIN']);
  });

  test('dnsmasq: CNAME and TXT answers', async (t) => {
    const cname = await dnsCheck(spec(server.port, { queryType: 'CNAME', name: 'alias.test', expect: ['WEB.test.'] }), never);
    t.deepEqual([cname.ok, cname.reason], [true, 'NOERROR, 1 answer']);
    const txt = await dnsCheck(spec(server.port, { queryType: 'TXT', name: 'txt.test', expect: ['hello world'] }), never);
    t.deepEqual([txt.ok, txt.reason], [true, 'NOERROR, 1 answer']);
  });

  test('dnsmasq: a truncated UDP answer is asked again over TCP', async (t) => {
    const r = await dnsCheck(spec(server.port, { queryType: 'TXT', name: 'big.test', expect: [LONG_TXT.repeat(3)] }), never);
    t.deepEqual([r.ok, r.reason], [true, 'NOERROR, 1 answer (tcp)']);
  });
}

test('a UDP connect that fails (EACCES: broadcast) fails the check; nothing throws', async (t) => {
  const r = await dnsCheck({ ...spec(53), target: target(53, '255.255.255.255') }, never);
  t.deepEqual([r.ok, r.reason], [false, 'eacces']);
});
