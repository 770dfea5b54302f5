// smtpCheck against SMTP-speaking servers on loopback: the full exchange, multi-line replies,
// EHLO, a 554 greeting, a refused HELO, a server that never greets, one that closes early.
import test from 'ava';
import { smtpCheck } from '../../src/check/checkers/smtp.js';
import type { SmtpCheckSpec } from '../../src/check/types.js';
import { closedPort, handles, lineServer, settledTo, smtpServer, target, tcpServer } from './check-servers.js';

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(port: number, o: Partial<SmtpCheckSpec> = {}): SmtpCheckSpec {
  return { type: 'smtp', target: target(port), timeoutMs: 1000, heloName: 'director.test', ehlo: false, ...o };
}

const LONG = 5000;

test.serial('leaves no socket or timer behind, whatever the outcome', async (t) => {
  const ok = await smtpServer(t);
  const busy = await smtpServer(t, { greeting: '554 no service\r\n' });
  const hangs = await tcpServer(t);
  const refused = await closedPort();
  await wait(20);
  const before = handles();
  const rs = await Promise.all([
    smtpCheck(spec(ok.port, { timeoutMs: LONG }), never),
    smtpCheck(spec(busy.port, { timeoutMs: LONG }), never),
    smtpCheck(spec(hangs.port, { timeoutMs: 100 }), never),
    smtpCheck(spec(refused, { timeoutMs: LONG }), never),
    smtpCheck(spec(ok.port, { timeoutMs: LONG }), AbortSignal.abort()),
  ]);
  t.deepEqual(rs.map((r) => [r.ok, r.reason]), [[true, 'smtp ok'], [false, 'greeting 554'], [false, 'timeout'], [false, 'refused'], [false, 'aborted']]);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('220, HELO with helo_name, 250, QUIT answered: healthy', async (t) => {
  const srv = await smtpServer(t);
  const r = await smtpCheck(spec(srv.port), never);
  t.deepEqual([r.ok, r.reason], [true, 'smtp ok']);
  t.deepEqual(srv.commands, ['HELO director.test', 'QUIT']);
});

test('multi-line greeting and a multi-line EHLO answer', async (t) => {
  const srv = await smtpServer(t, {
    greeting: '220-mail.test ESMTP\r\n220-more text\r\n220 ready\r\n',
    helo: '250-mail.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n',
  });
  const r = await smtpCheck(spec(srv.port, { ehlo: true }), never);
  t.deepEqual([r.ok, r.reason], [true, 'smtp ok']);
  t.deepEqual(srv.commands, ['EHLO director.test', 'QUIT']);
});

test('a server closing after QUIT without answering is still healthy (its 250 counted)', async (t) => {
  const srv = await smtpServer(t, { quit: 'close' });
  t.deepEqual(await smtpCheck(spec(srv.port), never).then((r) => [r.ok, r.reason]), [true, 'smtp ok']);
});

test('554 greeting: failed, nothing sent', async (t) => {
  const srv = await smtpServer(t, { greeting: '554 5.3.2 not accepting\r\n' });
  t.deepEqual(await smtpCheck(spec(srv.port), never).then((r) => [r.ok, r.reason]), [false, 'greeting 554']);
  await wait(20);
  t.deepEqual(srv.commands, []);
});

test('HELO refused: "helo 501"', async (t) => {
  const srv = await smtpServer(t, { helo: '501 bad name\r\n' });
  t.deepEqual(await smtpCheck(spec(srv.port), never).then((r) => [r.ok, r.reason]), [false, 'helo 501']);
});

test('a server that never greets: "timeout" at the deadline', async (t) => {
  const srv = await smtpServer(t, { greeting: '' });
  const r = await smtpCheck(spec(srv.port, { timeoutMs: 150 }), never);
  t.deepEqual([r.ok, r.reason], [false, 'timeout']);
  t.true(r.latencyMs >= 149 && r.latencyMs < 2000);
});

test('not SMTP, or closed early: "bad reply at greeting", "closed at greeting"', async (t) => {
  const http = await lineServer(t, 'HTTP/1.1 400 Bad Request\r\n\r\n');
  t.is((await smtpCheck(spec(http.port), never)).reason, 'bad reply at greeting');
  const mute = await lineServer(t, '');
  t.is((await smtpCheck(spec(mute.port), never)).reason, 'closed at greeting');
});

test('an endless line: "bad reply" without waiting for the deadline', async (t) => {
  const srv = await lineServer(t, '220' + 'x'.repeat(10_000), false);
  const r = await smtpCheck(spec(srv.port, { timeoutMs: 3000 }), never);
  t.deepEqual([r.ok, r.reason], [false, 'bad reply']);
  t.true(r.latencyMs < 2000);
});
