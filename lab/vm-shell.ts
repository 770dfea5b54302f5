// Shell building blocks shared by the VM jobs (test/vm, benches): sections the host side reads
// back, a time-based wait (in the emulated VM every process start costs 50-100 ms, so a counted
// loop runs far longer than its count says), and a LAN of namespaces on one bridge.

/** section NAME; ms (epoch ms); waitfor SECONDS 'CONDITION' (true once it holds, false at the deadline). */
export const VM_SHELL = String.raw`
section() { echo "=== $1"; }
ms() { date +%s%3N; }
waitfor() { local until=$(( $(ms) + $1 * 1000 )); until eval "$2"; do [ $(ms) -ge $until ] && return 1; sleep 0.1; done; }
`;

/**
 * A bridge br0 in namespace "lan", and addhost NAME ADDRESS[/LEN]: a namespace with eth0 on the
 * bridge (veth NAME-e on the lan side) and that address (default /24).
 */
export const VM_LAN = String.raw`
ip netns add lan && ip -n lan link add br0 type bridge && ip -n lan link set br0 up
addhost() {
  ip netns add $1 && ip -n $1 link set lo up
  ip link add $1-e type veth peer name eth0 netns $1
  ip link set $1-e netns lan && ip -n lan link set $1-e master br0 && ip -n lan link set $1-e up
  case $2 in */*) a=$2 ;; *) a=$2/24 ;; esac
  ip -n $1 addr add $a dev eth0 && ip -n $1 link set eth0 up
}
`;

/** The lines a job printed after "=== name" and before the next section. */
export function vmSection(stdout: string, name: string): string {
  const m = new RegExp(`=== ${name}\\n([\\s\\S]*?)(?:\\n=== |$)`).exec(stdout);
  return m ? m[1]! : '';
}
