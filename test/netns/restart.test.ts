// `duet restart` against a running pair in namespaces: the master's process exits (status 75)
// and a new one starts on the same state directory, as systemd would. In time, the new run
// resumes as master: the VIP never leaves the node, no priority-0 advert goes out, the peer
// never leaves backup. Too late (after the peer's Master_Down_Interval), the new run starts as
// a fresh node: the peer has taken over, and the old master preempts back as usual.
import { writeFileSync } from 'node:fs';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, cli, type DuetNode } from '../../lab/duet-node.js';
import { captureVrrp, watchAddresses, sleep, cleanupAll } from '../../lab/lab.js';

// The daemons here are not systemd's: `duet restart` must be told a supervisor restarts them.
delete process.env['INVOCATION_ID'];

let lab: Lab;
const nodes: DuetNode[] = [];
const VIP = '192.0.2.100';

test.before(async () => {
  lab = await createLab('rst', [{ name: 'r1', addr: '192.0.2.11' }, { name: 'r2', addr: '192.0.2.12' }]);
});
test.afterEach.always(async (t) => {
  if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
  // The restarted nodes share their first run's directory: clean the reusers first.
  for (const n of nodes.splice(0).reverse()) n.cleanup();
  for (const h of ['r1', 'r2']) await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', `${VIP}/32`]).catch(() => undefined);
});
test.after.always(async () => { await cleanupAll(); await lab?.destroy(); });

// 3 s adverts (v3): the peer waits 3 x 3 s + skew without adverts; a restart has 2.5 x 3 s (a
// loaded machine can take 2-3 s to start node).
const ADVERT_S = 3;
const WINDOW_MS = 2.5 * ADVERT_S * 1000;
const config = (host: 'r1' | 'r2', priority: number, advertInt = ADVERT_S): string => pairConfig(host, { ifname: lab.host(host).ifname, priority, advertInt });

async function start(host: 'r1' | 'r2', priority: number, dir?: string): Promise<DuetNode> {
  const n = await startDuet(lab, host, config(host, priority), dir ? { dir } : {});
  nodes.push(n);
  return n;
}

async function pair(): Promise<[DuetNode, DuetNode]> {
  const r1 = await start('r1', 150);
  const r2 = await start('r2', 100);
  await r1.waitState('VI_1', 'master', 12_000);
  await r2.waitState('VI_1', 'backup');
  return [r1, r2];
}

test.serial('restart in time: the new run resumes as master; no VIP removal, no priority 0, no transition on the peer', async (t) => {
  const [r1, r2] = await pair();
  const addrs = await watchAddresses(lab, 'r1');
  const cap = await captureVrrp(lab, 'r2');
  // Without a supervisor nothing would start the next run: refused, nothing changes.
  const refused = await cli(r1, ['restart']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /not started by systemd .* --supervised .* \[DUET_E_NO_SUPERVISOR\]/);
  t.is((await r1.instance('VI_1'))?.state, 'master');
  const t0 = Date.now();
  const r = await cli(r1, ['restart', '--supervised']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^duet exited for a restart \(status 75\): master of VI_1 kept/m);
  t.is(await r1.exited(), 75);
  const tExit = Date.now();
  const again = await start('r1', 150, r1.dir);
  const inst = await again.waitState('VI_1', 'master', WINDOW_MS);
  const tBack = Date.now();
  t.log(`restart: exit ${tExit - t0} ms after the request, master again ${tBack - t0} ms after it`);
  t.is(inst.lastReason, 'resumed');
  t.deepEqual(again.transitions().map((l) => [l['from'], l['to'], l['reason']]), [['init', 'master', 'resumed']]);
  t.true(again.logs.some((l) => l.msg === 'resuming as master after a restart'));
  t.deepEqual(r1.transitions().at(-1)?.['reason'], 'restart', 'the old run logged why it left master');
  // Hold until well past the peer's Master_Down_Interval from the old run's last advert: nothing moves.
  await sleep(3 * ADVERT_S * 1000);
  t.is((await r2.instance('VI_1'))?.state, 'backup');
  t.deepEqual(r2.transitions().map((l) => [l['from'], l['to']]), [['init', 'backup']], 'the peer never left backup');
  t.deepEqual(addrs.events.filter((e) => e.addr === VIP && !e.added), [], 'the VIP never left r1');
  const adverts = cap.from('192.0.2.11', t0 - 1500, Date.now());
  t.false(adverts.some((p) => p.prio === 0), 'no priority-0 advert');
  const gaps = adverts.slice(1).map((p, i) => p.at - adverts[i]!.at);
  const maxGap = Math.max(...gaps);
  t.log(`longest gap between r1's adverts across the restart: ${Math.round(maxGap)} ms (the peer gives up after ${3 * ADVERT_S} s + skew)`);
  t.true(maxGap < WINDOW_MS + 500, `adverts resumed within the window: ${maxGap}`);
  addrs.proc.kill();
  cap.proc.kill();
  const st = await cli(again, ['status']);
  t.regex(st.stdout, /VI_1 .* MASTER/);
});

test.serial('restart too late: the peer has taken over; the new run starts as a fresh node and preempts back', async (t) => {
  const [r1, r2] = await pair();
  const r = await cli(r1, ['restart', '--supervised']);
  t.is(r.code, 0, r.stderr);
  t.is(await r1.exited(), 75);
  await r2.waitState('VI_1', 'master', 4 * ADVERT_S * 1000);
  // The log line follows the state by a moment (another pipe).
  const took = await waitFor(() => r2.transitions().find((l) => l['to'] === 'master'), { timeoutMs: 2000, intervalMs: 20, what: 'r2 transition log' });
  t.is(took['reason'], 'master-down-timer');
  const again = await start('r1', 150, r1.dir);
  await waitFor(() => again.logs.find((l) => l.msg === 'not resuming as master'), { timeoutMs: 5000, intervalMs: 20, what: 'resume decision' });
  const why = String(again.logs.find((l) => l.msg === 'not resuming as master')?.['why']);
  t.regex(why, new RegExp(`^too late: \\d+ ms since the last advert, window ${WINDOW_MS} ms$`));
  // The transition is logged just after the decision (pino writes asynchronously): wait for it.
  const first = await waitFor(() => again.transitions()[0], { timeoutMs: 2000, intervalMs: 20, what: 'r1 first transition log' });
  t.deepEqual([first['from'], first['to'], first['reason']], ['init', 'backup', 'startup']);
  await again.waitState('VI_1', 'master', 4 * ADVERT_S * 1000);
  await r2.waitState('VI_1', 'backup', 3000);
  await waitFor(() => again.transitions().find((l) => l['to'] === 'master'), { timeoutMs: 2000, intervalMs: 20, what: 'r1 transition log' });
  t.is(again.transitions().at(-1)?.['reason'], 'preempt');
});

test.serial('a plain stop still hands over at once (priority 0) and leaves no marker to resume from', async (t) => {
  const [r1, r2] = await pair();
  const t0 = Date.now();
  r1.kill('SIGTERM');
  t.is(await r1.exited(), 0);
  await r2.waitState('VI_1', 'master', 2000);
  const took = await waitFor(() => r2.transitions().find((l) => l['to'] === 'master'), { timeoutMs: 2000, intervalMs: 20, what: 'r2 transition log' });
  t.is(took['reason'], 'master-released');
  t.log(`peer master ${Date.now() - t0} ms after SIGTERM`);
  const again = await start('r1', 150, r1.dir);
  await again.waitState('VI_1', 'backup', 3000);
  t.false(again.logs.some((l) => /resuming/.test(l.msg)), 'no marker: no resume decision at all');
  t.deepEqual(again.transitions()[0]?.['reason'], 'startup');
  await again.waitState('VI_1', 'master', 4 * ADVERT_S * 1000);
});

test.serial('v3: a reload that changes advert_int applies in place; the backup adopts the master\'s interval, no transition', async (t) => {
  const [r1, r2] = await pair();
  const cap = await captureVrrp(lab, 'r2');
  const before = [r1.transitions().length, r2.transitions().length];
  writeFileSync(r1.configFile, config('r1', 150, 6));
  writeFileSync(r2.configFile, config('r2', 100, 6));
  const t0 = Date.now();
  for (const n of [r1, r2]) {
    const r = await cli(n, ['reload', '--json']);
    t.is(r.code, 0, r.stderr);
    t.deepEqual((JSON.parse(r.stdout) as { updated: string[] }).updated, ['VI_1']);
  }
  // Long enough for the old Master_Down_Interval (3 x 3 s + skew, 10.8 s) to pass: the backup
  // must be using the new one (3 x 6 s + skew) learned from the adverts.
  await sleep(13_000);
  const adverts = cap.from('192.0.2.11', t0, Date.now());
  t.true(adverts.length >= 2, `adverts: ${adverts.length}`);
  t.is(adverts.at(-1)?.intervalMs, 6000);
  t.deepEqual([r1.transitions().length, r2.transitions().length], before, 'no transition on either node');
  t.is((await r2.instance('VI_1'))?.state, 'backup');
  cap.proc.kill();
});
