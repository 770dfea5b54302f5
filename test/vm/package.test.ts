// The Debian package on a real kernel with IPVS (VM tier): the .deb `npm run package` builds
// (here, on the host) is installed with dpkg in the VM (its root is the host's, read-only under a
// tmpfs overlay, so the install vanishes with the VM), and the daemon is started as the unit's
// ExecStart starts it, with RuntimeDirectory= made and a NOTIFY_SOCKET listened on (systemd's
// part: the VM runs no systemd). It reaches READY=1 and programs the kernel's IPVS table from
// /etc/duet/duet.yaml; SIGTERM stops it cleanly. The install in a throw-away root with lintian,
// conffile, man pages, completion and purge is test/netns/pkg.test.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { runInVm, describeVm, type VmResult } from '../../lab/vm.js';
import { VM_PRELUDE, vmSection } from '../../lab/vm-shell.js';
import { UNIT_FILE, unitSection } from '../../lab/systemd-unit.js';

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

const execStart = unitSection(readFileSync(UNIT_FILE, 'utf8'), 'Service').get('ExecStart')?.[0] ?? '';

const job = (deb: string): string => String.raw`
${VM_PRELUDE}
fail() { echo "FAIL: $*"; cat /tmp/pkg/daemon.log 2>/dev/null | tail -n 30; exit 1; }
mkdir -p /tmp/pkg
section install
dpkg -i --force-depends ${deb} > /tmp/pkg/install.log 2>&1; echo "dpkg=$?"
tail -n 5 /tmp/pkg/install.log
ls -l /usr/bin/duet /lib/systemd/system/duet.service
/usr/bin/duet --version
section start
modprobe -a ip_vs ip_vs_wrr
ip netns add p && ip -n p link set lo up
ip -n p link add eth0 type dummy && ip -n p addr add 192.0.2.11/24 dev eth0 && ip -n p link set eth0 up
cat > /etc/duet/duet.yaml <<'YAML'
${CONFIG}YAML
mkdir -m 0711 /run/duet
# systemd's part: a datagram socket for sd_notify, read by a small listener.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/tmp/pkg/notify")
open("/tmp/pkg/listening", "w").close()
while True:
    m = s.recv(4096).decode()
    with open("/tmp/pkg/notify.log", "a") as f: f.write(m.replace("\n", " ") + "\n")
' &
waitfor 60 '[ -e /tmp/pkg/listening ]' || fail "notify listener"
ip netns exec p env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET=/tmp/pkg/notify ${execStart} > /tmp/pkg/daemon.log 2>&1 &
pid=$!
waitfor 240 'grep -q "^READY=1" /tmp/pkg/notify.log 2>/dev/null' || fail "no READY=1"
grep "^READY=1" /tmp/pkg/notify.log
waitfor 60 'ip netns exec p ipvsadm -Ln | grep -q "192.0.2.21:80"' || fail "IPVS not programmed"
section ipvs
ip netns exec p ipvsadm -Ln
section stop
kill -TERM $pid; wait $pid; echo "exit=$?"
grep "^STOPPING=1" /tmp/pkg/notify.log
section end
`;

let vm: VmResult | undefined;
const work = mkdtempSync(join(tmpdir(), 'duet-vmpkg-'));
test.before(async (t) => {
  t.timeout(900_000);
  // The package as `npm run package` builds it, in a child (the build takes ~20 s, minutes under load).
  const deb = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [fileURLToPath(new URL('../../lab/pkg-build.js', import.meta.url)), '--out', work], { timeout: 600_000, maxBuffer: 16 << 20 },
      (e, stdout, stderr) => (e ? reject(new Error(`npm run package failed: ${stderr}`)) : resolve(stdout.trim())));
  });
  vm = await runInVm(job(deb), { timeoutMs: 300_000, memMb: 768 });
});
test.after.always(() => { rmSync(work, { recursive: true, force: true }); });
test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
const part = (name: string): string => vmSection(vm?.stdout ?? '', name);

test('the package installs in the VM and duet runs from it', (t) => {
  t.is(vm?.code, 0);
  t.regex(part('install'), /^dpkg=0$/m);
  t.regex(part('install'), /\/usr\/bin\/duet\n/);
  t.regex(part('install'), /^duet \d+\.\d+\.\d+/m);
});

test('started as the unit starts it: READY=1, the IPVS table from /etc/duet/duet.yaml, a clean stop', (t) => {
  t.is(execStart, '/usr/bin/duet run -c /etc/duet/duet.yaml');
  t.regex(part('start'), /^READY=1 STATUS=VI_1 /m);
  t.regex(part('ipvs'), /TCP {2}192\.0\.2\.100:80 wrr\n {2}-> 192\.0\.2\.21:80 +Route +3 /);
  t.regex(part('stop'), /^exit=0\nSTOPPING=1/m);
});
