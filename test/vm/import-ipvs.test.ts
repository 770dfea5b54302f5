// Differential, real kernel: for Debian's IPVS samples, keepalived 2.2.7 (its checker process
// only) programs IPVS from the sample in one namespace, duet from `duet import keepalived` of the
// same sample in another, and `ipvsadm -Sn` (sorted) must be identical once each table has been
// unchanged for 15 s. No real server answers (the namespaces have no route to them), so both
// sides go through their checkers' failure paths: servers removed, kept at weight 0 under
// inhibit_on_failure, the sorry server added when quorum is lost.
// The samples have no VRRP instance (a duet config needs one), so the job adds one on a dummy
// eth0 to the imported YAML; the IPVS part is the import's, untouched. Not here: misc_check*
// (their scripts do not exist: duet refuses to start, keepalived runs and fails them), quorum
// (alpha starts keepalived's servers down; duet has no alpha) and SMTP_CHECK (timeouts of 30 s
// would make the job long).
import test from 'ava';
import { vmJob } from '../helpers/vm-job.js';

const SAMPLES = ['sample', 'fwmark', 'inhibit', 'virtual_server_group', 'UDP_CHECK', 'IPv6', 'HTTP_GET.port', 'status_code'] as const;

const JOB = String.raw`
set -u
section() { echo "=== $1"; }
mkdir -p /tmp/imp
# The sorted table once it has been the same (and not empty) for 15 polls a second apart; at most 240 s.
settle() {
  local prev="" cur="" same=0 end=$(( $(date +%s) + 240 ))
  while [ $(date +%s) -lt $end ]; do
    cur=$(ip netns exec $1 ipvsadm -Sn | sort)
    if [ -n "$cur" ] && [ "$cur" = "$prev" ]; then same=$((same + 1)); [ $same -ge 15 ] && { echo "$cur"; return 0; }; else same=0; fi
    prev=$cur
    sleep 1
  done
  echo "not settled"; echo "$cur"
}
netns() {
  ip netns add $1 && ip -n $1 link set lo up
  ip -n $1 link add eth0 type dummy && ip -n $1 addr add 192.0.2.11/24 dev eth0 && ip -n $1 link set eth0 up
}
for s in ${SAMPLES.join(' ')}; do
  f=/usr/share/doc/keepalived/samples/keepalived.conf.$s
  netns k
  ip netns exec k keepalived -n -l -D -G --check -f $f -p /tmp/imp/ka.pid -c /tmp/imp/ka-check.pid > /tmp/imp/ka-$s.log 2>&1 &
  kpid=$!
  section "ka-$s"
  settle k
  kill -TERM $kpid; wait $kpid
  ip netns del k

  node build/src/cli/duet.js import keepalived $f > /tmp/imp/$s.yaml 2> /tmp/imp/$s.err
  rc=$?
  section "import-$s"
  echo "exit=$rc"
  sed -i 's|^  instances: \[\]$|  instances:\n    - { name: VI_IMP, interface: eth0, vrid: 99, virtual_ipaddress: [198.51.100.1/32] }|' /tmp/imp/$s.yaml
  netns d
  ip netns exec d node build/src/cli/duet.js run -c /tmp/imp/$s.yaml -s /tmp/imp/$s.sock > /tmp/imp/duet-$s.log 2>&1 &
  dpid=$!
  section "duet-$s"
  settle d
  kill -TERM $dpid; wait $dpid
  ip netns del d
  section "logs-$s"
  cat /tmp/imp/$s.err; tail -n 20 /tmp/imp/ka-$s.log; grep -v '"level":20' /tmp/imp/duet-$s.log | tail -n 20
done
section end
`;

const job = vmJob(JOB, { timeoutMs: 1_500_000, memMb: 1024 });

test('the VM job ran to the end', (t) => {
  t.log(`boot ${job.vm.bootMs} ms, total ${job.vm.totalMs} ms`);
  t.is(job.vm.code, 0, job.vm.stdout.slice(-3000) + job.vm.stderr.slice(-2000));
  t.regex(job.vm.stdout, /=== end/);
});

for (const s of SAMPLES) {
  test(`keepalived.conf.${s}: ipvsadm -Sn from keepalived and from duet's import are identical`, (t) => {
    const ka = job.part(`ka-${s}`);
    t.log(job.part(`logs-${s}`));
    // Control: keepalived programmed something, and settled.
    t.regex(ka, /^-A /m, 'keepalived programmed a virtual server');
    t.notRegex(ka, /not settled/);
    t.regex(job.part(`import-${s}`), /exit=4/, 'partial: the samples have no VRRP instance');
    t.is(job.part(`duet-${s}`), ka);
  });
}
