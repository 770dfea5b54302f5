#!/usr/bin/env bash
# Captures IPVS generic-netlink test vectors: ipvsadm talking to the real kernel (Debian's, in the
# qemu VM of scripts/vm/run.sh), recorded on an nlmon interface by tcpdump, then split into one
# vector per netlink message under test/vectors/ipvs/ (NAME.hex: the whole message, nlmsghdr
# included; NAME.json: step, ipvsadm command, direction and the decoded message).
#
#   scripts/vm/capture-ipvs-vectors.sh [OUTDIR]     on the host (root): boot a VM, capture, convert
#                                                   (default OUTDIR test/vectors/ipvs; needs
#                                                   `npm run build`: the converter uses the built
#                                                   codec to write the .json files)
#   scripts/vm/capture-ipvs-vectors.sh --from JOBDIR [OUTDIR]
#                                                   convert a kept capture again (DUET_CAPTURE_KEEP=1
#                                                   keeps the job directory of a capture)
#   scripts/vm/capture-ipvs-vectors.sh --in-vm DIR  inside the VM: run the steps, leave
#                                                   capture.pcap, steps.tsv and out/ in DIR
#
# The .json files are the decoder's view at capture time: review `git diff test/vectors/ipvs`
# after re-capturing. Sequence numbers, ports and the IPVS family id change on every capture; the
# unit tests take them from each vector.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

# ---------------------------------------------------------------------------------------------
# Inside the VM
in_vm() {
  local dir=$1 n=0
  mkdir -p "$dir/out"
  : >"$dir/steps.tsv"
  modprobe nlmon
  modprobe -a ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_dh
  ip link add d0 type dummy && ip link set d0 up
  ip addr add 192.0.2.1/24 dev d0
  # A VIP served by this host for the traffic step (local client -> local real server).
  ip addr add 192.0.2.200/32 dev lo
  ip link add nlmon0 type nlmon && ip link set nlmon0 up
  tcpdump -i nlmon0 -U --immediate-mode -s 0 -w "$dir/capture.pcap" 2>"$dir/tcpdump.err" &
  local tcpdump=$!
  local deadline=$((SECONDS + 10))
  until grep -q listening "$dir/tcpdump.err" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "tcpdump did not start" >&2; exit 1; }
    sleep 0.05
  done

  # step NAME COMMAND...: run one command, record its time window (VM clock, microseconds; the
  # pcap's timestamps are on the same clock), exit code and output. Messages outside every
  # window (polling, ctrl look-ups between steps) are not vectors.
  step() {
    local name=$1; shift
    n=$((n + 1))
    local id; id=$(printf '%02d-%s' "$n" "$name")
    local t0=${EPOCHREALTIME/./} rc=0
    "$@" >"$dir/out/$id.out" 2>&1 || rc=$?
    local t1=${EPOCHREALTIME/./}
    printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$t0" "$t1" "$rc" "$*" >>"$dir/steps.tsv"
  }

  # Services: every protocol, family and fwmark; schedulers with their flags; persistence.
  step add-tcp-rr ipvsadm -A -t 192.0.2.100:80 -s rr
  step add-tcp-persist ipvsadm -A -t 192.0.2.100:443 -s wlc -p 300 -M 255.255.255.0
  step add-fwmark ipvsadm -A -f 10 -s wrr
  step add-fwmark6 ipvsadm -A -f 11 -6 -s rr
  step add-ipv6 ipvsadm -A -t '[2001:db8::100]:80' -s lc
  step add-ipv6-persist ipvsadm -A -t '[2001:db8::100]:443' -s rr -p 60 -M 64
  step add-udp-ops ipvsadm -A -u 192.0.2.100:53 -s rr --ops
  step add-sh-flags ipvsadm -A -t 192.0.2.101:80 -s sh -b sh-port,sh-fallback
  step add-mh-flags ipvsadm -A -t 192.0.2.102:80 -s mh -b mh-fallback,mh-port
  step add-sctp ipvsadm -A --sctp-service 192.0.2.103:9 -s dh
  step add-local-svc ipvsadm -A -t 192.0.2.200:80 -s rr
  step add-pe-sip ipvsadm -A -u 192.0.2.100:5060 -s rr -p 60 --pe sip
  # Destinations: NAT, DR, TUN (ipip, gue, gre), weights, thresholds, IPv6, fwmark (port 0).
  step add-dest-masq ipvsadm -a -t 192.0.2.100:80 -r 192.0.2.21:80 -m -w 3 -x 100 -y 50
  step add-dest-route ipvsadm -a -t 192.0.2.100:80 -r 192.0.2.22:80 -g -w 1
  step add-dest-tunnel ipvsadm -a -t 192.0.2.100:80 -r 192.0.2.23:80 -i -w 2
  step add-dest-gue ipvsadm -a -t 192.0.2.101:80 -r 192.0.2.31:80 -i --tun-type gue --tun-port 6080 --tun-remcsum -w 1
  step add-dest-gre ipvsadm -a -t 192.0.2.101:80 -r 192.0.2.32:80 -i --tun-type gre --tun-csum -w 1
  step add-dest-mixed ipvsadm -a -t 192.0.2.101:80 -r '[2001:db8::33]:80' -i -w 1
  step add-dest-ipv6 ipvsadm -a -t '[2001:db8::100]:80' -r '[2001:db8::21]:80' -m -w 5
  step add-dest-fwmark ipvsadm -a -f 10 -r 192.0.2.41 -g -w 2
  step add-dest-udp ipvsadm -a -u 192.0.2.100:53 -r 192.0.2.21:53 -m -w 1
  step add-dest-local ipvsadm -a -t 192.0.2.200:80 -r 127.0.0.1:80 -m -w 1
  # Edits.
  step edit-dest-weight ipvsadm -e -t 192.0.2.100:80 -r 192.0.2.21:80 -m -w 7 -x 100 -y 50
  step edit-svc-sched ipvsadm -E -t 192.0.2.100:80 -s wrr
  # Refusals: the kernel's errno comes back in an NLMSG_ERROR.
  step err-svc-exists ipvsadm -A -t 192.0.2.100:80 -s rr
  step err-dest-exists ipvsadm -a -t 192.0.2.100:80 -r 192.0.2.21:80 -m
  step err-no-dest ipvsadm -d -t 192.0.2.100:80 -r 192.0.2.99:80
  step err-no-svc ipvsadm -D -t 192.0.2.199:80
  step err-no-sched ipvsadm -A -t 192.0.2.104:80 -s nosuch

  # Traffic through the local service so the dumps carry non-zero counters. The kernel folds
  # them into what it reports every 2 s: poll (outside any step) until they show.
  local i
  for i in 1 2 3; do (exec 3<>/dev/tcp/192.0.2.200/80) 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  until ipvsadm -Ln --stats -t 192.0.2.200:80 | awk '$1 == "TCP" && $3 > 0 { ok = 1 } END { exit !ok }'; do
    [ $SECONDS -lt $deadline ] || { echo "IPVS counters stayed at 0" >&2; break; }
    sleep 0.5
  done

  # Reading back: info, services, destinations (dumps with stats), one service, config, daemons.
  step list ipvsadm -Ln
  step list-stats ipvsadm -Ln --stats --exact -t 192.0.2.200:80
  # The kernel refuses a sync daemon while any service has a destination of the other family.
  step err-daemon-mixed ipvsadm --start-daemon master --mcast-interface lo --syncid 5
  step del-dest-mixed ipvsadm -d -t 192.0.2.101:80 -r '[2001:db8::33]:80'
  step set-timeouts ipvsadm --set 900 120 300
  step get-timeouts ipvsadm -L --timeout
  step start-daemon ipvsadm --start-daemon master --mcast-interface lo --syncid 5
  step start-daemon-backup ipvsadm --start-daemon backup --mcast-interface d0 --syncid 6 --sync-maxlen 1400 --mcast-group 224.0.0.82 --mcast-port 8849 --mcast-ttl 2
  step get-daemons ipvsadm -L --daemon
  step stop-daemon ipvsadm --stop-daemon master
  step stop-daemon-backup ipvsadm --stop-daemon backup
  step zero-svc ipvsadm -Z -t 192.0.2.200:80
  step zero-all ipvsadm -Z
  # Deletes and the flush.
  step del-dest ipvsadm -d -t 192.0.2.100:80 -r 192.0.2.22:80
  step del-svc ipvsadm -D -t 192.0.2.100:443
  step del-fwmark ipvsadm -D -f 10
  step flush ipvsadm -C

  sleep 0.2
  kill "$tcpdump"
  wait "$tcpdump" || true
  uname -r >"$dir/kernel"
  dpkg-query -W -f '${Version}' ipvsadm >"$dir/ipvsadm-version"
}

if [ "${1:-}" = --in-vm ]; then
  in_vm "$2"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# On the host
from=
if [ "${1:-}" = --from ]; then from=$(realpath "$2"); shift 2; fi
out=$(realpath -m "${1:-$root/test/vectors/ipvs}")
[ -f "$root/dist/src/ipvs/genl-codec.js" ] || { echo "capture: build first (npm run build)" >&2; exit 1; }
if [ -n "$from" ]; then
  job=$from
else
  job=$(mktemp -d "${TMPDIR:-/tmp}/duet-ipvs-capture.XXXXXX")
  [ -n "${DUET_CAPTURE_KEEP:-}" ] || trap 'rm -rf "$job"' EXIT
  printf 'exec bash %q --in-vm /run/duet-job\n' "$here/capture-ipvs-vectors.sh" >"$job/job.sh"
  rc=0
  "$here/run.sh" -v -d "$job" -t 120 -C "$root" || rc=$?
  if [ $rc -ne 0 ]; then
    echo "capture: the VM job failed (exit $rc)" >&2
    cat "$job/stderr" >&2 2>/dev/null || true
    exit 1
  fi
  [ -z "${DUET_CAPTURE_KEEP:-}" ] || echo "capture: job directory kept: $job" >&2
fi
mkdir -p "$out"
# pcap -> one .hex + .json per IPVS message (and the ack, error or done answering it).
DUET_ROOT=$root node --input-type=module - "$job" "$out" <<'EOF_JS'
import { readFileSync, writeFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
const { decodeMessage } = await import(join(process.env.DUET_ROOT, 'dist/src/ipvs/genl-codec.js'));
const { NLM_F_REQUEST, GENL_ID_CTRL } = await import(join(process.env.DUET_ROOT, 'dist/src/netlink/attrs.js'));
const [job, out] = process.argv.slice(2);

// pcap (microsecond or nanosecond, little-endian) with link type NETLINK (253): each record is a
// 16-byte cooked header (packet type, ARPHRD_NETLINK 824, address, protocol = netlink family, big
// endian) followed by the skb's netlink messages.
const pcap = readFileSync(join(job, 'capture.pcap'));
const magic = pcap.readUInt32LE(0);
if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`not a little-endian pcap (magic ${magic.toString(16)})`);
const nano = magic === 0xa1b23c4d;
if (pcap.readUInt32LE(20) !== 253) throw new Error(`link type ${pcap.readUInt32LE(20)}, want NETLINK (253)`);
const msgs = [];
for (let off = 24; off + 16 <= pcap.length; ) {
  const us = BigInt(pcap.readUInt32LE(off)) * 1000000n + BigInt(pcap.readUInt32LE(off + 4)) / (nano ? 1000n : 1n);
  const incl = pcap.readUInt32LE(off + 8);
  const rec = pcap.subarray(off + 16, off + 16 + incl);
  off += 16 + incl;
  if (rec.length < 16 || rec.readUInt16BE(2) !== 824 || rec.readUInt16BE(14) !== 16 /* NETLINK_GENERIC */) continue;
  for (let p = 16; p + 16 <= rec.length; ) {
    const len = rec.readUInt32LE(p);
    if (len < 16 || p + len > rec.length) throw new Error(`bad nlmsg_len ${len} in a record at ${us}`);
    msgs.push({ us, bytes: Uint8Array.from(rec.subarray(p, p + len)) });
    p += (len + 3) & ~3;
  }
}

// The IPVS family id: the ctrl family's answer to ipvsadm's look-up (CTRL_ATTR_FAMILY_ID 1, _NAME 2).
let ipvsFamily;
for (const m of msgs) {
  const b = Buffer.from(m.bytes);
  if (b.readUInt16LE(4) !== GENL_ID_CTRL || b.readUInt16LE(6) & NLM_F_REQUEST || b[16] !== 1) continue;
  let id, name;
  for (let p = 20; p + 4 <= b.length; ) {
    const len = b.readUInt16LE(p), type = b.readUInt16LE(p + 2) & 0x3fff;
    if (len < 4) break;
    if (type === 1) id = b.readUInt16LE(p + 4);
    if (type === 2) name = b.subarray(p + 4, p + len).toString('latin1').replace(/\0.*$/s, '');
    p += (len + 3) & ~3;
  }
  if (name === 'IPVS') { ipvsFamily = id; break; }
}
if (ipvsFamily === undefined) throw new Error('no ctrl reply naming the IPVS family in the capture');

const steps = readFileSync(join(job, 'steps.tsv'), 'utf8').trimEnd().split('\n').map((l) => {
  const [id, t0, t1, rc, ...cmd] = l.split('\t');
  return { id, t0: BigInt(t0), t1: BigInt(t1), exitCode: Number(rc), command: cmd.join('\t'), output: readFileSync(join(job, 'out', `${id}.out`), 'utf8'), vectors: [] };
});
const kernel = readFileSync(join(job, 'kernel'), 'utf8').trim();
const ipvsadm = readFileSync(join(job, 'ipvsadm-version'), 'utf8').trim();

for (const f of readdirSync(out)) if (/^\d\d-.*\.(hex|json)$/.test(f) || f === 'steps.json') unlinkSync(join(out, f));

// IPVS requests and replies, and the acks, errors and dones answering an IPVS request. ipvsadm
// asks GET_INFO at the start of every run: only the first such exchange is kept.
const conv = (m) => `${m.header.port}/${m.header.seq}`;
const ipvsRequests = new Set();
let infoKept;
const hex = (b) => Buffer.from(b).toString('hex');
let failures = 0;
for (const step of steps) {
  const mine = msgs.filter((m) => m.us >= step.t0 && m.us <= step.t1);
  let i = 0;
  for (const m of mine) {
    const d = decodeMessage(m.bytes, { ipvsFamily });
    if (!d.ok) { console.error(`${step.id}: undecodable message ${hex(m.bytes)}: ${d.error.reason}: ${d.error.detail}`); failures++; continue; }
    const msg = d.value;
    const c = conv(msg);
    let label;
    if (msg.kind === 'ipvs') {
      const request = (msg.header.flags & NLM_F_REQUEST) !== 0;
      if (request) {
        if (msg.cmd === 'get-info') {
          if (infoKept !== undefined && infoKept !== c) continue;
          infoKept = c;
        }
        ipvsRequests.add(c);
        label = `req-${msg.cmd}${(msg.header.flags & 0x300) === 0x300 ? '-dump' : ''}`;
      } else {
        if (!ipvsRequests.has(c)) continue;
        label = `reply-${msg.cmd}`;
      }
    } else if (msg.kind === 'ack' || msg.kind === 'error' || msg.kind === 'done') {
      if (!ipvsRequests.has(c)) continue;
      label = msg.kind === 'error' ? `error-${msg.errnoName}` : msg.kind;
    } else continue;
    i++;
    const name = `${step.id}.${String(i).padStart(2, '0')}-${label}`;
    writeFileSync(join(out, `${name}.hex`), hex(m.bytes) + '\n');
    const direction = msg.kind === 'ipvs' && msg.header.flags & NLM_F_REQUEST ? 'request' : 'reply';
    writeFileSync(join(out, `${name}.json`), JSON.stringify({
      source: 'captured', capturedWith: `ipvsadm ${ipvsadm}, Linux ${kernel}, nlmon + tcpdump (scripts/vm/capture-ipvs-vectors.sh)`,
      step: step.id, command: step.command, direction, ipvsFamily, message: msg,
    }, null, 2) + '\n');
    step.vectors.push(name);
  }
}
writeFileSync(join(out, 'steps.json'), JSON.stringify({
  kernel, ipvsadm, ipvsFamily,
  steps: steps.map(({ id, command, exitCode, output, vectors }) => ({ id, command, exitCode, output, vectors })),
}, null, 2) + '\n');
const n = steps.reduce((a, s) => a + s.vectors.length, 0);
console.log(`capture: ${n} vectors from ${steps.length} steps in ${out} (IPVS family ${ipvsFamily}, Linux ${kernel}, ipvsadm ${ipvsadm})`);
if (failures) { console.error(`capture: ${failures} messages did not decode`); process.exit(1); }
EOF_JS
