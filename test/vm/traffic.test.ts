// Traffic through the VIP, as in the LVS labs, on a real kernel (one VM for everything): namespaces
// on three bridges play a client (192.0.2.50), the director (192.0.2.11, runs duet; its VRRP instance
// makes it master alone and adds the VIP 192.0.2.100), two DR real servers (192.0.2.21/.22, VIP on
// lo, arp_ignore=1, arp_announce=2), two NAT real servers behind the director (10.0.0.21/.22,
// default route via the director's 10.0.0.1) and two TUN real servers in another subnet
// (198.51.100.21/.22, behind the router 192.0.2.1 / 198.51.100.1; ipip's tunl0 up with the VIP/32,
// arp_ignore=1, arp_announce=2, rp_filter=0). busybox httpd answers each server's name; busybox nc
// runs an echo service that prefixes the server's name.
// - 100 HTTP requests per service: rr gives 50/50, then (SIGHUP to wrr 3:1) 75/25, in DR, NAT and
//   TUN (the director has conn_reuse_mode=3: see there). ipvsadm shows the TUN destinations as
//   Tunnel (ipip); every packet IPVS tunnelled to them arrived on their tunl0.
// - A long-lived connection through each echo service keeps echoing across a reload that changes
//   the other server's weight and adds a third server, stays ESTABLISHED in ipvsadm -Lnc, and the
//   reload is only edit-dest/add-dest (no service deleted or re-added).
// The client is one bash per run using /dev/tcp, so 100 requests cost no process starts in the VM.
import test from 'ava';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lab/vm.js';
import { VIP_HTTP, VM_PRELUDE } from '../../lab/vm-shell.js';
import { vmJob } from '../helpers/vm-job.js';

interface Phase {
  sched: 'rr' | 'wrr';
  /** weights of [first, second] real server of the web services */
  web: [number, number];
  /** echo services: which server's weight changed, and whether a third server is added */
  echo?: { otherDr: 'rs1' | 'rs2'; otherNat: 'rs1' | 'rs2' };
}

const ECHO_W = 4; // the other server's new weight
const rsDr = { rs1: '192.0.2.21', rs2: '192.0.2.22' } as const;
const rsNat = { rs1: '10.0.0.21', rs2: '10.0.0.22' } as const;
/** The TUN service's port: its real servers listen on it too (tun, like dr, cannot translate ports). */
const TUN_PORT = 81;

const CONFIG = (p: Phase): string => {
  const w = (name: 'rs1' | 'rs2', other: 'rs1' | 'rs2' | undefined) => (other === name ? ECHO_W : 1);
  const oDr = p.echo?.otherDr;
  const oNat = p.echo?.otherNat;
  return `
node: { name: lb1 }
vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, priority: 150, advert_int: 0.1, virtual_ipaddress: [192.0.2.100/24] }
virtual_servers:
  - name: web-dr
    address: 192.0.2.100
    port: 80
    scheduler: ${p.sched}
    lb_kind: dr
    real_servers:
      - { address: 192.0.2.21, weight: ${p.web[0]} }
      - { address: 192.0.2.22, weight: ${p.web[1]} }
  - name: web-nat
    address: 192.0.2.100
    port: 8080
    scheduler: ${p.sched}
    lb_kind: nat
    real_servers:
      - { address: 10.0.0.21, port: 80, weight: ${p.web[0]} }
      - { address: 10.0.0.22, port: 80, weight: ${p.web[1]} }
  - name: web-tun
    address: 192.0.2.100
    port: ${TUN_PORT}
    scheduler: ${p.sched}
    lb_kind: tun
    real_servers:
      - { address: 198.51.100.21, weight: ${p.web[0]} }
      - { address: 198.51.100.22, weight: ${p.web[1]} }
  - name: echo-dr
    address: 192.0.2.100
    port: 7
    scheduler: wrr
    lb_kind: dr
    real_servers:
      - { address: ${rsDr.rs1}, weight: ${w('rs1', oDr)} }
      - { address: ${rsDr.rs2}, weight: ${w('rs2', oDr)} }
${oDr ? `      - { address: 192.0.2.23, weight: 1 }\n` : ''}  - name: echo-nat
    address: 192.0.2.100
    port: 7007
    scheduler: wrr
    lb_kind: nat
    real_servers:
      - { address: ${rsNat.rs1}, port: 7, weight: ${w('rs1', oNat)} }
      - { address: ${rsNat.rs2}, port: 7, weight: ${w('rs2', oNat)} }
${oNat ? `      - { address: 10.0.0.23, port: 7, weight: 1 }\n` : ''}`;
};

const yaml = (file: string, p: Phase) => `cat > ${file} <<'YAML'\n${CONFIG(p)}\nYAML\n`;


// test/vm/sh/echo-client.sh: one connection to each echo service, a line every 100 ms on both.
const ECHO_CLIENT = join(PROJECT_ROOT, 'test', 'vm', 'sh', 'echo-client.sh');

const JOB = String.raw`
${VM_PRELUDE}T0=$(ms)
mark() { echo "T $1 $(( $(ms) - T0 ))"; }
fail() { echo "FAIL: $*"; section daemon-log; cat /tmp/lab/log; exit 3; }
count() { grep -c "$1" "$2" 2>/dev/null || true; }
mkdir -p /tmp/lab
${yaml('/tmp/lab/duet.yaml', { sched: 'rr', web: [1, 1] })}
${yaml('/tmp/lab/wrr.yaml', { sched: 'wrr', web: [3, 1] })}
${(['rs1', 'rs2'] as const).flatMap((a) => (['rs1', 'rs2'] as const).map((b) => yaml(`/tmp/lab/echo-${a}-${b}.yaml`, { sched: 'wrr', web: [3, 1], echo: { otherDr: a, otherNat: b } }))).join('')}

section setup
ip -b - <<'EOF' || fail "root ns batch"
netns add br
netns add c
netns add d
netns add rs1
netns add rs2
netns add n1
netns add n2
netns add r
netns add t1
netns add t2
link add name c netns br type veth peer name eth0 netns c
link add name d netns br type veth peer name eth0 netns d
link add name rs1 netns br type veth peer name eth0 netns rs1
link add name rs2 netns br type veth peer name eth0 netns rs2
link add name dn netns br type veth peer name eth1 netns d
link add name n1 netns br type veth peer name eth0 netns n1
link add name n2 netns br type veth peer name eth0 netns n2
link add name r0 netns br type veth peer name eth0 netns r
link add name r1 netns br type veth peer name eth1 netns r
link add name t1 netns br type veth peer name eth0 netns t1
link add name t2 netns br type veth peer name eth0 netns t2
EOF
ip -n br -b - <<'EOF' || fail "bridge batch"
link set lo up
link add br0 type bridge forward_delay 0
link add br1 type bridge forward_delay 0
link add br2 type bridge forward_delay 0
link set br0 up
link set br1 up
link set br2 up
link set dev c master br0 up
link set dev d master br0 up
link set dev rs1 master br0 up
link set dev rs2 master br0 up
link set dev dn master br1 up
link set dev n1 master br1 up
link set dev n2 master br1 up
link set dev r0 master br0 up
link set dev r1 master br2 up
link set dev t1 master br2 up
link set dev t2 master br2 up
EOF
ip -n c -b - <<'EOF' || fail "client batch"
link set lo up
addr add 192.0.2.50/24 dev eth0
link set eth0 up
EOF
ip -n d -b - <<'EOF' || fail "director batch"
link set lo up
addr add 192.0.2.11/24 dev eth0
link set eth0 up
addr add 10.0.0.1/24 dev eth1
link set eth1 up
route add 198.51.100.0/24 via 192.0.2.1
EOF
ip netns exec d sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || fail "ip_forward"
# TUN: the real servers sit in their own subnet, a router away from the director, the natural
# topology of tunnelling (the point of LVS-TUN over DR is that the encapsulated packet is routed:
# the real servers need not share the director's link). The director reaches 198.51.100.0/24 via
# the router; the real servers answer the client from the VIP straight through the router, not
# through the director (it could not forward them anyway: a packet arriving with its own VIP as
# source is a martian there). The router has no VIP, so it forwards both ways; rp_filter off on it
# since those replies come in on eth1 from an address (the VIP) it routes out of eth0.
ip -n r -b - <<'EOF' || fail "router batch"
link set lo up
addr add 192.0.2.1/24 dev eth0
link set eth0 up
addr add 198.51.100.1/24 dev eth1
link set eth1 up
EOF
ip netns exec r sh -c 'set -e; echo 1 > /proc/sys/net/ipv4/ip_forward
  for f in all eth0 eth1; do echo 0 > /proc/sys/net/ipv4/conf/$f/rp_filter; done' || fail "router sysctls"
# ipip (the real servers' tunl0) is a module. Autoload works in the VM (kernel.modprobe is busybox
# modprobe): looking tunl0 up by name requests netdev-tunl0, an alias of ipip. Record that, then
# the TUN servers modprobe ipip anyway, as the LVS-TUN howto does (a no-op once loaded).
echo "ipip-loaded-before: $(grep -c '^ipip ' /proc/modules)"
ip -n t1 link show tunl0 > /dev/null 2>&1
echo "ipip-loaded-after-tunl0-lookup: $(grep -c '^ipip ' /proc/modules)"
# One shell per real server: addresses, sysctls, httpd and the echo service. (No quote marks in
# comments inside the sh -c below: it is one single-quoted string.)
# tun: decapsulate IPIP. The director's packet (outer 192.0.2.11 -> the RIP) arrives on eth0, the
# inner one (client -> VIP) on tunl0, which holds the VIP/32; replies go from the VIP to the client
# by the default route. rp_filter off on tunl0 and all (the effective value is the larger of the
# two): the route back to the client is not via tunl0. arp_ignore=1, arp_announce=2 on tunl0 and
# all (LVS-TUN howto): never answer ARP for the VIP nor use it as an ARP source on a link.
server() { # ns name addr kind [http-port]
  local ns=$1 name=$2 addr=$3 kind=$4 port=\${5:-80}
  mkdir -p /tmp/lab/www-$ns
  echo "$name" > /tmp/lab/www-$ns/index.html
  printf '#!/bin/sh\nwhile IFS= read -r l; do echo "%s $l"; done\n' "$name" > /tmp/lab/echo-$ns.sh
  chmod +x /tmp/lab/echo-$ns.sh
  ip netns exec $ns sh -c '
    set -e
    if [ '$kind' = dr ]; then
      printf "link set lo up\naddr add 192.0.2.100/32 dev lo\naddr add '$addr'/24 dev eth0\nlink set eth0 up\n" | ip -b -
      for f in all eth0; do
        echo 1 > /proc/sys/net/ipv4/conf/$f/arp_ignore
        echo 2 > /proc/sys/net/ipv4/conf/$f/arp_announce
      done
    elif [ '$kind' = tun ]; then
      modprobe ipip
      printf "link set lo up\naddr add '$addr'/24 dev eth0\nlink set eth0 up\nlink set tunl0 up\naddr add 192.0.2.100/32 dev tunl0\nroute add default via 198.51.100.1\n" | ip -b -
      for f in all tunl0; do
        echo 1 > /proc/sys/net/ipv4/conf/$f/arp_ignore
        echo 2 > /proc/sys/net/ipv4/conf/$f/arp_announce
        echo 0 > /proc/sys/net/ipv4/conf/$f/rp_filter
      done
    else
      printf "link set lo up\naddr add '$addr'/24 dev eth0\nlink set eth0 up\nroute add default via 10.0.0.1\n" | ip -b -
    fi
    busybox httpd -p '$port' -h /tmp/lab/www-'$ns'
    busybox nc -ll -p 7 -e /tmp/lab/echo-'$ns'.sh </dev/null >/dev/null 2>&1 &
  ' || fail "server $ns"
}
server rs1 rs1 192.0.2.21 dr
server rs2 rs2 192.0.2.22 dr
server n1 rs1 10.0.0.21 nat
server n2 rs2 10.0.0.22 nat
server t1 rs1 198.51.100.21 tun ${TUN_PORT}
server t2 rs2 198.51.100.22 tun ${TUN_PORT}
mark setup-done

section daemon
ip netns exec d node build/src/cli/duet.js run -c /tmp/lab/duet.yaml -s /tmp/lab/duet.sock > /tmp/lab/log 2>&1 &
pid=$!
# Node starts slowly under emulation: 16-26 s to the first reconcile on a quiet machine, over 30 s
# on a busy one (node -e 0 alone took 2.6 s at load 6).
waitfor 90 '[ $(count "\"IPVS table" /tmp/lab/log) -ge 1 ]' || fail "first reconcile"
mark ipvs-programmed
waitfor 10 'ip -n d -4 addr show dev eth0 | grep -q 192.0.2.100' || fail "VIP never added"
mark vip-up
# DR and TUN connections are one-way for the director: it never sees the real server's FIN, so
# their entries sit in FIN_WAIT for tcpfin (2 min). The client's source ports for one VIP:port
# do come round again within a run (seen: a jump from 58902 back to 43274 halfway through 100
# requests), and with the default conn_reuse_mode=1 a SYN matching a FIN_WAIT entry goes, without
# scheduling, to that entry's real server: 13 such SYNs turned a wrr 3:1 run into 70/30. Bit 2
# reschedules them (for one-way connections only), so each request is one scheduling decision.
ip netns exec d sh -c 'echo 3 > /proc/sys/net/ipv4/vs/conn_reuse_mode' || fail "conn_reuse_mode"
ip netns exec d ipvsadm -Ln

run_http() { # label port
  local t=$(ms)
  section "http-$1"
  timeout 150 ip netns exec c bash ${VIP_HTTP} $2 100 | sort | uniq -c
  echo "T http-$1-ms $(( $(ms) - t ))"
}
run_http dr-rr 80
run_http nat-rr 8080
run_http tun-rr ${TUN_PORT}

section reload-wrr
cp /tmp/lab/wrr.yaml /tmp/lab/duet.yaml
kill -HUP $pid
waitfor 10 '[ $(count "\"IPVS table" /tmp/lab/log) -ge 2 ]' || fail "wrr reconcile"
mark wrr-reloaded
ip netns exec d ipvsadm -Ln
run_http dr-wrr 80
run_http nat-wrr 8080
run_http tun-wrr ${TUN_PORT}
section tun-info
ip netns exec d ipvsadm -Ln --tun-info -t 192.0.2.100:${TUN_PORT}

section echo
rm -f /tmp/lab/stop
ip netns exec c bash ${ECHO_CLIENT} > /tmp/lab/echo.log 2>&1 &
epid=$!
waitfor 15 'grep -q "dr=rs. m.* nat=rs. m" /tmp/lab/echo.log' || { cat /tmp/lab/echo.log; fail "no echo"; }
first=$(grep -m1 "dr=rs" /tmp/lab/echo.log)
echo "first: $first"
dr=$(echo "$first" | sed -n 's/.*dr=\(rs[12]\) .*/\1/p')
nat=$(echo "$first" | sed -n 's/.*nat=\(rs[12]\) .*/\1/p')
other() { [ "$1" = rs1 ] && echo rs2 || echo rs1; }
echo "dr-server=$dr nat-server=$nat"
section conns-before
ip netns exec d ipvsadm -Lnc
cp /tmp/lab/echo-$(other $dr)-$(other $nat).yaml /tmp/lab/duet.yaml
before=$(wc -l < /tmp/lab/echo.log)
echo "rounds-before-reload=$before"
kill -HUP $pid
t=$(ms)
waitfor 10 '[ $(count "\"IPVS table" /tmp/lab/log) -ge 3 ]' || fail "echo reconcile"
echo "T echo-reload-ms $(( $(ms) - t ))"
# Ten more rounds after the reload.
n=$(wc -l < /tmp/lab/echo.log)
waitfor 15 '[ $(wc -l < /tmp/lab/echo.log) -ge $(( n + 10 )) ]' || echo "fewer than 10 rounds after the reload"
section conns-after
ip netns exec d ipvsadm -Lnc
section table-after
ip netns exec d ipvsadm -Ln
touch /tmp/lab/stop
wait $epid
echo "echo-client-exit=$?"
echo "rounds-after-reload-start=$(( $(wc -l < /tmp/lab/echo.log) - before ))"
section echo-log
cat /tmp/lab/echo.log
# IPVS sums its per-CPU counters every 2 s (estimator timer): read them only now, long after
# the TUN runs, and the packets the TUN servers decapsulated on tunl0 with them.
section tun-stats
ip netns exec d ipvsadm -Ln --stats -t 192.0.2.100:${TUN_PORT}
section tunl0
for ns in t1 t2; do echo "$ns rx_packets=$(ip netns exec $ns cat /sys/class/net/tunl0/statistics/rx_packets)"; done
section stop
kill -TERM $pid; wait $pid; echo "exit=$?"
mark stopped
section log
grep '"IPVS\|"msg":"IPVS' /tmp/lab/log
section end
`.replace(/\\\$\{/g, '${');

/** `uniq -c` output of a section → counts per answer. */
const counts = (name: string): Record<string, number> => {
  const r: Record<string, number> = {};
  for (const m of part(name).matchAll(/^\s*(\d+) (\S+)$/gm)) r[m[2]!] = Number(m[1]);
  return r;
};
const timing = (name: string): number | undefined => {
  const m = new RegExp(`^T ${name} (\\d+)$`, 'm').exec(job.vm.stdout);
  return m ? Number(m[1]) : undefined;
};
const reconciles = (): { ops: Record<string, number>; applied: number; failed: number; msg: string }[] =>
  part('log').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ops: Record<string, number>; applied: number; failed: number; msg: string });

const job = vmJob(JOB, { timeoutMs: 180_000 });
const part = job.part;

test('the VM job ran to the end', (t) => {
  t.log(`boot ${job.vm.bootMs} ms, total ${job.vm.totalMs} ms`);
  for (const n of ['setup-done', 'ipvs-programmed', 'vip-up', 'wrr-reloaded', 'stopped']) t.log(`${n}: ${timing(n)} ms after job start`);
  for (const n of ['http-dr-rr-ms', 'http-nat-rr-ms', 'http-tun-rr-ms', 'http-dr-wrr-ms', 'http-nat-wrr-ms', 'http-tun-wrr-ms', 'echo-reload-ms']) t.log(`${n}: ${timing(n)}`);
  t.is(job.vm.code, 0, job.vm.stdout.slice(-4000) + job.vm.stderr.slice(-2000));
  t.regex(job.vm.stdout, /=== end/);
});

for (const [mode, sec] of [['DR', 'dr'], ['NAT', 'nat'], ['TUN', 'tun']] as const) {
  test(`${mode}: rr spreads 100 requests 50/50`, (t) => {
    const c = counts(`http-${sec}-rr`);
    t.log(JSON.stringify(c));
    t.deepEqual(Object.keys(c).sort(), ['rs1', 'rs2']);
    t.true(Math.abs(c.rs1! - 50) <= 2 && c.rs1! + c.rs2! === 100, JSON.stringify(c));
  });
  test(`${mode}: wrr 3:1 spreads 100 requests 75/25`, (t) => {
    const c = counts(`http-${sec}-wrr`);
    t.log(JSON.stringify(c));
    t.deepEqual(Object.keys(c).sort(), ['rs1', 'rs2']);
    t.true(Math.abs(c.rs1! - 75) <= 2 && c.rs1! + c.rs2! === 100, JSON.stringify(c));
  });
}

test('rr → wrr 3:1 is one service edit and one weight edit per web service', (t) => {
  const r = reconciles();
  t.log(JSON.stringify(r.map((x) => x.ops)));
  t.deepEqual(r[0]?.ops, { 'add-svc': 5, 'add-dest': 10 });
  t.deepEqual(r[1]?.ops, { 'edit-svc': 3, 'edit-dest': 3 });
  t.regex(part('reload-wrr'), /^TCP  192\.0\.2\.100:80 wrr\n/m);
});

test('TUN: ipvsadm shows the destinations as Tunnel (ipip), and the real servers got the requests on tunl0', (t) => {
  const rr = part('daemon');
  const wrr = part('reload-wrr');
  t.log(`${rr.split('\n').filter((l) => l.includes(`:${TUN_PORT} `)).join('\n')}\n${part('tun-info')}\n${part('tun-stats')}\n${part('tunl0')}`);
  t.log(/ipip-loaded-before: \d+/.exec(job.vm.stdout)?.[0], /ipip-loaded-after-tunl0-lookup: \d+/.exec(job.vm.stdout)?.[0]);
  t.regex(rr, new RegExp(`^TCP  192\\.0\\.2\\.100:${TUN_PORT} rr\\n  -> 198\\.51\\.100\\.21:${TUN_PORT} +Tunnel +1 +\\d+ +\\d+ *\\n  -> 198\\.51\\.100\\.22:${TUN_PORT} +Tunnel +1 `, 'm'));
  t.regex(wrr, new RegExp(`^TCP  192\\.0\\.2\\.100:${TUN_PORT} wrr\\n  -> 198\\.51\\.100\\.21:${TUN_PORT} +Tunnel +3 +\\d+ +\\d+ *\\n  -> 198\\.51\\.100\\.22:${TUN_PORT} +Tunnel +1 `, 'm'));
  const info = part('tun-info').split('\n').filter((l) => l.includes('->') && !l.includes('RemoteAddress'));
  t.is(info.length, 2, part('tun-info'));
  for (const l of info) t.regex(l, / Tunnel +ipip /);
  // Per destination: IPVS scheduled one connection per answer the server gave (every request
  // was a scheduling decision), and every packet IPVS tunnelled to it arrived on its tunl0.
  const stats = new Map([...part('tun-stats').matchAll(/-> 198\.51\.100\.(2[12]):\d+ +(\d+) +(\d+) /g)].map((m) => [m[1]!, { conns: Number(m[2]), inPkts: Number(m[3]) }]));
  for (const [rs, ns, last] of [['rs1', 't1', '21'], ['rs2', 't2', '22']] as const) {
    const answered = (counts('http-tun-rr')[rs] ?? 0) + (counts('http-tun-wrr')[rs] ?? 0);
    const rx = Number(new RegExp(`^${ns} rx_packets=(\\d+)$`, 'm').exec(part('tunl0'))?.[1]);
    t.is(stats.get(last)?.conns ?? -1, answered, `${rs} conns: ${part('tun-stats')}`);
    t.true(answered > 0 && rx > 0, `${ns}: ${rx} packets on tunl0`);
    t.is(rx, stats.get(last)?.inPkts ?? -1, `${ns}: packets on tunl0 = IPVS InPkts`);
  }
});

test('established connections keep echoing across a reload that edits and adds real servers', (t) => {
  const r = reconciles();
  t.log(`reload ops: ${JSON.stringify(r[2]?.ops)}, failed ${r[2]?.failed}`);
  t.deepEqual(r[2]?.ops, { 'edit-dest': 2, 'add-dest': 2 });
  t.is(r[2]?.failed, 0);
  t.is(r.length, 3, JSON.stringify(r));
  const log = part('echo-log').split('\n').filter(Boolean);
  const rounds = log.filter((l) => /^\d+ \d+ /.test(l));
  const bad = rounds.filter((l) => !/^\d+ (\d+) dr=rs[12] m\1 nat=rs[12] m\1$/.test(l));
  t.deepEqual(bad, [], 'every round echoed on both connections');
  const servers = new Set(rounds.map((l) => l.replace(/^\S+ \S+ dr=(rs\d) \S+ nat=(rs\d) \S+$/, '$1/$2')));
  t.is(servers.size, 1, `one server per connection throughout: ${[...servers].join(', ')}`);
  const before = Number(/rounds-before-reload=(\d+)/.exec(job.vm.stdout)?.[1]);
  t.log(`${rounds.length} rounds, ${before} before the reload`);
  t.true(rounds.length >= before + 10, 'at least 10 rounds after the reload');
  t.regex(part('stop'), /exit=0/);
});

test('ipvsadm -Lnc shows both connections ESTABLISHED before and after; the new servers are in', (t) => {
  for (const s of ['conns-before', 'conns-after']) {
    const est = part(s).split('\n').filter((l) => /^TCP .* ESTABLISHED 192\.0\.2\.50:\d+ +192\.0\.2\.100:(7|7007) /.test(l));
    t.log(`${s}:\n${est.join('\n')}`);
    t.is(est.length, 2, part(s));
  }
  const after = part('table-after');
  t.regex(after, /-> 192\.0\.2\.23:7 +Route +1 /);
  t.regex(after, /-> 10\.0\.0\.23:7 +Masq +1 /);
  t.regex(after, new RegExp(`-> 192\\.0\\.2\\.2[12]:7 +Route +${ECHO_W} `));
  t.regex(after, new RegExp(`-> 10\\.0\\.0\\.2[12]:7 +Masq +${ECHO_W} `));
});
