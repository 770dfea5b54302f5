# The connection-survival lab's job in one VM (lab/survival.ts builds the job and reads its "@@"
# lines back; that file says what the lab does). The job sets these and then sources this file:
#   MODE (dr|nat) OPTIONS ("sync none mh") N (sessions per batch) INTERVAL (ms between lines)
#   WIN (measurement window, s) PD (d1's preempt_delay, s) FAILBACK (options with a failback)
#   SYNC_THRESHOLD VIP GW PORT; and writes /tmp/lab/echo.mjs and /tmp/lab/OPTION-NODE.yaml.
. "$(dirname "${BASH_SOURCE[0]}")/vm-lib.sh"
set -u
L=/tmp/lab
mkdir -p $L
say() { echo "@@$*"; }
sleep_until() { local d; now_ms; d=$(($1 - NOW)); ((d > 0)) && sleep $((d / 1000)).$(printf %03d $((d % 1000))); return 0; }
modprobe -a ip_vs ip_vs_rr ip_vs_mh 2>&1 || true

# A director's namespace, links and sysctls (also the "reboot" of d1). $1 name, $2 last octet.
mk_director() {
  ip netns add $1 || return 1
  ip link add name $1-e netns lan type veth peer name eth0 netns $1 || return 1
  ip -n lan link set dev $1-e master br0 up || return 1
  if [ $MODE = nat ]; then
    ip link add name $1-n netns lan type veth peer name eth1 netns $1 || return 1
    ip -n lan link set dev $1-n master br1 up || return 1
  fi
  ip -n $1 -b - <<EOF || return 1
link set lo up
addr add 192.0.2.$2/24 dev eth0
link set eth0 up
EOF
  if [ $MODE = nat ]; then
    ip -n $1 -b - <<EOF || return 1
addr add 10.0.0.$2/24 dev eth1
link set eth1 up
EOF
    ip netns exec $1 sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || return 1
  fi
  ip netns exec $1 sh -c "echo '$SYNC_THRESHOLD' > /proc/sys/net/ipv4/vs/sync_threshold" || return 1
}
# The parts every option shares: the bridges, the client's namespace, the real servers and their
# echo servers. Built once per VM.
lab_base() {
  lan_bridge br0 || return 1
  if [ $MODE = nat ]; then lan_bridge br1 || return 1; fi
  lan_host c 192.0.2.50 br0 || return 1
  for i in 1 2; do
    if [ $MODE = nat ]; then
      lan_host rs$i 10.0.0.2$i br1 || return 1
      ip -n rs$i route add default via $GW || return 1
    else
      lan_host rs$i 192.0.2.2$i br0 || return 1
      dr_realserver rs$i $VIP || return 1
    fi
    ip netns exec rs$i node $L/echo.mjs > $L/rs$i.log 2>&1 &
  done
  waitfor 120 'grep -q listening $L/rs1.log && grep -q listening $L/rs2.log' || return 1
}
# Per option: both directors from scratch (fresh IPVS state, sysctls, sync daemons).
lab_up() {
  mk_director d1 11 || return 1
  mk_director d2 12 || return 1
}
PIDS=()
lab_down() {
  for p in "${PIDS[@]}"; do kill -KILL $p 2>/dev/null; done
  PIDS=()
  for n in d1 d2; do ip netns del $n 2>/dev/null; done
  return 0
}
start_duet() { # node: appends to the node's log
  mkdir -p $L/$1
  ip netns exec $1 node build/src/cli/duet.js run -c $L/$OPT-$1.yaml -s $L/$1/duet.sock >> $L/$OPT-$1.log 2>&1 &
  eval "PID_$1=$!"; PIDS+=($!)
}
# The VIP on the public side (and the gateway address on the real servers' side in NAT).
has_vips() {
  ip -n $1 addr show eth0 | grep -q " $VIP/" || return 1
  [ $MODE = nat ] || return 0
  ip -n $1 addr show eth1 | grep -q " $GW/"
}
daemons() { ip netns exec $1 ipvsadm -L --daemon 2>&1; }
# The client's connections in a director's table, by state: "ESTABLISHED=120 SYN_RECV=1" (or "none").
conns() { ip netns exec $1 ipvsadm -Lnc 2>/dev/null | awk '$4 ~ /^192\.0\.2\.50:/ {c[$3]++} END {s = ""; for (k in c) s = s k "=" c[k] " "; print (s == "" ? "none" : s)}'; }
established() { ip netns exec $1 ipvsadm -Lnc 2>/dev/null | awk '$3 == "ESTABLISHED" && $4 ~ /^192\.0\.2\.50:/ {n++} END {print n + 0}'; }
ctl() { echo "$*" >&5; }
client_has() { grep -q "$1" $L/$OPT-client.log; }
dump() {
  [ -f $L/$OPT-client.log ] && sed "s/^/@@client $OPT /" $L/$OPT-client.log
  for n in d1 d2; do
    [ -f $L/$OPT-$n.log ] && grep -h '"msg":"transition"\|sync daemon\|"level":[5-6]0' $L/$OPT-$n.log | sed "s/^/@@log $OPT $n /"
  done
}
fail_opt() {
  say "error $OPT $*"
  for n in d1 d2; do echo "--- $OPT $n log tail"; tail -n 15 $L/$OPT-$n.log 2>/dev/null; done
  echo "--- $OPT client log tail"; tail -n 5 $L/$OPT-client.log 2>/dev/null
  exec 5>&-
  dump
  lab_down
  return 1
}

run_opt() {
  OPT=$1
  say "begin $OPT"
  lab_up || { fail_opt "lab setup failed"; return 1; }
  start_duet d1; start_duet d2
  now_ms; local t0=$NOW
  waitfor 150 'has_vips d1' || { fail_opt "d1 never master"; return 1; }
  waitfor 60 'grep -q "\"to\":\"backup\"" $L/$OPT-d2.log' || { fail_opt "d2 never backup"; return 1; }
  if [ $OPT = sync ]; then
    waitfor 60 'daemons d1 | grep -q "^master sync" && daemons d2 | grep -q "^backup sync"' || { fail_opt "sync daemons not in place: d1 $(daemons d1) d2 $(daemons d2)"; return 1; }
  fi
  now_ms; say "event $OPT pair-up $((NOW - t0))"
  say "note $OPT sloppy_tcp d1=$(ip netns exec d1 cat /proc/sys/net/ipv4/vs/sloppy_tcp) d2=$(ip netns exec d2 cat /proc/sys/net/ipv4/vs/sloppy_tcp) sync_threshold=$(ip netns exec d2 cat /proc/sys/net/ipv4/vs/sync_threshold | tr '\t' ' ')"

  rm -f $L/$OPT.ctl; mkfifo $L/$OPT.ctl
  ip netns exec c node build/lab/survival-client.js --vip $VIP --port $PORT --interval $INTERVAL --max-seconds 600 < $L/$OPT.ctl > $L/$OPT-client.log 2>&1 &
  CPID=$!; PIDS+=($CPID)
  exec 5> $L/$OPT.ctl
  ctl open a $N
  waitfor 150 'client_has "\"ev\":\"opened\",\"batch\":\"a\""' || { fail_opt "batch a never opened"; return 1; }
  now_ms; local synced_from=$NOW
  if [ $OPT = sync ]; then
    # Every session's connection ESTABLISHED in the backup's table (synced at its 3rd packet).
    waitfor 60 '(( $(established d2) >= N ))' || say "note $OPT d2 holds only $(established d2) of $N established connections after 60 s"
  else
    sleep 3
  fi
  now_ms; say "event $OPT synced $((NOW - synced_from))"
  say "conns $OPT d2 before-kill $(conns d2)"
  say "conns $OPT d1 before-kill $(conns d1)"

  # Host down: SIGKILL, and the links go dark.
  now_ms; local kill_at=$NOW
  kill -KILL $PID_d1
  ip -n lan link set d1-e down
  [ $MODE = nat ] && ip -n lan link set d1-n down
  ctl mark kill
  say "event $OPT kill $kill_at"
  waitfor 60 'has_vips d2' && { now_ms; say "event $OPT d2-vips $NOW"; }
  sleep_until $((kill_at + WIN * 1000))
  ctl report kill
  waitfor 20 'client_has "\"ev\":\"report\",\"name\":\"kill\""'
  say "conns $OPT d2 after-failover $(conns d2)"
  if [[ " $FAILBACK " != *" $OPT "* ]]; then finish_opt; return 0; fi

  # The dead host comes back: a fresh namespace, nothing left of its IPVS state.
  ip netns del d1
  mk_director d1 11 || { fail_opt "d1 reboot failed"; return 1; }
  ctl open b $N
  waitfor 150 'client_has "\"ev\":\"opened\",\"batch\":\"b\""' || { fail_opt "batch b never opened"; return 1; }
  ctl mark failback
  now_ms; local start_at=$NOW
  say "event $OPT d1-start $start_at"
  start_duet d1
  waitfor 180 'has_vips d1' || { fail_opt "d1 never took over again"; return 1; }
  ctl mark preempt
  now_ms; local back_at=$NOW
  say "event $OPT d1-vips $back_at"
  say "conns $OPT d1 at-preempt $(conns d1)"
  sleep_until $((back_at + WIN * 1000))
  ctl report failback preempt
  waitfor 20 'client_has "\"ev\":\"report\",\"name\":\"failback\""'
  say "conns $OPT d1 after-failback $(conns d1)"
  finish_opt
}
finish_opt() {
  ctl quit
  exec 5>&-
  waitfor 20 '! kill -0 $CPID 2>/dev/null'
  dump
  lab_down
  say "end $OPT"
}

run_lab
