// Connection sync on the real kernel (VM tier), one VM, namespaces on a bridge: two directors
// running duet with sync_daemon following VI_1, a DR real server, a client. The kernel's sync
// daemons follow VRRP (master daemon on the master, backup daemon on the backup, as
// `ipvsadm -L --daemon` shows); a connection through the master appears in the backup's
// connection table; after a manual failover the daemons swap and the client's established
// connection carries on through the new master. Both directors export metrics: the Grafana
// dashboard's queries are checked against their live scrapes.
import { writeFileSync } from 'node:fs';
import test from 'ava';
import { VM_PRELUDE, vmSection } from '../../lab/vm-shell.js';
import { vmJob } from '../helpers/vm-job.js';
import { dashboardQueries, missing } from '../../lab/dashboard.js';

const CONFIG = (name: string, priority: number) => `
node: { name: ${name} }
vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, priority: ${priority}, advert_int: 1, virtual_ipaddress: [192.0.2.100/24] }
sync_daemon: { interface: eth0, instance: VI_1, syncid: 7 }
metrics: { listen: '0.0.0.0:9469' }
virtual_servers:
  - name: echo
    address: 192.0.2.100
    port: 7
    scheduler: rr
    lb_kind: dr
    checks: [{ type: tcp, interval: 1, timeout: 0.9, rise: 1, fall: 3 }]
    real_servers:
      - { address: 192.0.2.21 }
`;

const ECHO = String.raw`
import net from 'node:net';
net.createServer((c) => { c.on('error', () => {}); c.pipe(c); }).listen(7, '0.0.0.0', () => console.log('listening'));
`;

const JOB = String.raw`
${VM_PRELUDE}fail() { echo "FAIL: $*"; for n in d1 d2; do echo "--- $n"; cat /tmp/lab/$n.log; done; exit 1; }
mkdir -p /tmp/lab
cat > /tmp/lab/echo.mjs <<'JS'
${ECHO}
JS
cat > /tmp/lab/d1.yaml <<'YAML'
${CONFIG('d1', 150)}
YAML
cat > /tmp/lab/d2.yaml <<'YAML'
${CONFIG('d2', 100)}
YAML
mklan
addhost c 192.0.2.50; addhost d1 192.0.2.11; addhost d2 192.0.2.12; addhost rs1 192.0.2.21
# DR real server: the VIP on lo, no ARP for it.
dr_realserver rs1 192.0.2.100
ip netns exec rs1 node /tmp/lab/echo.mjs > /tmp/lab/rs1.log 2>&1 &
# Each director has its own state directory (the socket's).
for n in d1 d2; do
  mkdir -p /tmp/lab/$n
  ip netns exec $n node build/src/cli/duet.js run -c /tmp/lab/$n.yaml -s /tmp/lab/$n/duet.sock > /tmp/lab/$n.log 2>&1 &
done
duet() { local n=$1; shift; ip netns exec $n node build/src/cli/duet.js "$@" -s /tmp/lab/$n/duet.sock 2>&1; }
daemons() { ip netns exec $1 ipvsadm -L --daemon; }
waitfor 120 'grep -q "sync daemon started" /tmp/lab/d1.log && grep -q "sync daemon started" /tmp/lab/d2.log' || fail "duet not up"
waitfor 30 'ip -n d1 addr show eth0 | grep -q 192.0.2.100 && daemons d1 | grep -q master' || fail "d1 never master with a master daemon"
# Both start together in a slow VM: d2 may be a moment behind switching its daemon to backup.
waitfor 30 'daemons d2 | grep -q "^backup" && ! daemons d2 | grep -q "^master"' || fail "d2 never settled with a backup daemon"
waitfor 30 'grep -q listening /tmp/lab/rs1.log' || fail "echo server not up"

section daemons
echo "d1:"; daemons d1
echo "d2:"; daemons d2

section conn
# The client keeps one connection open and echoes numbered lines on request (a line in /tmp/lab/go).
ip netns exec c bash -c '
  exec 3<>/dev/tcp/192.0.2.100/7 || exit 1
  for i in 1 2 3; do
    while [ ! -e /tmp/lab/go$i ]; do sleep 0.1; done
    echo "line $i" >&3
    if read -t 10 reply <&3; then echo "got $reply"; else echo "lost $i"; fi
  done' > /tmp/lab/client.log 2>&1 &
touch /tmp/lab/go1
waitfor 10 'grep -q "got line 1" /tmp/lab/client.log' || fail "no echo through d1: $(cat /tmp/lab/client.log)"
echo "d1:"; ip netns exec d1 ipvsadm -Lnc
waitfor 10 'ip netns exec d2 ipvsadm -Lnc | grep -q "192.0.2.50"' || { ip netns exec d2 ipvsadm -Lnc; fail "connection never synced to d2"; }
echo "d2:"; ip netns exec d2 ipvsadm -Lnc

section failover
duet d1 failover
waitfor 10 'daemons d2 | grep -q master && daemons d1 | grep -q backup' || fail "daemons did not swap"
echo "d1:"; daemons d1
echo "d2:"; daemons d2
touch /tmp/lab/go2
waitfor 15 'grep -q "got line 2\|lost 2" /tmp/lab/client.log'
cat /tmp/lab/client.log
echo "d2 conns:"; ip netns exec d2 ipvsadm -Lnc

section metrics
# Both directors' scrapes in one node process (each process start costs seconds here); the
# dashboard's queries are checked against them on the host (docs/grafana/duet.json).
ip netns exec c node -e '
  const get = (h) => fetch("http://" + h + ":9469/metrics").then((r) => r.text(), (e) => "ERR " + e.message);
  Promise.all([get("192.0.2.11"), get("192.0.2.12")]).then(([a, b]) => process.stdout.write("--- d1\n" + a + "\n--- d2\n" + b + "\n"));
'

section stop
for n in d1 d2; do kill -TERM $(pgrep -f "duet.js run -c /tmp/lab/$n.yaml"); done
sleep 3
echo "d1 after stop:"; daemons d1
section log
grep -h '"mod":"sync"' /tmp/lab/d1.log /tmp/lab/d2.log
section end
`;


const job = vmJob(JOB, { timeoutMs: 240_000 });
const part = job.part;

test('the VM job ran to the end', (t) => {
  t.log(`boot ${job.vm.bootMs} ms, total ${job.vm.totalMs} ms`);
  t.is(job.vm.code, 0, job.vm.stdout.slice(-4000) + job.vm.stderr.slice(-2000));
  t.regex(job.vm.stdout, /=== end/);
});

test('the kernel sync daemons follow VRRP: master daemon on the master, backup daemon on the backup', (t) => {
  const d = part('daemons');
  t.regex(d, /d1:\nmaster sync daemon \(mcast=eth0, syncid=7/);
  t.notRegex(d.split('d2:')[0]!, /backup sync daemon/);
  t.regex(d.split('d2:')[1]!, /^backup sync daemon \(mcast=eth0, syncid=7/m);
});

test('a connection through the master is in the backup\'s table', (t) => {
  const d2 = part('conn').split('d2:')[1] ?? '';
  t.regex(d2, /TCP .* 192\.0\.2\.50:\d+ +192\.0\.2\.100:7 +192\.0\.2\.21:7/);
});

test('after a manual failover the daemons swap and the established connection carries on', (t) => {
  const f = part('failover');
  t.regex(f, /VI_1: master -> backup in \d+ ms; master now 192\.0\.2\.12/);
  t.regex(f, /d1:\nbackup sync daemon/);
  t.regex(f, /d2:\nmaster sync daemon/);
  t.regex(f, /got line 1\ngot line 2/, 'the second line was echoed through d2 on the same connection');
  t.regex(part('stop'), /d1 after stop:\nbackup sync daemon/, 'a stopped node leaves the backup daemon for its restart');
});

test('the Grafana dashboard\'s queries read metrics and labels both live directors export', (t) => {
  const [d1 = '', d2 = ''] = part('metrics').split(/^--- d[12]$/m).slice(1);
  t.regex(d1, /^duet_operator_override\{vrrp_instance="VI_1",mode="failover"\} 1$/m, 'd1 handed over by the operator');
  t.regex(d2, /^duet_sync_daemon\{state="master"\} 1$/m);
  t.regex(d1, /^duet_ipvs_connections_total\{service="tcp:192\.0\.2\.100:7",server="192\.0\.2\.21:7"\} [1-9]/m, 'the client was scheduled through d1');
  t.deepEqual(missing(dashboardQueries(), [d1, d2]), []);
});
