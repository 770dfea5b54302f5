// The shipped unit's sandbox: `systemd-analyze security` rates systemd/duet.service below 4.0
// (skipped where systemd-analyze or its --offline mode is missing), the settings the daemon
// cannot live without are not there, and the helpers that read units and strace logs (used by
// test/netns/systemd.test.ts) read them right.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { UNIT_FILE, allowedSyscalls, parseSyscallGroups, readUnit, run, summarizeTrace, unitSection } from '../../lab/systemd-unit.js';

test('systemd-analyze security rates the unit below 4.0', async (t) => {
  const r = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT_FILE]);
  // scripts/setup.sh installs systemd (Debian 12: 252, which has --offline).
  if (r.missing) { t.fail('systemd-analyze not installed (scripts/setup.sh installs systemd)'); return; }
  if (/unrecognized option|unknown option/i.test(r.stderr)) { t.fail(`systemd-analyze has no --offline (systemd < 250): ${r.stderr.trim()}`); return; }
  const m = /Overall exposure level for [^:]+: ([0-9.]+) (\w+)/.exec(r.stdout);
  t.truthy(m, `no exposure line in:\n${r.stdout}\n${r.stderr}`);
  const exposure = Number(m![1]);
  t.log(`systemd-analyze security ${UNIT_FILE}: exposure ${exposure} ${m![2]}`);
  t.true(exposure < 4.0, `exposure ${exposure}; what is still open:\n${r.stdout.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
});

test('the unit leaves what the daemon needs: /proc/sys writable, W^X memory for the JIT, its families and capabilities', (t) => {
  const u = readUnit();
  t.false(u.has('ProtectKernelTunables'), 'ipvs_sysctl writes /proc/sys/net/ipv4/vs/*');
  t.false(u.has('MemoryDenyWriteExecute'), "V8's JIT");
  t.false(u.has('ProcSubset'), '/proc/net/ip_vs_conn and /proc/sys');
  t.false(u.has('PrivateNetwork'));
  t.deepEqual(u.get('RestrictAddressFamilies')?.join(' ').split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET', 'AF_UNIX']);
  t.deepEqual(u.get('CapabilityBoundingSet')?.join(' ').split(/\s+/).sort(), ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_NET_RAW'], 'CAP_CHOWN only for the status socket');
  t.deepEqual(u.get('SystemCallErrorNumber'), ['EPERM'], 'a call outside the filter fails instead of killing the daemon');
  t.deepEqual(u.get('RuntimeDirectory'), ['duet']);
  t.regex(readFileSync(UNIT_FILE, 'utf8'), /^Wants=modprobe@ip_vs\.service$/m);
});

test('the unit permits realtime: scheduling and memory locking by limits, not capabilities, and no swap', (t) => {
  const u = readUnit();
  t.deepEqual(u.get('RestrictRealtime'), ['no'], 'the seccomp filter RestrictRealtime=yes installs refuses SCHED_FIFO/RR');
  const rtprio = Number(u.get('LimitRTPRIO')?.[0]);
  t.true(rtprio >= 1 && rtprio <= 99, 'LimitRTPRIO= lets duet ask for realtime.vrrp_priority / check_priority without CAP_SYS_NICE');
  t.deepEqual(u.get('LimitMEMLOCK'), ['infinity'], 'realtime.lock_memory without CAP_IPC_LOCK');
  t.deepEqual(u.get('MemorySwapMax'), ['0'], 'the heap V8 cannot have locked stays out of swap');
  const caps = u.get('CapabilityBoundingSet')?.join(' ') ?? '';
  t.notRegex(caps, /CAP_SYS_NICE|CAP_IPC_LOCK/);
});

test('unitSection: sections, repeated keys, an empty assignment resets', (t) => {
  const u = unitSection('[Unit]\nA=1\n[Service]\n# c\nX=a b\nX=c\nY=1\nY=\nZ = 2\n[Install]\nX=no\n', 'Service');
  t.deepEqual([...u], [['X', ['a b', 'c']], ['Z', ['2']]]);
});

test('allowedSyscalls: groups expand recursively, ~ removes', (t) => {
  const groups = parseSyscallGroups('@a\n    # comment\n    @b\n    read\n\n@b\n    write\n    close\n\n# Ungrouped\n#   foo\n');
  t.deepEqual([...groups], [['@a', ['@b', 'read']], ['@b', ['write', 'close']]]);
  t.deepEqual([...allowedSyscalls(['@a', '~close', 'openat'], groups)].sort(), ['openat', 'read', 'write']);
  t.throws(() => allowedSyscalls(['@nope'], groups), { message: /unknown system call group @nope/ });
});

test('summarizeTrace: calls from the exec on, socket families, refusals, paths written', (t) => {
  const log = [
    '10 prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0',
    '10 execve("/usr/bin/node", ["node"], 0x1 /* 3 vars */) = 0',
    '10 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 3',
    '11 socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP) <unfinished ...>',
    '11 <... socket resumed>) = 4',
    '10 openat(AT_FDCWD, "/run/duet/x.tmp", O_WRONLY|O_CREAT|O_EXCL, 0600) = 5',
    '10 openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 6',
    '10 openat(AT_FDCWD, "/etc/nope", O_WRONLY|O_CREAT, 0666) = -1 EROFS (Read-only file system)',
    '10 rename("/run/duet/x.tmp", "/run/duet/x") = 0',
    '10 bind(7, {sa_family=AF_UNIX, sun_path="/run/duet/duet.sock"}, 22) = 0',
    '10 chown("/run/duet/duet-status.sock", 0, 4) = -1 EPERM (Operation not permitted)',
  ].join('\n');
  const s = summarizeTrace(log, '/usr/bin/node');
  t.false(s.syscalls.has('prctl'), "setpriv's part is systemd's");
  t.is(s.syscalls.get('socket'), 2);
  t.deepEqual([...s.families].sort(), ['AF_NETLINK', 'AF_PACKET']);
  t.deepEqual([...s.written].sort(), ['/run/duet/duet.sock', '/run/duet/x', '/run/duet/x.tmp']);
  t.is(s.denied.length, 1);
  t.regex(s.denied[0]!, /^chown\("\/run\/duet\/duet-status.sock"/);
  t.deepEqual([...s.pids].sort(), [10, 11]);
});
