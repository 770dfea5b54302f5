// realtime: the config section (defaults, values, errors with their line), the messages a
// refusal gets, which mappings lock_memory locks, and sched_setscheduler for real in a worker
// thread: the policy lands on that thread only, and threads it starts do not inherit it.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { formatIssue, parseConfig } from '../../src/config/load.js';
import { exportKeepalived } from '../../src/import/keepalived-export.js';
import { lockError, lockableMappings, schedError, type RtOutcome } from '../../src/core/realtime.js';

const BASE = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';

function load(yaml: string): ReturnType<typeof parseConfig> {
  return parseConfig(BASE + yaml, 'duet.yaml');
}

test('realtime: off by default', (t) => {
  const r = load('');
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value.realtime, { lockMemory: false });
});

test('realtime: priorities per thread, one policy (rr by default), lock_memory', (t) => {
  const r = load('realtime:\n  vrrp_priority: 50\n  check_priority: 10\n  lock_memory: true\n');
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value.realtime, { vrrp: { policy: 'rr', priority: 50 }, check: { policy: 'rr', priority: 10 }, lockMemory: true });
  const f = load('realtime: { vrrp_priority: 1, policy: fifo }\n');
  t.true(f.ok);
  if (f.ok) t.deepEqual(f.value.realtime, { vrrp: { policy: 'fifo', priority: 1 }, lockMemory: false });
});

test('realtime: advert_thread with its lease (500 ms unless given)', (t) => {
  const r = load('realtime:\n  advert_thread: true\n');
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value.realtime, { lockMemory: false, advertThread: { leaseMs: 500 } });
  const l = load('realtime: { advert_thread: true, advert_lease_ms: 250, vrrp_priority: 20 }\n');
  if (l.ok) t.deepEqual(l.value.realtime, { vrrp: { policy: 'rr', priority: 20 }, lockMemory: false, advertThread: { leaseMs: 250 } });
  else t.fail(JSON.stringify(l.error));
  const off = load('realtime: { advert_thread: false, advert_lease_ms: 250 }\n');
  if (off.ok) t.deepEqual(off.value.realtime, { lockMemory: false });
  const issues = (yaml: string): string[] => { const x = load(yaml); return x.ok ? [] : x.error.map(formatIssue); };
  t.regex(issues('realtime:\n  advert_lease_ms: 5\n').join('\n'), /duet\.yaml:5:\d+.*realtime\.advert_lease_ms.*10\.\.60000, got 5/);
  t.regex(issues('realtime:\n  advert_thread: sometimes\n').join('\n'), /realtime\.advert_thread/);
  const x = exportKeepalived(`${BASE}realtime: { advert_thread: true }\n`, 'duet.yaml');
  t.true(x.notes.some((n) => n.field.startsWith('realtime.advert_thread') && /VRRP process/.test(n.why)), JSON.stringify(x.notes));
});

test('realtime: bad values are errors at their line', (t) => {
  const issues = (yaml: string): string[] => { const r = load(yaml); return r.ok ? [] : r.error.map(formatIssue); };
  t.regex(issues('realtime:\n  vrrp_priority: 100\n').join('\n'), /duet\.yaml:5:\d+.*realtime\.vrrp_priority.*1\.\.99, got 100/);
  t.regex(issues('realtime:\n  check_priority: 0\n').join('\n'), /realtime\.check_priority.*1\.\.99, got 0/);
  t.regex(issues('realtime:\n  check_priority: 2.5\n').join('\n'), /whole number 1\.\.99/);
  t.regex(issues('realtime:\n  policy: deadline\n').join('\n'), /realtime\.policy.*rr or fifo, got .*deadline/);
  t.regex(issues('realtime:\n  no_swap: true\n').join('\n'), /no_swap/);
  t.regex(issues('realtime: yes\n').join('\n'), /realtime.*a mapping/);
});

test('refusals say what would allow them', (t) => {
  t.regex(schedError(1, { policy: 'rr', priority: 50 }), /SCHED_RR priority 50 refused \(EPERM\): needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 50.*LimitRTPRIO=50.*RestrictRealtime=no/);
  t.regex(schedError(22, { policy: 'fifo', priority: 99 }), /SCHED_FIFO priority 99 .*EINVAL/);
  t.regex(lockError(12, 95 * 1048576), /locking 95 MB refused \(ENOMEM\): needs CAP_IPC_LOCK or RLIMIT_MEMLOCK >= 95 MB.*LimitMEMLOCK=infinity/);
  t.regex(lockError(1, 1), /EPERM/);
});

test('lock_memory locks file-backed mappings and the main stack, never anonymous memory', (t) => {
  const maps = [
    '00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/node',
    '7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ',
    '7f0000100000-7f0000200000 rw-p 00000000 00:00 0',
    '7f1000000000-7f1000001000 r--p 00000000 08:02 1 /usr/lib/x86_64-linux-gnu/libc.so.6',
    '7f2000000000-7f2000001000 rw-s 00000000 00:01 2 /memfd:doublemapper (deleted)',
    '7f3000000000-7f3000001000 r--p 00000000 08:02 3 /tmp/gone (deleted)',
    '7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]',
    '7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0                          [vdso]',
    '',
  ].join('\n');
  t.deepEqual(lockableMappings(maps).map((m) => [m.path, Number(m.end - m.start)]), [
    ['/usr/bin/node', 0x52000], ['/usr/lib/x86_64-linux-gnu/libc.so.6', 0x1000], ['[stack]', 0x21000],
  ]);
  // This process's own maps: node itself is among them.
  t.true(lockableMappings(readFileSync('/proc/self/maps', 'utf8')).some((m) => m.path === process.execPath || m.path.endsWith('/node')));
});

/** policy and prio of one thread of this process, from /proc. */
function sched(tid: number): { policy: number; prio: number } {
  const s = readFileSync(`/proc/self/task/${tid}/sched`, 'utf8');
  return { policy: Number(/^policy\s*:\s*(\d+)/m.exec(s)![1]), prio: Number(/^prio\s*:\s*(\d+)/m.exec(s)![1]) };
}

test('setThreadRealtime applies to the calling thread only, and what it starts begins ordinary', async (t) => {
  const url = new URL('../../src/core/realtime.js', import.meta.url).href;
  // The worker sets RR 3 on itself, then starts a worker of its own and reports both tids.
  const code = `
    const { parentPort, Worker } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(async ({ setThreadRealtime }) => {
      const r = setThreadRealtime({ policy: 'rr', priority: 3 });
      const child = new Worker("const k = require('koffi'); require('node:worker_threads').parentPort.postMessage(k.load('libc.so.6').func('int gettid(void)')()); setTimeout(() => {}, 400)", { eval: true });
      const childTid = await new Promise((res) => child.once('message', res));
      parentPort.postMessage({ r, childTid });
      setTimeout(() => {}, 400);
    });`;
  const w = new Worker(code, { eval: true });
  const { r, childTid } = await new Promise<{ r: RtOutcome; childTid: number }>((res, rej) => { w.once('message', res); w.once('error', rej); });
  t.teardown(() => void w.terminate());
  const main = sched(process.pid);
  t.is(main.policy, 0, 'the main thread keeps SCHED_OTHER');
  t.is(sched(childTid).policy, 0, 'a thread started after it does not inherit it (SCHED_RESET_ON_FORK)');
  if (r.ok) {
    t.is(r.detail, 'SCHED_RR priority 3');
    t.deepEqual(sched(r.tid!), { policy: 2, prio: 99 - 3 });
  } else {
    t.log(`not permitted here: ${r.error}`);
    t.regex(r.error, /EPERM/);
  }
});
