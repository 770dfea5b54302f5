// The real-kernel harness itself: one VM (Debian's kernel in qemu) runs IPVS through ipvsadm in a
// network namespace, node, and the built duet CLI; a second shows that the script's exit code and
// stderr come back; a third that a hung VM is killed and reported. Root and qemu required
// (scripts/setup.sh installs qemu and prepares the kernel); nothing here is skipped.
import test from 'ava';
import { runInVm, VmError, type VmResult, describeVm } from '../../lab/vm.js';
import { VM_PRELUDE } from '../../lab/vm-shell.js';

// Sections are printed as "=== name" so each test reads its own part of the one VM's output.
const JOB = String.raw`
${VM_PRELUDE}section modprobe
modprobe -a ip_vs ip_vs_rr ip_vs_wrr && echo ok
section netns
# IPVS is per namespace; lo must be up or the kernel refuses real servers (EINVAL).
ip netns add lvs && ip -n lvs link set lo up && echo ok
section ipvsadm
ip netns exec lvs sh -c 'ipvsadm -A -t 192.0.2.100:80 -s rr &&
  ipvsadm -a -t 192.0.2.100:80 -r 192.0.2.21:80 -m -w 1 && ipvsadm -Ln'
echo "rc=$?"
section host-ns
# The service lives in the namespace only.
ipvsadm -Ln
section autoload
# Not loaded above: the kernel loads the scheduler through /proc/sys/kernel/modprobe.
ip netns exec lvs ipvsadm -A -t 192.0.2.100:443 -s sh && grep -o '^ip_vs_sh ' /proc/modules
section node
node -e 'const fs = require("node:fs"); console.log(JSON.stringify({ version: process.version, release: require("node:os").release(), ipvs: fs.existsSync("/proc/net/ip_vs"), cwd: process.cwd() }))'
section duet
node build/src/cli/duet.js check -c conf/duet.yaml
echo "rc=$?"
section end
`;

function sections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = '';
  for (const line of stdout.split('\n')) {
    const m = /^=== (\S+)$/.exec(line);
    if (m) {
      name = m[1]!;
      out.set(name, '');
    } else if (name) out.set(name, out.get(name)! + line + '\n');
  }
  return out;
}

let vm: VmResult;
test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
let part: Map<string, string>;

test.before(async () => {
  vm = await runInVm(JOB, { timeoutMs: 90_000 });
  part = sections(vm.stdout);
});

function section(name: string): string {
  const s = part.get(name);
  if (s === undefined) throw new Error(`no section ${name} in the VM's output:\n${vm.stdout}\n--- stderr:\n${vm.stderr}`);
  return s;
}

test('the VM boots Debian\'s kernel and runs the whole job', (t) => {
  t.log(`boot ${vm.bootMs} ms, total ${vm.totalMs} ms (qemu start to job start / to exit)`);
  t.is(vm.code, 0, vm.stderr);
  t.true(part.has('end'), vm.stdout);
  t.true(vm.bootMs > 0 && vm.bootMs <= vm.totalMs);
});

test('ip_vs and schedulers load as modules', (t) => {
  t.is(section('modprobe').trim(), 'ok', vm.stderr);
  t.is(section('autoload').trim(), 'ip_vs_sh', vm.stderr);
});

test('ipvsadm lists an rr service with a Masq real server in a network namespace', (t) => {
  t.is(section('netns').trim(), 'ok', vm.stderr);
  const out = section('ipvsadm');
  t.regex(out, /^IP Virtual Server version \d+\.\d+\.\d+/m);
  t.regex(out, /^TCP\s+192\.0\.2\.100:80 rr\s*$/m);
  t.regex(out, /^\s+-> 192\.0\.2\.21:80\s+Masq\s+1\s+0\s+0\s*$/m);
  t.regex(out, /^rc=0$/m);
  t.notRegex(section('host-ns'), /192\.0\.2\.100/);
});

test('node runs inside the VM, in the project root', (t) => {
  const info = JSON.parse(section('node')) as { version: string; release: string; ipvs: boolean; cwd: string };
  t.is(info.version, process.version);
  t.regex(info.release, /^6\.1\.\d+-\d+-amd64$/);
  t.true(info.ipvs);
  t.is(info.cwd, process.cwd());
});

test('the built duet CLI runs inside the VM', (t) => {
  const out = section('duet');
  t.regex(out, /^conf\/duet\.yaml: ok/m, vm.stderr);
  t.regex(out, /^rc=0$/m);
});

test('a failing script returns its exit code and stderr', async (t) => {
  const r = await runInVm('echo before; echo oops >&2; exit 7\necho after\n', { timeoutMs: 60_000 });
  t.log(`no-op job: boot ${r.bootMs} ms, total ${r.totalMs} ms`);
  t.is(r.code, 7);
  t.is(r.stdout, 'before\n');
  t.is(r.stderr, 'oops\n');
});

test('a VM that outlives its time-out is killed and reported, not skipped', async (t) => {
  const started = Date.now();
  const err = await t.throwsAsync(runInVm('sleep 600', { timeoutMs: 8_000 }), { instanceOf: VmError });
  t.is(err?.code, 'DUET_E_VM');
  t.regex(err?.message ?? '', /timed out/);
  t.true(Date.now() - started < 30_000);
});
