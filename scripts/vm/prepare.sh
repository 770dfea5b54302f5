#!/usr/bin/env bash
# Prepares what scripts/vm/run.sh needs to boot Debian's kernel (which has IPVS as modules) in qemu:
#   $DUET_VM_CACHE/<kver>/vmlinux            uncompressed kernel, booted with -kernel (PVH, no BIOS decompress)
#   $DUET_VM_CACHE/<kver>/lib/modules/<kver> module tree (dpkg -x of the .deb + busybox depmod)
#   $DUET_VM_CACHE/<kver>/initramfs.cpio     busybox-static + scripts/vm/init + boot modules (uncompressed)
#   $DUET_VM_CACHE/vm.env                    KVER, VMLINUX, INITRD, MODULES: what run.sh reads
# The kernel package is downloaded, never installed. Idempotent: when everything is in place for the
# kernel that linux-image-amd64 currently depends on, it only checks and exits (no network).
# Needs (scripts/setup.sh installs them): busybox-static, xz-utils, apt. Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${DUET_VM_CACHE:-/var/cache/duet-vm}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

log() { echo "vm/prepare: $*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in busybox xz dpkg apt-get apt-cache flock; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/setup.sh)"
done
busybox=$(command -v busybox)
# The initramfs has no libc: busybox must be static (busybox-static), i.e. ldd must refuse it.
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is not statically linked (install busybox-static)"; fi

# One preparer at a time (setup.sh and a test run may race).
exec 9>"$cache/.lock"
flock -w 600 9 || die "timed out waiting for $cache/.lock"

# --- kernel -----------------------------------------------------------------------------------
resolve_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}
# apt-cache takes ~1 s: remember its answer until the apt lists change.
lists_key=$(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo none)
pkg=
if [ -f "$cache/resolved" ] && [ "$(cut -d' ' -f1 "$cache/resolved")" = "$lists_key" ]; then
  pkg=$(cut -d' ' -f2 "$cache/resolved")
fi
[ -n "$pkg" ] || { pkg=$(resolve_pkg || true); [ -z "$pkg" ] || echo "$lists_key $pkg" >"$cache/resolved"; }
if [ -z "$pkg" ]; then
  if [ -f "$cache/vm.env" ]; then
    # No apt lists (fresh apt state): keep what is cached rather than touch the network.
    log "apt-cache cannot resolve linux-image-amd64; using the cached kernel"
    pkg=linux-image-$(. "$cache/vm.env" && echo "$KVER")
  else
    log "apt-cache cannot resolve linux-image-amd64; running apt-get update"
    apt-get update -qq
    pkg=$(resolve_pkg) || true
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64's kernel package"
  fi
fi
kver=${pkg#linux-image-}
kdir=$cache/$kver

if [ ! -f "$kdir/.done" ]; then
  log "preparing kernel $kver in $kdir"
  tmp=$(mktemp -d "$cache/.kernel.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (
    cd "$tmp"
    # Sandbox user root: the _apt user may not be able to write here.
    if ! apt-get download -qq -o APT::Sandbox::User=root "$pkg" 2>/dev/null; then
      log "apt-get download $pkg failed; running apt-get update and retrying"
      apt-get update -qq
      apt-get download -qq -o APT::Sandbox::User=root "$pkg"
    fi
  )
  deb=$(ls "$tmp"/*.deb)
  dpkg -x "$deb" "$tmp/x"
  rm -f "$deb"
  [ -f "$tmp/x/boot/vmlinuz-$kver" ] || die "no boot/vmlinuz-$kver in $pkg"
  mods=$tmp/x/lib/modules/$kver
  [ -d "$mods" ] || die "no lib/modules/$kver in $pkg"
  # The .deb has no modules.dep (its postinst runs depmod); busybox depmod writes one (+ alias, symbols).
  busybox depmod -b "$tmp/x" "$kver"
  [ -s "$mods/modules.dep" ] || die "depmod wrote no modules.dep"

  # vmlinuz is a bzImage: setup code + an XZ payload + a trailer. Find the payload's magic and
  # decompress one stream (the trailer makes plain xz fail).
  vmlinuz=$tmp/x/boot/vmlinuz-$kver
  ok=
  for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | cut -d: -f1); do
    # (xz stops reading after the stream: tail's SIGPIPE must not fail the pipeline)
    if { tail -c "+$((off + 1))" "$vmlinuz" 2>/dev/null; true; } | xz -dc --single-stream >"$tmp/vmlinux" 2>/dev/null &&
       [ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
      ok=1; break
    fi
  done
  [ -n "$ok" ] || die "no XZ-compressed ELF payload in $vmlinuz"

  rm -rf "$kdir"
  mkdir -p "$kdir/lib/modules"
  mv "$tmp/vmlinux" "$kdir/vmlinux"
  mv "$mods" "$kdir/lib/modules/$kver"
  cp "$tmp/x/boot/config-$kver" "$kdir/config" 2>/dev/null || true
  touch "$kdir/.done"
  rm -rf "$tmp"
  trap - EXIT
  # Older kernels (a new ABI replaced them) are dead weight.
  for old in "$cache"/*/.done; do
    [ -e "$old" ] || continue
    d=$(dirname "$old")
    [ "$d" = "$kdir" ] || { log "removing old kernel $(basename "$d")"; rm -rf "$d"; }
  done
fi

# --- initramfs --------------------------------------------------------------------------------
# busybox + init + the modules needed to reach the host root (virtio-pci, 9p, overlay; all are
# modules in Debian's kernel), in load order. Rebuilt when init, busybox or the kernel changes.
initrd=$kdir/initramfs.cpio
stamp=$( { sha256sum "$here/init" "$busybox"; echo "$kver"; } | sha256sum | cut -c1-16)
if [ ! -f "$initrd" ] || [ "$(cat "$kdir/initramfs.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "building initramfs"
  tmp=$(mktemp -d "$cache/.initramfs.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  root=$tmp/root
  mkdir -p "$root"/{bin,sbin,dev,proc,sys,newroot,lower,ovl,lib/modules,boot-modules}
  cp "$busybox" "$root/bin/busybox"
  for a in sh mount umount mkdir ln cp cat echo chroot insmod modprobe reboot sync sleep ip hostname uname switch_root chmod; do
    ln -s busybox "$root/bin/$a"
  done
  ln -s ../bin/busybox "$root/sbin/modprobe"
  install -m 0755 "$here/init" "$root/init"
  # Dependency closure in load order (post-order walk of modules.dep).
  declare -A seen=()
  order=()
  visit() {
    local m=$1 d
    [ -n "${seen[$m]:-}" ] && return
    seen[$m]=1
    for d in $(awk -v m="$m:" '$1 == m { $1 = ""; print; exit }' "$kdir/lib/modules/$kver/modules.dep"); do visit "$d"; done
    order+=("$m")
  }
  for name in virtio_pci 9pnet_virtio 9p overlay; do
    rel=$(awk -v n="/$name.ko:" 'index($1, n) { sub(/:$/, "", $1); print $1; exit }' "$kdir/lib/modules/$kver/modules.dep")
    [ -n "$rel" ] || die "module $name not in modules.dep"
    visit "$rel"
  done
  for m in "${order[@]}"; do
    cp "$kdir/lib/modules/$kver/$m" "$root/boot-modules/$(basename "$m")"
    basename "$m" >>"$root/boot-modules/load"
  done
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) >"$tmp/initramfs.cpio"
  mv "$tmp/initramfs.cpio" "$initrd"
  echo "$stamp" >"$kdir/initramfs.stamp"
  rm -rf "$tmp"
  trap - EXIT
fi

cat >"$cache/vm.env.tmp" <<EOF
KVER=$kver
VMLINUX=$kdir/vmlinux
INITRD=$initrd
MODULES=$kdir/lib/modules/$kver
EOF
mv "$cache/vm.env.tmp" "$cache/vm.env"
log "ready: kernel $kver ($cache)"
