// `duet ipvs conns` against `ipvsadm -Lnc` (the oracle) on a real kernel: a NAT lab in
// namespaces (client c, director d, real server r; IPv4 and IPv6 services, a persistent one, UDP)
// with live connections. node starts slowly in the VM (seconds), so duet's listing cannot be read
// in the same second as ipvsadm's: the expire column is compared as a range instead (ipvsadm
// before >= duet >= ipvsadm after, row by row) and everything else byte for byte.
// The byte-for-byte check including expire is the unit test on the fixture captured from this
// same lab (test/unit/ipvs-conns.test.ts).
import test from 'ava';
import { runInVm, type VmResult, describeVm } from '../../lab/vm.js';
import { VM_PRELUDE } from '../../lab/vm-shell.js';

const JOB = String.raw`
${VM_PRELUDE}set -e
for n in c d r; do ip netns add $n; ip -n $n link set lo up; done
ip link add c0 netns c type veth peer name d0 netns d
ip link add d1 netns d type veth peer name r0 netns r
ip -n c addr add 10.0.1.2/24 dev c0; ip -n c addr add fd00:1::2/64 dev c0 nodad
ip -n d addr add 10.0.1.1/24 dev d0; ip -n d addr add fd00:1::1/64 dev d0 nodad
ip -n d addr add 10.0.2.1/24 dev d1; ip -n d addr add fd00:2::1/64 dev d1 nodad
ip -n r addr add 10.0.2.2/24 dev r0; ip -n r addr add fd00:2::2/64 dev r0 nodad
ip -n c link set c0 up; ip -n d link set d0 up; ip -n d link set d1 up; ip -n r link set r0 up
ip -n r route add default via 10.0.2.1; ip -n r -6 route add default via fd00:2::1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
section empty
ip netns exec d node build/src/cli/duet.js ipvs conns
ip netns exec d ipvsadm -A -t 10.0.1.1:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.1.1:80 -r 10.0.2.2:8080 -m
ip netns exec d ipvsadm -A -t 10.0.1.1:443 -s rr -p 300
ip netns exec d ipvsadm -a -t 10.0.1.1:443 -r 10.0.2.2:8443 -m
ip netns exec d ipvsadm -A -u 10.0.1.1:53 -s rr
ip netns exec d ipvsadm -a -u 10.0.1.1:53 -r 10.0.2.2:5353 -m
ip netns exec d ipvsadm -A -t [fd00:1::1]:80 -s rr
ip netns exec d ipvsadm -a -t [fd00:1::1]:80 -r [fd00:2::2]:8080 -m
cat > /tmp/srv.py <<'PY'
import socket, threading
def serve(port):
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', port)); s.listen(16)
    held = []
    while True:
        c, _ = s.accept(); held.append(c)
for p in (8080, 8443): threading.Thread(target=serve, args=(p,), daemon=True).start()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); u.bind(('::', 5353))
open('/tmp/srv.ready', 'w').close()
while True:
    d, a = u.recvfrom(2048); u.sendto(d, a)
PY
cat > /tmp/cli.py <<'PY'
import socket, time
held = []
def tcp(fam, addr, port, close=False):
    s = socket.socket(fam); s.settimeout(3); s.connect((addr, port))
    if close: s.close()
    else: held.append(s)
tcp(socket.AF_INET, '10.0.1.1', 80)
tcp(socket.AF_INET, '10.0.1.1', 80, close=True)
tcp(socket.AF_INET, '10.0.1.1', 443)
tcp(socket.AF_INET6, 'fd00:1::1', 80)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3); u.sendto(b'hi', ('10.0.1.1', 53)); u.recvfrom(64)
open('/tmp/cli.ready', 'w').close()
time.sleep(600)
PY
ip netns exec r /usr/bin/python3 /tmp/srv.py &
waitfor 30 '[ -e /tmp/srv.ready ]' || { echo 'FAIL: the server never got ready'; exit 1; }
ip netns exec c /usr/bin/python3 /tmp/cli.py &
waitfor 30 '[ -e /tmp/cli.ready ]' || { echo 'FAIL: the client never got ready'; exit 1; }
sleep 0.3
section before
ip netns exec d ipvsadm -Lnc
section duet
ip netns exec d node build/src/cli/duet.js ipvs conns
section after
ip netns exec d ipvsadm -Lnc
section duet-pc
ip netns exec d node build/src/cli/duet.js ipvs conns --persistent-conn
section ipvsadm-pc
ip netns exec d ipvsadm -Lnc --persistent-conn
section json
ip netns exec d node build/src/cli/duet.js ipvs conns --json
section noipvs
ip netns add x
ip netns exec x node build/src/cli/duet.js ipvs conns --json | head -c 200 || true
section end
`;

let vm: VmResult;
test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
const part = (name: string): string => {
  const m = new RegExp(`=== ${name}\\n([\\s\\S]*?)(?:=== |$)`).exec(vm.stdout);
  return m ? m[1]! : '';
};
/** Rows without the expire column, and the expire seconds. */
const rows = (text: string): { line: string; expire: number }[] =>
  text.split('\n').slice(2).filter(Boolean).map((l) => {
    const m = /^(\S+\s+)(\d+):(\d\d)(\s.*)$/.exec(l);
    if (!m) throw new Error(`not a connection row: ${l}`);
    return { line: `${m[1]}MM:SS${m[4]}`, expire: Number(m[2]) * 60 + Number(m[3]) };
  });

test.before(async () => {
  vm = await runInVm(JOB, { timeoutMs: 180_000 });
});

test('the VM job ran to the end', (t) => {
  t.log(`boot ${vm.bootMs} ms, total ${vm.totalMs} ms`);
  t.is(vm.code, 0, vm.stdout.slice(-3000) + vm.stderr.slice(-2000));
  t.regex(vm.stdout, /=== end/);
});

test('no connections: the two header lines, as ipvsadm prints them', (t) => {
  t.is(part('empty'), 'IPVS connection entries\npro expire state       source             virtual            destination\n');
});

test('duet ipvs conns = ipvsadm -Lnc, expire within ipvsadm before/after', (t) => {
  const [b, d, a] = [part('before'), part('duet'), part('after')];
  t.is(d.split('\n').slice(0, 2).join('\n'), b.split('\n').slice(0, 2).join('\n'));
  const [rb, rd, ra] = [rows(b), rows(d), rows(a)];
  t.true(rd.length >= 6, d);
  t.deepEqual(rd.map((r) => r.line), rb.map((r) => r.line));
  t.deepEqual(rd.map((r) => r.line), ra.map((r) => r.line));
  rd.forEach((r, i) => {
    t.true(r.expire <= rb[i]!.expire && r.expire >= ra[i]!.expire, `${r.line}: ${rb[i]!.expire} >= ${r.expire} >= ${ra[i]!.expire}`);
  });
  t.regex(d, /^TCP \d\d:\d\d  ESTABLISHED \[fd00:1::2\]:\d+ +\[fd00:1::1\]:80 +\[fd00:2::2\]:8080$/m);
  t.regex(d, /^UDP \d\d:\d\d  UDP +10\.0\.1\.2:\d+ +10\.0\.1\.1:53 +10\.0\.2\.2:5353$/m);
  t.regex(d, /^TCP \d\d:\d\d  ASSURED +10\.0\.1\.2:0 +10\.0\.1\.1:443 +10\.0\.2\.2:8443$/m);
});

test('--persistent-conn: same layout as ipvsadm -Lnc --persistent-conn', (t) => {
  const [d, o] = [part('duet-pc'), part('ipvsadm-pc')];
  t.is(d.split('\n')[1], o.split('\n')[1]);
  t.deepEqual(rows(d).map((r) => r.line), rows(o).map((r) => r.line));
});

test('--json: typed entries', (t) => {
  const es = JSON.parse(part('json')) as Array<{ protocol: string; client: { family: number }; destination: { port: number }; state: string; expireS: number }>;
  t.true(es.length >= 6);
  t.true(es.some((e) => e.client.family === 6));
  t.true(es.some((e) => e.protocol === 'UDP' && e.destination.port === 5353 && e.state === 'UDP'));
  t.true(es.every((e) => Number.isInteger(e.expireS) && e.expireS > 0));
});

test('a namespace without IPVS state: empty list (ip_vs is loaded, the file exists per namespace)', (t) => {
  t.is(part('noipvs').trim(), '[]');
});
