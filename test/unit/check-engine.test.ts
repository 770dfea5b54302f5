// The check engine with a fake clock and scripted check results: rise/fall, retry delay,
// remove vs inhibit, slow start, agent and exec weights, latency weights, quorum with a sorry
// server, reload keeping health. The checkers themselves are tested against real servers in
// check-*.test.ts; the kernel side in test/vm.
import test from 'ava';
import { FakeClock } from '../fakes/fake-clock.js';
import { formatIssue, parseConfig } from '../../src/config/load.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';
import { CheckEngine, appendPage, statusPage, type CheckEvent, type ServiceStatus, type ServiceStatusPage } from '../../src/check/engine.js';
import type { CheckResult, CheckSpec } from '../../src/check/types.js';
import { desiredTable } from '../../src/ipvs/desired.js';
import { addSample, INITIAL_LATENCY, targetFactor } from '../../src/check/latency.js';
import { applyResult, INITIAL_CHECK_STATE } from '../../src/check/health.js';

const VRRP = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';

function servers(yaml: string): VirtualServerConfig[] {
  const r = parseConfig(`${VRRP}virtual_servers:\n${yaml}`, 'inline.yaml');
  if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
  return r.value.virtualServers;
}

/** A lab: a fake clock, check results scripted per target address, events recorded. */
function lab(cfg: VirtualServerConfig[]) {
  const clock = new FakeClock(1000);
  const answer = new Map<string, CheckResult | ((spec: CheckSpec) => CheckResult)>();
  const runs: string[] = [];
  const events: CheckEvent[] = [];
  const engine = new CheckEngine({
    clock,
    random: () => 0,
    onEvent: (e) => events.push(e),
    run: (spec) => {
      const who = spec.type === 'exec' ? spec.argv.join(' ') : spec.type === 'file' ? spec.path : spec.target.address;
      runs.push(`${clock.now()} ${who}`);
      const a = answer.get(who) ?? { ok: true, latencyMs: 1, reason: 'connected' };
      return Promise.resolve(typeof a === 'function' ? a(spec) : a);
    },
  });
  engine.configure(cfg);
  const set = (who: string, r: CheckResult | ((spec: CheckSpec) => CheckResult)): void => { answer.set(who, r); };
  /** Advance in 100 ms steps, letting check promises settle between steps. */
  const advance = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      await new Promise((r) => setImmediate(r));
    }
  };
  const weights = (svc = 'tcp:192.0.2.100:80'): Record<string, number | 'remove'> =>
    Object.fromEntries(engine.verdicts().get(svc)?.dests ?? []);
  return { clock, engine, events, runs, set, advance, weights };
}

const FAIL: CheckResult = { ok: false, latencyMs: 3, reason: 'refused' };
const OK: CheckResult = { ok: true, latencyMs: 2, reason: 'connected' };

const TWO = (extra = '', check = '{ type: tcp, interval: 1, timeout: 0.5, rise: 2, fall: 3 }') => `  - address: 192.0.2.100
    port: 80
    lb_kind: dr
    checks: [${check}]
${extra}    real_servers:
      - { address: 192.0.2.21, weight: 4 }
      - { address: 192.0.2.22, weight: 4 }
`;

test('a first success counts; fall failures remove; rise successes restore', async (t) => {
  const l = lab(servers(TWO()));
  await l.advance(100);
  t.deepEqual(l.weights(), { '192.0.2.21:80': 4, '192.0.2.22:80': 4 });
  l.set('192.0.2.21', FAIL);
  await l.advance(2000);
  t.is(l.weights()['192.0.2.21:80'], 4, 'two failures: still in (fall 3)');
  await l.advance(1000);
  t.is(l.weights()['192.0.2.21:80'], 'remove', 'third failure: out');
  const down = l.events.filter((e) => e.kind === 'check');
  t.deepEqual(down.map((e) => e.kind === 'check' && [e.server, e.from, e.to, e.reason]), [
    ['192.0.2.21:80', 'unknown', 'up', 'first check: connected'],
    ['192.0.2.22:80', 'unknown', 'up', 'first check: connected'],
    ['192.0.2.21:80', 'up', 'down', 'refused (3 in a row)'],
  ]);
  const w = l.events.find((e) => e.kind === 'weight');
  t.like(w, { kind: 'weight', server: '192.0.2.21:80', from: 4, to: 'remove' });
  l.set('192.0.2.21', OK);
  await l.advance(1000);
  t.is(l.weights()['192.0.2.21:80'], 'remove', 'one success: still out (rise 2)');
  await l.advance(1000);
  t.is(l.weights()['192.0.2.21:80'], 4);
  l.engine.stop();
});

test('a server failing from the start leaves after fall failures; retry_delay paces retries while failing', async (t) => {
  const l = lab(servers(TWO('', '{ type: tcp, interval: 5, timeout: 0.5, retry_delay: 1, fall: 3 }')));
  l.set('192.0.2.22', FAIL);
  await l.advance(100);
  t.is(l.weights()['192.0.2.22:80'], 4, 'unknown counts as healthy: one failure is not enough');
  await l.advance(2000);
  t.is(l.weights()['192.0.2.22:80'], 'remove', 'third failure, 1 s apart');
  t.like(l.events.find((e) => e.kind === 'check' && e.server === '192.0.2.22:80'), { from: 'unknown', to: 'down', reason: 'refused (3 in a row)' });
  l.set('192.0.2.21', OK);
  await l.advance(5000);
  l.set('192.0.2.21', FAIL);
  l.runs.length = 0;
  await l.advance(12000);
  const times = l.runs.filter((r) => r.endsWith('192.0.2.21')).map((r) => Number(r.split(' ')[0]));
  // Failure at 6000 (interval 5 s), then retries 1 s apart until down at the third, then interval again.
  t.deepEqual(times.slice(0, 4), [11000, 12000, 13000, 18000], `runs: ${times.join(' ')}`);
  l.engine.stop();
});

test('inhibit_on_failure keeps a failed server at weight 0', async (t) => {
  const l = lab(servers(TWO('    inhibit_on_failure: true\n')));
  l.set('192.0.2.21', FAIL);
  await l.advance(3000);
  t.deepEqual(l.weights(), { '192.0.2.21:80': 0, '192.0.2.22:80': 4 });
  l.engine.stop();
});

test('slow start ramps a recovered server up over the configured time', async (t) => {
  const l = lab(servers(TWO('    slow_start: 10\n', '{ type: tcp, interval: 1, timeout: 0.5, rise: 1, fall: 1 }').replace(/weight: 4/g, 'weight: 100')));
  await l.advance(100);
  t.is(l.weights()['192.0.2.21:80'], 100, 'a server healthy from the start gets its full weight at once');
  l.set('192.0.2.21', FAIL);
  await l.advance(1000);
  t.is(l.weights()['192.0.2.21:80'], 'remove');
  l.set('192.0.2.21', OK);
  await l.advance(1000);
  const seen: Array<number | 'remove' | undefined> = [];
  for (let i = 0; i < 11; i++) {
    seen.push(l.weights()['192.0.2.21:80']);
    await l.advance(1000);
  }
  t.is(seen[0], 1, 'starts low');
  for (let i = 1; i < seen.length; i++) t.true((seen[i] as number) >= (seen[i - 1] as number), `ramp never goes down: ${seen.join(' ')}`);
  t.true((seen[5] as number) > 30 && (seen[5] as number) < 70, `half way ~50: ${seen.join(' ')}`);
  t.is(seen[10], 100, 'full weight after 10 s');
  l.engine.stop();
});

test('agent answers scale, drain and take down; exec dynamic sets the weight', async (t) => {
  const cfg = servers(`  - address: 192.0.2.100
    port: 80
    lb_kind: dr
    real_servers:
      - { address: 192.0.2.21, weight: 10, checks: [{ type: agent, connect_port: 9999, interval: 1, timeout: 0.5 }] }
      - { address: 192.0.2.22, weight: 10, checks: [{ type: exec, command: [/w22], dynamic: true, interval: 1, timeout: 0.5 }] }
`);
  const l = lab(cfg);
  l.set('192.0.2.21', { ok: true, latencyMs: 1, reason: 'answer', agent: { kind: 'percent', percent: 50 } });
  l.set('/w22', { ok: true, latencyMs: 1, reason: 'exit 9', weight: 7 });
  await l.advance(100);
  t.deepEqual(l.weights(), { '192.0.2.21:80': 5, '192.0.2.22:80': 7 });
  l.set('192.0.2.21', { ok: true, latencyMs: 1, reason: 'answer', agent: { kind: 'drain' } });
  await l.advance(1000);
  t.is(l.weights()['192.0.2.21:80'], 0);
  l.set('192.0.2.21', { ok: true, latencyMs: 1, reason: 'answer', agent: { kind: 'maint' } });
  await l.advance(1000);
  t.is(l.weights()['192.0.2.21:80'], 'remove');
  l.set('192.0.2.21', { ok: true, latencyMs: 1, reason: 'answer', agent: { kind: 'up' } });
  await l.advance(1000);
  t.is(l.weights()['192.0.2.21:80'], 10);
  l.engine.stop();
});

test('quorum: lost below quorum - hysteresis, the sorry server takes over, regained at quorum + hysteresis', async (t) => {
  const cfg = servers(`  - address: 192.0.2.100
    port: 80
    lb_kind: dr
    quorum: 5
    hysteresis: 2
    sorry_server: { address: 192.0.2.99 }
    checks: [{ type: tcp, interval: 1, timeout: 0.5, rise: 1, fall: 1 }]
    real_servers:
      - { address: 192.0.2.21, weight: 3 }
      - { address: 192.0.2.22, weight: 3 }
      - { address: 192.0.2.23, weight: 3 }
`);
  const l = lab(cfg);
  const table = () => [...(desiredTable(cfg, {
    weight: (s, d, w) => l.engine.verdicts().get(s)?.dests.get(d) ?? w,
    quorumLost: (s) => l.engine.verdicts().get(s)?.quorumUp === false,
  }).get('tcp:192.0.2.100:80')?.dests.keys() ?? [])];
  await l.advance(100);
  t.deepEqual(table(), ['192.0.2.21:80', '192.0.2.22:80', '192.0.2.23:80']);
  l.set('192.0.2.21', FAIL);
  await l.advance(1000);
  t.deepEqual(table(), ['192.0.2.22:80', '192.0.2.23:80'], 'healthy 6 >= 5 - 2: quorum holds');
  l.set('192.0.2.22', FAIL);
  await l.advance(1000);
  t.deepEqual(table(), ['192.0.2.23:80'], 'healthy 3 >= 5 - 2: the boundary still holds');
  l.set('192.0.2.23', FAIL);
  await l.advance(1000);
  t.deepEqual(table(), ['192.0.2.99:80'], 'all down: the sorry server only');
  t.like(l.events.find((e) => e.kind === 'quorum'), { kind: 'quorum', up: false, healthyWeight: 0, quorum: 5, hysteresis: 2 });
  l.set('192.0.2.21', OK);
  l.set('192.0.2.22', OK);
  await l.advance(1000);
  t.deepEqual(table(), ['192.0.2.99:80'], 'healthy 6 < 5 + 2: still lost');
  l.set('192.0.2.23', OK);
  await l.advance(1000);
  t.deepEqual(table(), ['192.0.2.21:80', '192.0.2.22:80', '192.0.2.23:80'], 'healthy 9 >= 7: regained, sorry server out');
  t.deepEqual(l.events.filter((e) => e.kind === 'quorum').map((e) => e.kind === 'quorum' && e.up), [false, true]);
  l.engine.stop();
});

test('reconfigure keeps the health of unchanged checks and of checks whose timing alone changed; a new target restarts', async (t) => {
  const cfg = servers(TWO());
  const l = lab(cfg);
  l.set('192.0.2.21', FAIL);
  await l.advance(3000);
  t.is(l.weights()['192.0.2.21:80'], 'remove');
  l.engine.configure(servers(TWO().replace('192.0.2.22, weight: 4', '192.0.2.22, weight: 8')));
  t.deepEqual(l.weights(), { '192.0.2.21:80': 'remove', '192.0.2.22:80': 8 }, 'failed server stays out; weight edit applies at once');
  t.like(l.events.at(-1), { kind: 'weight', server: '192.0.2.22:80', from: 4, to: 8 });
  // Timing only (interval, timeout, rise, fall): the same check, keyed by its target, keeps its health.
  l.engine.configure(servers(TWO('', '{ type: tcp, interval: 2, timeout: 0.8, rise: 1, fall: 2 }')));
  t.is(l.weights()['192.0.2.21:80'], 'remove', 'a timing change keeps the failed server out');
  l.set('192.0.2.21', OK);
  l.runs.length = 0;
  await l.advance(2000);
  t.is(l.weights()['192.0.2.21:80'], 4, 'back after one success: the new rise (1) applies');
  t.is(l.runs.filter((r) => r.endsWith('192.0.2.21')).length, 1, 'at the new interval (2 s)');
  // A new target (another port) is another check: it starts unknown, the server counts as up.
  l.set('192.0.2.21', FAIL);
  await l.advance(4000);
  t.is(l.weights()['192.0.2.21:80'], 'remove');
  l.engine.configure(servers(TWO('', '{ type: tcp, connect_port: 8080, interval: 2, timeout: 0.8, rise: 1, fall: 2 }')));
  t.is(l.weights()['192.0.2.21:80'], 4, 'a changed target starts unknown: the server counts as up until its first result');
  l.engine.configure([]);
  t.deepEqual(l.engine.verdicts(), new Map());
  l.runs.length = 0;
  await l.advance(5000);
  t.deepEqual(l.runs, [], 'no check runs after its service is gone');
});

test('first runs are spread over one interval', (t) => {
  const cfg = servers(TWO('', '{ type: tcp, interval: 10, timeout: 1 }'));
  const clock = new FakeClock(0);
  const starts: number[] = [];
  let r = 0;
  const engine = new CheckEngine({ clock, random: () => [0.1, 0.7][r++ % 2]!, onEvent: () => {}, run: () => { starts.push(clock.now()); return new Promise(() => {}); } });
  engine.configure(cfg);
  clock.advance(10_000);
  t.deepEqual(starts, [1000, 7000]);
  engine.stop();
});

test('latency factor: linear between good and bad, moves only past the hysteresis', (t) => {
  const c = { goodMs: 20, badMs: 220, minPercent: 10, hysteresisPercent: 10, alpha: 1 };
  t.is(targetFactor(10, c), 1);
  t.is(targetFactor(120, c), 0.55);
  t.is(targetFactor(500, c), 0.1);
  let s = addSample(INITIAL_LATENCY, 120, c);
  t.is(s.factor, 0.55);
  s = addSample(s, 130, c); // target 0.505: moved 4.5 points < 10
  t.is(s.factor, 0.55);
  s = addSample(s, 160, c); // target 0.37: moved 18 points
  t.is(s.factor, 0.37);
  s = addSample(s, 5, c); // back to the bound: always applied
  t.is(s.factor, 1);
});

test('latency-aware weights scale a slow server down in the engine', async (t) => {
  const l = lab(servers(TWO('    latency_weight: { good_ms: 20, bad_ms: 220, min_percent: 10, alpha: 1 }\n').replace(/weight: 4/g, 'weight: 100')));
  l.set('192.0.2.21', { ok: true, latencyMs: 120, reason: 'connected' });
  await l.advance(100);
  t.deepEqual(l.weights(), { '192.0.2.21:80': 55, '192.0.2.22:80': 100 });
  t.like(l.events.find((e) => e.kind === 'weight'), { server: '192.0.2.21:80', from: 100, to: 55 });
  l.engine.stop();
});

test('health: a first success is up at once, failures from the start need fall; then rise and fall count runs', (t) => {
  const c = { rise: 2, fall: 2 };
  const f1 = applyResult(INITIAL_CHECK_STATE, FAIL, c);
  t.is(f1.transition, undefined);
  t.deepEqual(applyResult(f1.state, FAIL, c).transition, { from: 'unknown', to: 'down', reason: 'refused (2 in a row)' });
  let s = applyResult(INITIAL_CHECK_STATE, OK, c);
  t.deepEqual(s.transition, { from: 'unknown', to: 'up', reason: 'first check: connected' });
  s = applyResult(s.state, FAIL, c);
  t.is(s.transition, undefined);
  s = applyResult(s.state, OK, c);
  s = applyResult(s.state, FAIL, c);
  t.is(s.transition, undefined, 'a success in between resets the failure run');
  s = applyResult(s.state, FAIL, c);
  t.deepEqual(s.transition, { from: 'up', to: 'down', reason: 'refused (2 in a row)' });
  t.is(s.state.checks, 5);
  t.is(s.state.failures, 3);
});

test('status in pages: any page size gives back the status exactly, split services rejoin, empty services once', async (t) => {
  const rs = (base: number, n: number): string => Array.from({ length: n }, (_, i) => `      - { address: 192.0.2.${base + i} }`).join('\n');
  const svc = (port: number, base: number, n: number): string =>
    `  - address: 192.0.2.100\n    port: ${port}\n    lb_kind: dr\n    checks: [{ type: tcp, interval: 1, timeout: 0.5 }]\n    real_servers:\n${rs(base, n)}\n`;
  const l = lab(servers(svc(80, 10, 7) + svc(81, 30, 1) + svc(82, 40, 5)));
  await l.advance(1500);
  const real = l.engine.status();
  t.deepEqual(real.map((s) => s.servers.length), [7, 1, 5]);
  // and services with no servers (not something the config makes, but the pager must not lose them)
  const none = (n: string): ServiceStatus => ({ service: n, name: n, quorumUp: false, healthyWeight: 0, servers: [] });
  for (const whole of [real, [none('a'), ...real.slice(0, 1), none('b'), none('c'), ...real.slice(1), none('d')]]) {
    const positions = whole.reduce((n, s) => n + Math.max(s.servers.length, 1), 0);
    for (const size of [1, 2, 3, 5, 7, 13, 100]) {
      const out: ServiceStatus[] = [];
      let from: number | undefined = 0;
      let pages = 0;
      while (from !== undefined) {
        const p: ServiceStatusPage = statusPage(whole, from, size);
        t.true(p.services.reduce((n, s) => n + s.servers.length, 0) <= size, `page of at most ${size}`);
        appendPage(out, p);
        from = p.next;
        t.true(++pages <= positions, 'terminates');
      }
      t.deepEqual(out, whole, `page size ${size}`);
      t.is(pages, Math.ceil(positions / size), `pages at size ${size}`);
    }
  }
});

test('results that change nothing leave the verdict alone; a down server\'s reason follows its latest failure', async (t) => {
  const l = lab(servers(TWO()));
  await l.advance(100);
  const reason = (): string | undefined => l.engine.status()[0]?.servers.find((s) => s.server === '192.0.2.21:80')?.reason;
  t.is(reason(), 'healthy');
  await l.advance(3000); // steady successes: no weight or quorum events
  t.deepEqual(l.events.filter((e) => e.kind !== 'check'), []);
  l.set('192.0.2.21', FAIL);
  await l.advance(3000);
  t.is(l.weights()['192.0.2.21:80'], 'remove');
  t.is(reason(), 'check failed: refused');
  l.set('192.0.2.21', { ok: false, latencyMs: 900, reason: 'timeout' });
  await l.advance(1000);
  t.is(reason(), 'check failed: timeout');
  t.deepEqual(l.events.filter((e) => e.kind === 'weight').length, 1);
});
