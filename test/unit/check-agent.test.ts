// agentCheck against real agents on loopback, and parseAgentAnswer as a table.
import test from 'ava';
import { agentCheck, parseAgentAnswer } from '../../src/check/checkers/agent.js';
import type { AgentCheckSpec } from '../../src/check/types.js';
import { closedPort, handles, lineServer, settledTo, target, tcpServer } from './check-servers.js';

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(port: number, send = '', timeoutMs = 1000): AgentCheckSpec {
  return { type: 'agent', target: target(port), timeoutMs, send };
}

async function ask(t: Parameters<typeof lineServer>[0], answer: string, close = true) {
  const srv = await lineServer(t, answer, close);
  return agentCheck(spec(srv.port), never);
}

// Long enough that a timer left armed would still be pending when the handles are counted.
const LONG = 5000;

test.serial('leaves no socket or timer behind, whatever the outcome', async (t) => {
  const up = await lineServer(t, 'up\n', false);
  const silent = await tcpServer(t);
  const refused = await closedPort();
  await wait(20);
  const before = handles();
  const rs = await Promise.all([
    agentCheck(spec(up.port, '', LONG), never),
    agentCheck(spec(silent.port, '', 100), never),
    agentCheck(spec(refused, '', LONG), never),
    agentCheck(spec(up.port, '', LONG), AbortSignal.abort()),
  ]);
  t.deepEqual(rs.map((r) => r.reason), ['up', 'timeout', 'refused', 'aborted']);
  t.deepEqual([...(await settledTo(before))], [...before]);
});

test('"up\\n": ok, agent up', async (t) => {
  const r = await ask(t, 'up\n');
  t.deepEqual({ ok: r.ok, reason: r.reason, agent: r.agent }, { ok: true, reason: 'up', agent: { kind: 'up' } });
  t.true(r.latencyMs > 0 && r.latencyMs < 1000);
});

test('"50%\\n": ok, percent 50', async (t) => {
  const r = await ask(t, '50%\n');
  t.deepEqual({ ok: r.ok, reason: r.reason, agent: r.agent }, { ok: true, reason: '50%', agent: { kind: 'percent', percent: 50 } });
});

for (const word of ['drain', 'maint', 'down'] as const) {
  test(`"${word}\\n": ok (it answered), agent ${word}`, async (t) => {
    const r = await ask(t, `${word}\n`);
    t.deepEqual({ ok: r.ok, reason: r.reason, agent: r.agent }, { ok: true, reason: word, agent: { kind: word } });
  });
}

test('the line ends at the newline even if the agent keeps the connection open', async (t) => {
  const r = await ask(t, 'ready\nwhatever follows\n', false);
  t.deepEqual([r.ok, r.agent], [true, { kind: 'up' }]);
});

test('an answer closed without a newline counts (EOF ends the line)', async (t) => {
  t.deepEqual((await ask(t, 'drain')).agent, { kind: 'drain' });
});

test('garbage: "bad answer"; nothing then EOF: "no answer"', async (t) => {
  const r = await ask(t, 'HTTP/1.1 400 Bad Request\r\n');
  t.deepEqual([r.ok, r.reason, r.agent], [false, 'bad answer', undefined]);
  t.deepEqual(await ask(t, '').then((x) => [x.ok, x.reason]), [false, 'no answer']);
});

test('more than 1 KiB without a newline: "bad answer" without waiting for the rest', async (t) => {
  const r = await ask(t, 'x'.repeat(2000), false);
  t.deepEqual([r.ok, r.reason], [false, 'bad answer']);
});

test('an agent that never answers: "timeout"', async (t) => {
  const srv = await tcpServer(t);
  const r = await agentCheck(spec(srv.port, '', 150), never);
  t.deepEqual([r.ok, r.reason], [false, 'timeout']);
  t.true(r.latencyMs >= 149 && r.latencyMs < 2000, `latency ${r.latencyMs}`);
});

test('a closed port: "refused"', async (t) => {
  t.is((await agentCheck(spec(await closedPort()), never)).reason, 'refused');
});

test('send is written after connecting, and the answer may depend on it', async (t) => {
  const srv = await lineServer(t, (got) => (got === 'status web1\n' ? 'up 75%\n' : 'down\n'));
  t.deepEqual((await agentCheck(spec(srv.port, 'status web1\n'), never)).agent, { kind: 'percent', percent: 75 });
  t.deepEqual((await agentCheck(spec(srv.port, 'status web2\n'), never)).agent, { kind: 'down' });
});

test('aborted while waiting for the answer: "aborted"', async (t) => {
  const srv = await tcpServer(t);
  const ac = new AbortController();
  const p = agentCheck(spec(srv.port), ac.signal);
  setTimeout(() => ac.abort(), 20);
  t.is((await p).reason, 'aborted');
});

const table: [string, ReturnType<typeof parseAgentAnswer>][] = [
  ['up', { kind: 'up' }],
  ['UP', { kind: 'up' }],
  ['ready', { kind: 'up' }],
  ['Ready\r', { kind: 'up' }],
  ['down', { kind: 'down' }],
  ['fail', { kind: 'down' }],
  ['stopped', { kind: 'down' }],
  ['drain', { kind: 'drain' }],
  ['MAINT', { kind: 'maint' }],
  ['0%', { kind: 'percent', percent: 0 }],
  ['50%', { kind: 'percent', percent: 50 }],
  ['100%', { kind: 'percent', percent: 100 }],
  ['150%', { kind: 'percent', percent: 100 }],
  ['99999999999999999999%', { kind: 'percent', percent: 100 }],
  ['up 50%', { kind: 'percent', percent: 50 }],
  ['50%,up', { kind: 'percent', percent: 50 }],
  ['ready,\t75%', { kind: 'percent', percent: 75 }],
  ['drain 50%', { kind: 'drain' }],
  ['down 50%', { kind: 'down' }],
  ['maint down', { kind: 'maint' }],
  ['down drain', { kind: 'down' }],
  ['up drain', { kind: 'drain' }],
  ['up maxconn:30', { kind: 'up' }],
  ['up # all good', { kind: 'up' }],
  ['# down', undefined],
  ['up\ndown', { kind: 'up' }],
  ['  up  ', { kind: 'up' }],
  ['maxconn:30', undefined],
  ['', undefined],
  ['garbage', undefined],
  ['upp', undefined],
  ['50', undefined],
  ['-5%', undefined],
  ['5.5%', undefined],
  ['%', undefined],
];

test('parseAgentAnswer table', (t) => {
  for (const [text, want] of table) t.deepEqual(parseAgentAnswer(text), want, JSON.stringify(text));
});
