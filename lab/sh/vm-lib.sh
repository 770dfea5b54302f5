# Shell building blocks shared by the VM jobs (test/vm, benches, the demo), sourced by a job:
#   . lab/sh/vm-lib.sh          (jobs start in the project root)
# In the emulated VM every process start costs 50-100 ms, so waits here are deadline-based (a
# counted loop runs far longer than its count says) and the helpers use bash builtins.

# section NAME: a header the host side reads back (lab/vm-shell.ts vmSection).
section() { echo "=== $1"; }

# now_ms: sets NOW to milliseconds since the epoch, from bash's own clock (no fork, no process).
now_ms() { NOW=${EPOCHREALTIME/[.,]/}; NOW=${NOW:0:-3}; }

# epoch_ms: prints the same (for $(...), which forks a subshell).
epoch_ms() { now_ms; echo $NOW; }

# ms: the time jobs print (a job may redefine it, relative to its own start).
ms() { epoch_ms; }

# waitfor SECONDS 'CONDITION': eval the condition every 0.1 s until it holds (true) or the
# deadline passes (false).
waitfor() {
  local deadline
  now_ms; deadline=$((NOW + $1 * 1000))
  until eval "$2"; do
    now_ms; ((NOW >= deadline)) && return 1
    sleep 0.1
  done
  return 0
}

# mklan: a bridge br0 in namespace "lan".
mklan() {
  ip netns add lan && ip -n lan link set lo up && ip -n lan link add br0 type bridge && ip -n lan link set br0 up
}

# addhost NAME ADDRESS[/LEN]: a namespace with eth0 on lan's br0 (veth NAME-e on the lan side)
# and that address (default /24).
addhost() {
  ip netns add $1 && ip -n $1 link set lo up
  ip link add $1-e type veth peer name eth0 netns $1
  ip link set $1-e netns lan && ip -n lan link set $1-e master br0 && ip -n lan link set $1-e up
  local a
  case $2 in */*) a=$2 ;; *) a=$2/24 ;; esac
  ip -n $1 addr add $a dev eth0 && ip -n $1 link set eth0 up
}

# lan_bridge NAME: a bridge NAME in namespace "lan" (made first if missing), no forward delay.
lan_bridge() {
  [ -e /run/netns/lan ] || { ip netns add lan && ip -n lan link set lo up; } || return 1
  ip -n lan -b - <<EOF
link add $1 type bridge forward_delay 0
link set $1 up
EOF
}

# lan_host NAME ADDRESS [BRIDGE]: a namespace with eth0 (ADDRESS/24) on lan's BRIDGE (default
# br0), its veth NAME-e on the lan side; lo up.
lan_host() {
  ip netns add $1 || return 1
  ip link add name $1-e netns lan type veth peer name eth0 netns $1 || return 1
  ip -n lan link set dev $1-e master ${3:-br0} up || return 1
  ip -n $1 -b - <<EOF
link set lo up
addr add $2/24 dev eth0
link set eth0 up
EOF
}

# dr_realserver NS VIP: a DR real server takes the VIP on lo and does not answer ARP for it.
dr_realserver() {
  ip netns exec $1 sh -c "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 && ip addr add $2/32 dev lo"
}

# run_lab: a lab job's main part (survival.sh, scale.sh): lab_base once, then run_opt for each of
# $OPTIONS, with "@@" lines (say) for the host to read; "@@done" last.
run_lab() {
  local t0 opt
  now_ms; t0=$NOW
  if lab_base; then
    now_ms; say "note base lab up in $((NOW - t0)) ms"
    for opt in $OPTIONS; do run_opt $opt; done
  else
    say "error base lab setup failed (namespaces or echo servers)"; tail -n 5 $L/rs*.log
  fi
  say done
}
