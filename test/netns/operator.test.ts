// Operator commands against a running duet pair in namespaces, through the real CLI and control
// socket: failover (make-before-break: priority 0, VIP kept until the peer's first advert) and
// takeover move the master (seen by the peer) and report the time, with no moment without a
// master; --clear undoes them; a failover without a peer is refused and changes nothing;
// maintenance keeps a node out of mastership; a reload drops non-sticky overrides and keeps
// sticky ones; a non-root user is refused by the socket.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { readUnit } from '../../lab/systemd-unit.js';
import { startDuet, pairConfig, describeNodes, cli, DUET_CLI, type DuetNode } from '../../lab/duet-node.js';

let lab: Lab;
const nodes: DuetNode[] = [];

test.before(async () => {
  lab = await createLab('op', [{ name: 'o1', addr: '192.0.2.11' }, { name: 'o2', addr: '192.0.2.12' }]);
});
test.afterEach.always(async (t) => {
  if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
  for (const n of nodes.splice(0)) n.cleanup();
  for (const h of ['o1', 'o2']) await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', '192.0.2.100/32']).catch(() => undefined);
});
test.after.always(async () => { await lab?.destroy(); });

async function start(host: 'o1' | 'o2', priority: number): Promise<DuetNode> {
  const n = await startDuet(lab, host, pairConfig(host, { ifname: lab.host(host).ifname, priority }));
  nodes.push(n);
  return n;
}

async function pair(): Promise<[DuetNode, DuetNode]> {
  const o1 = await start('o1', 150);
  const o2 = await start('o2', 100);
  await o1.waitState('VI_1', 'master');
  await o2.waitState('VI_1', 'backup');
  return [o1, o2];
}

test.serial('failover hands mastership to the peer, reports the time, holds; --clear lets the node preempt back', async (t) => {
  const [o1, o2] = await pair();
  const r = await cli(o1, ['failover']);
  t.is(r.code, 0, r.stderr);
  const m = /^VI_1: master -> backup in (\d+) ms; master now 192\.0\.2\.12$/m.exec(r.stdout);
  t.truthy(m, r.stdout);
  const ms = Number(m![1]);
  t.log(`failover handover ${ms} ms (v3, 100 ms adverts; the peer's Skew_Time is 61 ms, its Master_Down_Interval 361 ms)`);
  t.true(ms < 1500, `${ms}`);
  t.is((await o2.instance('VI_1'))?.state, 'master');
  // Make-before-break: o1 sent priority 0, so o2 took over after its Skew_Time, not its
  // Master_Down_Interval ("master-released"); o1 kept the VIP meanwhile and stepped down on o2's
  // first advert ("higher-priority-advert"): no moment without a master.
  t.deepEqual(o2.transitions().map((l) => [l['from'], l['to'], l['reason']]).slice(1), [['backup', 'master', 'master-released']]);
  t.is(o1.transitions().at(-1)?.['to'], 'backup');
  t.is(o1.transitions().at(-1)?.['reason'], 'higher-priority-advert');
  const st = await cli(o1, ['status']);
  t.regex(st.stdout, /VI_1 .* BACKUP +1 \(cfg 150\) \[failover\] /);
  await new Promise((res) => setTimeout(res, 800));
  t.is((await o1.instance('VI_1'))?.state, 'backup', 'the override holds: o1 does not preempt back');

  const c = await cli(o1, ['failover', '--clear']);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stdout, /override cleared: VI_1/);
  await o1.waitState('VI_1', 'master', 3000);
});

test.serial('takeover on the backup moves the master here; refused where it makes no sense', async (t) => {
  const [o1, o2] = await pair();
  const bad = await cli(o1, ['takeover', 'VI_1']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /VI_1: it is master already \[DUET_E_STATE\]/);
  const nope = await cli(o1, ['failover', 'VI_9']);
  t.regex(nope.stderr, /no instance named 'VI_9' \(have: VI_1\) \[DUET_E_NO_INSTANCE\]/);

  const r = await cli(o2, ['takeover', '--json']);
  t.is(r.code, 0, r.stderr);
  const reply = JSON.parse(r.stdout) as { ok: true; result: Array<{ instance: string; to: string; handoverMs: number; master: string }> };
  t.like(reply.result[0], { instance: 'VI_1', to: 'master' });
  t.log(`takeover handover ${reply.result[0]!.handoverMs} ms`);
  await o1.waitState('VI_1', 'backup', 2000);
  t.is((await o1.instance('VI_1'))?.masterAddress, '192.0.2.12');
  t.is((await cli(o2, ['takeover', '--clear'])).code, 0);
  await o1.waitState('VI_1', 'master', 3000);
});

test.serial('failover with no peer is refused after its timeout and nothing changes', async (t) => {
  const o1 = await start('o1', 150);
  await o1.waitState('VI_1', 'master');
  const r = await cli(o1, ['failover', '--timeout', '1']);
  t.is(r.code, 1);
  t.regex(r.stderr, /VI_1: no peer took over within 1000 ms .*override withdrawn, VI_1 is still master \[DUET_E_NO_PEER\]/);
  const i = await o1.instance('VI_1');
  t.is(i?.state, 'master');
  t.is(i?.priority.effective, 150);
  t.deepEqual(o1.transitions().map((l) => l['to']), ['backup', 'master'], 'never left master');
});

test.serial('maintenance: the master hands over and stays out until maintenance is off', async (t) => {
  const [o1, o2] = await pair();
  const r = await cli(o1, ['maintenance', 'on']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /VI_1: master -> backup in \d+ ms; master now 192\.0\.2\.12\nmaintenance: VI_1/);
  await o1.waitState('VI_1', 'fault', 2000);
  t.regex((await cli(o1, ['status'])).stdout, /^node o1 \(MAINTENANCE: will not be master\)/);
  // Even when the peer goes away, a node in maintenance does not take the VIP.
  o2.kill('SIGKILL');
  await new Promise((res) => setTimeout(res, 800));
  t.is((await o1.instance('VI_1'))?.state, 'fault');
  t.is((await cli(o1, ['maintenance', 'off'])).code, 0);
  await o1.waitState('VI_1', 'master', 3000);
});

test.serial('a reload drops a non-sticky override and keeps a sticky one', async (t) => {
  const [o1] = await pair();
  t.is((await cli(o1, ['failover'])).code, 0);
  t.is((await cli(o1, ['reload'])).code, 0);
  await o1.waitState('VI_1', 'master', 3000);
  t.is(Object.keys((await o1.status()).operator).length, 0);

  t.is((await cli(o1, ['failover', '--sticky'])).code, 0);
  t.is((await cli(o1, ['reload'])).code, 0);
  await new Promise((res) => setTimeout(res, 800));
  t.is((await o1.instance('VI_1'))?.state, 'backup');
  t.like((await o1.status()).operator['VI_1'], { mode: 'failover', sticky: true });
});

test.serial('the control socket refuses a non-root user', async (t) => {
  const [o1] = await pair();
  const r = await cli(o1, ['failover'], { asUser: '65534' });
  t.is(r.code, 3, r.stdout);
  t.regex(r.stderr, /cannot reach the daemon at .*: .*EACCES/);
  t.is((await o1.instance('VI_1'))?.state, 'master');
});

test.serial('control.status_group under the unit\'s layout: a member reaches the read-only socket, a non-member gets EACCES', async (t) => {
  // The runtime directory as systemd/duet.service makes it: RuntimeDirectory=duet with its
  // RuntimeDirectoryMode, under a parent like /run (0755); the status socket at its default place.
  // The daemon keeps only the unit's capabilities (setpriv), as it would under systemd.
  const unit = readUnit();
  const mode = parseInt(unit.get('RuntimeDirectoryMode')?.[0] ?? '0755', 8);
  t.deepEqual(unit.get('RuntimeDirectory'), ['duet']);
  const caps = (unit.get('CapabilityBoundingSet') ?? []).join(' ').split(/\s+/).map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',');
  const wrap = ['setpriv', '--no-new-privs', `--bounding-set=-all,${caps}`, `--inh-caps=-all,${caps}`, `--ambient-caps=-all,${caps}`];
  const run = mkdtempSync(join(tmpdir(), 'duet-op-run-'));
  chmodSync(run, 0o755);
  const dir = join(run, 'duet');
  mkdirSync(dir);
  chmodSync(dir, mode);
  t.teardown(() => { rmSync(run, { recursive: true, force: true }); });
  t.log(`RuntimeDirectoryMode=${mode.toString(8)}, capabilities ${caps}`);
  const n = await startDuet(lab, 'o1', pairConfig('o1', { ifname: lab.host('o1').ifname, priority: 150, extra: 'control: { status_group: nogroup }\n' }), { dir, wrap });
  nodes.push(n);
  await n.waitState('VI_1', 'master');
  const statusSock = join(dir, 'duet-status.sock');
  t.is(statSync(statusSock).mode & 0o777, 0o660);
  t.false(n.logs.some((l) => /cannot reach the socket/.test(l.msg)), 'the daemon sees no blocking directory');
  const asNobody = (args: string[], gid: string, sock = statusSock) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('setpriv', ['--reuid=65534', `--regid=${gid}`, '--clear-groups', process.execPath, DUET_CLI, ...args, '-s', sock], { timeout: 30_000 },
      (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 99) : 0, stdout, stderr }));
  });
  const st = await asNobody(['status'], '65534');
  t.is(st.code, 0, st.stderr);
  t.regex(st.stdout, /VI_1 .* MASTER /);
  const fo = await asNobody(['failover'], '65534');
  t.is(fo.code, 1);
  t.regex(fo.stderr, /this socket is read-only \(status, events, ipvs\); 'failover' needs the root socket \[DUET_E_READONLY\]/);
  const other = await asNobody(['status'], '1');
  t.is(other.code, 3);
  t.regex(other.stderr, /EACCES/);
  // Nothing else in the directory is open to them: the root socket and the state files.
  const root = await asNobody(['status'], '65534', join(dir, 'duet.sock'));
  t.is(root.code, 3);
  t.regex(root.stderr, /EACCES/);
  t.is((await n.instance('VI_1'))?.state, 'master');
});
