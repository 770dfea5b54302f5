// The daemon's orchestration on a fake platform and a fake clock, no root, in milliseconds:
// start, reload (unchanged, soft change, identity change), failover / takeover / maintenance
// against a simulated peer, drain, the sync role following transitions, quorum hooks, restart.
import test from 'ava';
import { pino } from 'pino';
import { Daemon, OperatorError } from '../../src/daemon/daemon.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { encodeAdvert, decodeAdvert } from '../../src/vrrp/codec.js';
import type { DuetEvent } from '../../src/control/views.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FakePlatform } from '../fakes/fake-platform.js';

const PEER = '192.0.2.12';
const VIP = '192.0.2.100';
const ADVERT_MS = 1000;

interface Opts { priority?: number; vrid?: number; extra?: string; instanceExtra?: string; logLines?: Array<Record<string, unknown>> }

function yaml(o: Opts = {}): string {
  return `node: { name: d1 }
vrrp:
  instances:
    - name: VI_1
      interface: eth0
      vrid: ${o.vrid ?? 51}
      priority: ${o.priority ?? 150}
      advert_int: 1
      virtual_ipaddress: [${VIP}/24]
      garp: { master_delay: 0, master_repeat: 1 }
      notify: { master: [/bin/notify, master], backup: [/bin/notify, backup], dual_master: [/bin/notify, dual] }
${o.instanceExtra ?? ''}${o.extra ?? ''}`;
}

function config(o: Opts = {}): Config {
  const r = parseConfig(yaml(o), 'test.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const WEB = `virtual_servers:
  - name: web
    address: ${VIP}
    port: 80
    scheduler: wrr
    lb_kind: dr
    quorum_up: [/bin/page, up]
    quorum_down: [/bin/page, down]
    sorry_server: { address: 192.0.2.99, port: 80 }
    checks: [{ type: tcp }]
    real_servers:
      - { address: 192.0.2.21, weight: 2 }
      - { address: 192.0.2.22, weight: 1 }
`;

const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };

async function setup(o: Opts = {}) {
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  const lines = o.logLines;
  const d = new Daemon(config(o), p, clock, lines ? pino({ level: 'info' }, { write: (l: string) => { lines.push(JSON.parse(l) as Record<string, unknown>); } }) : pino({ level: 'silent' }));
  const events: DuetEvent[] = [];
  d.onEvent((e) => events.push(e));
  await d.start();
  /** Time passes; timers fire and the promises they start settle. */
  const advance = async (ms: number, step = 50): Promise<void> => {
    for (let t = 0; t < ms; t += step) { clock.advance(Math.min(step, ms - t)); await flush(); }
  };
  /** One advert from the simulated peer. */
  const peer = (priority: number): void => {
    p.transport().deliver(encodeAdvert({ version: 3, vrid: 51, priority, maxAdverIntCs: ADVERT_MS / 10, addresses: [VIP] }, { family: 4, src: PEER, dst: '224.0.0.18' }), PEER);
  };
  /** The simulated peer advertises every interval while `until` is false. */
  const peerRuns = async (priority: number, ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += ADVERT_MS / 2) { peer(priority); await advance(ADVERT_MS / 2); }
  };
  const state = (): string | undefined => d.status().instances[0]?.state;
  const sentPriorities = (): number[] => p.transport().sent.map((s) => {
    const a = decodeAdvert(s.bytes, { family: 4, src: '192.0.2.11', dst: '224.0.0.18' });
    return a.ok ? a.value.priority : -1;
  });
  /** Time passes until x settles (a master's stop hands over make-before-break: alone, it ends after three advert intervals). */
  const settle = async <T>(x: Promise<T>, maxMs = 10_000): Promise<T> => {
    let done = false;
    void x.then(() => { done = true; }, () => { done = true; });
    for (let t = 0; t < maxMs && !done; t += 50) { clock.advance(50); await flush(); }
    return x;
  };
  return { clock, p, d, events, advance, peer, peerRuns, state, sentPriorities, settle };
}

/** Start alone: master after Master_Down_Interval (3 x 1 s + skew). */
async function master(o: Opts = {}) {
  const s = await setup(o);
  await s.advance(3 * ADVERT_MS + 500);
  return s;
}

test('start alone: backup, then master after Master_Down_Interval; VIP added, announced, notify hook with its environment', async (t) => {
  const s = await setup();
  t.is(s.state(), 'backup');
  t.is(s.p.log[0], 'open raw eth0');
  t.true(s.p.log.includes(`del ${VIP}/24 eth0`), 'stale VIPs cleared at start');
  await s.advance(3 * ADVERT_MS + 500);
  t.is(s.state(), 'master');
  t.true(s.p.addresses.has(`${VIP}/24 eth0`));
  t.true(s.p.log.indexOf(`garp eth0 ${VIP}`) > s.p.log.indexOf(`add ${VIP}/24 eth0`), 'announced after the VIP is in place');
  const hook = s.p.hooks.find((h) => h.argv[1] === 'master');
  t.like(hook?.vars, { DUET_INSTANCE: 'VI_1', DUET_FROM: 'backup', DUET_TO: 'master', DUET_REASON: 'master-down-timer', DUET_VRID: '51' });
  t.like(s.events.find((e) => e.type === 'transition' && e.to === 'master'), { instance: 'VI_1', from: 'backup', reason: 'master-down-timer' });
});

test('reload unchanged: nothing reopened, no transition, no kernel write', async (t) => {
  const s = await master({ extra: WEB });
  const [log, writes, transitions] = [s.p.log.length, s.p.kernel.writes, s.events.filter((e) => e.type === 'transition').length];
  const r = await s.d.reload(config({ extra: WEB }));
  t.deepEqual(r.unchanged, ['VI_1']);
  t.deepEqual([r.added, r.removed, r.replaced, r.updated], [[], [], [], []]);
  t.deepEqual(r.virtualServers.unchanged, ['web']);
  t.deepEqual(r.ipvs, {}, 'a reconcile ran and found the kernel as configured');
  t.is(s.p.kernel.writes, writes);
  t.deepEqual(s.p.log.slice(log), []);
  t.is(s.events.filter((e) => e.type === 'transition').length, transitions);
  t.is(s.state(), 'master');
});

test('reload with a new priority updates the running instance in place: still master, adverts carry it', async (t) => {
  const s = await master();
  const r = await s.d.reload(config({ priority: 120 }));
  t.deepEqual(r.updated, ['VI_1']);
  s.p.transport().sent.length = 0;
  await s.advance(2 * ADVERT_MS);
  t.is(s.state(), 'master');
  t.true(s.sentPriorities().length >= 2);
  t.true(s.sentPriorities().every((p) => p === 120));
  t.false(s.p.transport().closed, 'the socket is kept');
});

test('reload with a new VRID replaces the instance: the old one stops, the new one starts as backup', async (t) => {
  const s = await master();
  const first = s.p.transport();
  const r = await s.settle(s.d.reload(config({ vrid: 52 })));
  t.deepEqual(r.replaced, ['VI_1']);
  t.true(first.closed, 'the only user released its socket');
  t.is(s.state(), 'backup');
  t.is(s.d.status().instances[0]?.vrid, 52);
  t.false(s.p.addresses.has(`${VIP}/24 eth0`), 'the stopped master removed its VIP');
});

test('reload: real servers added and removed are one reconcile; operator pins of removed servers go', async (t) => {
  const s = await master({ extra: WEB });
  await s.d.serverCommand('weight', 'web', '192.0.2.22', { weight: 5 });
  t.is(s.p.kernel.table.get('tcp:192.0.2.100:80')?.dests.get('192.0.2.22:80')?.weight, 5);
  const r = await s.d.reload(config({ extra: WEB.replace('      - { address: 192.0.2.22, weight: 1 }\n', '      - { address: 192.0.2.23, weight: 1 }\n') }));
  t.deepEqual(r.virtualServers.changed, ['web']);
  t.deepEqual(r.ipvs, { 'add-dest': 1, 'del-dest': 1 });
  t.deepEqual([...s.p.kernel.table.get('tcp:192.0.2.100:80')!.dests.keys()].sort(), ['192.0.2.21:80', '192.0.2.23:80']);
  t.deepEqual(s.d.status().serverOverrides, [], 'the pin of the removed server is gone');
});

test('failover: priority 0 at once, then priority 1 adverts; VIP kept until the simulated peer takes over; the time is reported', async (t) => {
  const s = await master();
  s.p.transport().sent.length = 0;
  const pending = s.d.handover('failover', ['VI_1'], { sticky: false });
  t.deepEqual(s.sentPriorities(), [1, 0], 'the new priority, then priority 0: the peer waits only its Skew_Time');
  await s.advance(ADVERT_MS);
  t.is(s.sentPriorities().at(-1), 1, 'advertising priority 1 afterwards, which a preempting peer discards');
  t.is(s.state(), 'master', 'still master until the peer shows up (make-before-break)');
  t.true(s.p.addresses.has(`${VIP}/24 eth0`), 'and still forwarding');
  s.peer(100);
  await flush();
  const [r] = await pending;
  t.like(r, { instance: 'VI_1', from: 'master', to: 'backup', master: PEER });
  t.true(r!.handoverMs >= ADVERT_MS);
  t.false(s.p.addresses.has(`${VIP}/24 eth0`));
  t.like(s.d.status().operator['VI_1'], { mode: 'failover', sticky: false });
  // --clear: priority 150 again; the peer's lower-priority adverts no longer hold this node back
  // (preempt), so it takes over when its Master_Down_Timer runs out.
  t.deepEqual(s.d.clearOverride('failover', ['VI_1']), ['VI_1']);
  await s.peerRuns(100, 4 * ADVERT_MS);
  t.is(s.state(), 'master');
});

test('failover without a peer: refused after the timeout, override withdrawn, still master', async (t) => {
  const s = await master();
  const pending = s.d.handover('failover', 'all', { sticky: false, timeoutMs: 3000 });
  await s.advance(3100);
  const e = await t.throwsAsync(pending, { instanceOf: OperatorError });
  t.is(e?.code, 'DUET_E_NO_PEER');
  t.is(s.state(), 'master');
  t.deepEqual(s.d.status().operator, {});
  s.p.transport().sent.length = 0;
  await s.advance(ADVERT_MS);
  t.deepEqual(s.sentPriorities(), [150]);
});

test('operator refusals: unknown instance, failover of a backup, takeover from the address owner', async (t) => {
  const s = await setup();
  await t.throwsAsync(s.d.handover('failover', ['VI_9'], { sticky: false }), { instanceOf: OperatorError, message: /no instance named 'VI_9'/ });
  const e = await t.throwsAsync(s.d.handover('failover', ['VI_1'], { sticky: false }));
  t.is((e as OperatorError).code, 'DUET_E_STATE');
  s.peer(255);
  await flush();
  const o = await t.throwsAsync(s.d.handover('takeover', ['VI_1'], { sticky: false }));
  t.regex(o?.message ?? '', /address owner/);
});

test('takeover: a backup stops deferring to the master (priority 254, preempt) and takes over within Master_Down_Interval', async (t) => {
  const s = await setup({ priority: 100 });
  await s.peerRuns(200, 2 * ADVERT_MS);
  t.is(s.state(), 'backup');
  const pending = s.d.handover('takeover', ['VI_1'], { sticky: true });
  await s.peerRuns(200, 4 * ADVERT_MS);
  const [r] = await pending;
  t.like(r, { from: 'backup', to: 'master' });
  t.is(s.sentPriorities().at(-1), 254);
  t.like(s.p.overrides?.['VI_1'], { mode: 'takeover', sticky: true }, 'a sticky override is saved');
});

test('maintenance on hands over, then holds the node in fault; off lets it become master again', async (t) => {
  const s = await master();
  const pending = s.d.maintenance(true, { sticky: false, force: false });
  await s.advance(ADVERT_MS);
  s.peer(100);
  await flush();
  const m = await pending;
  t.deepEqual(m.handedOver.map((h) => h.instance), ['VI_1']);
  t.is(s.state(), 'fault');
  t.true(s.d.status().maintenance);
  // The peer goes away: in maintenance, this node still never becomes master.
  await s.advance(5 * ADVERT_MS);
  t.is(s.state(), 'fault');
  t.false(s.p.addresses.has(`${VIP}/24 eth0`));
  await s.d.maintenance(false, { sticky: false, force: false });
  await s.advance(4 * ADVERT_MS);
  t.is(s.state(), 'master');
});

test('drain: weight 0 in the kernel at once, progress each second, done when active connections reach 0', async (t) => {
  const s = await master({ extra: WEB });
  const svc = 'tcp:192.0.2.100:80', dest = '192.0.2.21:80';
  const conns = (active: number) => {
    const stats = new Map([[svc, { stats: {} as never, dests: new Map([[dest, { activeConns: active, inactConns: 1 } as never]]) }]]);
    s.p.kernel.stats = stats as never;
  };
  conns(3);
  const progress: unknown[] = [];
  const pending = s.d.serverCommand('drain', 'web', '192.0.2.21', { progress: (p) => progress.push(p), timeoutMs: 60_000 });
  await flush();
  t.is(s.p.kernel.table.get(svc)?.dests.get(dest)?.weight, 0, 'weight 0 before the first progress line');
  await s.advance(2000);
  conns(0);
  await s.advance(1000);
  const r = await pending as { drained: boolean; elapsedMs: number };
  t.true(r.drained);
  t.true(progress.length >= 2, `progress lines: ${progress.length}`);
  t.like(progress[0], { server: dest, active: 3, inactive: 1 });
  t.true(r.elapsedMs >= 2000);
  t.like(s.d.status().serverOverrides[0], { kind: 'weight', weight: 0, server: dest });
});

test('drain that never empties gives up after its timeout and says what is left; unknown servers are refused', async (t) => {
  const s = await master({ extra: WEB });
  s.p.kernel.stats = new Map([['tcp:192.0.2.100:80', { stats: {} as never, dests: new Map([['192.0.2.22:80', { activeConns: 7, inactConns: 0 } as never]]) }]]) as never;
  const pending = s.d.serverCommand('drain', 'web', '192.0.2.22', { timeoutMs: 3000 });
  await s.advance(3500);
  const e = await t.throwsAsync(pending);
  t.is((e as OperatorError).code, 'DUET_E_DRAIN_TIMEOUT');
  t.regex(e?.message ?? '', /still has 7 active/);
  const u = await t.throwsAsync(s.d.serverCommand('disable', 'web', '192.0.2.77'));
  t.is((u as OperatorError).code, 'DUET_E_NO_SERVER');
});

test('the sync daemons follow VRRP: backup at start, master on takeover, backup again on failover, backup kept on stop', async (t) => {
  const s = await setup({ extra: 'sync_daemon: { interface: eth0, instance: VI_1, syncid: 7 }\n' });
  t.deepEqual(s.p.kernel.daemonOps, ['start backup']);
  await s.advance(3 * ADVERT_MS + 500);
  t.is(s.state(), 'master');
  t.deepEqual(s.p.kernel.daemonOps, ['start backup', 'stop backup', 'start master']);
  t.like(s.d.status().sync, { role: 'master', follows: 'instance VI_1' });
  s.peer(200);
  await s.advance(100);
  t.is(s.state(), 'backup');
  t.deepEqual(s.p.kernel.daemonOps.slice(3), ['stop master', 'start backup']);
  t.true(s.events.some((e) => e.type === 'sync' && e.role === 'backup'));
  await s.d.stop();
  t.deepEqual(s.p.kernel.daemons.map((d) => d.state), ['backup'], 'a stopped node still receives the peer\'s sync stream');
});

test('mesh sync: both daemons from the start, whatever VRRP does, and both kept on stop', async (t) => {
  const s = await setup({ extra: 'sync_daemon: { interface: eth0, mode: mesh, syncid: 7 }\n' });
  t.deepEqual(s.p.kernel.daemonOps, ['start backup', 'start master']);
  await s.advance(3 * ADVERT_MS + 500);
  t.is(s.state(), 'master');
  s.peer(200);
  await s.advance(100);
  t.is(s.state(), 'backup');
  t.deepEqual(s.p.kernel.daemonOps, ['start backup', 'start master'], 'VRRP transitions change nothing');
  t.like(s.d.status().sync, { role: 'mesh', follows: 'mesh', error: undefined });
  await s.d.stop();
  t.deepEqual(s.p.kernel.daemons.map((d) => d.state).sort(), ['backup', 'master']);
});

test('checks: a burst of weight changes is one reconcile; quorum lost runs its hook and leaves only the sorry server', async (t) => {
  const s = await master({ extra: WEB });
  const checks = s.p.checks!;
  t.deepEqual(checks.configured.at(-1)?.map((v) => v.name), ['web'], 'the engine got the virtual servers');
  const before = s.d.reconcileCounters().reconciles;
  checks.emit({ kind: 'weight', service: 'tcp:192.0.2.100:80', server: '192.0.2.21:80', from: 2, to: 'remove', reason: 'down' });
  checks.emit({ kind: 'weight', service: 'tcp:192.0.2.100:80', server: '192.0.2.22:80', from: 1, to: 'remove', reason: 'down' });
  checks.emit({ kind: 'quorum', service: 'tcp:192.0.2.100:80', up: false, healthyWeight: 0, quorum: 1, hysteresis: 0 });
  await flush();
  t.is(s.d.reconcileCounters().reconciles - before, 1, 'three events, one reconcile');
  t.deepEqual([...s.p.kernel.table.get('tcp:192.0.2.100:80')!.dests.keys()], ['192.0.2.99:80']);
  const hook = s.p.hooks.find((h) => h.argv[0] === '/bin/page');
  t.deepEqual(hook?.argv, ['/bin/page', 'down']);
  t.like(hook?.vars, { DUET_SERVICE: 'tcp:192.0.2.100:80', DUET_QUORUM: 'down', DUET_HEALTHY_WEIGHT: '0' });
  t.deepEqual((await s.d.serviceStatus())[0]?.servers.map((x) => [x.server, x.wanted]), [['192.0.2.21:80', null], ['192.0.2.22:80', null], ['192.0.2.99:80', 1]]);
});

test('checks: first results are one summary line (counts, the down ones named up to 20), later changes one line each', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const s = await master({ extra: WEB, logLines: lines });
  const checks = s.p.checks!;
  const first = (i: number, to: 'up' | 'down') => checks.emit({ kind: 'check', service: 'tcp:192.0.2.100:80', server: `10.0.${i >> 8}.${i & 255}:80`, check: 'tcp#0', from: 'unknown', to, reason: to === 'up' ? 'connected' : 'refused', latencyMs: 1 });
  // 3,000 first results over 2 s (jittered first runs), 30 of them down.
  for (let i = 0; i < 3000; i++) {
    first(i, i % 100 === 7 ? 'down' : 'up');
    if (i % 300 === 299) await s.advance(200);
  }
  t.deepEqual(lines.filter((l) => l['msg'] === 'check state changed'), [], 'no line per first result');
  await s.advance(1100);
  const summary = lines.filter((l) => String(l['msg']).startsWith('first check results'));
  t.is(summary.length, 1);
  t.like(summary[0], { msg: 'first check results: 2970 up, 30 down', up: 2970, down: 30, mod: 'check' });
  const named = summary[0]!['downChecks'] as string[];
  t.is(named.length, 21);
  t.is(named[0], 'tcp:192.0.2.100:80 10.0.0.7:80 tcp#0: refused');
  t.is(named[20], '... and 10 more');
  // After that, a change is a line of its own, as before.
  checks.emit({ kind: 'check', service: 'tcp:192.0.2.100:80', server: '10.0.0.8:80', check: 'tcp#0', from: 'up', to: 'down', reason: 'timeout', latencyMs: 3000 });
  t.like(lines.filter((l) => l['msg'] === 'check state changed'), [{ server: '10.0.0.8:80', from: 'up', to: 'down', reason: 'timeout' }]);
  t.is(s.events.filter((e) => e.type === 'check').length, 3001, 'the event stream still has every result');
});

test('status at many real servers: the services view is built in slices, with turns of the loop between them', async (t) => {
  const many = Array.from({ length: 1800 }, (_, i) => `      - { address: 10.1.${i >> 8}.${i & 255} }`).join('\n');
  const s = await master({ extra: `virtual_servers:
  - name: big
    address: ${VIP}
    port: 80
    lb_kind: dr
    checks: [{ type: tcp }]
    real_servers:
${many}
` });
  let turns = 0;
  let on = true;
  const spin = (): void => { if (!on) return; turns++; setImmediate(spin); };
  setImmediate(spin);
  const view = await s.d.serviceStatus([]);
  on = false;
  t.is(view[0]!.servers.length, 1800);
  t.like(view[0]!.servers[1799], { server: '10.1.7.7:80', sorry: false, configured: 1, wanted: 1, health: '-', why: '' });
  t.true(turns >= 3, `the loop turned ${turns} times while it was built (slices of 500)`);
});

test('takeover: the VIP add is not held up by the ARP guard, and the first GARP follows the add with nothing between', async (t) => {
  const s = await setup();
  const from = s.p.log.length;
  await s.advance(3 * ADVERT_MS + 500);
  t.is(s.state(), 'master');
  const log = s.p.log.slice(from);
  const add = log.indexOf(`add ${VIP}/24 eth0`);
  t.true(add >= 0);
  t.is(log[add + 1], `garp eth0 ${VIP}`, 'the GARP right after the add');
  t.true(log.indexOf('arp-watch open eth0') > add, 'the ARP guard opens its socket after the turn');
});

test('stop: release() hands the priority-0 advert to the transport synchronously; stop() then sends no second one', async (t) => {
  const s = await master();
  s.p.transport().sent.length = 0;
  s.d.release();
  t.deepEqual(s.sentPriorities(), [0], 'sent before release() returned, before anything awaits');
  const stopped = s.d.stop();
  // A second priority 0 at once would restart the backup's Skew_Time from it.
  t.deepEqual(s.sentPriorities(), [0], 'stop() after release() sends nothing more now');
  t.deepEqual(await s.settle(stopped), []);
  // Alone (no new master shows itself): priority 0 once per interval, VIP removed after three.
  t.deepEqual(s.sentPriorities(), [0, 0, 0, 0]);
  t.false(s.p.addresses.has(`${VIP}/24 eth0`), 'the VIP is removed');
});

test('stop hands over make-before-break: the VIP stays (forwarding) until the new master advertises, then goes', async (t) => {
  const s = await master();
  s.p.transport().sent.length = 0;
  s.d.release();
  const stopped = s.d.stop();
  await s.advance(400);
  t.true(s.p.addresses.has(`${VIP}/24 eth0`), 'kept while the peer waits its Skew_Time');
  t.is(s.state(), 'master');
  s.peer(100); // the peer took over and advertises
  await s.advance(50);
  t.deepEqual(await stopped, []);
  t.false(s.p.addresses.has(`${VIP}/24 eth0`), 'removed at the new master\'s first advert');
  t.deepEqual(s.sentPriorities(), [0]);
  t.deepEqual(s.events.filter((e) => e.type === 'transition').slice(-1).map((e) => [e['from'], e['to'], e['reason']]), [['master', 'init', 'shutdown']]);
});

test('restart after release(true): the kept masters are those that were master at release', async (t) => {
  const s = await master();
  s.p.transport().sent.length = 0;
  s.d.release(true);
  t.deepEqual(s.sentPriorities(), [150], 'a last normal advert');
  t.deepEqual(await s.d.stop(true), ['VI_1']);
  t.deepEqual(Object.keys(s.p.marker?.instances ?? {}), ['VI_1']);
  t.true(s.p.addresses.has(`${VIP}/24 eth0`));
});

test('restart: a master stops without priority 0 and keeps its VIP; the next run in time resumes as master', async (t) => {
  const s = await master();
  s.p.transport().sent.length = 0;
  t.deepEqual(await s.d.stop(true), ['VI_1']);
  t.false(s.sentPriorities().includes(0), 'no priority-0 advert');
  t.true(s.p.addresses.has(`${VIP}/24 eth0`), 'the VIP stays for the next run');
  t.deepEqual(Object.keys(s.p.marker?.instances ?? {}), ['VI_1']);
  await s.advance(500);
  const next = new Daemon(config(), s.p, s.clock, pino({ level: 'silent' }));
  const transitions: string[] = [];
  next.onTransition((e) => transitions.push(`${e.from}->${e.to} ${e.reason}`));
  const log = s.p.log.length;
  await next.start();
  t.deepEqual(transitions, ['init->master resumed']);
  t.false(s.p.log.slice(log).some((l) => l.startsWith('del ')), 'the VIP was never removed');
  t.is(s.p.marker, undefined, 'the marker is used once');
  // Too late: a third run after the window starts as a fresh node.
  await next.stop(true);
  await s.advance(5 * ADVERT_MS);
  const late = new Daemon(config(), s.p, s.clock, pino({ level: 'silent' }));
  const lt: string[] = [];
  late.onTransition((e) => lt.push(`${e.from}->${e.to} ${e.reason}`));
  await late.start();
  t.deepEqual(lt, ['init->backup startup']);
});

test('a reload naming an interface this host lacks applies: that instance is in FAULT (said in the reply and status), the rest untouched; it joins when the interface appears', async (t) => {
  const s = await master();
  s.p.missing.add('eth9');
  const next = config({ extra: '    - { name: VI_2, interface: eth9, vrid: 52, virtual_ipaddress: [192.0.2.101/24] }\n' });
  const r = await s.d.reload(next);
  t.deepEqual(r.added, ['VI_2']);
  t.deepEqual(r.warnings, ['VI_2: no interface eth9 on this host; the instance stays in FAULT until it appears']);
  t.is(s.d.config, next);
  const st = (): string[] => s.d.status().instances.map((i) => `${i.name} ${i.state} ${i.faultReasons.join(',')}`);
  t.deepEqual(st(), ['VI_1 master ', 'VI_2 fault interface eth9 missing']);
  t.false(s.p.log.some((l) => l.startsWith('open raw eth9')), 'no socket tried on a missing interface');
  // A second reload and a fixed one work as usual.
  t.deepEqual((await s.d.reload(next)).unchanged, ['VI_1', 'VI_2']);
  s.p.createLink('eth9');
  await s.advance(10);
  t.true(s.p.log.includes('open raw eth9'));
  t.deepEqual(st(), ['VI_1 master ', 'VI_2 backup ']);
  await s.advance(4 * ADVERT_MS);
  t.deepEqual(st(), ['VI_1 master ', 'VI_2 master ']);
});

test('start with an interface missing: the daemon runs, the instance is in FAULT, and it becomes backup then master when the interface is created', async (t) => {
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  p.missing.add('eth0');
  const d = new Daemon(config(), p, clock, pino({ level: 'silent' }));
  await d.start();
  t.like(d.status().instances[0], { state: 'fault', faultReasons: ['interface eth0 missing'] });
  t.like(d.status().sockets[0], { ifname: 'eth0', open: false, opens: 0 });
  p.createLink('eth0');
  for (let i = 0; i < 80; i++) { clock.advance(50); await flush(); }
  t.like(d.status().instances[0], { state: 'master', faultReasons: [] });
  t.true(p.addresses.has(`${VIP}/24 eth0`));
  t.like(d.status().sockets[0], { open: true, opens: 1 });
  const stopped = d.stop();
  for (let i = 0; i < 80; i++) { clock.advance(50); await flush(); }
  await stopped;
});

test('the interface is deleted under a master: FAULT at once; recreated (new index): a new socket, backup, master again, VIP back', async (t) => {
  const s = await master();
  const old = s.p.transport();
  s.p.deleteLink('eth0');
  await s.advance(10);
  t.like(s.d.status().instances[0], { state: 'fault', faultReasons: ['interface eth0 missing'] });
  t.false(s.p.addresses.has(`${VIP}/24 eth0`), 'the VIP goes with the fault');
  t.true(old.closed, 'the dead socket is closed');
  t.like(s.d.status().sockets[0], { open: false });
  s.p.createLink('eth0');
  await s.advance(10);
  const fresh = s.p.transport();
  t.not(fresh, old, 'a new socket on the new link');
  t.is(s.state(), 'backup');
  await s.advance(3 * ADVERT_MS + 500);
  t.is(s.state(), 'master');
  t.true(s.p.addresses.has(`${VIP}/24 eth0`));
  t.true(fresh.sent.length > 0, 'adverts leave on the new socket');
  t.like(s.d.status().sockets[0], { open: true, opens: 2 });
  t.deepEqual(s.events.flatMap((e) => (e.type === 'transition' ? [`${e.from}->${e.to} ${e.reason}`] : [])).slice(-3),
    ['master->fault fault', 'fault->backup fault-cleared', 'backup->master master-down-timer']);
});

test('the link goes down under a master: priority 0 leaves on the still-open socket first, then FAULT; up again: reopened, rejoins', async (t) => {
  const s = await master();
  const old = s.p.transport();
  const sent = old.sent.length;
  s.p.setLink('eth0', false);
  await s.advance(10);
  t.is(s.state(), 'fault');
  t.deepEqual(s.sentPriorities().slice(sent), [0], 'one priority-0 advert, then silence');
  t.true(old.closed);
  s.p.setLink('eth0', true);
  await s.advance(10);
  t.is(s.state(), 'backup');
  t.not(s.p.transport(), old);
});

test('a socket error is mended by a reopen within the grace: no FAULT, no transition; counted in status', async (t) => {
  const s = await master();
  const old = s.p.transport();
  const transitions = s.events.filter((e) => e.type === 'transition').length;
  old.emit('error', new Error('recvfrom: ENOBUFS'));
  await s.advance(200);
  t.true(old.closed);
  t.not(s.p.transport(), old);
  t.is(s.state(), 'master');
  t.is(s.events.filter((e) => e.type === 'transition').length, transitions);
  t.like(s.d.status().sockets[0], { open: true, opens: 2, errors: 1, lastError: 'recvfrom: ENOBUFS' });
});

test('a socket that cannot be opened is retried with backoff (FAULT meanwhile, the reason in status), then the instance runs', async (t) => {
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  p.openFailures.set('eth0', 3);
  const d = new Daemon(config(), p, clock, pino({ level: 'silent' }));
  await d.start();
  t.like(d.status().instances[0], { state: 'fault', faultReasons: ['no VRRP socket on eth0 (socket on eth0: EPERM)'] });
  // Retries after 100, 200 and 400 ms: the fourth open (700 ms after start) succeeds.
  for (let i = 0; i < 6; i++) { clock.advance(100); await flush(); }
  t.is(d.status().instances[0]?.state, 'fault');
  clock.advance(100); await flush();
  t.is(d.status().instances[0]?.state, 'backup');
  t.deepEqual(p.log.filter((l) => l.startsWith('open')), ['open-failed raw eth0', 'open-failed raw eth0', 'open-failed raw eth0', 'open raw eth0']);
  t.like(d.status().sockets[0], { open: true, opens: 1, errors: 3 });
  await d.stop();
});

test('watchdog health: a master whose adverts do not leave is a problem after three intervals and a second; it clears when they leave again', async (t) => {
  const s = await master();
  t.deepEqual(s.d.healthProblems(), []);
  s.p.transport().failSends = new Error('send: ENETUNREACH');
  await s.advance(3 * ADVERT_MS);
  t.deepEqual(s.d.healthProblems(), [], 'not within the limit');
  await s.advance(1500);
  t.is(s.state(), 'master', 'no peer: it stays master');
  t.regex(s.d.healthProblems()[0] ?? '', /^VI_1: master, but no advert sent for \d+ ms \(\d+ send errors\)$/);
  s.p.transport().failSends = undefined;
  await s.advance(ADVERT_MS + 100);
  t.deepEqual(s.d.healthProblems(), []);
});

test('witness: a node that reaches none of its witnesses starts in FAULT and never takes mastership; reachable again, it runs', async (t) => {
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  p.unreachable.add('192.0.2.1');
  const d = new Daemon(config({ instanceExtra: '      witness: { targets: [192.0.2.1], interval: 0.5, fall: 2, rise: 1 }\n' }), p, clock, pino({ level: 'silent' }));
  await d.start();
  t.like(d.status().instances[0], { state: 'fault', faultReasons: ['witness: none of 192.0.2.1 answers'] });
  t.deepEqual(d.status().tracking['witness:VI_1'], { up: false });
  const advance = async (ms: number): Promise<void> => { for (let i = 0; i < ms / 50; i++) { clock.advance(50); await flush(); } };
  await advance(5000);
  t.is(d.status().instances[0]?.state, 'fault', 'no mastership while cut off');
  t.false(p.addresses.has(`${VIP}/24 eth0`));
  p.unreachable.delete('192.0.2.1');
  await advance(600);
  t.is(d.status().instances[0]?.state, 'backup');
  await advance(4000);
  t.is(d.status().instances[0]?.state, 'master');
  // Lost again: fall 2 at 0.5 s: FAULT within about a second, the VIP released.
  p.unreachable.add('192.0.2.1');
  await advance(1100);
  t.is(d.status().instances[0]?.state, 'fault');
  t.false(p.addresses.has(`${VIP}/24 eth0`));
  await d.stop();
});

test('witness: any one target answering is enough; a reload that drops the witness clears its FAULT', async (t) => {
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  p.unreachable.add('192.0.2.1');
  const w = '      witness: { targets: [192.0.2.1, 192.0.2.2], interval: 0.5 }\n';
  const d = new Daemon(config({ instanceExtra: w }), p, clock, pino({ level: 'silent' }));
  await d.start();
  t.is(d.status().instances[0]?.state, 'backup', 'one of two answers');
  p.unreachable.add('192.0.2.2');
  for (let i = 0; i < 40; i++) { clock.advance(50); await flush(); }
  t.is(d.status().instances[0]?.state, 'fault');
  const r = await d.reload(config());
  t.deepEqual(r.updated, ['VI_1']);
  t.is(d.status().instances[0]?.state, 'backup');
  t.is(d.status().tracking['witness:VI_1'], undefined);
  await d.stop();
});

test('ARP guard: a master watches its VIP interface; another MAC claiming the VIP is a dual master (event, hook, counter), its own ARP is not; a backup watches nothing', async (t) => {
  const s = await setup();
  t.false(s.p.arpWatches.has('eth0'), 'a backup reads no ARP');
  await s.advance(3 * ADVERT_MS + 500);
  t.is(s.state(), 'master');
  t.true(s.p.arpWatches.has('eth0'), 'open once master');
  await s.advance(1500); // past the first advert interval as master
  s.p.arpFrom('eth0', VIP, '02:00:00:00:00:01'); // our own MAC (the kernel's reply, our GARP)
  s.p.arpFrom('eth0', '192.0.2.50', '02:00:00:00:00:77'); // someone else's address
  await s.advance(ADVERT_MS);
  t.false(s.events.some((e) => e.type === 'dual-master'), 'own MAC and other addresses are not claims');
  s.p.arpFrom('eth0', VIP, '02:00:00:00:00:99');
  await s.advance(ADVERT_MS);
  t.like(s.events.find((e) => e.type === 'dual-master'), { instance: 'VI_1', via: 'arp', other: '02:00:00:00:00:99', address: VIP });
  t.like(s.p.hooks.find((h) => h.argv[1] === 'dual')?.vars, { DUET_VIA: 'arp', DUET_OTHER: '02:00:00:00:00:99', DUET_ADDRESS: VIP });
  t.false('DUET_OTHER_PRIORITY' in (s.p.hooks.find((h) => h.argv[1] === 'dual')?.vars ?? {}));
  t.like(s.d.status().instances[0], { state: 'master', dualMaster: { other: '02:00:00:00:00:99', via: 'arp' } });
  t.is(s.state(), 'master', 'a claim does not move the state');
  // The claims go on: one episode, one event.
  for (let i = 0; i < 3; i++) { s.p.arpFrom('eth0', VIP, '02:00:00:00:00:99'); await s.advance(ADVERT_MS); }
  t.is(s.events.filter((e) => e.type === 'dual-master').length, 1);
  // A higher-priority peer takes over: we are backup and stop reading ARP.
  await s.peerRuns(200, 2 * ADVERT_MS);
  t.is(s.state(), 'backup');
  t.false(s.p.arpWatches.has('eth0'));
  t.true(s.p.log.includes('arp-watch close eth0'));
});

test('ARP guard: a watch that fails is closed, logged, and opened again a second later while still master', async (t) => {
  const s = await master();
  t.true(s.p.arpWatches.has('eth0'));
  const opens = (): number => s.p.log.filter((l) => l === 'arp-watch open eth0').length;
  t.is(opens(), 1);
  s.p.arpReadFailures.add('eth0');
  await s.advance(ADVERT_MS);
  t.false(s.p.arpWatches.has('eth0'), 'closed after the failed read');
  await s.advance(1500);
  t.true(s.p.arpWatches.has('eth0'), 'reopened');
  t.is(opens(), 2);
  t.is(s.state(), 'master', 'the failure does not touch VRRP');
  await s.advance(1000);
  s.p.arpFrom('eth0', VIP, '02:00:00:00:00:99');
  await s.advance(ADVERT_MS);
  t.like(s.events.find((e) => e.type === 'dual-master'), { via: 'arp', other: '02:00:00:00:00:99' }, 'the reopened watch sees claims');
});

test('ARP guard: stop closes every watch', async (t) => {
  const s = await master();
  t.true(s.p.arpWatches.has('eth0'));
  await s.settle(s.d.stop());
  t.is(s.p.arpWatches.size, 0);
});
