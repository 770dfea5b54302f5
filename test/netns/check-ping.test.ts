// pingCheck on a real link between namespaces (lab prefix che1): a neighbour answers over IPv4
// and IPv6; an address on the link where nobody is gets no ARP answer, so the kernel reports
// host unreachable (ICMP type 3 code 1, read on the raw socket) before the deadline; an address
// with no route fails at once (ENETUNREACH from sendto); a neighbour that drops echo requests
// (nftables-free: icmp_echo_ignore_all in its namespace) times out.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../../lab/netns.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/ping-check.js', import.meta.url));
let lab: Lab;

test.before(async () => {
  lab = await createLab('che1', [
    { name: 'dir', addr: '192.0.2.10', addr6: '2001:db8::10' },
    { name: 'rs', addr: '192.0.2.21', addr6: '2001:db8::21' },
    { name: 'mute', addr: '192.0.2.22' },
  ]);
  await lab.exec('mute', ['sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1']);
});
test.after.always(async () => { await lab?.destroy(); });

async function ping(timeoutMs: number, ...addresses: string[]): Promise<Record<string, [boolean, string, number]>> {
  const { stdout } = await lab.exec('dir', ['env', `PING_TIMEOUT_MS=${timeoutMs}`, process.execPath, FIXTURE, ...addresses], { timeoutMs: timeoutMs + 10_000 });
  const out: Record<string, [boolean, string, number]> = {};
  for (const line of stdout.trim().split('\n')) {
    const [a, ok, reason, ms] = JSON.parse(line) as [string, boolean, string, number];
    out[a] = [ok, reason, ms];
  }
  return out;
}

test.serial('a neighbour answers over IPv4 and IPv6', async (t) => {
  const r = await ping(2000, '192.0.2.21', '2001:db8::21');
  t.deepEqual([r['192.0.2.21']?.slice(0, 2), r['2001:db8::21']?.slice(0, 2)], [[true, 'reply'], [true, 'reply']]);
});

test.serial('nobody at the address: host unreachable, before the deadline', async (t) => {
  const r = await ping(8000, '192.0.2.99');
  t.deepEqual(r['192.0.2.99']?.slice(0, 2), [false, 'unreachable code 1']);
  t.true(r['192.0.2.99']![2] < 7000, `after ${r['192.0.2.99']![2]} ms`);
});

test.serial('no route: "enetunreach" at once; a host that ignores echoes: "timeout"', async (t) => {
  const r = await ping(500, '198.51.100.1', '192.0.2.22');
  t.deepEqual(r['198.51.100.1']?.slice(0, 2), [false, 'enetunreach']);
  t.true(r['198.51.100.1']![2] < 100);
  t.deepEqual(r['192.0.2.22']?.slice(0, 2), [false, 'timeout']);
});
