// `duet realserver` against the real kernel: the CLI runs inside a namespace (net.ipv4.conf.*
// sysctls and addresses are per network namespace), and its effect is read back from /proc/sys
// and `ip`. For DR the point of it all is proved on the wire: a neighbour on the same bridge gets
// no ARP answer for the VIP from the real server, though it gets one for the server's own
// address, and did get one for the VIP before setup (the control experiment).
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, run, type Lab } from '../../lab/netns.js';

const CLI = fileURLToPath(new URL('../../src/cli/duet.js', import.meta.url));
const root = process.getuid?.() === 0;
// The netns tier runs as root (it creates namespaces); a non-root run fails loudly instead of skipping.
const rootTest = test.serial;

const VIP = '192.0.2.100';
const VIP6 = '2001:db8::100';
const ARP_KEYS = ['all/arp_ignore', 'all/arp_announce', 'lo/arp_ignore', 'lo/arp_announce'];

/**
 * Whether this kernel has ipip (built in or loadable). Asking for an ipip link loads the module,
 * which gives every namespace a tunl0; the request itself fails (EEXIST: a tunnel with no
 * endpoints is tunl0), so the answer is whether tunl0 then exists.
 */
async function haveIpip(): Promise<boolean> {
  if (!root) return false;
  const ns = 'rsv-probe';
  try {
    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', '-n', ns, 'link', 'add', 'rsvp0', 'type', 'ipip']).catch(() => {});
    return await run(['ip', '-n', ns, 'link', 'show', 'tunl0']).then(() => true, () => false);
  } finally {
    await run(['ip', 'netns', 'del', ns]).catch(() => {});
  }
}
/**
 * Where the kernel has no ipip (this host's), the TUN test is left out here and runs in the VM
 * tier instead: test/vm/realserver-tun.test.ts runs this file there and requires it to pass.
 */
const hasIpip = await haveIpip();
const tunTest = (title: string, fn: (t: ExecutionContext) => Promise<void>): void => {
  if (hasIpip || process.env['DUET_REQUIRE_IPIP']) test.serial(title, fn);
};

let lab: Lab;
let dir: string;
let stateFile: string;

if (root) {
  test.before(async () => {
    lab = await createLab('rsv', [
      { name: 'rs', addr: '192.0.2.21' },
      { name: 'cl', addr: '192.0.2.10' },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'duet-rsv-'));
    stateFile = join(dir, 'realserver.json');
  });
  test.after.always(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

async function duet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await lab.exec('rs', [process.execPath, CLI, 'realserver', ...args, '--state', stateFile], { timeoutMs: 20_000 });
    return { code: 0, ...r };
  } catch (e) {
    return { code: 1, stdout: '', stderr: (e as Error).message };
  }
}

const sysctl = async (key: string): Promise<string> =>
  (await lab.exec('rs', ['cat', `/proc/sys/net/ipv4/conf/${key}`])).stdout.trim();
const sysctls = async (keys: string[]): Promise<Record<string, string>> =>
  Object.fromEntries(await Promise.all(keys.map(async (k) => [k, await sysctl(k)] as const)));
const setSysctl = (key: string, v: string) => lab.exec('rs', ['sh', '-c', `echo ${v} > /proc/sys/net/ipv4/conf/${key}`]);

/** "addr/len label" of every address on a device. */
async function addrs(dev: string): Promise<string[]> {
  const { stdout } = await lab.exec('rs', ['ip', '-j', 'addr', 'show', 'dev', dev]);
  const [l] = JSON.parse(stdout) as { addr_info: { local: string; prefixlen: number; label?: string }[] }[];
  return (l?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}${a.label ? ` ${a.label}` : ''}`).sort();
}

/** Does anyone on the bridge answer an ARP request for `ip` (asked from the client)? */
async function arpAnswered(ip: string): Promise<boolean> {
  const ifname = lab.host('cl').ifname;
  try {
    await lab.exec('cl', ['arping', '-c', '2', '-w', '2', '-I', ifname, ip], { timeoutMs: 5000 });
    return true;
  } catch {
    return false;
  }
}

rootTest('control: without the sysctls, a VIP on lo is answered by ARP (what DR must avoid)', async (t) => {
  await lab.exec('rs', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
  try {
    t.true(await arpAnswered(VIP));
  } finally {
    await lab.exec('rs', ['ip', 'addr', 'del', `${VIP}/32`, 'dev', 'lo']);
  }
});

rootTest('--dry-run prints the ip/sysctl commands and changes nothing', async (t) => {
  const before = { lo: await addrs('lo'), sys: await sysctls(ARP_KEYS) };
  const r = await duet(['setup', '--vip', VIP, '--vip', VIP6, '--mode', 'dr', '--dry-run']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), [
    'sysctl -w net.ipv4.conf.all.arp_ignore=1',
    'sysctl -w net.ipv4.conf.all.arp_announce=2',
    'sysctl -w net.ipv4.conf.lo.arp_ignore=1',
    'sysctl -w net.ipv4.conf.lo.arp_announce=2',
    `ip addr add ${VIP}/32 dev lo label lo:duet`,
    `ip addr add ${VIP6}/128 dev lo nodad`,
    '# dry run: nothing changed',
  ]);
  t.deepEqual({ lo: await addrs('lo'), sys: await sysctls(ARP_KEYS) }, before);
  t.false(existsSync(stateFile));
});

rootTest('DR: setup, setup again (no change), ARP silent for the VIP only, teardown restores', async (t) => {
  // A non-default starting value proves teardown restores what was there, not the kernel default.
  await setSysctl('all/arp_announce', '1');
  t.teardown(() => setSysctl('all/arp_announce', '0').then(() => {}, () => {}));
  const before = { lo: await addrs('lo'), sys: await sysctls(ARP_KEYS) };
  t.is(before.sys['all/arp_announce'], '1');

  const up = await duet(['setup', '--vip', VIP, '--vip', VIP6, '--mode', 'dr']);
  t.is(up.code, 0, up.stderr);
  t.deepEqual(await sysctls(ARP_KEYS), { 'all/arp_ignore': '1', 'all/arp_announce': '2', 'lo/arp_ignore': '1', 'lo/arp_announce': '2' });
  t.deepEqual(await addrs('lo'), [...before.lo, `${VIP}/32 lo:duet`, `${VIP6}/128`].sort());
  const saved = readFileSync(stateFile, 'utf8');
  t.like(JSON.parse(saved), { sysctls: { 'net/ipv4/conf/all/arp_announce': { previous: '1', set: '2' } } });

  const again = await duet(['setup', '--vip', VIP, '--vip', VIP6, '--mode', 'dr']);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout.trim(), '# already set up: nothing to change');
  t.is(readFileSync(stateFile, 'utf8'), saved);
  t.deepEqual(await addrs('lo'), [...before.lo, `${VIP}/32 lo:duet`, `${VIP6}/128`].sort());

  // The VIP is local (a packet to it would be accepted) yet nobody answers ARP for it...
  await lab.exec('rs', ['ip', 'route', 'get', VIP]).then((r) => t.regex(r.stdout, /^local /));
  t.false(await arpAnswered(VIP));
  // ...while the server's own address still is.
  t.true(await arpAnswered(lab.host('rs').addr));

  const down = await duet(['teardown', '--vip', VIP, '--vip', VIP6, '--mode', 'dr']);
  t.is(down.code, 0, down.stderr);
  t.deepEqual({ lo: await addrs('lo'), sys: await sysctls(ARP_KEYS) }, before);
  t.false(existsSync(stateFile));

  const twice = await duet(['teardown', '--vip', VIP, '--mode', 'dr']);
  t.is(twice.code, 0, twice.stderr);
  t.is(twice.stdout.trim(), "# nothing of duet's to remove: nothing to change");
});

rootTest('teardown removes only our address: a VIP an operator put on lo stays', async (t) => {
  await lab.exec('rs', ['ip', 'addr', 'add', '192.0.2.101/32', 'dev', 'lo']);
  t.teardown(() => lab.exec('rs', ['ip', 'addr', 'del', '192.0.2.101/32', 'dev', 'lo']).then(() => {}, () => {}));
  const up = await duet(['setup', '--vip', VIP, '--vip', '192.0.2.101', '--mode', 'dr']);
  t.is(up.code, 0, up.stderr);
  t.regex(up.stdout, /192\.0\.2\.101 was already on lo \(not added by duet\)/);
  const down = await duet(['teardown', '--vip', VIP, '--vip', '192.0.2.101', '--mode', 'dr']);
  t.is(down.code, 0, down.stderr);
  const lo = await addrs('lo');
  t.true(lo.includes('192.0.2.101/32 lo'));
  t.false(lo.some((a) => a.startsWith(`${VIP}/`)));
  t.deepEqual(await sysctls(ARP_KEYS), { 'all/arp_ignore': '0', 'all/arp_announce': '0', 'lo/arp_ignore': '0', 'lo/arp_announce': '0' });
});

rootTest('teardown without --vip removes every VIP setup added and restores every sysctl it changed', async (t) => {
  const before = { lo: await addrs('lo'), sys: await sysctls(ARP_KEYS) };
  const up = await duet(['setup', '--vip', VIP, '--vip', VIP6, '--mode', 'dr']);
  t.is(up.code, 0, up.stderr);
  t.notDeepEqual(await sysctls(ARP_KEYS), before.sys);
  const down = await duet(['teardown', '--mode', 'dr']);
  t.is(down.code, 0, down.stderr);
  t.deepEqual({ lo: await addrs('lo'), sys: await sysctls(ARP_KEYS) }, before);
  t.false(existsSync(stateFile));
});

rootTest('TUN --dry-run names the ipip steps and changes nothing', async (t) => {
  const hadTunl0 = await lab.exec('rs', ['ip', 'link', 'show', 'tunl0']).then(() => true, () => false);
  const before = await sysctls(['all/arp_ignore', 'all/rp_filter']);
  const r = await duet(['setup', '--vip', VIP, '--mode', 'tun', '--dry-run']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.includes('modprobe ipip'), !hadTunl0);
  t.true(lines.includes('sysctl -w net.ipv4.conf.tunl0.arp_ignore=1'));
  t.true(lines.includes(`ip addr add ${VIP}/32 dev tunl0 label tunl0:duet`));
  t.deepEqual(await sysctls(['all/arp_ignore', 'all/rp_filter']), before);
  t.false(existsSync(stateFile));
});

/** The client plays director: an IPIP tunnel to the real server, the VIP routed into it. */
async function tunnelFromClient(): Promise<void> {
  const cl = lab.host('cl');
  await lab.exec('cl', ['ip', 'link', 'add', 'rsvt', 'type', 'ipip', 'local', cl.addr, 'remote', lab.host('rs').addr]);
  await lab.exec('cl', ['ip', 'link', 'set', 'rsvt', 'up']);
  await lab.exec('cl', ['ip', 'route', 'add', `${VIP}/32`, 'dev', 'rsvt', 'src', cl.addr]);
}

/** An echo to the VIP through the tunnel; the reply comes back directly, not tunnelled. */
const vipAnswers = (): Promise<boolean> =>
  lab.exec('cl', ['ping', '-c', '1', '-W', '2', VIP], { timeoutMs: 5000 }).then(() => true, () => false);

tunTest('TUN: tunl0 up with the VIP, rp_filter 0, tunnelled packets answered, all of it undone by teardown', async (t) => {
  await tunnelFromClient();
  // Strict reverse-path filtering, as many distributions set it: the decapsulated packet (from
  // the client, arriving on tunl0) is dropped unless setup turns it off.
  await setSysctl('all/rp_filter', '1');
  t.teardown(() => setSysctl('all/rp_filter', '0').then(() => {}, () => {}));
  const keys = ['all/arp_ignore', 'all/arp_announce', 'all/rp_filter'];
  const before = await sysctls(keys);

  // Control: the VIP on tunl0 by hand, without the sysctls, does not answer.
  await lab.exec('rs', ['sh', '-c', `ip link set tunl0 up && ip addr add ${VIP}/32 dev tunl0`]);
  t.false(await vipAnswers());
  await lab.exec('rs', ['sh', '-c', `ip addr del ${VIP}/32 dev tunl0 && ip link set tunl0 down`]);

  const up = await duet(['setup', '--vip', VIP, '--mode', 'tun']);
  t.is(up.code, 0, up.stderr);
  t.deepEqual(await sysctls([...keys, 'tunl0/rp_filter', 'tunl0/arp_ignore']),
    { 'all/arp_ignore': '1', 'all/arp_announce': '2', 'all/rp_filter': '0', 'tunl0/rp_filter': '0', 'tunl0/arp_ignore': '1' });
  t.true((await addrs('tunl0')).includes(`${VIP}/32 tunl0:duet`));
  const link = JSON.parse((await lab.exec('rs', ['ip', '-j', 'link', 'show', 'tunl0'])).stdout) as { flags: string[] }[];
  t.true(link[0]!.flags.includes('UP'));
  t.true(await vipAnswers());
  t.is((await duet(['setup', '--vip', VIP, '--mode', 'tun'])).stdout.trim(), '# already set up: nothing to change');

  const down = await duet(['teardown', '--vip', VIP, '--mode', 'tun']);
  t.is(down.code, 0, down.stderr);
  t.deepEqual(await sysctls(keys), before);
  t.deepEqual(await addrs('tunl0'), []);
  const after = JSON.parse((await lab.exec('rs', ['ip', '-j', 'link', 'show', 'tunl0'])).stdout) as { flags: string[] }[];
  t.false(after[0]!.flags.includes('UP'));
  t.false(await vipAnswers());
});
