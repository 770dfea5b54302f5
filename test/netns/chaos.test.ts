// The chaos tier: a fault is injected into a running duet pair, and afterwards the invariants are
// checked, not just "no crash": exactly one node holds the VIP, a client reaches it, both daemons
// answer status, and no transition happened that the fault did not call for. Each test logs the
// recovery time it measured.
import test, { type ExecutionContext } from 'ava';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, run, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, type DuetNode } from '../../lab/duet-node.js';
import { request } from '../../src/control/client.js';
import type { ServiceView } from '../../src/control/views.js';

const VIP = '192.0.2.100';
const ADVERT_S = 0.1;
const THROW_AFTER = fileURLToPath(new URL('./fixtures/throw-after.js', import.meta.url));
let lab: Lab;
const nodes: DuetNode[] = [];

test.before(async () => {
  lab = await createLab('ch', [{ name: 'd1', addr: '192.0.2.11' }, { name: 'd2', addr: '192.0.2.12' }, { name: 'c', addr: '192.0.2.50' }]);
});
test.afterEach.always(async (t) => {
  if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
  for (const n of nodes.splice(0)) n.cleanup();
  for (const h of ['d1', 'd2']) {
    // A test that failed half way may have left the link deleted or down.
    if (!(await lab.exec(h, ['ip', 'link', 'show', lab.host(h).ifname]).then(() => true, () => false))) await lab.createLink(h).catch(() => undefined);
    await lab.exec(h, ['ip', 'link', 'set', lab.host(h).ifname, 'up']).catch(() => undefined);
    await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', `${VIP}/32`]).catch(() => undefined);
  }
});
test.after.always(async () => { await lab?.destroy(); });

async function start(host: 'd1' | 'd2', priority: number, o: Parameters<typeof startDuet>[3] = {}): Promise<DuetNode> {
  const n = await startDuet(lab, host, pairConfig(host, { ifname: lab.host(host).ifname, priority, advertInt: ADVERT_S }), o);
  nodes.push(n);
  return n;
}

async function pair(o: { d1?: Parameters<typeof startDuet>[3] } = {}): Promise<[DuetNode, DuetNode]> {
  const d1 = await start('d1', 150, o.d1);
  const d2 = await start('d2', 100);
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  return [d1, d2];
}

const hasVip = async (h: string): Promise<boolean> =>
  (await lab.exec(h, ['ip', '-4', '-o', 'addr', 'show', 'dev', lab.host(h).ifname]).catch(() => ({ stdout: '' }))).stdout.includes(`${VIP}/`);

/**
 * The invariants after a fault: within `ms`, exactly one director holds the VIP and it is the
 * one whose status says master, the client reaches the VIP, and every running daemon answers.
 */
async function steady(t: ExecutionContext, running: DuetNode[], ms = 3000): Promise<string> {
  const holder = await waitFor(async () => {
    const [a, b] = [await hasVip('d1'), await hasVip('d2')];
    return a !== b ? (a ? 'd1' : 'd2') : undefined;
  }, { timeoutMs: ms, intervalMs: 20, what: 'exactly one director with the VIP' });
  for (const n of running) {
    const st = await n.status();
    t.is(st.instances[0]?.state, n.host === holder ? 'master' : 'backup', `${n.host} state agrees with who holds the VIP`);
  }
  // The client reaches the VIP (its ARP entry is flushed first, so the answer comes from the holder now).
  await lab.exec('c', ['ip', 'neigh', 'flush', 'all']).catch(() => undefined);
  await waitFor(async () => lab.exec('c', ['ping', '-c', '1', '-W', '1', VIP]).then(() => true, () => false), { timeoutMs: 3000, intervalMs: 100, what: 'client pings the VIP' });
  return holder;
}

const path = (n: DuetNode): string[] => n.transitions('VI_1').map((l) => `${String(l['from'])}->${String(l['to'])} ${String(l['reason'])}`);

test.serial('interface deleted under the master and recreated: FAULT at once, the peer takes over; a new socket, and it preempts back', async (t) => {
  const [d1, d2] = await pair();
  const ifname = lab.host('d1').ifname;
  const t0 = Date.now();
  await lab.deleteLink('d1');
  const f = await d1.waitState('VI_1', 'fault', 2000);
  t.deepEqual(f.faultReasons, [`interface ${ifname} missing`]);
  await d2.waitState('VI_1', 'master', 2000);
  const tookOver = Date.now() - t0;
  await lab.createLink('d1');
  const t1 = Date.now();
  await d1.waitState('VI_1', 'master', 3000);
  const back = Date.now() - t1;
  t.is(await steady(t, [d1, d2]), 'd1');
  t.like((await d1.status()).sockets[0], { ifname, open: true, opens: 2 });
  t.deepEqual(path(d1).slice(-3), ['master->fault fault', 'fault->backup fault-cleared', 'backup->master preempt']);
  t.deepEqual(path(d2).slice(-2), ['backup->master master-down-timer', 'master->backup higher-priority-advert']);
  t.false(d1.logs.some((l) => l.msg === 'VIP update failed'), 'no VIP removal tried on the deleted link');
  t.log(`peer master ${tookOver} ms after the delete; d1 master again ${back} ms after the link was back up`);
});

test.serial('link flap storm (20 down/up in about 2 s) on the master: it ends with one master, the VIP reachable, the socket open', async (t) => {
  const [d1, d2] = await pair();
  const ifname = lab.host('d1').ifname;
  for (let i = 0; i < 20; i++) {
    await lab.exec('d1', ['ip', 'link', 'set', ifname, 'down']);
    await new Promise((r) => setTimeout(r, 50));
    await lab.exec('d1', ['ip', 'link', 'set', ifname, 'up']);
    await new Promise((r) => setTimeout(r, 50));
  }
  const t0 = Date.now();
  await d1.waitState('VI_1', 'master', 5000);
  t.is(await steady(t, [d1, d2], 5000), 'd1');
  t.like((await d1.status()).sockets[0], { open: true });
  t.log(`d1 master ${Date.now() - t0} ms after the storm; ${(await d1.status()).sockets[0]?.opens} sockets opened; d1 transitions ${path(d1).length}`);
});

test.serial('start with the interface missing: the daemon runs and answers, the instance in FAULT; the link appears and it runs', async (t) => {
  const d2 = await start('d2', 100);
  await d2.waitState('VI_1', 'master');
  await lab.deleteLink('d1');
  const d1 = await start('d1', 150);
  const f = await d1.waitState('VI_1', 'fault', 3000);
  t.deepEqual(f.faultReasons, [`interface ${lab.host('d1').ifname} missing`]);
  t.deepEqual(path(d1), ['init->fault fault']);
  await lab.createLink('d1');
  const t0 = Date.now();
  await d1.waitState('VI_1', 'master', 3000);
  t.is(await steady(t, [d1, d2]), 'd1');
  t.log(`d1 master ${Date.now() - t0} ms after its link appeared`);
});

test.serial('an uncaught exception in the master: logged, VIP released with priority 0 (the peer takes over at once), exit 70; the next run preempts back', async (t) => {
  const [d1, d2] = await pair({ d1: { nodeArgs: ['--import', THROW_AFTER], env: { DUET_TEST_THROW_AFTER_MS: '4000' } } });
  t.is(await d1.exited(), 70);
  const fatal = d1.logs.find((l) => l.level === 60);
  t.regex(String(fatal?.msg), /^fatal: uncaughtException; releasing VIPs/);
  const stopAt = Date.parse(String(d1.logs.find((l) => l.msg === 'stopping')?.['time']));
  await d2.waitState('VI_1', 'master', 2000);
  const took = await waitFor(() => d2.transitions('VI_1').find((l) => l['to'] === 'master'), { timeoutMs: 2000, what: 'd2 transition log' });
  t.is(took['reason'], 'master-released', 'the peer took over on the priority-0 advert, not a timeout');
  t.is(await steady(t, [d2]), 'd2');
  const again = await start('d1', 150);
  await again.waitState('VI_1', 'master', 3000);
  t.is(await steady(t, [again, d2]), 'd1');
  t.log(`peer master ${Date.parse(String(took['time'])) - stopAt} ms after the crashed node began releasing`);
});

test.serial('an unhandled rejection is fatal the same way (exit 70, VIP released)', async (t) => {
  const [d1, d2] = await pair({ d1: { nodeArgs: ['--import', THROW_AFTER], env: { DUET_TEST_THROW_AFTER_MS: '4000', DUET_TEST_THROW_KIND: 'rejection' } } });
  t.is(await d1.exited(), 70);
  t.regex(String(d1.logs.find((l) => l.level === 60)?.msg), /^fatal: unhandledRejection/);
  await d2.waitState('VI_1', 'master', 2000);
  t.is(await steady(t, [d2]), 'd2');
});

test.serial('50 SIGHUPs in 5 s: every reload applies, none in parallel, no transition, the daemon answers throughout', async (t) => {
  const [d1, d2] = await pair();
  const before = [path(d1).length, path(d2).length];
  for (let i = 0; i < 50; i++) {
    d1.kill('SIGHUP');
    if (i % 10 === 0) t.is((await d1.status()).instances[0]?.state, 'master');
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(() => d1.logs.filter((l) => l.msg === 'config reloaded').length >= 1 && d1.logs.filter((l) => l.msg === 'reload timing').length >= 1, { timeoutMs: 10_000, what: 'reloads logged' });
  // Signals that arrive while one reload runs may coalesce; the last one must have been applied.
  const t0 = Date.now();
  await waitFor(async () => { const n = d1.logs.filter((l) => l.msg === 'config reloaded').length; await new Promise((r) => setTimeout(r, 300)); return d1.logs.filter((l) => l.msg === 'config reloaded').length === n; }, { timeoutMs: 30_000, what: 'reloads settle' });
  const reloads = d1.logs.filter((l) => l.msg === 'config reloaded').length;
  t.true(reloads >= 1 && reloads <= 50, `${reloads} reloads`);
  t.false(d1.logs.some((l) => l.level >= 50), 'no error logged');
  t.is(d1.proc.exitCode, null);
  t.is(await steady(t, [d1, d2]), 'd1');
  t.deepEqual([path(d1).length, path(d2).length], before, 'no transition');
  t.log(`${reloads} reloads applied for 50 SIGHUPs; settled ${Date.now() - t0} ms after the last`);
});

test.serial('reload with a typo, then one naming a missing interface, then the fixed file, then SIGHUPs: refused, applied with a warning, applied; no transition anywhere, one master', async (t) => {
  const [d1, d2] = await pair();
  const before = [path(d1).length, path(d2).length];
  const good = readFileSync(d1.configFile, 'utf8');
  writeFileSync(d1.configFile, good.replace('advert_int: 0.1', 'advert_int: fast'));
  const typo = await request(d1.socket, { cmd: 'reload' });
  t.false(typo.ok, 'a typo is refused');
  if (!typo.ok) t.regex(JSON.stringify(typo.error), /advert_int/, 'the error names the field');
  writeFileSync(d1.configFile, good + '    - { name: VI_2, interface: chnosuch, vrid: 52, advert_int: 0.1, virtual_ipaddress: [192.0.2.101/24] }\n');
  const missing = await request(d1.socket, { cmd: 'reload' });
  t.true(missing.ok, JSON.stringify(missing));
  t.like(await d1.instance('VI_2'), { state: 'fault' });
  writeFileSync(d1.configFile, good);
  const fixed = await request(d1.socket, { cmd: 'reload' });
  t.true(fixed.ok, JSON.stringify(fixed));
  for (let i = 0; i < 5; i++) { d1.kill('SIGHUP'); await new Promise((r) => setTimeout(r, 50)); }
  await waitFor(() => d1.logs.filter((l) => l.msg === 'config reloaded').length >= 3, { timeoutMs: 10_000, what: 'the SIGHUP reloads logged' });
  t.is(d1.proc.exitCode, null, 'still running');
  t.deepEqual((await d1.status()).instances.map((i) => i.name), ['VI_1']);
  t.is(await steady(t, [d1, d2]), 'd1');
  t.deepEqual([path(d1).length, path(d2).length], before, 'no transition on either node');
});

test.serial('a body_regex that would backtrack for ever (^(a+)+$ on 20,000 a and a !) against a real HTTP server: the check answers down in time, the worker keeps its heartbeat, status answers, VRRP unmoved', async (t) => {
  const body = 'a'.repeat(20_000) + '!';
  const srv = lab.spawn('c', [process.execPath, '-e', `require('http').createServer((q, r) => r.end(${JSON.stringify(body)})).listen(8080, '192.0.2.50')`], { stdio: 'ignore' });
  t.teardown(() => { srv.kill('SIGKILL'); });
  await waitFor(async () => lab.exec('c', ['bash', '-c', 'exec 3<>/dev/tcp/192.0.2.50/8080']).then(() => true, () => false), { timeoutMs: 5000, intervalMs: 50, what: 'HTTP server listening' });
  const services = `virtual_servers:
  - name: web
    address: ${VIP}
    port: 80
    lb_kind: dr
    checks: [{ type: http, connect_port: 8080, path: /, body_regex: '^(a+)+$', interval: 0.5, timeout: 0.4, rise: 1, fall: 1 }]
    real_servers:
      - { address: 192.0.2.50, port: 80 }
`;
  const d1 = await startDuet(lab, 'd1', pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150, advertInt: ADVERT_S, extra: services }));
  nodes.push(d1);
  const d2 = await start('d2', 100);
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  const before = path(d2).length;
  const server = async (): Promise<ServiceView['servers'][number] | undefined> =>
    ((await d1.status()) as { services?: ServiceView[] }).services?.[0]?.servers.find((s) => !s.sorry);
  let slowest = 0;
  const t0 = Date.now();
  const down = await waitFor(async () => {
    const a = Date.now();
    const s = await server();
    slowest = Math.max(slowest, Date.now() - a);
    return s?.health === 'down' ? s : undefined;
  }, { timeoutMs: 5000, intervalMs: 100, what: 'the check reports the body mismatch' });
  t.regex(down.why, /body/, down.why);
  // A few more intervals: checks keep running (the worker is not stuck in a match) and it answers.
  await new Promise((r) => setTimeout(r, 1500));
  const st = await d1.status();
  t.like(st.checkWorker, { answering: true, restarts: 0 });
  t.true(slowest < 1000, `status answered in ${slowest} ms at worst`);
  t.is(path(d2).length, before, 'the peer never moved');
  t.is(await steady(t, [d1, d2]), 'd1');
  t.log(`check down (${down.why}) ${Date.now() - t0} ms after the pair settled (interval 500 ms); slowest status ${slowest} ms`);
});

test.serial('SIGSTOP of the master for 2 s, then SIGCONT: the peer takes over meanwhile; afterwards exactly one master', async (t) => {
  const [d1, d2] = await pair();
  d1.kill('SIGSTOP');
  t.teardown(() => d1.kill('SIGCONT'));
  await d2.waitState('VI_1', 'master', 2000);
  await new Promise((r) => setTimeout(r, 2000));
  const t0 = Date.now();
  d1.kill('SIGCONT');
  await d1.waitState('VI_1', 'master', 3000);
  await d2.waitState('VI_1', 'backup', 3000);
  t.is(await steady(t, [d1, d2]), 'd1');
  t.log(`one master again ${Date.now() - t0} ms after SIGCONT; d1: ${path(d1).slice(-2).join(', ')}; d2: ${path(d2).slice(-2).join(', ')}`);
});

test.serial('SIGKILL of the master and an immediate restart: the stale VIP is removed at start, then one master', async (t) => {
  const [d1, d2] = await pair();
  d1.kill('SIGKILL');
  await d1.exited();
  t.true(await hasVip('d1'), 'a killed daemon leaves its VIP behind (nothing can run on SIGKILL)');
  const t0 = Date.now();
  const again = await start('d1', 150, { dir: d1.dir });
  await again.waitState('VI_1', 'master', 3000);
  t.is(await steady(t, [again, d2]), 'd1');
  t.log(`one master with the VIP ${Date.now() - t0} ms after the restart began`);
});

/** Processes (not zombies) whose command line contains marker. */
async function running(marker: string): Promise<number> {
  const r = await lab.exec('c', ['pgrep', '-f', '-c', marker]).catch(() => ({ stdout: '0' }));
  return Number(r.stdout.trim());
}

test.serial('a track script that forks and hangs: each run is killed at its timeout with all it started; none left over; the master stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-ch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const marker = `599.${process.pid % 1000}1`;
  const script = join(dir, 'hang.sh');
  writeFileSync(script, `#!/bin/sh\nfor i in 1 2 3; do sleep ${marker} & done\nsleep ${marker}\n`, { mode: 0o755 });
  // Weight -10: the failing script lowers d1 to 140, still above d2.
  const scripts = `  scripts:\n    chk_hang:\n      command: [${script}]\n      interval: 0.5\n      timeout: 0.3\n      weight: -10\n      fall: 1\n      rise: 1\n`;
  const yaml = pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150, advertInt: ADVERT_S, extra: '      track_script: [chk_hang]\n' }).replace('vrrp:\n', `vrrp:\n${scripts}`);
  const d1 = await startDuet(lab, 'd1', yaml);
  nodes.push(d1);
  const d2 = await start('d2', 100);
  await d1.waitState('VI_1', 'master');
  await waitFor(async () => ((await d1.instance('VI_1'))?.priority.effective === 140 ? true : undefined), { timeoutMs: 3000, what: 'script down lowers the priority' });
  // Runs every 0.5 s for 4 s: 8 runs, 4 processes each. At most the current run's may be alive.
  await new Promise((r) => setTimeout(r, 4000));
  const left = await running(`sleep ${marker}`);
  t.true(left <= 4, `${left} processes of the script alive (the current run has at most 4)`);
  const runs = d1.logs.filter((l) => l.msg === 'track script ran').length;
  t.true(runs >= 6, `${runs} runs`);
  t.true(d1.logs.filter((l) => l.msg === 'track script ran').every((l) => l['exit'] === 'timeout'));
  d1.kill('SIGTERM');
  await d1.exited();
  // Stopped mid-run or not, duet leaves nothing it started behind.
  await new Promise((r) => setTimeout(r, 300));
  t.is(await running(`sleep ${marker}`), 0, 'nothing left once duet stopped');
  t.is(await steady(t, [d2]), 'd2');
});

test.serial('a notify hook that forks and hangs: VRRP goes on; at hooks.timeout its whole group is killed, logged; hooks keep their order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-ch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const marker = `598.${process.pid % 1000}1`;
  const out = join(dir, 'order');
  const hook = join(dir, 'hook.sh');
  // The master hook starts a sleeper in the background and then hangs itself.
  writeFileSync(hook, `#!/bin/sh\necho "$1" >> ${out}\nif [ "$1" = master ]; then sleep ${marker} & sleep ${marker}; fi\nexit 0\n`, { mode: 0o755 });
  const yaml = 'hooks: { timeout: 1 }\n' + pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150, advertInt: ADVERT_S,
    extra: `      notify: { master: [${hook}, master], backup: [${hook}, backup], fault: [${hook}, fault] }\n` });
  const d1 = await startDuet(lab, 'd1', yaml);
  nodes.push(d1);
  const d2 = await start('d2', 100);
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').includes('master'), { timeoutMs: 3000, what: 'master hook ran' });
  const failed = await waitFor(() => d1.logs.find((l) => l.msg === 'notify hook failed'), { timeoutMs: 4000, what: 'hook timeout logged' });
  t.regex(String(failed['err']), /timed out after 1000 ms \(its process group was killed\)/);
  await new Promise((r) => setTimeout(r, 1500));
  t.is(await running(`sleep ${marker}`), 0, 'the hook and its sleeper are gone');
  t.deepEqual(readFileSync(out, 'utf8').trim().split('\n'), ['backup', 'master']);
  t.is(await steady(t, [d1, d2]), 'd1');
  t.deepEqual(path(d2), ['init->backup startup'], 'the peer never moved: adverts went on while the hook hung');
});

test.serial('one-way loss (the backup stops hearing the master): both are master; the master reports dual-master within an advert interval, runs its hook, counts it; healed: one master', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-ch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'dual');
  const hook = join(dir, 'dual.sh');
  writeFileSync(hook, `#!/bin/sh\necho "$DUET_INSTANCE $DUET_OTHER $DUET_OTHER_PRIORITY" >> ${out}\n`, { mode: 0o755 });
  const yaml = pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150, advertInt: ADVERT_S, extra: `      notify: { dual_master: [${hook}] }\n` });
  const d1 = await startDuet(lab, 'd1', yaml);
  nodes.push(d1);
  const d2 = await start('d2', 100);
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  // The bridge stops flooding multicast to d2's port: d2 hears no adverts, d1 still hears d2's.
  const port = lab.host('d2').brPort;
  const flood = (on: boolean) => run(['ip', 'netns', 'exec', lab.brNs, 'bridge', 'link', 'set', 'dev', port, 'mcast_flood', on ? 'on' : 'off']);
  t.teardown(() => flood(true).then(() => undefined, () => undefined));
  await flood(false);
  await d2.waitState('VI_1', 'master', 3000);
  const seen = await waitFor(() => d1.logs.find((l) => String(l.msg).startsWith('dual-master')), { timeoutMs: 2000, intervalMs: 10, what: 'dual-master logged on d1' });
  t.like(seen, { other: '192.0.2.12', otherPriority: 100, priority: 150, instance: 'VI_1' });
  const d2Master = Date.parse(String(d2.transitions('VI_1').find((l) => l['to'] === 'master')?.['time']));
  const detectMs = Date.parse(String(seen['time'])) - d2Master;
  t.true(detectMs <= ADVERT_S * 1000 + 50, `detected ${detectMs} ms after d2 became master`);
  const st = await d1.instance('VI_1');
  t.like(st, { state: 'master', dualMaster: { other: '192.0.2.12', otherPriority: 100 } });
  t.is(st?.counters.dualMasters, 1, 'one episode, however many adverts');
  await waitFor(() => existsSync(out), { timeoutMs: 3000, what: 'dual-master hook ran' });
  t.is(readFileSync(out, 'utf8').trim(), 'VI_1 192.0.2.12 100');
  // Healed: d2 hears d1 again and yields; d1's episode ends.
  await flood(true);
  await d2.waitState('VI_1', 'backup', 3000);
  t.is(await steady(t, [d1, d2]), 'd1');
  await waitFor(async () => (await d1.instance('VI_1'))?.dualMaster === undefined, { timeoutMs: 2000, what: 'episode over' });
  t.log(`dual master detected ${detectMs} ms after the backup became master`);
});

test.serial('a host that claims the VIP (a server configured with it by mistake sends a gratuitous ARP): the master reports dual-master by ARP within an advert interval, naming that MAC; nothing moves', async (t) => {
  const [d1, d2] = await pair();
  await new Promise((r) => setTimeout(r, 2 * ADVERT_S * 1000)); // past d1's first interval as master
  const cif = lab.host('c').ifname;
  const cmac = (await lab.exec('c', ['cat', `/sys/class/net/${cif}/address`])).stdout.trim();
  t.teardown(() => lab.exec('c', ['ip', 'addr', 'del', `${VIP}/32`, 'dev', cif]).then(() => undefined, () => undefined));
  await lab.exec('c', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', cif]);
  const t0 = Date.now();
  await lab.exec('c', ['arping', '-q', '-U', '-c', '1', '-I', cif, VIP], { timeoutMs: 5000 });
  const seen = await waitFor(() => d1.logs.find((l) => String(l.msg).startsWith('dual-master')), { timeoutMs: 2000, intervalMs: 10, what: 'dual-master logged on d1' });
  const detectMs = Date.parse(String(seen['time'])) - t0;
  t.like(seen, { instance: 'VI_1', via: 'arp', other: cmac, address: VIP, priority: 150 });
  t.true(detectMs <= ADVERT_S * 1000 + 50, `detected ${detectMs} ms after the GARP`);
  const st = await d1.instance('VI_1');
  t.is(st?.state, 'master');
  t.is(st?.counters.dualMasters, 1, 'one episode');
  t.false(d2.logs.some((l) => String(l.msg).startsWith('dual-master')), 'the backup reads no ARP');
  // The stray address goes; one holder, nothing moved.
  await lab.exec('c', ['ip', 'addr', 'del', `${VIP}/32`, 'dev', cif]);
  t.is(await steady(t, [d1, d2]), 'd1');
  t.deepEqual(path(d2), ['init->backup startup']);
  t.deepEqual(path(d1), ['init->backup startup', 'backup->master master-down-timer']);
  t.log(`ARP claim reported ${detectMs} ms after the GARP left the host`);
});

/** Cut a director off at the bridge (its port stops forwarding; its link stays up), or heal it. */
const partition = (host: string, cut: boolean) =>
  run(['ip', 'netns', 'exec', lab.brNs, 'bridge', 'link', 'set', 'dev', lab.host(host).brPort, 'state', cut ? '0' : '3']);

test.serial('partition without a witness: the cut-off master keeps the VIP while the peer takes it too (why the witness exists); healed: one master', async (t) => {
  const [d1, d2] = await pair();
  t.teardown(() => partition('d1', false).then(() => undefined, () => undefined));
  await partition('d1', true);
  await d2.waitState('VI_1', 'master', 3000);
  await new Promise((r) => setTimeout(r, 500));
  t.is((await d1.instance('VI_1'))?.state, 'master', 'd1 cannot tell it is the one cut off');
  t.true(await hasVip('d1') && await hasVip('d2'), 'both hold the VIP');
  await partition('d1', false);
  await d2.waitState('VI_1', 'backup', 3000);
  t.is(await steady(t, [d1, d2]), 'd1');
});

test.serial('partition with a witness (the client side\'s address): the cut-off master goes to FAULT and releases the VIP, so one holder; healed: it rejoins and preempts back', async (t) => {
  const w = '      witness: { targets: [192.0.2.50], interval: 0.2, timeout: 0.15, fall: 2, rise: 1 }\n';
  const d1 = await startDuet(lab, 'd1', pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150, advertInt: ADVERT_S, extra: w }));
  nodes.push(d1);
  const d2 = await startDuet(lab, 'd2', pairConfig('d2', { ifname: lab.host('d2').ifname, priority: 100, advertInt: ADVERT_S, extra: w }));
  nodes.push(d2);
  await d1.waitState('VI_1', 'master');
  await d2.waitState('VI_1', 'backup');
  t.teardown(() => partition('d1', false).then(() => undefined, () => undefined));
  const t0 = Date.now();
  await partition('d1', true);
  const f = await d1.waitState('VI_1', 'fault', 3000);
  const faultMs = Date.now() - t0;
  t.deepEqual(f.faultReasons, ['witness: none of 192.0.2.50 answers']);
  await d2.waitState('VI_1', 'master', 3000);
  await waitFor(async () => !(await hasVip('d1')), { timeoutMs: 2000, what: 'd1 released the VIP' });
  // The client (the witness itself) reaches the VIP at d2.
  await lab.exec('c', ['ip', 'neigh', 'flush', 'all']).catch(() => undefined);
  await waitFor(async () => lab.exec('c', ['ping', '-c', '1', '-W', '1', VIP]).then(() => true, () => false), { timeoutMs: 3000, intervalMs: 100, what: 'client pings the VIP at d2' });
  const t1 = Date.now();
  await partition('d1', false);
  await d1.waitState('VI_1', 'master', 3000);
  const backMs = Date.now() - t1;
  t.is(await steady(t, [d1, d2]), 'd1');
  t.deepEqual(d1.transitions('VI_1').slice(-3).map((l) => `${String(l['from'])}->${String(l['to'])} ${String(l['reason'])}`),
    ['master->fault fault', 'fault->backup fault-cleared', 'backup->master preempt']);
  t.log(`d1 in FAULT ${faultMs} ms after the cut; master again ${backMs} ms after the heal`);
});
