// Differential, real kernel: for Debian's IPVS samples, keepalived 2.2.7 (its checker process
// only) programs IPVS from the sample in one namespace, duet from `duet import keepalived` of the
// same sample in another, and `ipvsadm -Sn` (sorted) must be identical once both tables have been
// unchanged for 12 s, 40 s after the start at the earliest (the slowest sample's checks conclude
// in about 24 s), and every duet check has a verdict. No real server answers (the namespaces have no route to them), so both sides go
// through their checkers' failure paths: servers removed, kept at weight 0 under
// inhibit_on_failure, the sorry server added when quorum is lost.
// One duet runs for the whole job (the VM tier starts duet as few times as it can): each sample's
// import is a reload, while a fresh keepalived programs a fresh namespace; both settle together.
// The IPVS-only samples run duet as a checker-only director (no VRRP instance), as keepalived's
// checker process runs them; 'sample' also has a VRRP instance, on the namespace's dummy eth0.
// The programs the samples name do not exist here: both sides get the same copy of the sample
// with /usr/local/bin/script.sh (misc_check, misc_check_arg) replaced by a script that passes
// only when given "arg1 arg2" (so misc_check's server goes and misc_check_arg's stays: the
// arguments reach it on both sides), and quorum's hooks by /bin/true. quorum's alpha (servers
// start down) is not translated, but once every check has failed the tables agree either way.
// Not here: SMTP_CHECK (its 30 s timeouts would make the job long).
import test from 'ava';
import { vmJob } from '../helpers/vm-job.js';
import { VM_PRELUDE } from '../../lab/vm-shell.js';

const SAMPLES = ['sample', 'fwmark', 'inhibit', 'virtual_server_group', 'UDP_CHECK', 'IPv6', 'HTTP_GET.port', 'status_code', 'misc_check', 'misc_check_arg', 'quorum'] as const;

const JOB = String.raw`
${VM_PRELUDE}
mkdir -p /tmp/imp
D=/tmp/imp/duet.yaml
dump() { ip netns exec $1 ipvsadm -Sn | sort; }
# Both sorted tables once each has been the same (and not empty) for 12 polls a second apart,
# and no sooner than 40 s after both started: the slowest sample's checks (6 s delay_loop, then
# 3 retries of 3 s timeout + 3 s delay) conclude in about 24 s, and a table that has not changed
# yet is not settled. At most 180 s. Prints "=== ka-S" and "=== duet-S" sections.
settle() {
  local pk="" pd="" k="" d="" same=0 t0=$(epoch_ms) end=$(( $(epoch_ms) + 180000 ))
  while [ $(epoch_ms) -lt $end ]; do
    k=$(dump k); d=$(dump d)
    if [ -n "$k" ] && [ -n "$d" ] && [ "$k" = "$pk" ] && [ "$d" = "$pd" ]; then
      same=$((same + 1)); [ $same -ge 12 ] && [ $(( $(epoch_ms) - t0 )) -ge 40000 ] && concluded && break
    else same=0; fi
    pk=$k; pd=$d
    sleep 1
  done
  [ $same -ge 12 ] && [ $(( $(epoch_ms) - t0 )) -ge 40000 ] && concluded || echo "not settled"
  section "ka-$1"; echo "$k"
  section "duet-$1"; echo "$d"
}
# Every one of duet's checks has reached a verdict (a check failing from the start stays
# "unknown" until its fall-th failure): on a loaded machine a stable table alone can be one
# whose checks are still retrying.
concluded() {
  local st
  st=$(node build/src/cli/duet.js status --json -s /tmp/imp/duet.sock 2>/dev/null) && ! grep -q '"health": *"unknown"' <<< "$st"
}
mkns() {
  ip netns add $1 && ip -n $1 link set lo up
  ip -n $1 link add eth0 type dummy && ip -n $1 addr add 192.0.2.11/24 dev eth0 && ip -n $1 link set eth0 up
}
reloads() { grep -c '"msg":"config reloaded"' /tmp/imp/duet.log || true; }
# The samples' missing programs: root-owned, so duet's script security accepts them.
mkdir -p /run/imps && chmod 755 /run/imps
printf '#!/bin/sh\n[ "$1" = arg1 ] && [ "$2" = arg2 ]\n' > /run/imps/script.sh && chmod 755 /run/imps/script.sh
mkns d
first=1
for s in ${SAMPLES.join(' ')}; do
  f=/tmp/imp/keepalived.conf.$s
  sed -e 's|/usr/local/bin/script.sh|/run/imps/script.sh|' -e 's|/usr/local/sbin/quorum-[a-z]*\.sh|/bin/true|' /usr/share/doc/keepalived/samples/keepalived.conf.$s > $f
  node build/src/cli/duet.js import keepalived $f > /tmp/imp/$s.yaml 2> /tmp/imp/$s.err
  rc=$?
  section "import-$s"
  echo "exit=$rc"
  cp /tmp/imp/$s.yaml $D
  mkns k
  ip netns exec k keepalived -n -l -D -G --check -f $f -p /tmp/imp/ka.pid -c /tmp/imp/ka-check.pid > /tmp/imp/ka-$s.log 2>&1 &
  kpid=$!
  if [ $first = 1 ]; then
    ip netns exec d node build/src/cli/duet.js run -c $D -s /tmp/imp/duet.sock > /tmp/imp/duet.log 2>&1 &
    dpid=$!; first=0
  else
    n=$(reloads); kill -HUP $dpid
    waitfor 120 "[ \$(reloads) -gt $n ]" || echo "duet did not reload for $s"
  fi
  settle $s
  kill -TERM $kpid; wait $kpid
  ip netns del k
  section "logs-$s"
  cat /tmp/imp/$s.err; tail -n 20 /tmp/imp/ka-$s.log
done
kill -TERM $dpid; wait $dpid
section duet-log
grep -v '"level":20' /tmp/imp/duet.log | tail -n 40
section end
`;

const job = vmJob(JOB, { timeoutMs: 1_200_000, memMb: 1024 });

test('the VM job ran to the end', (t) => {
  t.log(`boot ${job.vm.bootMs} ms, total ${job.vm.totalMs} ms`);
  t.is(job.vm.code, 0, job.vm.stdout.slice(-3000) + job.vm.stderr.slice(-2000));
  t.regex(job.vm.stdout, /=== end/);
});

for (const s of SAMPLES) {
  test(`keepalived.conf.${s}: ipvsadm -Sn from keepalived and from duet's import are identical`, (t) => {
    const ka = job.part(`ka-${s}`);
    t.log(job.part(`logs-${s}`));
    // Control: keepalived programmed something, and both settled.
    t.regex(ka, /^-A /m, 'keepalived programmed a virtual server');
    t.notRegex(job.part(`import-${s}`) + ka, /not settled/);
    t.regex(job.part(`import-${s}`), /exit=[04]$/m, 'complete, or partial for what has no bearing on IPVS (e-mail settings)');
    // The substituted script passes only with its arguments: misc_check_arg's server stays, misc_check's goes.
    if (s === 'misc_check_arg') t.regex(ka, /^-a /m, 'the script got arg1 arg2: its server is in the table');
    if (s === 'misc_check') t.notRegex(ka, /^-a /m, 'the script got no arguments: its server is out');
    t.is(job.part(`duet-${s}`), ka);
  });
}
