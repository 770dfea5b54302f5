// The Debian package on a real kernel with IPVS, under real systemd (VM tier): the .deb `npm run
// package` builds (here, on the host) is installed with dpkg in a VM whose PID 1 is the host's
// systemd (its root is the host's, read-only under a tmpfs overlay, so the install vanishes with
// the VM). `systemctl start duet` runs the hardened unit as shipped (Type=notify, the sandbox,
// RuntimeDirectory=, the watchdog): it must become active (READY=1), program the kernel's IPVS
// table and add the VIP from /etc/duet/duet.yaml, answer `duet status` through /run/duet, reload
// on `systemctl reload`, and stop cleanly with `systemctl stop`. The install in a throw-away root
// with lintian, conffile, man pages, completion and purge is test/netns/pkg.test.ts; the system
// calls the daemon makes against the unit's filter, test/netns/systemd.test.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { runInVm, describeVm, type VmResult } from '../../lab/vm.js';
import { VM_PRELUDE, vmSection } from '../../lab/vm-shell.js';

const CONFIG = `node: { name: p1 }
vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, priority: 150, advert_int: 0.5, virtual_ipaddress: [192.0.2.100/24] }
virtual_servers:
  - name: web
    address: 192.0.2.100
    port: 80
    scheduler: wrr
    lb_kind: dr
    real_servers:
      - { address: 192.0.2.21, weight: 3 }
`;

const job = (deb: string): string => String.raw`
${VM_PRELUDE}
fail() { echo "FAIL: $*"; systemctl --no-pager status duet 2>&1 | tail -n 20; journalctl --no-pager -u duet | tail -n 40; exit 1; }
T0=$(epoch_ms); mark() { echo "[$(( $(epoch_ms) - T0 )) ms] $1" >&2; }
show() { systemctl show duet -p ActiveState -p SubState -p Result -p ExecMainStatus -p StatusText -p NRestarts; }
section boot
echo "pid1=$(cat /proc/1/comm)"
section install; mark install
dpkg -i --force-depends ${deb} > /tmp/pkg-install.log 2>&1; echo "dpkg=$?"
tail -n 5 /tmp/pkg-install.log
ls -l /usr/bin/duet /lib/systemd/system/duet.service
/usr/bin/duet --version
echo "enabled=$(systemctl is-enabled duet)"
echo "active=$(systemctl is-active duet)"
section start; mark start
ip link add eth0 type dummy && ip addr add 192.0.2.11/24 dev eth0 && ip link set eth0 up
cat > /etc/duet/duet.yaml <<'YAML'
${CONFIG}YAML
t0=$(epoch_ms)
systemctl start duet; echo "start=$? in $(( $(epoch_ms) - t0 )) ms"
show
waitfor 60 'ipvsadm -Ln | grep -q "192.0.2.21:80"' || fail "IPVS not programmed"
waitfor 60 'ip -o addr show dev eth0 | grep -q 192.0.2.100' || fail "no VIP"
section ipvs; mark ipvs
ipvsadm -Ln
ip -o -4 addr show dev eth0 | awk '{print $4}'
section status; mark status
ls -ld /run/duet
duet status | head -n 5
section reload; mark reload
sed -i 's/weight: 3/weight: 4/' /etc/duet/duet.yaml
systemctl reload duet; echo "reload=$?"
waitfor 60 'ipvsadm -Ln | grep -q "192.0.2.21:80 *Route *4"' || fail "reload not applied"
show
ipvsadm -Ln | grep 192.0.2.21
section stop; mark stop
systemctl stop duet; echo "stop=$?"
show
ipvsadm -Ln | grep -c 192.0.2.21 || true
echo "vip=$(ip -o -4 addr show dev eth0 | grep -c 192.0.2.100)"
ls /run/duet 2>&1 | head -n 1
section journal; mark journal
journalctl --no-pager -u duet -o cat | grep -E 'READY|master|reload|stopping|stopped|error|denied|EPERM' | head -n 20
section end
`;

let vm: VmResult | undefined;
// Under /tmp on purpose: the VM's systemd must leave the host's /tmp alone (scripts/vm/init).
const work = mkdtempSync(join(tmpdir(), 'duet-vmpkg-'));
test.before(async (t) => {
  t.timeout(900_000);
  // The package as `npm run package` builds it, in a child (the build takes ~20 s, minutes under load).
  const deb = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [fileURLToPath(new URL('../../lab/pkg-build.js', import.meta.url)), '--out', work], { timeout: 600_000, maxBuffer: 16 << 20 },
      (e, stdout, stderr) => (e ? reject(new Error(`npm run package failed: ${stderr}`)) : resolve(stdout.trim())));
  });
  vm = await runInVm(job(deb), { timeoutMs: 300_000, memMb: 768, systemd: true });
});
test.after.always(() => { rmSync(work, { recursive: true, force: true }); });
test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
const part = (name: string): string => vmSection(vm?.stdout ?? '', name);

test('the package installs in the VM, enabled but not started', (t) => {
  t.log(`VM boot to job ${vm?.bootMs} ms, whole job ${vm?.totalMs} ms; ${part('start').split('\n')[0]}`);
  t.log(part('journal'));
  t.log(vm?.stderr.split('\n').filter((l) => l.startsWith('[')).join(', '));
  t.is(vm?.code, 0);
  t.regex(part('boot'), /^pid1=systemd$/m);
  t.regex(part('install'), /^dpkg=0$/m);
  t.regex(part('install'), /\/usr\/bin\/duet\n/);
  t.regex(part('install'), /^duet \d+\.\d+\.\d+/m);
  t.regex(part('install'), /^enabled=enabled$/m);
  t.regex(part('install'), /^active=inactive$/m);
});

test('systemctl start: the sandboxed unit becomes active (READY=1), programs IPVS and adds the VIP', (t) => {
  t.regex(part('start'), /^start=0 /m);
  t.regex(part('start'), /^ActiveState=active$/m);
  t.regex(part('start'), /^SubState=running$/m);
  t.regex(part('start'), /^StatusText=VI_1 /m);
  t.regex(part('ipvs'), /TCP {2}192\.0\.2\.100:80 wrr\n {2}-> 192\.0\.2\.21:80 +Route +3 /);
  t.regex(part('ipvs'), /^192\.0\.2\.100\/24$/m);
});

test('duet status answers through /run/duet (RuntimeDirectory=, 0711)', (t) => {
  t.regex(part('status'), /^drwx--x--x .* \/run\/duet$/m);
  t.regex(part('status'), /VI_1/);
  t.regex(part('status'), /MASTER/);
});

test('systemctl reload applies the edited file; systemctl stop is clean and leaves nothing behind', (t) => {
  t.regex(part('reload'), /^reload=0$/m);
  t.regex(part('reload'), /^ActiveState=active$/m);
  t.regex(part('reload'), /^NRestarts=0$/m);
  t.regex(part('stop'), /^stop=0$/m);
  t.regex(part('stop'), /^ActiveState=inactive$/m);
  t.regex(part('stop'), /^Result=success$/m);
  t.regex(part('stop'), /^vip=0$/m);
  t.regex(part('stop'), /No such file or directory/, 'RuntimeDirectory= removed on stop');
  t.notRegex(part('journal'), /denied|EPERM/i, 'nothing refused by the sandbox');
});
