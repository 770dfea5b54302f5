#!/usr/bin/env bash
# Runs a shell script as root inside a throw-away qemu VM booted on Debian's kernel (real IPVS).
# The VM sees the host's filesystem read-only with a tmpfs overlay (writes vanish at exit), the
# cached module tree (modprobe / autoload work), and no network to the outside (-nic none) unless
# asked for socket links on 127.0.0.1 (-N). See scripts/vm/init for what the guest does.
#
#   scripts/vm/run.sh [options] SCRIPT_FILE     run a script file
#   scripts/vm/run.sh [options] -c 'COMMANDS'   run a command string
#   scripts/vm/run.sh [options] -d JOBDIR       JOBDIR holds job.sh; results are left there
# options:
#   -m MB       guest memory (default 512)
#   -t SECONDS  kill the VM after this long (default 60)
#   -C DIR      directory the job starts in (default: the current directory)
#   -N listen:PORT | connect:PORT   add a virtio NIC on a qemu socket link on 127.0.0.1:PORT
#               (repeatable; the guest loads virtio_net; interfaces are eth0, eth1, ... in order)
#   -S          boot the host's systemd as PID 1 and run the job as a unit (duet-vm-job.service),
#               so it can start services with systemctl (a slower boot)
#   -v          print timings to stderr
# Results (in JOBDIR, or printed when run.sh made the directory itself):
#   stdout, stderr  the job's output;  rc  its exit code (absent: the job never finished)
#   console.log     the VM's serial console;  times  "boot_ms total_ms" (host clock; boot = qemu
#                   start to job start)
# Exit code: the job's; 125 when the VM did not boot, crashed or timed out (console tail on stderr).
# Prerequisites: scripts/vm/prepare.sh (run.sh calls it; it is fast when cached), root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${DUET_VM_CACHE:-/var/cache/duet-vm}
mem=512 secs=60 cwd=$PWD dir= cmd= verbose= nics=() sysd=

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
while getopts 'm:t:C:d:c:N:Svh' opt; do
  case $opt in
    m) mem=$OPTARG ;;
    t) secs=$OPTARG ;;
    C) cwd=$OPTARG ;;
    d) dir=$OPTARG ;;
    c) cmd=$OPTARG ;;
    N) nics+=("$OPTARG") ;;
    S) sysd=duet_systemd=1 ;;
    v) verbose=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))

fail() { echo "vm/run: $*" >&2; exit 125; }

[[ $mem =~ ^[0-9]+$ ]] || fail "-m wants megabytes"
[[ $secs =~ ^[0-9]+([.][0-9]+)?$ ]] || fail "-t wants seconds"
cwd=$(cd "$cwd" && pwd) || fail "no directory $cwd"
[[ $cwd != *[[:space:]]* ]] || fail "the job directory must not contain spaces: $cwd"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found (run scripts/setup.sh)"

"$here/prepare.sh" >/dev/null 2>"${TMPDIR:-/tmp}/duet-vm-prepare.$$.log" || {
  cat "${TMPDIR:-/tmp}/duet-vm-prepare.$$.log" >&2; rm -f "${TMPDIR:-/tmp}/duet-vm-prepare.$$.log"
  fail "prepare.sh failed"
}
rm -f "${TMPDIR:-/tmp}/duet-vm-prepare.$$.log"
# shellcheck source=/dev/null
. "$cache/vm.env"
[[ $MODULES != *[[:space:]]* ]] || fail "the cache path must not contain spaces: $MODULES"

own=
if [ -z "$dir" ]; then
  own=1
  dir=$(mktemp -d "${TMPDIR:-/tmp}/duet-vm.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
  if [ -n "$cmd" ]; then printf '%s\n' "$cmd" >"$dir/job.sh"
  elif [ $# -eq 1 ] && [ "$1" = - ]; then cat >"$dir/job.sh"
  elif [ $# -eq 1 ]; then cp "$1" "$dir/job.sh"
  else usage
  fi
else
  [ -f "$dir/job.sh" ] || fail "no $dir/job.sh"
  dir=$(cd "$dir" && pwd)
fi
rm -f "$dir/rc" "$dir/started" "$dir/stdout" "$dir/stderr" "$dir/console.log" "$dir/times"

net=(-nic none)
nic_flag=
if [ ${#nics[@]} -gt 0 ]; then
  net=()
  i=0
  for n in "${nics[@]}"; do
    case $n in
      listen:[0-9]*|connect:[0-9]*) ;;
      *) fail "-N wants listen:PORT or connect:PORT, not $n" ;;
    esac
    # Only qemu's socket link on loopback: nothing leaves the machine.
    # MAC 52:54:<nic index>:<0a listen | 0b connect>:<port>, so the two ends differ.
    port=${n#*:} role=0a
    [ "${n%%:*}" = connect ] && role=0b
    net+=(-netdev "socket,id=n$i,${n%%:*}=127.0.0.1:$port"
          -device "virtio-net-pci,netdev=n$i,mac=$(printf '52:54:%02x:%s:%02x:%02x' "$i" "$role" $((port >> 8 & 255)) $((port & 255)))")
    i=$((i + 1))
  done
  nic_flag=duet_nics=1
fi

append="console=ttyS0 quiet loglevel=3 panic=-1 reboot=t acpi=noirq mitigations=off cryptomgr.notests init_on_alloc=0 rdinit=/init duet_mods=$MODULES duet_cwd=$cwd $nic_flag $sysd"

t0=$(date +%s%3N)
set +e
timeout -k 3 "$secs" qemu-system-x86_64 \
  -M pc -m "$mem" -nodefaults -no-user-config -display none -monitor none -no-reboot \
  -serial "file:$dir/console.log" \
  "${net[@]}" \
  -kernel "$VMLINUX" -initrd "$INITRD" -append "$append" \
  -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev "local,id=job,path=$dir,security_model=none,multidevs=remap" \
  -device virtio-9p-pci,fsdev=job,mount_tag=job \
  </dev/null >"$dir/qemu.log" 2>&1
qrc=$?
set -e
t1=$(date +%s%3N)

boot=-1
[ -f "$dir/started" ] && boot=$(( $(date -r "$dir/started" +%s%3N) - t0 ))
echo "$boot $((t1 - t0))" >"$dir/times"
[ -n "$verbose" ] && echo "vm/run: boot ${boot} ms, total $((t1 - t0)) ms" >&2

if [ ! -s "$dir/rc" ]; then
  {
    if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then echo "vm/run: timed out after ${secs}s"
    else echo "vm/run: the VM stopped without a job exit code (qemu exit $qrc)"; fi
    [ -s "$dir/qemu.log" ] && { echo "--- qemu:"; tail -n 20 "$dir/qemu.log"; }
    echo "--- console tail:"; tail -n 40 "$dir/console.log" 2>/dev/null
    [ -s "$dir/stderr" ] && { echo "--- job stderr tail:"; tail -n 20 "$dir/stderr"; }
  } >&2
  exit 125
fi
rc=$(cat "$dir/rc")
if [ -n "$own" ]; then
  cat "$dir/stdout"
  cat "$dir/stderr" >&2
fi
exit "$rc"
