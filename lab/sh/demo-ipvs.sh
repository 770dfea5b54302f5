# The director path of `npm run demo` (lab/demo-ipvs.ts runs it): client -> VIP -> IPVS (DR, wrr
# 3:1) -> rs1/rs2 through a duet pair, then a failover (SIGKILL + link down on the master) and the
# same requests through the backup. It runs unchanged where IPVS is: on the host when its kernel
# has IPVS, otherwise in a throw-away VM on Debian's kernel.
# Env: DUET_DEMO_PREFIX (namespace name prefix), NODE (node binary). cwd: the project root.
# Each step prints "=== name"; timings are "T name ms" lines.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/vm-lib.sh"
set -u
P=${DUET_DEMO_PREFIX:-}
NODE=${NODE:-node}
W=$(mktemp -d /tmp/duet-demo-ipvs.XXXXXX)
T0=$(ms)
mark() { echo "T $1 $(( $(ms) - T0 ))"; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for n in c d1 d2 rs1 rs2 br; do
    ip netns pids $P$n 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del $P$n 2>/dev/null
  done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
fail() {
  echo "FAIL: $*"
  for h in d1 d2; do section "log-$h"; tail -n 15 $W/$h.log 2>/dev/null; done
  exit 3
}
hasvip() { ip -n $P$1 -4 -o addr show dev eth0 | grep -q ' 192\.0\.2\.100/'; }
count() { grep -c "$1" "$2" 2>/dev/null || true; }

section setup
ip -b - <<EOF || fail "namespaces"
netns add ${P}br
netns add ${P}c
netns add ${P}d1
netns add ${P}d2
netns add ${P}rs1
netns add ${P}rs2
link add name c netns ${P}br type veth peer name eth0 netns ${P}c
link add name d1 netns ${P}br type veth peer name eth0 netns ${P}d1
link add name d2 netns ${P}br type veth peer name eth0 netns ${P}d2
link add name rs1 netns ${P}br type veth peer name eth0 netns ${P}rs1
link add name rs2 netns ${P}br type veth peer name eth0 netns ${P}rs2
EOF
ip -n ${P}br -b - <<'EOF' || fail "bridge"
link set lo up
link add br0 type bridge forward_delay 0
link set br0 up
link set dev c master br0 up
link set dev d1 master br0 up
link set dev d2 master br0 up
link set dev rs1 master br0 up
link set dev rs2 master br0 up
EOF
for h in c:192.0.2.50 d1:192.0.2.11 d2:192.0.2.12; do
  printf 'link set lo up\naddr add %s/24 dev eth0\nlink set eth0 up\n' ${h#*:} | ip -n $P${h%%:*} -b - || fail "addresses of ${h%%:*}"
done
# DR real servers: the VIP on lo, never answering ARP for it; busybox httpd answers its name.
for h in rs1:192.0.2.21 rs2:192.0.2.22; do
  n=${h%%:*} a=${h#*:}
  mkdir -p $W/www-$n; echo $n > $W/www-$n/index.html
  ip netns exec $P$n sh -c '
    set -e
    printf "link set lo up\naddr add 192.0.2.100/32 dev lo\naddr add '$a'/24 dev eth0\nlink set eth0 up\n" | ip -b -
    for f in all eth0; do
      echo 1 > /proc/sys/net/ipv4/conf/$f/arp_ignore
      echo 2 > /proc/sys/net/ipv4/conf/$f/arp_announce
    done
    busybox httpd -p 80 -h '$W'/www-'$n'
  ' || fail "real server $n"
done
mark setup-done

section start
mkdir -p $W/d1 $W/d2  # one directory each: duet keeps its IPVS state file next to its socket
ip netns exec ${P}d1 $NODE build/src/cli/duet.js run -c $HERE/demo-ipvs-d1.yaml -s $W/d1/duet.sock > $W/d1.log 2>&1 &
pid1=$!; pids+=($pid1)
ip netns exec ${P}d2 $NODE build/src/cli/duet.js run -c $HERE/demo-ipvs-d2.yaml -s $W/d2/duet.sock > $W/d2.log 2>&1 &
pid2=$!; pids+=($pid2)
waitfor 90 '[ $(count "IPVS table" $W/d1.log) -ge 1 ] && [ $(count "IPVS table" $W/d2.log) -ge 1 ]' || fail "IPVS never programmed"
mark ipvs-programmed
waitfor 15 'hasvip d1 && ! hasvip d2 && [ "$(grep "\"to\":\"" $W/d2.log | tail -n 1 | grep -c "\"to\":\"backup\"")" = 1 ]' || fail "d1 never became master with d2 backup"
mark d1-master
ip netns exec ${P}d1 ipvsadm -Ln

run_http() { # label
  local t=$(ms)
  section "http-$1"
  timeout 40 ip netns exec ${P}c bash $HERE/vip-http.sh 80 20 > $W/$1.txt
  echo "sequence: $(tr '\n' ' ' < $W/$1.txt)"
  sort $W/$1.txt | uniq -c
  echo "T http-$1-ms $(( $(ms) - t ))"
}
run_http before

section failover
sleep 0.$(( RANDOM % 10 ))
m0=$(count '"to":"master"' $W/d2.log)
tk=$(ms)
ip -n ${P}d1 link set eth0 down
kill -9 $pid1
echo "KILL_EPOCH_MS $tk"
until hasvip d2; do [ $(( $(ms) - tk )) -ge 10000 ] && fail "d2 never added the VIP"; done
echo "T d2-vip-seen-ms $(( $(ms) - tk ))"
waitfor 5 '[ $(count "\"to\":\"master\"" $W/d2.log) -gt $m0 ]' || fail "d2 log has no transition to master"
grep '"to":"master"' $W/d2.log | tail -n 1
run_http after

section table-d2
ip netns exec ${P}d2 ipvsadm -Ln
section stop
kill -TERM $pid2; wait $pid2; echo "d2-exit=$?"
mark stopped
section end
