// realtime.advert_thread in a real duet pair at 20 ms adverts: the master's event loop is held
// (test/netns/fixtures/hold-loop.ts, on SIGUSR2) and the backup must not notice; without the
// thread it takes over (the control that shows the hold is long enough), and a hold past the
// lease gives mastership up as a dead master would.
import test, { type ExecutionContext } from 'ava';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, type DuetNode } from '../../lab/duet-node.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;
const HOLD = fileURLToPath(new URL('./fixtures/hold-loop.js', import.meta.url));
const VIP = '192.0.2.100';
const VIP6 = '2001:db8::100';

let lab: Lab;
const nodes: DuetNode[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (root) {
  test.before(async () => {
    lab = await createLab('atp', [{ name: 'd1', addr: '192.0.2.11', addr6: '2001:db8::11' }, { name: 'd2', addr: '192.0.2.12', addr6: '2001:db8::12' }]);
  });
  test.afterEach.always(async (t) => {
    if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
    for (const n of nodes.splice(0)) n.cleanup();
    for (const h of ['d1', 'd2']) for (const v of [`${VIP}/32`, `${VIP6}/128`]) await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', v]).catch(() => undefined);
  });
  test.after.always(async () => { await lab?.destroy(); });
}

/** d1 (150, held on SIGUSR2 for holdMs) and d2 (100), 20 ms adverts; d1 master, d2 backup. */
async function pair(realtime: string, holdMs: number, o: { vip?: string; vrid?: number } = {}): Promise<[DuetNode, DuetNode]> {
  const d1 = await startDuet(lab, 'd1', pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150, advertInt: 0.02, extra: realtime, ...o }),
    { nodeArgs: ['--import', HOLD], env: { DUET_TEST_HOLD_MS: String(holdMs) } });
  nodes.push(d1);
  await d1.waitState('VI_1', 'master');
  const d2 = await startDuet(lab, 'd2', pairConfig('d2', { ifname: lab.host('d2').ifname, priority: 100, advertInt: 0.02, ...o }));
  nodes.push(d2);
  await d2.waitState('VI_1', 'backup');
  await sleep(300);
  return [d1, d2];
}

const moves = (d: DuetNode) => d.transitions().map((l) => `${String(l['from'])}>${String(l['to'])}`);

/** Hold d1's loop 400 ms; d2 must stay backup and d1 must have kept advertising, cleanly. */
async function holdWithoutTakeover(t: ExecutionContext, d1: DuetNode, d2: DuetNode): Promise<void> {
  const before = (await d1.instance('VI_1'))!.counters.advertsSent;
  d1.kill('SIGUSR2');
  await sleep(700);
  t.deepEqual(moves(d2), ['init>backup'], 'no takeover');
  const after = await d1.instance('VI_1');
  t.is(after?.state, 'master');
  // 700 ms at 20 ms: ~35 adverts, most of them sent while the loop was held.
  t.true(after!.counters.advertsSent - before >= 25, `adverts sent: ${after!.counters.advertsSent - before}`);
  t.is(after!.counters.sendErrors, 0);
  t.deepEqual(after!.counters.dropped, {});
  t.deepEqual((await d2.instance('VI_1'))!.counters.dropped, {}, 'the thread\'s adverts pass every receive check (TTL, checksum, addresses)');
}

rootTest('the master\'s loop held 400 ms (20 times Master_Down_Interval): its adverts still go out, the backup stays backup', async (t) => {
  const [d1, d2] = await pair('realtime: { advert_thread: true }\n', 400);
  await holdWithoutTakeover(t, d1, d2);
});

rootTest('IPv6 (VRRPv3 from the link-local address): the same hold, no takeover', async (t) => {
  const [d1, d2] = await pair('realtime: { advert_thread: true }\n', 400, { vip: `${VIP6}/64`, vrid: 71 });
  t.regex((await d2.instance('VI_1'))?.masterAddress ?? '', /^fe80::/);
  await holdWithoutTakeover(t, d1, d2);
});

rootTest('control: without the thread the same hold lets the backup take over', async (t) => {
  const [d1, d2] = await pair('', 400);
  d1.kill('SIGUSR2');
  await sleep(700);
  t.true(moves(d2).includes('backup>master'), `d2: ${moves(d2).join(', ')}`);
  t.is((await d1.instance('VI_1'))?.state, 'master', 'd1 preempts back once its loop runs');
});

rootTest('a hold past the lease: the adverts stop, the backup takes over, and the master takes back once its loop runs', async (t) => {
  const [d1, d2] = await pair('realtime: { advert_thread: true, advert_lease_ms: 100 }\n', 600);
  d1.kill('SIGUSR2');
  await sleep(900);
  t.true(moves(d2).includes('backup>master'), `d2: ${moves(d2).join(', ')}`);
  await d2.waitState('VI_1', 'backup', 2000);
  const i = await d1.instance('VI_1');
  t.is(i?.state, 'master');
  t.is(i?.counters.sendErrors, 0);
  t.true((i?.counters.advertThreadLapses ?? 0) >= 1, 'the lapse is counted');
  t.true(d1.logs.some((l) => /advert thread stopped for a while/.test(String(l.msg))), 'and logged');
});
