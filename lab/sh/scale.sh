# The active-active scale lab's job in one VM (lab/scale.ts builds the job and reads its "@@"
# lines back; that file says what the lab does). The job sets these and then sources this file:
#   OPTIONS ("mesh mh none") N (sessions) INTERVAL (ms between lines) WIN (window per scenario, s)
#   SETTLE (s after convergence) ALIVE (ms: a surviving session replied this recently)
#   SCENARIOS ("join drain kill") SYNC_THRESHOLD VIP PORT; and writes /tmp/lab/echo.mjs,
#   /tmp/lab/frr.conf, /tmp/lab/bird-dN.conf and /tmp/lab/OPTION-dN.yaml.
. "$(dirname "${BASH_SOURCE[0]}")/vm-lib.sh"
set -u
L=/tmp/lab
FRR_RUN=/var/run/frr/scale
DIRECTORS="d1 d2 d3 d4"
say() { echo "@@$*"; }
sleep_until() { local d; now_ms; d=$(($1 - NOW)); ((d > 0)) && sleep $((d / 1000)).$(printf %03d $((d % 1000))); return 0; }
modprobe -a ip_vs ip_vs_rr ip_vs_mh sch_ingress cls_flower act_gact 2>&1 || true

# Once per VM: the bridge and the DR real servers with their echo servers.
lab_base() {
  lan_bridge br0 || return 1
  for i in 1 2; do
    lan_host rs$i 192.0.2.2$i || return 1
    ip -n rs$i route add default via 192.0.2.1 || return 1
    dr_realserver rs$i $VIP || return 1
    ip netns exec rs$i node $L/echo.mjs > $L/rs$i.log 2>&1 &
  done
  waitfor 120 'grep -q listening $L/rs1.log && grep -q listening $L/rs2.log' || return 1
  mkdir -p $FRR_RUN && chown frr:frr $FRR_RUN $L/frr.conf
}
PIDS=()
# Per option, from scratch: the router r (FRR) with the client c behind it, and four directors.
lab_up() {
  lan_host r 192.0.2.1 || return 1
  ip netns add c || return 1
  ip link add name eth1 netns r type veth peer name eth0 netns c || return 1
  ip -n r -b - <<EOF || return 1
addr add 10.1.0.1/24 dev eth1
link set eth1 up
EOF
  ip -n c -b - <<EOF || return 1
link set lo up
addr add 10.1.0.50/24 dev eth0
link set eth0 up
route add default via 10.1.0.1
EOF
  # The router hashes the client's flows by the hash its sockets put on the packets (veth keeps
  # skb->hash): never re-roll it on a retransmission timeout, as a real router's hash never does.
  ip netns exec c sysctl -qw net.core.txrehash=0 || return 1
  ip netns exec r sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 || return 1
  ip netns exec r /usr/lib/frr/zebra -N scale -u frr -g frr -f $L/frr.conf -i $FRR_RUN/zebra.pid --log file:$L/$OPT-zebra.log > /dev/null 2>&1 &
  PIDS+=($!)
  waitfor 30 '[ -S $FRR_RUN/zserv.api ]' || return 1
  for d in bgpd bfdd; do
    ip netns exec r /usr/lib/frr/$d -N scale -u frr -g frr -f $L/frr.conf -i $FRR_RUN/$d.pid --log file:$L/$OPT-$d.log > /dev/null 2>&1 &
    PIDS+=($!)
  done
  local n=10
  for d in $DIRECTORS; do
    n=$((n + 1))
    lan_host $d 192.0.2.$n || return 1
    ip -n $d route add default via 192.0.2.1 || return 1
    ip netns exec $d sh -c "echo '$SYNC_THRESHOLD' > /proc/sys/net/ipv4/vs/sync_threshold" || return 1
  done
}
lab_down() {
  local p n
  for p in "${PIDS[@]}"; do kill -KILL $p 2>/dev/null; done
  # Gone before the namespaces go (a namespace a process still holds keeps its veth in lan).
  for p in "${PIDS[@]}"; do wait $p 2>/dev/null; done
  PIDS=()
  for n in r c $DIRECTORS; do ip netns del $n 2>/dev/null; done
  # A namespace can outlive its name and its processes (the killed director's did, holding its
  # veth): delete what is left of their veths in lan, which frees the names for the next option.
  for n in r $DIRECTORS; do ip -n lan link del $n-e 2>/dev/null; done
  rm -f $FRR_RUN/*
  return 0
}
# A director's speaker and duet (its log appended to OPT-dN.log; its state directory its own).
# $2 "withdrawn": it starts in sticky maintenance (the state file a `duet maintenance on
# --sticky` leaves), so it runs, syncs and checks but does not announce until maintenance off.
start_director() {
  mkdir -p $L/$1
  rm -rf $L/$1/state
  if [ "${2:-}" = withdrawn ]; then
    mkdir -m 700 $L/$1/state && (umask 077 && echo '{"maintenance":true,"withdrawn":[]}' > $L/$1/state/bgp-operator.json) || return 1
  fi
  ip netns exec $1 bird -f -c $L/bird-$1.conf -s $L/$1/bird.ctl -P $L/$1/bird.pid > $L/$OPT-bird-$1.log 2>&1 &
  eval "BIRD_$1=$!"; PIDS+=($!)
  ip netns exec $1 node build/src/cli/duet.js run -c $L/$OPT-$1.yaml -s $L/$1/duet.sock >> $L/$OPT-$1.log 2>&1 &
  eval "DUET_$1=$!"; PIDS+=($!)
}
# The router's next hops for the VIP, as sorted last octets: " 11 12 13 " (one process).
ROUTE=''
hops() {
  ROUTE=$(ip -n r -o route show $VIP 2>/dev/null)
  local n h=' '
  for n in 11 12 13 14; do [[ $ROUTE == *"via 192.0.2.$n "* ]] && h+="$n "; done
  HOPS=$h
}
hops_are() { hops; [ "$HOPS" = " $* " ]; }
client_ports() { ip netns exec c ss -Htn state established dst $VIP | awk '{n = split($3, a, ":"); print a[n]}'; }
# Which director each session's packets reach: a tc flower filter per session (by the client's
# port) on every director's uplink, whose packet counter says. (The router's own lookup, `ip route
# get`, cannot tell: it hashes forwarded packets by the hash the client's socket put on them.)
count_setup() { # director ports...
  local d=$1; shift
  { echo "qdisc add dev eth0 clsact"
    for p in "$@"; do echo "filter add dev eth0 ingress pref 1 protocol ip handle $p flower ip_proto tcp src_port $p action pass"; done
  } | ip netns exec $d tc -b -
}
# "@@pkts OPT SCENARIO PHASE dN port=packets ..." for every director.
counts() {
  for d in $DIRECTORS; do
    say "pkts $OPT $1 $2 $d $(ip netns exec $d tc -s filter show dev eth0 ingress | awk '/src_port/ {p = $2} /Sent/ && p {printf "%s=%s ", p, $4; p = ""}')"
  done
}
# The client's connections each director created itself (not learned by sync), by the kernel's
# own record (/proc/net/ip_vs_conn_sync: Origin LOCAL; 0A010032 is 10.1.0.50).
local_conns() { ip netns exec $1 awk '$2 == "0A010032" && $9 == "LOCAL" {n++} END {print n + 0}' /proc/net/ip_vs_conn_sync 2>/dev/null || echo 0; }
established() { ip netns exec $1 ipvsadm -Lnc 2>/dev/null | awk '$3 == "ESTABLISHED" && $4 ~ /^10\.1\.0\.50:/ {n++} END {print n + 0}'; }
ctl() { echo "$*" >&5; }
client_has() { grep -q "$1" $L/$OPT-client.log; }
dump() {
  [ -f $L/$OPT-client.log ] && sed "s/^/@@client $OPT /" $L/$OPT-client.log
  return 0
}
fail_opt() {
  say "error $OPT $*"
  for n in $DIRECTORS; do echo "--- $OPT $n log tail"; tail -n 8 $L/$OPT-$n.log 2>/dev/null; tail -n 3 $L/$OPT-bird-$n.log 2>/dev/null; done
  echo "--- $OPT router: $ROUTE"; tail -n 5 $L/$OPT-bgpd.log 2>/dev/null
  echo "--- $OPT client log tail"; tail -n 5 $L/$OPT-client.log 2>/dev/null
  exec 5>&-
  dump
  lab_down
  return 1
}

# One scenario: $1 name, $2 the changed director, $3 the next hops wanted after it, $4 the action.
scenario() {
  local name=$1 changed=$2 want=$3 action=$4
  # Packet counts 2 s apart (where each session goes before), then at the window's end (after).
  counts $name a
  sleep 2
  counts $name b
  ctl mark $name
  now_ms; local t0=$NOW
  say "event $OPT $name $t0"
  eval "$action" || { fail_opt "$name: action failed"; return 1; }
  if waitfor 150 "hops_are $want"; then now_ms; say "conv $OPT $name $((NOW - t0))"; say "converged $OPT $name $NOW"
  else fail_opt "$name: router next hops '$HOPS', want ' $want ' after 150 s ($ROUTE)"; return 1; fi
  # The window, and at least SETTLE s after the route converged (a moved session's retransmission
  # backs off: it may need that long to come back after a late convergence).
  local end=$((t0 + WIN * 1000)); ((NOW + SETTLE * 1000 > end)) && end=$((NOW + SETTLE * 1000))
  sleep_until $end
  ctl report $name
  waitfor 20 "client_has '\"ev\":\"report\",\"name\":\"$name\"'" || { fail_opt "$name: no client report"; return 1; }
  counts $name c
  # When the changed director's duet announced (join) or withdrew (drain), by its own log (the
  # last such line: a director also starts withdrawn, until its first check result).
  local msg='VIP withdrawn' at
  [ $name = join ] && msg='VIP announced'
  at=$(grep "\"msg\":\"$msg\"" $L/$OPT-$changed.log 2>/dev/null | tail -n 1 | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
  [ -n "$at" ] && [ $name != kill ] && say "decided $OPT $name $(date -d "$at" +%s%3N)"
  say "changed $OPT $name ${changed#d}"
}
maintenance() { ip netns exec $1 node build/src/cli/duet.js maintenance $2 -s $L/$1/duet.sock >> $L/$OPT-maint.log 2>&1; }
host_down() { ip -n lan link set $1-e down && kill -KILL $(eval echo \$DUET_$1) $(eval echo \$BIRD_$1); }

run_opt() {
  OPT=$1
  say "begin $OPT"
  lab_up || { fail_opt "lab setup failed"; return 1; }
  now_ms; local t0=$NOW
  for d in d1 d2 d3; do start_director $d; done
  # The joiner runs from the start, withdrawn (a fourth duet start mid-run would only measure how
  # slowly node starts on a starved emulated CPU); it joins by `duet maintenance off`.
  [[ " $SCENARIOS " == *" join "* ]] && start_director d4 withdrawn
  # Node starts slowly on one emulated CPU: 86-165 s measured on a loaded host, more than 180 s once.
  waitfor 400 'hops_are 11 12 13' || { fail_opt "three directors never announced ($ROUTE)"; return 1; }
  now_ms; say "event $OPT up $((NOW - t0))"
  rm -f $L/$OPT.ctl; mkfifo $L/$OPT.ctl
  ip netns exec c node build/lab/survival-client.js --vip $VIP --port $PORT --interval $INTERVAL --max-seconds 1500 --alive-ms $ALIVE --per-session < $L/$OPT.ctl > $L/$OPT-client.log 2>&1 &
  CPID=$!; PIDS+=($CPID)
  exec 5> $L/$OPT.ctl
  ctl open a $N
  # Slow on a starved emulated CPU: 300 sessions took 129 s to open, one loaded run more than 150 s.
  waitfor 400 'client_has "\"ev\":\"opened\",\"batch\":\"a\""' || { fail_opt "sessions never opened"; return 1; }
  if [[ $OPT == mesh* ]]; then
    # Every director holds every session, established, before anything changes.
    waitfor 30 '(( $(established d1) >= N && $(established d2) >= N && $(established d3) >= N ))' ||
      say "note $OPT synced only d1=$(established d1) d2=$(established d2) d3=$(established d3) of $N after 30 s"
  else
    sleep 2
  fi
  local ports; ports=$(client_ports)
  for d in $DIRECTORS; do count_setup $d $ports || { fail_opt "tc filters on $d failed"; return 1; }; done
  # What each director's kernel says it created itself, to check the packet counts against.
  for d in d1 d2 d3; do say "attr $OPT $d $(local_conns $d)"; done
  # In this order (each from the set the last one left): d4 joins, d1 is drained, d2 dies.
  local cur=' 11 12 13 '
  for s in $SCENARIOS; do
    case $s in
      join) cur="${cur}14 "; scenario join d4 "$(echo $cur)" 'maintenance d4 off' || return 1 ;;
      drain) cur=${cur/ 11 / }; scenario drain d1 "$(echo $cur)" 'maintenance d1 on' || return 1 ;;
      kill) cur=${cur/ 12 / }; scenario kill d2 "$(echo $cur)" 'host_down d2' || return 1 ;;
    esac
  done
  ctl quit
  exec 5>&-
  waitfor 20 '! kill -0 $CPID 2>/dev/null'
  dump
  lab_down
  say "end $OPT"
}

run_lab
