// Health checks drive the real kernel's IPVS table (VM tier). A director namespace runs duet; three
// real-server namespaces run small HTTP/TCP/agent servers whose answers the job flips through
// files. ipvsadm -Ln (the independent oracle) must follow: a server answering 500 leaves the table,
// comes back through a slow-start ramp; a killed server is removed from one service and inhibited
// at weight 0 in another; losing quorum swaps in the sorry server (and runs the hook); an agent
// answering 50% halves the weight, "drain" sets 0.
import { writeFileSync } from 'node:fs';
import test from 'ava';
import { vmJob } from '../helpers/vm-job.js';
import { VM_PRELUDE } from '../../lab/vm-shell.js';

// Generous time-outs: under TCG a cold node process can take a second to answer its first request,
// and a loaded host stretches that (1.5 s seen): a check that times out would hide the 500 or
// add a quorum flap.
const CHECK = '{ type: http, path: /health, status: [200], interval: 2, timeout: 1.9, rise: 2, fall: 2 }';

const CONFIG = `
node: { name: lb1 }
vrrp:
  instances:
    - { name: VI_1, interface: br0, vrid: 51, priority: 150, advert_int: 0.1, virtual_ipaddress: [192.0.2.100/24] }
virtual_servers:
  - name: web
    address: 192.0.2.100
    port: 80
    scheduler: wrr
    lb_kind: dr
    slow_start: 5
    quorum: 5
    sorry_server: { address: 192.0.2.99 }
    quorum_down: [/bin/sh, -c, 'echo "down $DUET_SERVICE $DUET_HEALTHY_WEIGHT" >> /tmp/lab/quorum.log']
    quorum_up: [/bin/sh, -c, 'echo "up $DUET_SERVICE $DUET_HEALTHY_WEIGHT" >> /tmp/lab/quorum.log']
    checks: [${CHECK}]
    real_servers:
      - { address: 192.0.2.21, weight: 4 }
      - { address: 192.0.2.22, weight: 4 }
      - { address: 192.0.2.23, weight: 4 }
  - name: app
    address: 192.0.2.100
    port: 8080
    scheduler: wlc
    lb_kind: dr
    inhibit_on_failure: true
    checks: [{ type: tcp, interval: 2, timeout: 1.9, rise: 2, fall: 2 }]
    real_servers:
      - { address: 192.0.2.21 }
      - { address: 192.0.2.22 }
  - name: agent
    address: 192.0.2.100
    port: 81
    scheduler: wrr
    lb_kind: dr
    checks: [{ type: agent, connect_port: 9999, interval: 1, timeout: 0.9, rise: 1, fall: 2 }]
    real_servers:
      - { address: 192.0.2.21, weight: 10 }
`;

// A real server: HTTP on :80 and :8080 answering the status in /tmp/lab/NAME.status, an agent on
// :9999 answering /tmp/lab/NAME.agent.
const SERVER = String.raw`
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
const [name, addr] = process.argv.slice(2);
const read = (f, d) => { try { return fs.readFileSync('/tmp/lab/' + name + f, 'utf8').trim() || d; } catch { return d; } };
for (const port of [80, 8080]) http.createServer((q, s) => { s.writeHead(Number(read('.status', '200'))); s.end(name + '\n'); }).listen(port, addr);
// TCP checks close with a reset: the socket error must not kill the server.
net.createServer((c) => { c.on('error', () => {}); c.end(read('.agent', 'up') + '\n'); }).listen(9999, addr, () => console.log('listening ' + name));
`;

const JOB = String.raw`
${VM_PRELUDE}fail() { echo "FAIL: $*"; section log; cat /tmp/lab/log; exit 1; }
mkdir -p /tmp/lab
cat > /tmp/lab/rs.mjs <<'JS'
${SERVER}
JS
cat > /tmp/lab/duet.yaml <<'YAML'
${CONFIG}
YAML
ip netns add d && ip -n d link set lo up
ip -n d link add br0 type bridge && ip -n d addr add 192.0.2.11/24 dev br0 && ip -n d link set br0 up
pids=""
for n in 1 2 3; do
  ip netns add rs$n && ip -n rs$n link set lo up
  ip link add rs$n-e type veth peer name eth0 netns rs$n
  ip link set rs$n-e netns d && ip -n d link set rs$n-e master br0 && ip -n d link set rs$n-e up
  ip -n rs$n addr add 192.0.2.2$n/24 dev eth0 && ip -n rs$n link set eth0 up
  ip netns exec rs$n node /tmp/lab/rs.mjs rs$n 192.0.2.2$n > /tmp/lab/rs$n.log 2>&1 &
  eval rs$n'_pid'=$!
done
for n in 1 2 3; do waitfor 90 "grep -q listening /tmp/lab/rs$n.log" || fail "rs$n never listened"; done
echo 50% > /tmp/lab/rs1.agent

ip netns exec d node build/src/cli/duet.js run -c /tmp/lab/duet.yaml -s /tmp/lab/duet.sock > /tmp/lab/log 2>&1 &
duet=$!
t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
table() { ip netns exec d ipvsadm -Ln; }
w() { table | awk -v svc="$1" -v rs="$2" '/^(TCP|UDP)/ { cur=$2 } cur==svc && $2==rs { print $4 }'; }

# Deadlines are generous (wall clock: duet's start takes 20-90 s under emulation, more on a busy host).
waitfor 180 '[ "$(w 192.0.2.100:81 192.0.2.21:81)" = 5 ]' || fail "agent 50% never gave weight 5"
waitfor 90 '[ "$(table | grep -c "192.0.2.2[123]:80 *Route *4 ")" = 3 ]' || fail "web servers not all at weight 4"
section start
echo "at $(ms) epoch $(date +%s%3N)"
table

section fail500
echo 500 > /tmp/lab/rs1.status
t=$(ms)
waitfor 60 '[ -z "$(w 192.0.2.100:80 192.0.2.21:80)" ]' || fail "rs1 never left web"
echo "removed after $(( $(ms) - t )) ms"
table

section recover
echo 200 > /tmp/lab/rs1.status
t=$(ms)
waitfor 60 '[ -n "$(w 192.0.2.100:80 192.0.2.21:80)" ]' || fail "rs1 never came back"
echo "back after $(( $(ms) - t )) ms"
# Weight samples until full weight (30 s at most).
until=$(( $(epoch_ms) + 30000 ))
while [ "$(epoch_ms)" -lt $until ]; do v=$(w 192.0.2.100:80 192.0.2.21:80); echo "ramp $(ms) $v"; [ "$v" = 4 ] && break; sleep 0.2; done

section kill
kill $rs2_pid
t=$(ms)
waitfor 60 '[ -z "$(w 192.0.2.100:80 192.0.2.22:80)" ] && [ "$(w 192.0.2.100:8080 192.0.2.22:8080)" = 0 ]' || fail "killed rs2 not removed/inhibited"
echo "out after $(( $(ms) - t )) ms"
table

section quorum
echo 500 > /tmp/lab/rs3.status
waitfor 60 '[ -n "$(w 192.0.2.100:80 192.0.2.99:80)" ]' || fail "sorry server never came"
table
echo 200 > /tmp/lab/rs3.status
waitfor 60 '[ -z "$(w 192.0.2.100:80 192.0.2.99:80)" ]' || fail "sorry server never left"
section regained
table
cat /tmp/lab/quorum.log

section drain
echo drain > /tmp/lab/rs1.agent
waitfor 60 '[ "$(w 192.0.2.100:81 192.0.2.21:81)" = 0 ]' || fail "drain never gave 0"
table

section restart
ip netns exec rs2 node /tmp/lab/rs.mjs rs2 192.0.2.22 > /tmp/lab/rs2b.log 2>&1 &
t=$(ms)
waitfor 90 '[ -n "$(w 192.0.2.100:80 192.0.2.22:80)" ] && [ "$(w 192.0.2.100:8080 192.0.2.22:8080)" = 1 ]' || fail "restarted rs2 never came back"
echo "back after $(( $(ms) - t )) ms (incl. node start)"
table

section status
ip netns exec d node build/src/cli/duet.js status -s /tmp/lab/duet.sock
section stop
kill -TERM $duet; wait $duet; echo "exit=$?"
section log
grep '"mod":"check"' /tmp/lab/log
section end
`;

type Line = { msg: string; time?: string; service?: string; server?: string; from?: unknown; to?: unknown; reason?: string; up?: boolean };
const log = (): Line[] => part('log').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);

const job = vmJob(JOB, { timeoutMs: 240_000 });
const part = job.part;

test('the VM job ran to the end', (t) => {
  t.log(`boot ${job.vm.bootMs} ms, total ${job.vm.totalMs} ms`);
  for (const s of ['fail500', 'recover', 'kill']) t.log(`${s}: ${part(s).split('\n')[0]}`);
  t.is(job.vm.code, 0, job.vm.stdout.slice(-4000) + job.vm.stderr.slice(-2000));
  t.regex(job.vm.stdout, /=== end/);
  t.regex(part('stop'), /exit=0/);
});

test('at start every healthy server is in the kernel table with its weight; the agent halves its server', (t) => {
  const s = part('start');
  for (const n of [1, 2, 3]) t.regex(s, new RegExp(`  -> 192\\.0\\.2\\.2${n}:80 +Route +4 `));
  t.regex(s, /  -> 192\.0\.2\.21:81 +Route +5 /);
  t.notRegex(s, /192\.0\.2\.99/, 'no sorry server while quorum holds');
});

test('an HTTP 500 takes the server out after fall failures; it returns after rise successes through slow start', (t) => {
  t.regex(part('fail500'), /removed after \d+ ms/);
  t.notRegex(part('fail500'), /192\.0\.2\.21:80 /);
  // The 500's own transition (under emulation a slow start-up can add an earlier timeout one).
  const out = log().find((l) => l.msg === 'check state changed' && l.server === '192.0.2.21:80' && l.to === 'down' && /^status /.test(l.reason ?? ''));
  t.truthy(out, 'logged with its reason');
  t.regex(out?.reason ?? '', /^status 500 \(2 in a row\)$/);
  const ramp = part('recover').split('\n').filter((l) => l.startsWith('ramp ')).map((l) => Number(l.split(' ')[2]));
  t.true(ramp.length >= 2, `ramp samples: ${ramp.join(' ')}`);
  t.true(ramp[0]! < 4, `first weight after recovery is below 4: ${ramp.join(' ')}`);
  t.is(ramp.at(-1), 4, 'full weight at the end');
  for (let i = 1; i < ramp.length; i++) t.true(ramp[i]! >= ramp[i - 1]!, `never goes down: ${ramp.join(' ')}`);
});

test('a killed server is removed where failures remove and kept at weight 0 where they inhibit', (t) => {
  const k = part('kill');
  t.notRegex(k, /192\.0\.2\.22:80 /);
  t.regex(k, /  -> 192\.0\.2\.22:8080 +Route +0 /);
  t.regex(k, /  -> 192\.0\.2\.21:8080 +Route +1 /);
});

test('quorum lost: the sorry server replaces the rest and the hook runs; regained: the servers return', (t) => {
  const q = part('quorum');
  const web = q.split(/\n(?=TCP)/).find((b) => b.startsWith('TCP  192.0.2.100:80 '));
  t.truthy(web, q);
  t.deepEqual(web!.split('\n').filter((l) => l.includes('->')).map((l) => l.trim().split(/\s+/)[1]), ['192.0.2.99:80']);
  const r = part('regained');
  t.regex(r, /  -> 192\.0\.2\.21:80 +Route +4 /);
  t.regex(r, /  -> 192\.0\.2\.23:80 +Route +[1-4] /, 'rs3 back (still ramping up, perhaps)');
  t.regex(r, /^down tcp:192\.0\.2\.100:80 4$/m);
  const up = /^up tcp:192\.0\.2\.100:80 (\d+)$/m.exec(r);
  t.true(Number(up?.[1]) >= 5, `regained at quorum or more: ${up?.[0]}`);
  // From the start section on (a slow start-up may time out a first check and flap quorum before).
  const since = Number(/epoch (\d+)/.exec(part('start'))?.[1]);
  t.true(since > 0, part('start'));
  t.deepEqual(log().filter((l) => l.msg.startsWith('quorum') && l.service === 'tcp:192.0.2.100:80' && Date.parse(l.time ?? '') >= since).map((l) => l.msg), ['quorum lost', 'quorum regained']);
});

test('a restarted server returns after rise successes, in both services', (t) => {
  const r = part('restart');
  t.regex(r, /back after \d+ ms/);
  t.regex(r, /  -> 192\.0\.2\.22:8080 +Route +1 /);
  const back = log().filter((l) => l.msg === 'check state changed' && l.server === '192.0.2.22:80').at(-1);
  t.like(back, { from: 'down', to: 'up' });
  t.regex(back?.reason ?? '', /^status 200 \(2 in a row\)$/);
});

test('an agent answering drain sets weight 0; duet status shows health per server', (t) => {
  t.regex(part('drain'), /  -> 192\.0\.2\.21:81 +Route +0 /);
  const s = part('status');
  // SERVICE SERVER WEIGHT WANTED KERNEL ACTIVE INACT HEALTH WHY
  t.regex(s, /web +192\.0\.2\.21:80 +4 +4 +4 +\d+ +\d+ +UP /);
  t.regex(s, /agent \(QUORUM LOST\) +192\.0\.2\.21:81 +10 +0 +0 +\d+ +\d+ +UP +agent: drain/, 'drained to 0: no healthy weight left, and no sorry server to switch to');
});
