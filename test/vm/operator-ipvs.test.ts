// Real-server operator commands against the real kernel (VM tier), through the CLI: weight pins
// a weight, disable/enable take a server out and back, and drain sets weight 0, reports progress
// while the server still has active connections (a client holds two through the VIP, NAT mode)
// and finishes when they close; a drain that cannot finish in time says how many are left.
import { writeFileSync } from 'node:fs';
import test from 'ava';
import { vmJob } from '../helpers/vm-job.js';
import { VM_PRELUDE } from '../../lab/vm-shell.js';

const CONFIG = `
node: { name: lb1 }
metrics: { listen: '127.0.0.1:9469' }
vrrp:
  instances:
    - { name: VI_1, interface: ethc, vrid: 51, priority: 150, advert_int: 0.1, virtual_ipaddress: [10.0.1.100/24] }
virtual_servers:
  - name: web
    address: 10.0.1.100
    port: 80
    scheduler: rr
    lb_kind: nat
    real_servers:
      - { address: 10.0.2.21, port: 8080 }
      - { address: 10.0.2.22, port: 8080 }
`;

const ECHO = String.raw`
import net from 'node:net';
net.createServer((c) => { c.on('error', () => {}); c.pipe(c); }).listen(8080, process.argv[2], () => console.log('listening'));
`;

const JOB = String.raw`
${VM_PRELUDE}fail() { echo "FAIL: $*"; section log; cat /tmp/lab/log; exit 1; }
mkdir -p /tmp/lab
cat > /tmp/lab/duet.yaml <<'YAML'
${CONFIG}
YAML
cat > /tmp/lab/echo.mjs <<'JS'
${ECHO}
JS
ip netns add c; ip netns add d
ip -n c link set lo up; ip -n d link set lo up
ip link add ethc netns d type veth peer name eth0 netns c
ip -n c addr add 10.0.1.2/24 dev eth0 && ip -n c link set eth0 up
ip -n d link set ethc up && ip -n d addr add 10.0.1.1/24 dev ethc
ip -n d link add brr type bridge && ip -n d addr add 10.0.2.1/24 dev brr && ip -n d link set brr up
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
for n in 1 2; do
  ip netns add rs$n && ip -n rs$n link set lo up
  ip link add rs$n-e type veth peer name eth0 netns rs$n
  ip link set rs$n-e netns d && ip -n d link set rs$n-e master brr && ip -n d link set rs$n-e up
  ip -n rs$n addr add 10.0.2.2$n/24 dev eth0 && ip -n rs$n link set eth0 up && ip -n rs$n route add default via 10.0.2.1
  ip netns exec rs$n node /tmp/lab/echo.mjs 10.0.2.2$n > /tmp/lab/rs$n.log 2>&1 &
done
duet() { ip netns exec d node build/src/cli/duet.js "$@" -s /tmp/lab/duet.sock 2>&1; }
ip netns exec d node build/src/cli/duet.js run -c /tmp/lab/duet.yaml -s /tmp/lab/duet.sock > /tmp/lab/log 2>&1 &
dpid=$!
table() { ip netns exec d ipvsadm -Ln; }
waitfor 180 'grep -q "IPVS table" /tmp/lab/log && ip -n d addr show ethc | grep -q 10.0.1.100' || fail "duet not up"
for n in 1 2; do waitfor 90 "grep -q listening /tmp/lab/rs$n.log" || fail "rs$n not listening"; done

section weight
duet weight web 10.0.2.21 5; echo "exit=$?"
table
section disable
duet disable web 10.0.2.22:8080; echo "exit=$?"
table
section enable
duet enable web 10.0.2.22; echo "exit=$?"
duet weight web 10.0.2.21 --clear; echo "exit=$?"
table
section bad
duet weight web 10.0.2.99 3; echo "exit=$?"
duet drain nosuch 10.0.2.21; echo "exit=$?"

section drain
# Two connections held open through the VIP (rr: one on each server), echoing a line each.
# (They close only when the drain has shown progress: node starts slowly in this VM.)
ip netns exec c bash -c 'exec 3<>/dev/tcp/10.0.1.100/80 4<>/dev/tcp/10.0.1.100/80; echo a >&3; echo b >&4; read x <&3; read y <&4; echo "held $x $y"; while [ ! -e /tmp/lab/close ]; do sleep 0.2; done; exec 3>&- 4>&-; echo closed; sleep 1' > /tmp/lab/client.log 2>&1 &
waitfor 30 'grep -q held /tmp/lab/client.log' || fail "client never got its echoes"
table
( duet drain web 10.0.2.21 --timeout 60; echo "exit=$?" ) > /tmp/lab/drain.out &
waitfor 60 'grep -q draining /tmp/lab/drain.out' || fail "no drain progress: $(cat /tmp/lab/drain.out)"
sleep 1; touch /tmp/lab/close
waitfor 90 'grep -q exit= /tmp/lab/drain.out' || fail "drain never finished"
cat /tmp/lab/drain.out
cat /tmp/lab/client.log
table

section drain-timeout
# Held until the drain has given up (node takes seconds to start here; a timed hold could end first).
ip netns exec c bash -c 'exec 3<>/dev/tcp/10.0.1.100/80; echo c >&3; read x <&3; echo "held $x"; while [ ! -e /tmp/lab/close2 ]; do sleep 0.2; done' > /tmp/lab/client2.log 2>&1 &
waitfor 30 'grep -q held /tmp/lab/client2.log' || fail "second client never got its echo"
duet drain web 10.0.2.22 --timeout 2; echo "exit=$?"
touch /tmp/lab/close2

section metrics
ip netns exec d node -e "fetch('http://127.0.0.1:9469/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))" | grep -E '^duet_(ipvs|reconcile)_'
section status
duet status
section stop
kill -TERM $dpid; wait $dpid; echo "exit=$?"
section end
`;


const job = vmJob(JOB, { timeoutMs: 240_000 });
const part = job.part;

test('the VM job ran to the end', (t) => {
  t.log(`boot ${job.vm.bootMs} ms, total ${job.vm.totalMs} ms`);
  t.is(job.vm.code, 0, job.vm.stdout.slice(-4000) + job.vm.stderr.slice(-2000));
  t.regex(job.vm.stdout, /=== end/);
  t.regex(part('stop'), /exit=0/);
});

test('weight pins a weight in the kernel; disable takes a server out; enable and --clear give it back', (t) => {
  t.regex(part('weight'), /10\.0\.2\.21:8080 in web: weight pinned at 5\nexit=0/);
  t.regex(part('weight'), /  -> 10\.0\.2\.21:8080 +Masq +5 /);
  t.regex(part('disable'), /10\.0\.2\.22:8080 in web: disabled\nexit=0/);
  t.notRegex(part('disable'), /10\.0\.2\.22:8080 +Masq/);
  const e = part('enable');
  t.regex(e, /10\.0\.2\.22:8080 in web: no override \(config and checks decide\)\nexit=0/);
  t.regex(e, /  -> 10\.0\.2\.21:8080 +Masq +1 /);
  t.regex(e, /  -> 10\.0\.2\.22:8080 +Masq +1 /);
});

test('unknown services and servers are refused with what exists', (t) => {
  const b = part('bad');
  t.regex(b, /duet: no single real server '10\.0\.2\.99' in web \(have: 10\.0\.2\.21:8080, 10\.0\.2\.22:8080\) \[DUET_E_NO_SERVER\]\nexit=1/);
  t.regex(b, /duet: no virtual server 'nosuch' \(have: web\) \[DUET_E_NO_SERVER\]\nexit=1/);
});

test('drain sets weight 0, shows progress while connections are active, and ends when they close', (t) => {
  const d = part('drain');
  t.regex(d, /  -> 10\.0\.2\.21:8080 +Masq +1 +1 /, 'one active connection on rs1 before the drain');
  t.regex(d, /^draining 10\.0\.2\.21:8080 in web: 1 active, 0 inactive \([\d.]+ s\)$/m);
  const done = /10\.0\.2\.21:8080 in web: drained \(0 active\) after ([\d.]+) s; it stays at weight 0 until 'duet enable'\nexit=0/.exec(d);
  t.truthy(done, d);
  t.true(Number(done![1]) >= 1, 'it waited for the client to close');
  t.regex(d, /held a b\nclosed/);
  t.regex(d.split('closed')[1] ?? '', /  -> 10\.0\.2\.21:8080 +Masq +0 /);
});

test('a drain that cannot finish in time fails with the count left, and the server stays at 0', (t) => {
  const d = part('drain-timeout');
  t.regex(d, /duet: 10\.0\.2\.22:8080 in web still has 1 active connection\(s\) after \d+ ms; it stays at weight 0 \[DUET_E_DRAIN_TIMEOUT\]\nexit=1/);
  t.regex(part('status'), /operator: 10\.0\.2\.22:8080 in web weight pinned at 0/);
});

test('the metrics endpoint shows the kernel counters per real server and the reconciler operations', (t) => {
  const m = part('metrics');
  t.regex(m, /^duet_ipvs_weight\{service="tcp:10\.0\.1\.100:80",server="10\.0\.2\.22:8080"\} 0$/m, 'the drained server');
  t.regex(m, /^duet_ipvs_active_connections\{service="tcp:10\.0\.1\.100:80",server="10\.0\.2\.22:8080"\} \d+$/m);
  t.regex(m, /^duet_ipvs_inactive_connections\{service="tcp:10\.0\.1\.100:80",server="10\.0\.2\.21:8080"\} [1-9]\d*$/m, 'the closed connection');
  t.regex(m, /^duet_ipvs_connections_total\{service="tcp:10\.0\.1\.100:80",server="10\.0\.2\.21:8080"\} [1-9]\d*$/m);
  t.regex(m, /^duet_ipvs_bytes_in_total\{service="tcp:10\.0\.1\.100:80",server="10\.0\.2\.21:8080"\} [1-9]\d*$/m);
  t.regex(m, /^duet_reconcile_operations_total\{op="edit-dest"\} [1-9]\d*$/m);
  t.regex(m, /^duet_reconcile_errors_total\{kind="run"\} 0$/m);
});
