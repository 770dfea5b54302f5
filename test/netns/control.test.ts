// The control socket under a stream of requests, against a real daemon in a namespace: every
// request gets its reply within a deadline (status, a refused restart, malformed lines, operator
// refusals), in a row and at once, through the client module and the real CLI; and a client
// whose daemon goes away gets an error at once instead of waiting out its timeout.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, cli, type DuetNode } from '../../lab/duet-node.js';
import { request } from '../../src/control/client.js';
import { errorReply, type Reply, type Request } from '../../src/control/protocol.js';
import { captureVrrp } from '../../lab/lab.js';

delete process.env['INVOCATION_ID'];

let lab: Lab;
let node: DuetNode | undefined;
const DEADLINE_MS = 3000;

test.before(async () => {
  lab = await createLab('ctl', [{ name: 'c1', addr: '192.0.2.11' }, { name: 'c2', addr: '192.0.2.12' }]);
  node = await startDuet(lab, 'c1', pairConfig('c1', { ifname: lab.host('c1').ifname, priority: 150, advertInt: 1 }));
});
test.afterEach.always((t) => { if (!t.passed && node) for (const d of describeNodes([node])) t.log(d); });
test.after.always(async () => { node?.cleanup(); await lab?.destroy(); });

/** One raw line, one reply line (for requests the client module would not build). */
function rawLine(path: string, line: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (d: string) => { buf += d; const nl = buf.indexOf('\n'); if (nl >= 0) { s.end(); resolve(JSON.parse(buf.slice(0, nl)) as Reply); } });
    s.on('error', reject);
    setTimeout(() => { s.destroy(); reject(new Error(`no reply to ${line} within ${DEADLINE_MS} ms`)); }, DEADLINE_MS).unref();
  });
}

const KINDS: Array<{ what: string; send: (p: string) => Promise<Reply>; check: (r: Reply) => boolean }> = [
  { what: 'status', send: (p) => request(p, { cmd: 'status' }, DEADLINE_MS), check: (r) => r.ok },
  { what: 'refused restart', send: (p) => request(p, { cmd: 'restart' }, DEADLINE_MS), check: (r) => !r.ok && r.error.code === 'DUET_E_NO_SUPERVISOR' },
  { what: 'not JSON', send: (p) => rawLine(p, '{nope'), check: (r) => !r.ok && r.error.code === 'DUET_E_REQUEST' },
  { what: 'unknown instance', send: (p) => request(p, { cmd: 'failover', instances: ['VI_9'] } as Request, DEADLINE_MS), check: (r) => !r.ok && r.error.code === 'DUET_E_NO_INSTANCE' },
  { what: 'unknown server', send: (p) => request(p, { cmd: 'server', action: 'disable', service: 'nope', server: '192.0.2.1' }, DEADLINE_MS), check: (r) => !r.ok && r.error.code === 'DUET_E_NO_SERVER' },
];

test.serial('120 requests in a row, then 60 at once: each answered correctly within the deadline', async (t) => {
  const n = node!;
  await n.waitState('VI_1', 'master', 10_000);
  const times: number[] = [];
  for (let i = 0; i < 120; i++) {
    const k = KINDS[i % KINDS.length]!;
    const t0 = performance.now();
    const r = await k.send(n.socket);
    times.push(performance.now() - t0);
    t.true(k.check(r), `${i}: ${k.what}: ${JSON.stringify(r)}`);
  }
  const burst = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
    const k = KINDS[i % KINDS.length]!;
    return { k, r: await k.send(n.socket) };
  }));
  for (const { k, r } of burst) t.true(k.check(r), `${k.what}: ${JSON.stringify(r)}`);
  times.sort((a, b) => a - b);
  t.log(`reply time in a row: median ${times[60]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
  t.is((await n.instance('VI_1'))?.state, 'master', 'nothing the requests did moved the instance');
  t.is(n.proc.exitCode, null);
});

test.serial('the CLI: refused restarts and status in a row, each within the deadline', async (t) => {
  const n = node!;
  for (let i = 0; i < 6; i++) {
    const t0 = Date.now();
    const r = await cli(n, i % 2 ? ['status'] : ['restart']);
    const ms = Date.now() - t0;
    if (i % 2) t.is(r.code, 0, r.stderr);
    else {
      t.is(r.code, 1, r.stderr);
      t.regex(r.stderr, /\[DUET_E_NO_SUPERVISOR\]/);
    }
    t.true(ms < 15_000, `duet ${i % 2 ? 'status' : 'restart'} took ${ms} ms`);
  }
});

test.serial('a second daemon with the same state directory refuses to start and leaves the first one alone', async (t) => {
  const n = node!;
  const second = await startDuet(lab, 'c1', pairConfig('c1', { ifname: lab.host('c1').ifname, priority: 150, advertInt: 1 }), { dir: n.dir, waitReady: false });
  t.teardown(() => second.cleanup());
  t.is(await second.exited(), 1);
  t.regex(second.stderr.join(''), /duet\.lock: another duet \(pid \d+\) is running with this state directory; not starting \[DUET_E_RUNNING\]/);
  const st = await request(n.socket, { cmd: 'status' }, DEADLINE_MS);
  t.true(st.ok, 'the first daemon still answers on its socket');
});

test.serial('a state directory others can write to: the daemon refuses to start, touching nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-ctl-unsafe-'));
  chmodSync(dir, 0o777);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'operator.json'), '{"maintenance":{"on":true,"sticky":true}}');
  const n2 = await startDuet(lab, 'c2', pairConfig('c2', { ifname: lab.host('c2').ifname, priority: 150, vrid: 52, vip: '192.0.2.101/24', extra: `node: { state_dir: ${dir} }\n` }).replace(/^node:\n  name: c2\n/m, ''), { waitReady: false });
  t.teardown(() => n2.cleanup());
  t.is(await n2.exited(), 1);
  t.regex(n2.stderr.join(''), /state directory .* is writable by group or others \(mode 777\); not starting/);
  t.false(existsSync(join(dir, 'duet.lock')), 'nothing written there');
});

test.serial('a flood of pipelined requests nobody reads, and idle connections: bounded memory, steady adverts, all closed', async (t) => {
  // 100 ms adverts; the daemon closes connections idle (or not reading) for 2 s.
  const f = await startDuet(lab, 'c2', pairConfig('c2', { ifname: lab.host('c2').ifname, priority: 150, vrid: 52, vip: '192.0.2.101/24', advertInt: 0.1, extra: 'control: { idle_timeout: 2 }\n' }));
  t.teardown(() => f.cleanup());
  await f.waitState('VI_1', 'master');
  const cap = await captureVrrp(lab, 'c2');
  t.teardown(() => cap.proc.kill());
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${f.proc.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  await sleep(500);
  const before = rss();
  const t0 = Date.now();
  // 60 connections (max_connections is 64): 20 pipeline 2,000 status requests each and never
  // read, 40 just sit there.
  const socks: Socket[] = [];
  t.teardown(() => socks.forEach((s) => s.destroy()));
  const closedAt: number[] = [];
  const replies: string[] = [];
  for (let i = 0; i < 60; i++) {
    const s = createConnection(f.socket);
    socks.push(s);
    s.on('error', () => {});
    s.on('close', () => closedAt.push(Date.now() - t0));
    if (i < 20) { s.pause(); s.on('connect', () => s.write('{"cmd":"status"}\n'.repeat(2000))); }
    else { s.setEncoding('utf8'); s.on('data', (d: string) => replies.push(d)); }
  }
  let peak = before;
  let during: Reply | undefined;
  for (let i = 0; i < 40; i++) {
    await sleep(100);
    peak = Math.max(peak, rss());
    if (i === 10) during = await request(f.socket, { cmd: 'status' }, DEADLINE_MS).catch((e: Error) => errorReply('DUET_E_IO', e.message));
  }
  const adverts = cap.from('192.0.2.12', t0, Date.now(), 52);
  const gaps = adverts.slice(1).map((p, i) => p.at - adverts[i]!.at);
  const maxGap = Math.max(...gaps);
  const open = socks.filter((s) => !s.destroyed).length;
  t.log(`RSS ${before.toFixed(1)} -> peak ${peak.toFixed(1)} MiB (+${(peak - before).toFixed(1)}); ${adverts.length} adverts, longest gap ${maxGap.toFixed(1)} ms; `
    + `${closedAt.length} of 60 closed by the daemon (idle ones at ${closedAt.length ? Math.min(...closedAt) : '-'}-${closedAt.length ? Math.max(...closedAt) : '-'} ms), ${open} still open`);
  t.true(peak - before < 32, `RSS grew ${(peak - before).toFixed(1)} MiB`);
  t.true(adverts.length >= 30, `${adverts.length} adverts in 4 s`);
  t.true(maxGap < 200, `longest advert gap ${maxGap} ms (2 x advert = 200 ms)`);
  t.true(during?.ok, `a status request during the flood: ${JSON.stringify(during).slice(0, 200)}`);
  // The 40 idle readers were closed after the idle time; the 20 that never read were dropped as
  // slow clients (they cannot see the close: the daemon's log says so).
  t.true(closedAt.length >= 40 && Math.min(...closedAt) >= 1500, 'idle connections closed after the idle time, not before');
  t.true(socks.slice(20).every((s) => s.destroyed), 'every reading connection was closed');
  await waitFor(() => f.logs.some((l) => l['reason'] === 'slow-client'), { timeoutMs: 5000, intervalMs: 50, what: 'slow-client drops logged' });
  t.is((await f.instance('VI_1'))?.state, 'master');
  t.deepEqual(f.transitions().map((l) => [l['from'], l['to']]), [['init', 'backup'], ['backup', 'master']], 'no transition during the flood');
});

test.serial('a client whose daemon stops mid-request gets an error at once, not at its timeout', async (t) => {
  const n = node!;
  // `events` stays open until the client hangs up; the daemon stopping closes it without a reply.
  let attached = false;
  const pending = request(n.socket, { cmd: 'events' }, 60_000, (e) => { if ((e as { type?: string }).type === 'subscribed') attached = true; });
  await waitFor(() => attached, { timeoutMs: 5000, intervalMs: 10, what: 'events stream attached' });
  const t0 = performance.now();
  n.kill('SIGTERM');
  const e = await t.throwsAsync(pending);
  const ms = performance.now() - t0;
  t.regex(e?.message ?? '', /closed the connection without a reply/);
  t.true(ms < 10_000, `rejected ${ms.toFixed(0)} ms after SIGTERM`);
  t.is(await n.exited(), 0);
  // And a request to a socket nobody serves fails at once (ECONNREFUSED or ENOENT), never hangs.
  await t.throwsAsync(request(n.socket, { cmd: 'status' }, 60_000), { message: /ENOENT|ECONNREFUSED/ });
});

test.serial('duet ipvs: asked of the daemon; with no daemon at the socket, read from the kernel directly, and said so', async (t) => {
  // A fresh node (the one above was stopped); this kernel has no IPVS, so both paths report that.
  node = await startDuet(lab, 'c1', pairConfig('c1', { ifname: lab.host('c1').ifname, priority: 150, advertInt: 1 }));
  const viaDaemon = await cli(node, ['ipvs', 'list']);
  t.is(viaDaemon.code, 1);
  t.regex(viaDaemon.stderr, /\[DUET_E_IO\]/, 'the daemon answered, with the kernel\'s error');
  t.notRegex(viaDaemon.stderr, /reading the kernel directly/);
  t.true(node.logs.some((l) => l.msg === 'control reply' && l['cmd'] === 'ipvs'));
  node.kill('SIGTERM');
  t.is(await node.exited(), 0);
  const direct = await cli(node, ['ipvs', 'conns']);
  t.is(direct.code, 1);
  t.regex(direct.stderr, /no daemon answers at .*; reading the kernel directly/);
  t.regex(direct.stderr, /IPVS not available/);
});
