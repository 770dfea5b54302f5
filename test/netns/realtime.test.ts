// realtime: against the real kernel, read back from /proc. A daemon started with vrrp_priority,
// check_priority and lock_memory has exactly two real-time threads, its main thread and its
// check worker, each at its own priority, and locked memory; one started without the privilege
// (no CAP_SYS_NICE / CAP_IPC_LOCK, RLIMIT_RTPRIO 0, a small RLIMIT_MEMLOCK) says so once per
// thread and runs on as master with every thread ordinary.
// Lab 'prf1': d1 (duet, with a TCP check of itself so the check worker runs).
import { readFileSync, readdirSync } from 'node:fs';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, checkedServiceYaml, type DuetNode } from '../../lab/duet-node.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;

let lab: Lab;
const nodes: DuetNode[] = [];

if (root) {
  test.before(async () => { lab = await createLab('prf1', [{ name: 'd1', addr: '192.0.2.11' }]); });
  test.afterEach.always((t) => {
    if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
    for (const n of nodes.splice(0)) n.cleanup();
  });
  test.after.always(async () => { await lab?.destroy(); });
}

function config(realtime: string): string {
  return `${pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 150 })}${realtime}\n${checkedServiceYaml('192.0.2.11')}`;
}

interface Task { tid: number; comm: string; policy: number; prio: number }

/** Every thread of pid: its policy (0 other, 1 fifo, 2 rr) and kernel prio (99 - rt priority for rt). */
function tasks(pid: number): Task[] {
  return readdirSync(`/proc/${pid}/task`).map((t) => {
    const s = readFileSync(`/proc/${pid}/task/${t}/sched`, 'utf8');
    return {
      tid: Number(t), comm: readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim(),
      policy: Number(/^policy\s*:\s*(\d+)/m.exec(s)![1]), prio: Number(/^prio\s*:\s*(\d+)/m.exec(s)![1]),
    };
  });
}

const vmLckKb = (pid: number): number => Number(/^VmLck:\s*(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** The daemon's pid: ip netns exec, setpriv and prlimit each exec the next, so it is the child's. */
function daemonPid(n: DuetNode): number {
  const pid = n.proc.pid!;
  if (!/node/.test(readFileSync(`/proc/${pid}/comm`, 'utf8'))) throw new Error(`pid ${pid} is not node`);
  return pid;
}

const logged = (n: DuetNode, msg: string, thread?: string): number => n.logs.filter((l) => l.msg === msg && (thread === undefined || l['thread'] === thread)).length;

rootTest('priorities land on the main thread and the check worker only; memory is locked', async (t) => {
  const d1 = await startDuet(lab, 'd1', config('realtime: { vrrp_priority: 20, check_priority: 10, lock_memory: true }'));
  nodes.push(d1);
  await d1.waitState('VI_1', 'master');
  await waitFor(() => logged(d1, 'real-time scheduling on') === 2 || undefined, { timeoutMs: 5000, what: 'both threads report real-time scheduling' });
  const pid = daemonPid(d1);
  const vrrpTid = Number(d1.logs.find((l) => l.msg === 'real-time scheduling on' && l['thread'] === 'vrrp')!['tid']);
  const checkTid = Number(d1.logs.find((l) => l.msg === 'real-time scheduling on' && l['thread'] === 'check')!['tid']);
  t.is(vrrpTid, pid, 'the VRRP thread is the main thread');
  // A few rounds of checks, a status, so the lazily started threads (libuv's pool) exist too.
  await d1.status();
  await new Promise((r) => setTimeout(r, 500));
  const all = tasks(pid);
  const rt = all.filter((x) => x.policy !== 0);
  t.log(`${all.length} threads; real-time: ${rt.map((x) => `${x.tid} ${x.comm} policy ${x.policy} prio ${x.prio}`).join(', ')}; VmLck ${vmLckKb(pid)} kB`);
  t.deepEqual(rt.map((x) => x.tid).sort((a, b) => a - b), [vrrpTid, checkTid].sort((a, b) => a - b), 'exactly these two threads are real-time');
  t.deepEqual(rt.find((x) => x.tid === vrrpTid), { tid: vrrpTid, comm: rt.find((x) => x.tid === vrrpTid)!.comm, policy: 2, prio: 99 - 20 }, 'main: SCHED_RR 20');
  t.like(rt.find((x) => x.tid === checkTid), { policy: 2, prio: 99 - 10 }, 'check worker: SCHED_RR 10');
  t.true(all.length >= 8, 'node\'s own threads are there, and ordinary');
  t.true(vmLckKb(pid) > 10_000, 'code and stack locked');
  t.is(logged(d1, 'memory locked'), 1);
  t.is(logged(d1, 'real-time scheduling refused; running without') + logged(d1, 'memory locking refused; running without'), 0);
});

rootTest('without the privilege: refused once per thread, said why, and the daemon runs on ordinary', async (t) => {
  const wrap = ['setpriv', '--bounding-set=-sys_nice,-ipc_lock', '--inh-caps=-sys_nice,-ipc_lock', 'prlimit', '--rtprio=0', '--memlock=65536'];
  const d1 = await startDuet(lab, 'd1', config('realtime: { vrrp_priority: 20, check_priority: 10, lock_memory: true }'), { wrap });
  nodes.push(d1);
  await d1.waitState('VI_1', 'master');
  await waitFor(() => logged(d1, 'real-time scheduling refused; running without') === 2 || undefined, { timeoutMs: 5000, what: 'both threads report the refusal' });
  await new Promise((r) => setTimeout(r, 500));
  const pid = daemonPid(d1);
  const refusals = d1.logs.filter((l) => l.msg === 'real-time scheduling refused; running without');
  t.deepEqual(refusals.map((l) => l['thread']).sort(), ['check', 'vrrp']);
  for (const r of refusals) t.regex(String(r['err']), /EPERM.*CAP_SYS_NICE or RLIMIT_RTPRIO >= (20|10).*LimitRTPRIO/);
  const mem = d1.logs.filter((l) => l.msg === 'memory locking refused; running without');
  t.is(mem.length, 1);
  t.regex(String(mem[0]!['err']), /CAP_IPC_LOCK or RLIMIT_MEMLOCK.*LimitMEMLOCK=infinity/);
  t.deepEqual(tasks(pid).filter((x) => x.policy !== 0), [], 'no thread is real-time');
  t.is((await d1.instance('VI_1'))?.state, 'master', 'and it runs on');
});
