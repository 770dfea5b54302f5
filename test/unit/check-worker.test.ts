// The check worker under watch, with real worker threads and a real TCP server to check: a
// wedged worker is found by its heartbeat, terminated and replaced; the new engine starts from the
// last config and each check's last health, so no weight moves because of the restart.
import test from 'ava';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENTS_PER_TURN, STATUS_PAGE, workerChecks } from '../../src/check/host.js';
import type { CheckEvent } from '../../src/check/engine.js';
import type { CheckedService } from '../../src/check/types.js';
import { parseConfig } from '../../src/config/load.js';
import { compileLinearRegex } from '../../src/core/linear-regex.js';

const until = async (fn: () => boolean, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) { if (Date.now() > end) throw new Error(`timed out: ${what}`); await new Promise((r) => setTimeout(r, 20)); }
};

/** One service whose one TCP check targets a server on loopback at `port`, every 200 ms. */
function tcpService(port: number): CheckedService {
  // Built by hand: the config refuses loopback addresses, and this server is on loopback.
  return {
    name: 'web', kind: 'addr', protocol: 'tcp', address: '192.0.2.100', family: 4, port: 80, slowStartMs: 0, quorum: 1, hysteresis: 0,
    realServers: [{ family: 4, address: '192.0.2.21', port: 80, weight: 5, inhibitOnFailure: false,
      checks: [{ spec: { type: 'tcp', target: { address: '127.0.0.1', family: 4, port }, timeoutMs: 150 }, intervalMs: 200, retryDelayMs: 200, rise: 1, fall: 1 }] }],
  };
}

test('a wedged worker is restarted within the heartbeat timeout; health carried over, no weight change', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-wedge-'));
  const flag = join(dir, 'wedge');
  process.env['DUET_TEST_WEDGE_FILE'] = flag;
  const server = createServer((s) => { s.on('error', () => {}); s.end(); }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  t.teardown(() => { server.close(() => undefined); rmSync(dir, { recursive: true, force: true }); delete process.env['DUET_TEST_WEDGE_FILE']; });
  const svc = tcpService(port);
  const events: CheckEvent[] = [];
  const errors: string[] = [];
  const host = workerChecks({
    onEvent: (e) => events.push(e), onError: (e) => errors.push(e.message),
    workerUrl: new URL('../fakes/wedge-worker.js', import.meta.url), heartbeatMs: 100, heartbeatTimeoutMs: 1000,
  });
  t.teardown(() => host.close());
  await host.configure([svc]);
  await until(() => events.some((e) => e.kind === 'check' && e.to === 'up'), 5000, 'check up');
  // The server goes away: the check goes down and the server out (a fresh engine would put it
  // back at its configured weight 5 until its first result).
  await new Promise((r) => server.close(r));
  await until(() => events.some((e) => e.kind === 'check' && e.to === 'down') && events.some((e) => e.kind === 'quorum' && !e.up), 5000, 'check down, quorum lost');
  await new Promise((r) => setTimeout(r, 300));
  const key = [...host.verdicts().keys()][0]!;
  const down = host.verdicts().get(key)?.dests.values().next().value;
  t.not(down, 5);
  const before = events.length;
  // On a loaded machine a slow worker can miss a heartbeat on its own: count from here.
  const restarts0 = host.liveness().restarts;
  const errors0 = errors.length;
  writeFileSync(flag, '');
  await until(() => !existsSync(flag), 5000, 'the worker wedged (it took the flag)');
  await until(() => host.liveness().restarts > restarts0, 5000, 'restart');
  t.regex(errors[errors0] ?? '', /^check worker did not answer a heartbeat in 1000 ms; restarting it with the last config and health$/);
  // The new worker answers, with the check and the server as they were.
  await until(() => host.liveness().answering && (host.verdicts().get(key)?.dests.size ?? 0) > 0, 3000, 'answering');
  t.is(host.verdicts().get(key)?.dests.values().next().value, down, 'the restart put no weight back');
  const st = await host.status();
  t.is(st[0]?.servers[0]?.checks[0]?.health, 'down');
  await new Promise((r) => setTimeout(r, 600));
  t.deepEqual(events.slice(before).filter((e) => e.kind !== 'check' || e.to !== 'down'), [], 'no weight, quorum or health change from the restart');
});

test('a worker slow to start is given its start-up grace, not restarted in a loop; one that never answers is restarted after it', async (t) => {
  process.env['DUET_TEST_SLOW_START_MS'] = '1200';
  t.teardown(() => { delete process.env['DUET_TEST_SLOW_START_MS']; });
  const server = createServer((s) => { s.on('error', () => {}); s.end(); }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.teardown(() => { server.close(() => undefined); });
  const port = (server.address() as { port: number }).port;
  const svc = tcpService(port);
  const events: CheckEvent[] = [];
  const errors: string[] = [];
  // Heartbeat timeout 300 ms, start-up 1200 ms: without the grace, every new worker would be
  // killed before it loads.
  const host = workerChecks({
    onEvent: (e) => events.push(e), onError: (e) => errors.push(e.message),
    workerUrl: new URL('../fakes/slow-start-worker.js', import.meta.url), heartbeatMs: 100, heartbeatTimeoutMs: 300, startupGraceMs: 8000,
  });
  t.teardown(() => host.close());
  await host.configure([svc]);
  await until(() => events.some((e) => e.kind === 'check' && e.to === 'up'), 10_000, 'check up');
  t.is(host.liveness().restarts, 0, errors.join('; '));
  // A grace shorter than the start-up: the worker is restarted (and the restarted ones too).
  const impatient = workerChecks({
    onEvent: () => undefined, onError: () => undefined,
    workerUrl: new URL('../fakes/slow-start-worker.js', import.meta.url), heartbeatMs: 100, heartbeatTimeoutMs: 300, startupGraceMs: 400,
  });
  t.teardown(() => impatient.close());
  await until(() => impatient.liveness().restarts > 0, 5000, 'the impatient host restarted its worker');
});

test('body_regex runs in linear time: a pattern that backtracks catastrophically elsewhere returns at once', (t) => {
  const re = compileLinearRegex('(a+)+b');
  t.false(re.test('a'.repeat(100_000)));
  t.true(re.test(`${'a'.repeat(1000)}b`));
  t.throws(() => compileLinearRegex('(a)\\1'), { message: /^invalid escape sequence: `\\1`$/ });
});

test('the config refuses a body_regex RE2 cannot run, naming the field', (t) => {
  const r = parseConfig(`vrrp: { instances: [] }
virtual_servers:
  - { name: web, address: 192.0.2.1, port: 80, lb_kind: dr, real_servers: [{ address: 192.0.2.2, checks: [{ type: http, body_regex: '(?=x)y' }] }] }
`, 'test.yaml');
  t.false(r.ok);
  if (!r.ok) t.regex(JSON.stringify(r.error), /body_regex.*RE2 syntax/);
});

test.serial('status asked for at the same time is one request to the worker, and one copy', async (t) => {
  const host = workerChecks({ onEvent: () => undefined, onError: () => undefined });
  t.teardown(() => host.close());
  const svc: CheckedService = {
    name: 'web', kind: 'addr', protocol: 'tcp', address: '192.0.2.100', family: 4, port: 80, slowStartMs: 0, quorum: 1, hysteresis: 0,
    realServers: [{ family: 4, address: '192.0.2.21', port: 80, weight: 5, inhibitOnFailure: false,
      checks: [{ spec: { type: 'tcp', target: { address: '127.0.0.1', family: 4, port: 9 }, timeoutMs: 150 }, intervalMs: 60_000, retryDelayMs: 60_000, rise: 1, fall: 1 }] }],
  };
  await host.configure([svc]);
  const a = host.status();
  const b = host.status();
  t.is(a, b, 'the same request');
  const [x, y] = await Promise.all([a, b]);
  t.is(x, y);
  t.is(x[0]?.servers[0]?.server, '192.0.2.21:80');
  const c = host.status();
  t.not(c, a, 'a later one asks again');
  t.deepEqual(await c, x);
});

test.serial('status of more servers than a page comes back whole, in order, from the real worker', async (t) => {
  const host = workerChecks({ onEvent: () => undefined, onError: () => undefined });
  t.teardown(() => host.close());
  const n = STATUS_PAGE * 2 + 17;
  const svc = (port: number, count: number): CheckedService => ({
    name: `web${port}`, kind: 'addr', protocol: 'tcp', address: '192.0.2.100', family: 4, port, slowStartMs: 0, quorum: 1, hysteresis: 0,
    realServers: Array.from({ length: count }, (_, i) => ({ family: 4 as const, address: `10.1.${i >> 8}.${i & 255}`, port, weight: 1, inhibitOnFailure: false,
      checks: [{ spec: { type: 'tcp' as const, target: { address: '127.0.0.1', family: 4 as const, port: 9 }, timeoutMs: 150 }, intervalMs: 600_000, retryDelayMs: 600_000, rise: 1, fall: 1 }] })),
  });
  await host.configure([svc(80, n), svc(81, 3)]);
  const st = await host.status();
  t.deepEqual(st.map((s) => [s.service, s.servers.length]), [['tcp:192.0.2.100:80', n], ['tcp:192.0.2.100:81', 3]]);
  t.deepEqual(st[0]!.servers.map((s) => s.server), Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255}:80`));
});

test(`a burst of events from the worker reaches the daemon ${EVENTS_PER_TURN} per turn, in order; the verdicts take them all at once`, async (t) => {
  process.env['DUET_TEST_BURST'] = '1000';
  t.teardown(() => { delete process.env['DUET_TEST_BURST']; });
  const seen: CheckEvent[] = [];
  const perTurn: number[] = [];
  let inTurn = 0;
  let firstSaw: number | undefined;
  const host = workerChecks({
    onEvent: (e) => {
      // Microtasks run once the current turn's synchronous work is over: one count per turn.
      if (inTurn++ === 0) queueMicrotask(() => { perTurn.push(inTurn); inTurn = 0; });
      // What the reconciler would read while the first event is handled: every verdict already.
      firstSaw ??= host.verdicts().values().next().value?.dests.size;
      seen.push(e);
    },
    onError: () => undefined,
    workerUrl: new URL('../fakes/burst-worker.js', import.meta.url),
  });
  t.teardown(() => host.close());
  await host.configure([tcpService(1)]);
  await until(() => seen.length === 1000, 5000, '1,000 events handed over');
  t.deepEqual(seen.map((e) => (e.kind === 'weight' ? e.to : -1)), Array.from({ length: 1000 }, (_, i) => i % 7), 'in order');
  t.is(firstSaw, 1000);
  t.deepEqual(perTurn, Array.from({ length: 1000 / EVENTS_PER_TURN }, () => EVENTS_PER_TURN));
});

test('the scrape\'s check families come written from the real worker', async (t) => {
  const server = createServer((s) => { s.on('error', () => {}); s.end(); }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.teardown(() => { server.close(() => undefined); });
  const up: CheckEvent[] = [];
  const host = workerChecks({ onEvent: (e) => { if (e.kind === 'check' && e.to === 'up') up.push(e); }, onError: () => undefined });
  t.teardown(() => host.close());
  await host.configure([tcpService((server.address() as { port: number }).port)]);
  await until(() => up.length > 0, 5000, 'check up');
  const text = await host.metricsText();
  t.regex(text, /^# TYPE duet_check_up gauge$/m);
  t.regex(text, /^duet_check_up\{service="web",server="192\.0\.2\.21:80",check="tcp#0"\} 1$/m);
  t.regex(text, /^duet_check_results_total\{service="web",server="192\.0\.2\.21:80",check="tcp#0",result="ok"\} [1-9]\d*$/m);
});
