// Two duet nodes and a client on a bridge: election, failover, clean stop, preempt, ARP move.
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, type DuetNode } from '../../lab/duet-node.js';

const VIP = '192.0.2.100';
let lab: Lab;
const nodes: DuetNode[] = [];

test.before(async () => {
  lab = await createLab('dp', [{ name: 'd1', addr: '192.0.2.11' }, { name: 'd2', addr: '192.0.2.12' }, { name: 'cl', addr: '192.0.2.50' }]);
});
test.afterEach.always(async (t) => {
  if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
  for (const n of nodes.splice(0)) n.cleanup();
  // Leave no VIP behind for the next test (a SIGKILLed node cannot remove its own).
  for (const h of ['d1', 'd2']) await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', `${VIP}/32`]).catch(() => undefined);
});
test.after.always(async () => { await lab?.destroy(); });

async function hasVip(host: string): Promise<boolean> {
  const { stdout } = await lab.exec(host, ['ip', '-j', 'addr', 'show', 'dev', lab.host(host).ifname]);
  return (JSON.parse(stdout) as { addr_info: { local: string }[] }[]).some((l) => l.addr_info.some((a) => a.local === VIP));
}

async function clientArpMac(): Promise<string | undefined> {
  const { stdout } = await lab.exec('cl', ['ip', '-j', 'neigh', 'show', VIP]);
  return (JSON.parse(stdout) as { lladdr?: string }[])[0]?.lladdr;
}

async function start(host: 'd1' | 'd2', priority: number, o: { preempt?: boolean } = {}): Promise<DuetNode> {
  const n = await startDuet(lab, host, pairConfig(host, { ifname: lab.host(host).ifname, priority, ...o }));
  nodes.push(n);
  return n;
}

async function linkDown(host: string): Promise<void> {
  await lab.exec(host, ['ip', 'link', 'set', lab.host(host).ifname, 'down']);
}
async function linkUp(host: string): Promise<void> {
  await lab.exec(host, ['ip', 'link', 'set', lab.host(host).ifname, 'up']);
}

test.serial('election by priority: the higher node is master, the VIP is only there', async (t) => {
  const d1 = await start('d1', 150);
  const d2 = await start('d2', 100);
  const m = await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  const b = await waitFor(async () => { const i = await d2.instance('VI_1'); return i?.masterAddress ? i : undefined; }, { timeoutMs: 2000, what: 'd2 sees a master' });
  t.is(b.masterAddress, '192.0.2.11');
  t.is(b.masterPriority, 150);
  t.is(m.priority.effective, 150);
  await waitFor(() => hasVip('d1'), { timeoutMs: 3000, what: 'VIP on d1' });
  t.false(await hasVip('d2'));
  // The backup stays backup while the master advertises.
  await new Promise((r) => setTimeout(r, 600));
  t.is((await d2.instance('VI_1'))?.state, 'backup');
  t.deepEqual(d2.transitions().map((l) => [l['from'], l['to'], l['reason']]), [['init', 'backup', 'startup']]);
  t.is(Object.keys((await d2.instance('VI_1'))!.counters.dropped).length, 0, 'no drops between duet nodes');
});

test.serial('failover on kill -9 plus link down; the client ARP entry moves; preempt on return', async (t) => {
  const d1 = await start('d1', 150);
  const d2 = await start('d2', 100);
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  await waitFor(() => hasVip('d1'), { timeoutMs: 3000, what: 'VIP on d1' });
  await lab.exec('cl', ['ping', '-c', '1', '-W', '1', VIP]);
  t.is(await clientArpMac(), lab.host('d1').mac);

  const t0 = Date.now();
  d1.kill('SIGKILL');
  await linkDown('d1');
  await d2.waitState('VI_1', 'master', 5000);
  // From the kill to d2's own log of the transition (not to when this test saw it).
  const tookMs = Date.parse(String(d2.transitions().at(-1)?.['time'])) - t0;
  t.true(tookMs < 1500, `takeover took ${tookMs.toFixed(0)} ms (expected ~3*100+skew ms)`);
  t.is(d2.transitions().at(-1)?.['reason'], 'master-down-timer');
  await waitFor(() => hasVip('d2'), { timeoutMs: 3000, what: 'VIP on d2' });
  // The gratuitous ARP moved the client's entry to d2 without the client asking.
  await waitFor(async () => (await clientArpMac()) === lab.host('d2').mac, { timeoutMs: 2000, what: 'client ARP entry on d2' });

  // d1 comes back with its stale VIP gone (crash restart), and preempts.
  await linkUp('d1');
  await d1.exited();
  nodes.splice(nodes.indexOf(d1), 1);
  d1.cleanup();
  const d1b = await start('d1', 150);
  await d1b.waitState('VI_1', 'master', 5000);
  await d2.waitState('VI_1', 'backup', 5000);
  t.is(d1b.transitions().at(-1)?.['reason'], 'preempt');
  await waitFor(async () => (await hasVip('d1')) && !(await hasVip('d2')), { timeoutMs: 3000, what: 'VIP back on d1 only' });
  await waitFor(async () => (await clientArpMac()) === lab.host('d1').mac, { timeoutMs: 2000, what: 'client ARP entry back on d1' });
});

test.serial('clean stop: priority 0 hands over within skew time, VIP removed', async (t) => {
  const d1 = await start('d1', 150);
  const d2 = await start('d2', 100);
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  await waitFor(() => hasVip('d1'), { timeoutMs: 3000, what: 'VIP on d1' });
  d1.kill('SIGTERM');
  await d2.waitState('VI_1', 'master', 3000);
  t.is(d2.transitions().at(-1)?.['reason'], 'master-released');
  // From d1's stop to d2's transition, by their own logs: Skew_Time (~61 ms) plus scheduling,
  // well under the 3 adverts + skew a crash would take.
  await waitFor(() => d1.logs.find((l) => l.msg === 'stopping'), { timeoutMs: 2000, what: 'd1 stopping log' });
  const tookMs = Date.parse(String(d2.transitions().at(-1)?.['time'])) - Date.parse(String(d1.logs.find((l) => l.msg === 'stopping')?.['time']));
  t.true(tookMs >= 0 && tookMs < 300, `clean handover took ${tookMs} ms`);
  t.is(await d1.exited(), 0);
  t.false(await hasVip('d1'), 'a stopped node leaves no VIP');
  t.true(d1.transitions().some((l) => l['to'] === 'init' && l['reason'] === 'shutdown'));
});

test.serial('nopreempt: a returning higher-priority node stays backup', async (t) => {
  const d2 = await start('d2', 100);
  await d2.waitState('VI_1', 'master');
  const d1 = await start('d1', 150, { preempt: false });
  await d1.waitState('VI_1', 'backup');
  await new Promise((r) => setTimeout(r, 1000));
  t.is((await d1.instance('VI_1'))?.state, 'backup');
  t.is((await d2.instance('VI_1'))?.state, 'master');
  t.true(await hasVip('d2'));
  t.false(await hasVip('d1'));
});
