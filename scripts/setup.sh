#!/usr/bin/env bash
# Installs what duet's demo and tests need on a fresh Debian machine (as root), then builds.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# iproute2 .. procps: the namespace labs and keepalived interop (keepalived also installs the
# samples under /usr/share/doc/keepalived/samples that test/unit/import-samples reads).
# qemu-system-x86, busybox-static, xz-utils: test/vm boots Debian's kernel (which has IPVS) in qemu;
# ipvsadm is installed on the host because the VM sees the host's root read-only.
# dnsmasq-base: a real DNS server for the DNS check's tests (the binary only, no service).
# frr: the upstream ECMP router (zebra, bgpd, bfdd) in the active-active test (test/netns/bgp.test.ts).
# bird2: the directors' BGP speaker in that test (duet's documented speaker, conf/bird-duet.conf).
# dpkg-dev (dpkg-shlibdeps, strip via binutils), lintian, man-db: `npm run package` builds the
# .deb and test/netns/pkg.test.ts checks it with lintian and opens its man pages.
# strace, systemd (systemd-analyze): test/netns/systemd.test.ts traces the daemon under the unit's
# system call filter.
pkgs=(iproute2 keepalived tcpdump iputils-arping iputils-ping procps qemu-system-x86 busybox-static xz-utils ipvsadm dnsmasq-base frr bird2 dpkg-dev lintian man-db strace systemd)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # keepalived's package starts a service on install; duet's tests run their own instances.
  systemctl disable --now keepalived >/dev/null 2>&1 || pkill -x keepalived || true
  # frr and bird2 start services on install too; the tests run their own instances in namespaces.
  systemctl disable --now frr bird >/dev/null 2>&1 || true
fi

# The VM kernel and initramfs, cached under /var/cache/duet-vm (~0.05 s when already there).
scripts/vm/prepare.sh

# Rebuild node_modules when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
