// The daemon programs the real kernel's IPVS table from its config, in a namespace inside the VM:
// ipvsadm (the independent oracle) shows exactly the configured table; `duet ipvs list` prints
// what ipvsadm prints; a weight change is one write, an unchanged reload none; a service someone
// else added is left alone, also when a managed one is removed.
import test from 'ava';
import { vmJob } from '../helpers/vm-job.js';
import { VM_PRELUDE } from '../../lab/vm-shell.js';

// Every scheduler, with the three forwarding methods in turn; the second real server goes away
// with the web service in the last reload (a removed real server is one del-dest each).
const SCHEDULERS = ['lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sed', 'nq', 'mh'] as const;
const KINDS = ['nat', 'dr', 'tun'] as const;
const FORWARD = { nat: 'Masq', dr: 'Route', tun: 'Tunnel' } as const;

const CONFIG = (w1: number, withWeb: boolean) => `
node: { name: lb1 }
lvs_timeouts: { tcp: 7200, tcpfin: 60, udp: 90 }
ipvs_sysctl: { sloppy_tcp: true, conn_reuse_mode: 3, expire_nodest_conn: false }
vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, priority: 150, advert_int: 0.1, virtual_ipaddress: [192.0.2.100/24] }
virtual_servers:
${withWeb ? `  - name: web
    address: 192.0.2.100
    port: 80
    scheduler: wrr
    lb_kind: dr
    real_servers:
      - { address: 192.0.2.21, weight: ${w1} }
      - { address: 192.0.2.22, weight: 1 }
` : ''}${SCHEDULERS.map((sch, i) => `  - { address: 192.0.2.100, port: ${9000 + i}, scheduler: ${sch}, lb_kind: ${KINDS[i % 3]}, real_servers: [{ address: 192.0.2.31 }${withWeb ? ', { address: 192.0.2.32 }' : ''}] }\n`).join('')}  - name: dns
    address: 192.0.2.100
    port: 53
    protocol: udp
    scheduler: rr
    lb_kind: nat
    real_servers:
      - { address: 192.0.2.23, port: 5353 }
  - name: marked
    fwmark: 7
    scheduler: sh
    scheduler_flags: [sh-port]
    lb_kind: tun
    persistence_timeout: 300
    persistence_granularity: 255.255.255.0
    real_servers:
      - { address: 192.0.2.24, weight: 2 }
`;

// A reload the kernel refuses half of: the dns real server's weight changes (accepted), and a
// service with the twos scheduler is added, which this VM's kernel lacks (refused).
const REFUSED = CONFIG(5, false).replace('{ address: 192.0.2.23, port: 5353 }', '{ address: 192.0.2.23, port: 5353, weight: 4 }')
  + '  - { address: 192.0.2.100, port: 9100, scheduler: twos, lb_kind: nat, real_servers: [{ address: 192.0.2.33 }] }\n';

// One shell job; each step prints "=== name" so the host side reads its own part.
const JOB = String.raw`
${VM_PRELUDE}ip netns add d && ip -n d link set lo up
ip -n d link add eth0 type dummy && ip -n d addr add 192.0.2.11/24 dev eth0 && ip -n d link set eth0 up
mkdir -p /tmp/duet
cat > /tmp/duet/duet.yaml <<'YAML'
${CONFIG(3, true)}
YAML
# Wait for the Nth log line containing a phrase (the daemon logs one per reconcile).
# Time-based (180 s): duet's start alone takes 20-90 s under emulation, and each grep costs a process start.
waitlog() { waitfor 180 "[ \"\$(grep -c '$1' /tmp/duet/log || true)\" -ge $2 ]" || { echo "timeout waiting for $1 x$2"; cat /tmp/duet/log; exit 3; }; }
ip netns exec d node build/src/cli/duet.js run -c /tmp/duet/duet.yaml -s /tmp/duet/duet.sock > /tmp/duet/log 2>&1 &
pid=$!
waitlog '"IPVS table' 1
section first
ip netns exec d ipvsadm -Ln
section timeouts
ip netns exec d ipvsadm -Ln --timeout
section sysctls
ip netns exec d sysctl net.ipv4.vs.sloppy_tcp net.ipv4.vs.conn_reuse_mode net.ipv4.vs.expire_nodest_conn
sysctl net.ipv4.vs.sloppy_tcp
section duet-list
ip netns exec d node build/src/cli/duet.js ipvs list
section duet-list-daemon
ip netns exec d node build/src/cli/duet.js ipvs list -s /tmp/duet/duet.sock
section weight
sed -i 's/weight: 3/weight: 5/' /tmp/duet/duet.yaml
kill -HUP $pid; waitlog '"IPVS table' 2
ip netns exec d ipvsadm -Ln
section unchanged
kill -HUP $pid; waitlog '"IPVS table' 3
section foreign
ip netns exec d ipvsadm -A -t 192.0.2.200:25 -s rr
cat > /tmp/duet/duet.yaml <<'YAML'
${CONFIG(5, false)}
YAML
kill -HUP $pid; waitlog '"IPVS table' 4
ip netns exec d ipvsadm -Ln
section refused
cat > /tmp/duet/duet.yaml <<'YAML'
${REFUSED}
YAML
kill -HUP $pid; waitlog '"IPVS table' 5
ip netns exec d ipvsadm -Ln
section refused-status
ip netns exec d node build/src/cli/duet.js status --json -s /tmp/duet/duet.sock
section refused-fixed
cat > /tmp/duet/duet.yaml <<'YAML'
${CONFIG(5, false)}
YAML
kill -HUP $pid; waitlog '"IPVS table' 6
ip netns exec d ipvsadm -Ln
section stop
kill -TERM $pid; wait $pid; echo "exit=$?"
section log
grep '"msg":"IPVS' /tmp/duet/log | grep -v 'IPVS sysctl'
section sysctl-log
grep '"msg":"IPVS sysctl' /tmp/duet/log
section end
`;

type LogLine = { ops: Record<string, number>; applied: number; failed: number; msg: string };
const logLines = (): LogLine[] => part('log').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
const reconciles = (): LogLine[] => logLines().filter((l) => l.msg.startsWith('IPVS table'));

const job = vmJob(JOB, { timeoutMs: 240_000 });
const part = job.part;

test('the VM job ran to the end', (t) => {
  t.log(`boot ${job.vm.bootMs} ms, total ${job.vm.totalMs} ms`);
  t.is(job.vm.code, 0, job.vm.stdout.slice(-3000) + job.vm.stderr.slice(-2000));
  t.regex(job.vm.stdout, /=== end/);
});

test('ipvsadm shows exactly the configured table: every scheduler, NAT, DR and TUN', (t) => {
  const first = part('first');
  t.regex(first, /^UDP  192\.0\.2\.100:53 rr\n  -> 192\.0\.2\.23:5353 +Masq +1 /m);
  t.regex(first, /^TCP  192\.0\.2\.100:80 wrr\n(  -> 192\.0\.2\.2[12]:80 +Route +[31] .*\n){2}/m);
  t.regex(first, /  -> 192\.0\.2\.21:80 +Route +3 /);
  t.regex(first, /  -> 192\.0\.2\.22:80 +Route +1 /);
  t.regex(first, /^FWM  7 sh \(sh-port\) persistent 300 mask 255\.255\.255\.0\n  -> 192\.0\.2\.24:0 +Tunnel +2 /m);
  SCHEDULERS.forEach((sch, i) => {
    t.regex(first, new RegExp(`^TCP  192\\.0\\.2\\.100:${9000 + i} ${sch}\\n  -> 192\\.0\\.2\\.31:${9000 + i} +${FORWARD[KINDS[i % 3]!]} +1 .*\\n  -> 192\\.0\\.2\\.32:${9000 + i} +${FORWARD[KINDS[i % 3]!]} +1 `, 'm'), sch);
  });
  t.is(first.split('\n').filter((l) => /^(TCP|UDP|FWM|SCTP) /.test(l)).length, 3 + SCHEDULERS.length);
});

test('duet ipvs list prints what ipvsadm -Ln prints, read directly and through the daemon', (t) => {
  t.is(part('duet-list'), part('first'));
  t.is(part('duet-list-daemon'), part('first'));
});

test('a weight change is one write; an unchanged reload is none', (t) => {
  const r = reconciles();
  t.true(r.length >= 3, JSON.stringify(r));
  t.deepEqual(r[0]!.ops, { 'add-svc': 3 + SCHEDULERS.length, 'add-dest': 4 + 2 * SCHEDULERS.length });
  t.deepEqual(r[1]!.ops, { 'edit-dest': 1 });
  t.is(r[1]!.applied, 1);
  t.regex(part('weight'), /  -> 192\.0\.2\.21:80 +Route +5 /);
  t.deepEqual(r[2]!.ops, {});
  t.is(r[2]!.msg, 'IPVS table already as configured');
});

test('removing a managed service or real servers deletes just those; a service duet never managed stays', (t) => {
  const r = reconciles();
  t.deepEqual(r[3]!.ops, { 'del-svc': 1, 'del-dest': SCHEDULERS.length });
  const after = part('foreign');
  t.notRegex(after, /192\.0\.2\.100:80/);
  t.regex(after, /^TCP  192\.0\.2\.200:25 rr$/m);
  t.regex(part('stop'), /exit=0/);
});

test('lvs_timeouts are set once, as ipvsadm --set would, and not rewritten on reload', (t) => {
  t.is(part('timeouts').trim(), 'Timeout (tcp tcpfin udp): 7200 60 90');
  t.is(logLines().filter((l) => l.msg === 'IPVS timeouts set').length, 1);
});

test('ipvs_sysctl: written in duet\'s namespace only where the kernel differs, once, not again on reload', (t) => {
  const lines = part('sysctls').trim().split('\n');
  t.deepEqual(lines, [
    'net.ipv4.vs.sloppy_tcp = 1',
    'net.ipv4.vs.conn_reuse_mode = 3',
    'net.ipv4.vs.expire_nodest_conn = 0',
    'net.ipv4.vs.sloppy_tcp = 0',
  ], 'the last line is the VM\'s own namespace, untouched');
  const log = part('sysctl-log').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { sysctl: string; from: string; to: string });
  // expire_nodest_conn is already 0 in a fresh namespace: no write.
  t.deepEqual(log.map((l) => `${l.sysctl} ${l.from} -> ${l.to}`).sort(), ['net.ipv4.vs.conn_reuse_mode 1 -> 3', 'net.ipv4.vs.sloppy_tcp 0 -> 1']);
});

test('a reload the kernel refuses in part: what it accepts is applied, what it refuses is reported, the table stays consistent; the next good reload is clean', (t) => {
  const r = reconciles();
  t.true(r.length >= 6, JSON.stringify(r));
  t.like(r[4], { ops: { 'add-svc': 1, 'add-dest': 1, 'edit-dest': 1 } });
  t.is(r[4]!.failed, 1, 'the refused add-svc (its real server is then skipped, not tried)');
  t.is(r[4]!.applied, 1, 'the weight edit');
  const refused = part('refused');
  t.regex(refused, /^UDP  192\.0\.2\.100:53 rr\n  -> 192\.0\.2\.23:5353 +Masq +4 /m, 'the accepted edit is in the kernel');
  t.notRegex(refused, /:9100/, 'nothing of the refused service is left half-made');
  t.regex(refused, /^TCP  192\.0\.2\.200:25 rr$/m, 'the foreign service is untouched');
  const services = (s: string): string[] => s.split('\n').filter((l) => /^(TCP|UDP|FWM) /.test(l)).sort();
  t.deepEqual(services(refused), services(part('foreign')), 'every other service as before');
  const st = JSON.parse(part('refused-status')) as { ipvs: { lastReconcile: { failed: { what: string; error: string }[] } } };
  t.true(st.ipvs.lastReconcile.failed.some((f) => /9100/.test(f.what) && /E[A-Z]+/.test(f.error)), JSON.stringify(st.ipvs.lastReconcile.failed));
  t.like(r[5], { failed: 0 });
  t.is(part('refused-fixed'), part('foreign'), 'the table is back to the earlier one exactly');
});
