// systemd's notify protocol with the real daemon in a namespace, this test playing systemd: a
// unix datagram socket as NOTIFY_SOCKET and WATCHDOG_USEC set. READY=1 comes once the initial
// state is applied, WATCHDOG=1 keeps coming at half the interval, a SIGHUP is bracketed by
// RELOADING=1 and READY=1, STATUS= follows transitions, and SIGTERM says STOPPING=1.
// The unit's sandbox, without a systemd to run it: the daemon and its scripts, traced with strace
// and kept to the unit's capabilities with setpriv, make only system calls the unit's
// SystemCallFilter= allows, open only the socket families it allows, are refused nothing, and
// write only where the unit lets them; realtime priorities and memory locking work with the
// unit's resource limits (no CAP_SYS_NICE, no CAP_IPC_LOCK).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, cli, checkedServiceYaml } from '../../lab/duet-node.js';
import { allowedSyscalls, parseSyscallGroups, readUnit, run, summarizeTrace } from '../../lab/systemd-unit.js';
import { createNotifier, listenNotify, watchdogMs } from '../../src/systemd/notify.js';

let lab: Lab;
test.before(async () => { lab = await createLab('sdn', [{ name: 's1', addr: '192.0.2.11' }]); });
test.after.always(async () => { await lab?.destroy(); });

test('notifier and listener speak sd_notify over a path and an abstract socket; no NOTIFY_SOCKET is a no-op', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-sd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const path of [join(dir, 'notify'), `@duet-test-${process.pid}`]) {
    const l = listenNotify(path);
    const n = createNotifier({ NOTIFY_SOCKET: path });
    t.true(n.notify('READY=1'));
    t.true(n.notify('STATUS=VI_1 master'));
    t.deepEqual(l.read(), ['READY=1', 'STATUS=VI_1 master'], path);
    n.close();
    l.close();
  }
  t.false(createNotifier({}).notify('READY=1'));
  t.is(watchdogMs({ WATCHDOG_USEC: '3000000' }), 3000);
  t.is(watchdogMs({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '1' }, 2), undefined, 'meant for another process');
  t.is(watchdogMs({}), undefined);
});

test('the daemon: READY after start, watchdog pings, RELOADING/READY around a reload, STOPPING on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-sd-'));
  const path = join(dir, 'notify');
  const l = listenNotify(path);
  t.teardown(() => { l.close(); rmSync(dir, { recursive: true, force: true }); });
  const saved = { n: process.env['NOTIFY_SOCKET'], w: process.env['WATCHDOG_USEC'] };
  process.env['NOTIFY_SOCKET'] = path;
  process.env['WATCHDOG_USEC'] = '400000';
  const node = await startDuet(lab, 's1', pairConfig('s1', { ifname: lab.host('s1').ifname, priority: 150 }));
  for (const [k, v] of [['NOTIFY_SOCKET', saved.n], ['WATCHDOG_USEC', saved.w]] as const) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  t.teardown(() => node.cleanup());

  const got: string[] = [];
  const until = (pred: () => boolean, what: string) => waitFor(() => { got.push(...l.read()); return pred() || undefined; }, { timeoutMs: 5000, intervalMs: 20, what });
  await until(() => got.some((m) => m.startsWith('READY=1')), 'READY=1');
  t.regex(got.find((m) => m.startsWith('READY=1'))!, /^READY=1\nSTATUS=VI_1 (backup|init)$/);
  await node.waitState('VI_1', 'master');
  await until(() => got.includes('STATUS=VI_1 master'), 'STATUS after the transition');
  const before = got.filter((m) => m === 'WATCHDOG=1').length;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  got.push(...l.read());
  const pings = got.filter((m) => m === 'WATCHDOG=1').length - before;
  const s = (Date.now() - t0) / 1000;
  // One per 200 ms: ~15 in 3 s; a loaded machine may delay some, none may be missing altogether.
  t.true(pings >= 8 && pings <= 5 * s + 2, `about one ping per 200 ms: ${pings} in ${s.toFixed(1)} s`);

  node.kill('SIGHUP');
  await until(() => got.some((m) => m.startsWith('RELOADING=1')) && got.filter((m) => m.startsWith('READY=1')).length >= 2, 'RELOADING then READY');
  t.regex(got.find((m) => m.startsWith('RELOADING=1'))!, /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
  const i = got.findIndex((m) => m.startsWith('RELOADING=1'));
  t.true(got.slice(i).some((m) => m.startsWith('READY=1')), 'READY after RELOADING');

  node.kill('SIGTERM');
  await until(() => got.includes('STOPPING=1'), 'STOPPING=1');
  t.is(await node.exited(), 0);
});

test('the sandbox: every system call, socket family and write of the daemon and its scripts is one the unit allows', async (t) => {
  const [strace, analyze] = await Promise.all([run('strace', ['-V']), run('systemd-analyze', ['syscall-filter'])]);
  // scripts/setup.sh installs both: without them this test would pass having checked nothing.
  if (strace.missing || analyze.missing || analyze.code !== 0) { t.fail('strace or systemd-analyze missing (scripts/setup.sh installs strace and systemd)'); return; }
  const unit = readUnit();
  const allowed = allowedSyscalls(unit.get('SystemCallFilter') ?? [], parseSyscallGroups(analyze.stdout));
  const families = new Set((unit.get('RestrictAddressFamilies') ?? []).join(' ').split(/\s+/));
  const caps = (unit.get('CapabilityBoundingSet') ?? []).join(' ').split(/\s+/).map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',');
  t.true(allowed.size > 100 && families.size > 0 && caps.length > 0, 'the unit has a filter, families and capabilities');

  // The unit's resource limits (realtime: LimitRTPRIO=, LimitMEMLOCK=), set before the
  // capabilities go. Raising a hard limit needs CAP_SYS_RESOURCE, which a container may not give
  // this test: then the daemon runs without its realtime section.
  const limits = [`--rtprio=${unit.get('LimitRTPRIO')?.[0] ?? 0}`, `--memlock=${(unit.get('LimitMEMLOCK')?.[0] ?? '0').replace('infinity', 'unlimited')}`];
  const realtime = (await run('prlimit', [...limits, 'true'])).code === 0;
  if (!realtime) t.log(`cannot set ${limits.join(' ')} here (no CAP_SYS_RESOURCE?): realtime not covered`);

  // /run/duet in the unit; a private /tmp; /proc/sys (ipvs_sysctl); /dev/null and friends.
  const dir = mkdtempSync(join(tmpdir(), 'duet-sdn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const traceFile = join(dir, 'trace');
  const yaml = pairConfig('s1', {
    ifname: lab.host('s1').ifname, priority: 150,
    extra: `      notify: { master: [/bin/sh, -c, 'echo "$DUET_TO" > ${dir}/notified'] }
      track_script: [chk]
      witness: { targets: [192.0.2.11], interval: 0.2 }
  scripts:
    chk: { command: [/bin/true], interval: 0.2 }
metrics: { listen: '127.0.0.1:9479' }
${realtime ? 'realtime: { vrrp_priority: 20, check_priority: 10, lock_memory: true }' : ''}
${checkedServiceYaml('192.0.2.12')}`,
  });
  const wrap = ['strace', '-f', '-qq', '-s', '256', '-o', traceFile, ...(realtime ? ['prlimit', ...limits] : []),
    'setpriv', '--no-new-privs', `--bounding-set=-all,${caps}`, `--inh-caps=-all,${caps}`, `--ambient-caps=-all,${caps}`];
  const node = await startDuet(lab, 's1', yaml, { dir, wrap });
  t.teardown(() => node.cleanup());
  await node.waitState('VI_1', 'master');
  await waitFor(() => existsSync(join(dir, 'notified')) || undefined, { timeoutMs: 5000, what: 'the master notify script ran' });
  const scrape = await lab.exec('s1', [process.execPath, '-e', "fetch('http://127.0.0.1:9479/metrics').then(async (r) => process.stdout.write(r.status + ' ' + await r.text()))"]);
  t.regex(scrape.stdout, /^200 [^]*duet_vrrp_state/);
  t.is((await cli(node, ['status'])).code, 0);
  t.is((await cli(node, ['reload'])).code, 0);
  await new Promise((r) => setTimeout(r, 600)); // a few rounds of checks, track script, witness
  const pid = Number(/^(\d+) /.exec(readFileSync(traceFile, 'utf8'))?.[1]);
  t.true(pid > 1, 'the traced daemon has a pid');
  process.kill(pid, 'SIGTERM');
  t.is(await node.exited(), 0, 'a clean stop');

  const s = summarizeTrace(readFileSync(traceFile, 'utf8'), process.execPath);
  const calls = [...s.syscalls.keys()].sort();
  t.log(`${s.pids.size} processes and threads, ${calls.length} distinct system calls, families ${[...s.families].sort().join(' ')}`);
  t.true(calls.includes('sendmsg') || calls.includes('sendto'), 'the trace covers the daemon');
  t.deepEqual(calls.filter((c) => !allowed.has(c)), [], 'system calls outside SystemCallFilter=');
  t.deepEqual([...s.families].filter((f) => !families.has(f)), [], 'socket families outside RestrictAddressFamilies=');
  t.deepEqual(s.denied, [], 'refused with the unit\'s capabilities');
  t.deepEqual(node.logs.filter((l) => /^real-time scheduling|^memory lock/.test(l.msg)).map((l) => `${l.msg} ${String(l['thread'] ?? '')}`).sort(),
    realtime ? ['memory locked ', 'real-time scheduling on check', 'real-time scheduling on vrrp'] : [], 'realtime works with the unit\'s limits');
  const writable = [`${dir}/`, '/proc/sys/', '/tmp/', '/dev/null'];
  t.deepEqual([...s.written].filter((p) => !writable.some((w) => p.startsWith(w))), [], 'written outside /run/duet, /tmp, /proc/sys');
});
