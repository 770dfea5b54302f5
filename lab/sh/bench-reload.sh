# bench:reload's job inside the VM, run in the director's namespace (lab/bench-reload.ts builds the
# configs, starts it and reads its output). Everything runs inside the namespace, so ipvsadm and
# the CLI start no `ip netns exec` on the way. Markers on stdout: "MARK kind name t0_us [t1_us rc]".
# Env: ROOT (project root), C (the directory of config variants: base, w1.., swap, invalid),
# TRIALS (runs of each reload case).
set -u
cd $ROOT
D=/tmp/duet; F=$D/duet.yaml; S=$D/duet.sock
ip -b - <<'IP'
link set lo up
link add eth0 type dummy
addr add 192.0.2.11/24 dev eth0
link set eth0 up
link add d0 type dummy
addr add 10.0.0.1/8 dev d0
link set d0 up
IP
now() { t=$EPOCHREALTIME; t=${t/./}; }
# Follow the daemon's log with builtins only (no grep/sleep processes competing for the vCPU):
# consume lines until one contains $1; give up after $2 s.
mkfifo $D/tick; exec 7<>$D/tick
: > $D/log
exec 5<$D/log
partial=
waitmsg() {
  local deadline=$((EPOCHSECONDS + $2)) l
  while :; do
    while IFS= read -r l <&5; do
      l=$partial$l; partial=
      [[ $l == *"$1"* ]] && return 0
    done
    partial=$partial$l
    if ((EPOCHSECONDS >= deadline)); then echo "TIMEOUT waiting for $1"; return 1; fi
    read -t 0.1 -u 7 _ || true
  done
}
rss() { echo "RSS $1 $(awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { printf "VmRSS %d MiB (VmHWM %d MiB)", r / 1024, h / 1024 }' /proc/$pid/status)"; }
# One CLI reload, timed from the shell; the reply (or error) on one line.
cli() {
  local name=$1 rc=0 t0
  now; t0=$t
  node build/src/cli/duet.js reload -s $S --json >$D/reply 2>$D/err || rc=$?
  now
  echo "MARK cli $name $t0 $t $rc"
  echo "REPLY $name $(tr -d '\n' <$D/reply)"
  [ -s $D/err ] && echo "ERR $name $(tr '\n' ' ' <$D/err)"
  return 0
}
hup() {
  now; echo "MARK hup $1 $t"
  kill -HUP $pid
}
listing() { ipvsadm -Ln >$D/$1; echo "LIST $1 $(grep -c '^TCP' $D/$1) $(grep -c -- '-> 10\.' $D/$1) $(md5sum <$D/$1 | cut -c1-12)"; }
same() { if cmp -s $D/$1 $D/$2; then echo "SAME $3 yes"; else echo "SAME $3 no"; diff $D/$1 $D/$2 | head -5; fi; }

cp $C/base.yaml $F
# For scale: the CLI's own start-up (same imports as reload, no daemon work).
for i in 1 2 3; do now; t0=$t; node build/src/cli/duet.js help >/dev/null; now; echo "MARK clistart $i $t0 $t 0"; done

now; echo "MARK start daemon $t"
node build/src/cli/duet.js run -c $F -s $S >$D/log 2>&1 </dev/null &
pid=$!
waitmsg '"msg":"IPVS table' 600 || exit 3
now; echo "MARK installed daemon $t"
rss installed
waitmsg '"to":"master"' 60 || exit 3
now; echo "MARK master daemon $t"
# The master's adverts, timestamped: a gap shows how long a reload holds the event loop.
tcpdump -i eth0 -nn -tt -l -Q out ip proto 112 >$D/adv 2>/dev/null &
tpid=$!
listing first
for ((n = 1; n <= TRIALS; n++)); do
  # (1) unchanged
  listing pre
  cli unchanged$n; waitmsg '"msg":"config reloaded"' 600 || exit 3
  listing post; same pre post unchanged$n
  # (2) 1% of the weights
  cp $C/w$n.yaml $F
  cli weights$n; waitmsg '"msg":"config reloaded"' 600 || exit 3
done
rss reloaded
# (h) daemon-side: the same two reloads by SIGHUP
hup unchanged; waitmsg '"msg":"config reloaded"' 600 || exit 3
cp $C/w$((TRIALS + 1)).yaml $F
hup weights; waitmsg '"msg":"config reloaded"' 600 || exit 3
# (3) 10 services out, 10 new in
cp $C/swap.yaml $F
cli swap; waitmsg '"msg":"config reloaded"' 600 || exit 3
listing swapped
# (4) an invalid file
cp $C/invalid.yaml $F
listing pre4
cli invalid; waitmsg '"msg":"reload rejected' 600 || exit 3
listing post4; same pre4 post4 invalid
hup invalid; waitmsg '"msg":"reload rejected' 600 || exit 3
listing post4h; same pre4 post4h invalid-hup
rss end
kill $tpid; wait $tpid 2>/dev/null
awk '{ print "ADV", $1 }' $D/adv
# For scale: ipvsadm -Ln | wc -l (C, one process + wc)
for i in 1 2 3; do now; t0=$t; lines=$(ipvsadm -Ln | wc -l); now; echo "MARK ipvsadm $i $t0 $t $lines"; done
# The parser alone in the VM (one node process, the daemon idle): same file, 3 parses.
node --input-type=module -e "
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '$ROOT/build/src/config/load.js';
const text = readFileSync('$C/base.yaml', 'utf8');
const t = [];
for (let i = 0; i < 2; i++) { const t0 = performance.now(); const r = parseConfig(text, 'x'); t.push(performance.now() - t0); if (!r.ok) throw new Error('invalid'); }
console.log('VMPARSE ' + t.map((x) => x.toFixed(1)).join(' '));
"
kill -TERM $pid; wait $pid; echo "EXIT daemon $?"
echo "=== log"
cat $D/log
