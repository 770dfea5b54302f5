// IPv6 VRRP transport (native/vrrp6.c addon) against the real kernel: three hosts on a bridge.
// a and b run createRaw6Transport in agents (fixtures/raw6-agent.ts); c runs independent
// python3 helpers: an AF_PACKET sniffer (to read the IPv6 header as it is on the wire) and a
// plain raw-socket sender with a hop limit of our choosing.
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { decodeAdvert, encodeAdvert } from '../../src/vrrp/codec.js';
import { formatIpv6 } from '../../src/core/addr.js';
import type { Advert } from '../../src/vrrp/types.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;

const GROUP = 'ff02::12';
const AGENT = fileURLToPath(new URL('./fixtures/raw6-agent.js', import.meta.url));

interface Ev {
  event: string;
  name?: string;
  hex?: string;
  rinfo?: { address: string; family: string; dst: string; ifname: string; ttl: number | undefined };
  [k: string]: unknown;
}

class CallError extends Error {
  constructor(message: string, readonly code: string | undefined, readonly causeCode: string | undefined) {
    super(message);
  }
}

interface R6Agent {
  events: Ev[];
  child: ChildProcess;
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  waitEvent(pred: (e: Ev) => boolean, ms: number, what?: string): Promise<Ev>;
  stderr(): string;
}

async function startR6Agent(lab: Lab, host: string): Promise<R6Agent> {
  const child = lab.spawn(host, [process.execPath, AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: Ev[] = [];
  const waiters = new Set<(e: Ev) => void>();
  const replies = new Map<number, (r: { ok: boolean; value?: unknown; error?: { message: string; code?: string; causeCode?: string } }) => void>();
  let err = '';
  let nextId = 1;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = JSON.parse(line) as Record<string, unknown>;
    if (typeof m.id === 'number') {
      replies.get(m.id)?.(m as never);
      replies.delete(m.id);
    } else {
      events.push(m as Ev);
      for (const w of [...waiters]) w(m as Ev);
    }
  });
  child.once('exit', (code, sig) => {
    for (const r of replies.values()) r({ ok: false, error: { message: `agent exited (${code}, ${sig}): ${err}` } });
    replies.clear();
  });
  const agent: R6Agent = {
    events,
    child,
    call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => {
          replies.delete(id);
          reject(new Error(`agent on ${host}: ${op} timed out; stderr: ${err}`));
        }, 5000);
        replies.set(id, (r) => {
          clearTimeout(t);
          if (r.ok) resolve(r.value as T);
          else reject(new CallError(`agent on ${host}: ${op}: ${r.error?.message}`, r.error?.code, r.error?.causeCode));
        });
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      });
    },
    waitEvent(pred, ms, what = 'event') {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = (e: Ev): void => {
          if (!pred(e)) return;
          waiters.delete(w);
          clearTimeout(t);
          resolve(e);
        };
        const t = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`agent on ${host}: no ${what} within ${ms} ms; events: ${JSON.stringify(events.slice(-8))}; stderr: ${err}`));
        }, ms);
        waiters.add(w);
      });
    },
    stderr: () => err,
  };
  await agent.waitEvent((e) => e.event === 'ready', 10_000, 'ready');
  return agent;
}

/** Lines printed by a python3 helper run in a host namespace. */
function startPython(lab: Lab, host: string, script: string, args: string[]): { lines: string[]; child: ChildProcess; waitLine(p: (l: string) => boolean, ms: number): Promise<string> } {
  const child = lab.spawn(host, ['python3', '-u', '-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  readline.createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  return {
    lines,
    child,
    waitLine: (p, ms) =>
      waitFor(() => lines.find(p), { timeoutMs: ms, intervalMs: 10, what: `python line (stderr: ${err})` }),
  };
}

// Every IPv6 frame on the interface carrying next header 112, as hex (Ethernet header included).
const SNIFF_PY = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind((sys.argv[1], 0))
print('ready', flush=True)
while True:
    f = s.recv(65535)
    if len(f) >= 54 and f[20] == 112:
        print(f.hex(), flush=True)
`;

// A VRRP sender that is not duet: plain raw socket, kernel-chosen source, hop limit argv[4].
const SEND_PY = `
import socket, sys
ifname, dst, payload, hops = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), int(sys.argv[4])
idx = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.sendto(payload, (dst, 0, 0, idx))
`;

interface AddrInfo { local: string; scope: string; tentative?: boolean }
/** IPv6 addresses of an interface in a host's namespace (`ip -j` lists filtered-out ones as {}). */
async function addrInfo(lab: Lab, host: string, ifname: string): Promise<AddrInfo[]> {
  const { stdout } = await lab.exec(host, ['ip', '-j', '-6', 'addr', 'show', 'dev', ifname]);
  const [l] = JSON.parse(stdout) as { addr_info?: Partial<AddrInfo>[] }[];
  return (l?.addr_info ?? []).filter((a): a is AddrInfo => typeof a.local === 'string' && typeof a.scope === 'string');
}

/** The link-local address of a host's interface. */
async function linkLocal(lab: Lab, host: string, ifname = lab.host(host).ifname): Promise<string> {
  const a = (await addrInfo(lab, host, ifname)).find((x) => x.scope === 'link');
  if (!a) throw new Error(`${host}/${ifname}: no link-local address`);
  return a.local;
}

async function dadDone(lab: Lab, host: string, ifname = lab.host(host).ifname): Promise<boolean> {
  const ai = await addrInfo(lab, host, ifname);
  return ai.some((a) => a.scope === 'link') && ai.every((a) => !a.tentative);
}

const advert = (n: number, addresses = ['2001:db8::100']): Advert => ({
  version: 3, vrid: 51, priority: 100 + n, maxAdverIntCs: 100, addresses,
});
const hexOf = (a: Advert, src: string, dst: string): string => Buffer.from(encodeAdvert(a, { family: 6, src, dst })).toString('hex');

let lab: Lab;
let A: R6Agent;
let B: R6Agent;
let sniffer: ReturnType<typeof startPython>;
let llA: string;
let llB: string;
let llC: string;

const msg = (name: string, hex: string) => (e: Ev) => e.event === 'message' && e.name === name && e.hex === hex;

if (root) {
  test.before(async () => {
    lab = await createLab('r6', [
      { name: 'a', addr: '192.0.2.11', addr6: '2001:db8::11' },
      { name: 'b', addr: '192.0.2.12', addr6: '2001:db8::12' },
      { name: 'c', addr: '192.0.2.13', addr6: '2001:db8::13' },
    ]);
    // Link-local addresses are made when the carrier comes up and stay tentative for DAD (~1-2 s).
    await waitFor(async () => (await Promise.all(['a', 'b', 'c'].map((h) => dadDone(lab, h)))).every(Boolean), {
      timeoutMs: 10_000, intervalMs: 100, what: 'IPv6 DAD on the lab links',
    });
    [llA, llB, llC] = await Promise.all([linkLocal(lab, 'a'), linkLocal(lab, 'b'), linkLocal(lab, 'c')]);
    [A, B] = await Promise.all([startR6Agent(lab, 'a'), startR6Agent(lab, 'b')]);
    sniffer = startPython(lab, 'c', SNIFF_PY, [lab.host('c').ifname]);
    await sniffer.waitLine((l) => l === 'ready', 5000);
    const [ra, rb] = await Promise.all([
      A.call<{ srcAddress: string }>('open', { name: 't', ifname: lab.host('a').ifname, multicast: true }),
      B.call<{ srcAddress: string }>('open', { name: 't', ifname: lab.host('b').ifname, multicast: true }),
    ]);
    if (ra.srcAddress !== llA || rb.srcAddress !== llB) throw new Error(`default sources ${ra.srcAddress}, ${rb.srcAddress}; want ${llA}, ${llB}`);
  });
  test.after.always(async () => {
    for (const x of [A, B]) x?.child.stdin?.end();
    await lab?.destroy();
  });
}

rootTest('multicast VRRPv3 advert: hop limit 255, link-local source, ff02::12, interface; checksum over the IPv6 pseudo-header end to end', async (t) => {
  const adv = advert(1, ['2001:db8::100', 'fe80::100']);
  const hex = hexOf(adv, llA, GROUP);
  await A.call('send', { name: 't', hex, dst: GROUP });
  const m = await B.waitEvent(msg('t', hex), 2000, 'multicast advert');
  t.deepEqual(m.rinfo, { address: llA, family: 'IPv6', dst: GROUP, ifname: lab.host('b').ifname, ttl: 255 });
  const r = decodeAdvert(Buffer.from(m.hex!, 'hex'), { family: 6, src: m.rinfo!.address, dst: m.rinfo!.dst });
  t.true(r.ok, JSON.stringify(r));
  if (r.ok) t.deepEqual(r.value, adv);
  // the pseudo-header really is in the checksum: another destination fails it
  const wrong = decodeAdvert(Buffer.from(m.hex!, 'hex'), { family: 6, src: m.rinfo!.address, dst: 'ff02::1' });
  t.false(wrong.ok);

  // on the wire (sniffed on c): Ethernet 33:33:00:00:00:12, IPv6 next header 112, hop limit 255
  const line = await sniffer.waitLine((l) => l.endsWith(hex), 2000);
  const f = Buffer.from(line, 'hex');
  t.is(f.subarray(0, 6).toString('hex'), '333300000012');
  t.is(f.readUInt16BE(12), 0x86dd);
  const ip = f.subarray(14);
  t.is(ip[0]! >> 4, 6);
  t.is(ip.readUInt16BE(4), hex.length / 2, 'payload length');
  t.is(ip[6], 112, 'next header');
  t.is(ip[7], 255, 'hop limit');
  t.is(formatIpv6(ip, 8), llA);
  t.is(formatIpv6(ip, 24), GROUP);
  t.false(A.events.some((e) => e.event === 'message'), 'the sender does not hear itself (IPV6_MULTICAST_LOOP 0)');
});

rootTest('the advert thread over IPv6: link-local source, hop limit 255, ff02::12 or a unicast peer; on time while the loop is held; not heard back', async (t) => {
  const hex = hexOf(advert(7), llA, GROUP);
  await A.call('pacer.open', { name: 't', leaseMs: 2000 });
  const heard = () => B.events.filter(msg('t', hex)).length;
  const before = heard();
  await A.call('pacer.run', { name: 't', hex, dsts: [GROUP], intervalMs: 20 });
  const m = await B.waitEvent((e) => msg('t', hex)(e) && heard() > before, 2000, 'a paced advert');
  t.deepEqual(m.rinfo, { address: llA, family: 'IPv6', dst: GROUP, ifname: lab.host('b').ifname, ttl: 255 });
  t.true(decodeAdvert(Buffer.from(m.hex!, 'hex'), { family: 6, src: llA, dst: GROUP }).ok, 'checksum over the pseudo-header');
  const r = await A.call<{ sentDuring: number }>('pacer.block', { name: 't', ms: 300 });
  t.true(r.sentDuring >= 8 && r.sentDuring <= 17, `sent while held: ${r.sentDuring}`);
  const s = await A.call<{ sent: number; errors: number }>('pacer.stop', { name: 't' });
  t.is(s.errors, 0);
  await new Promise((res) => setTimeout(res, 100));
  t.is(heard() - before, s.sent, 'every one arrived, none after stop()');
  t.false(A.events.some((e) => e.event === 'message' && e.hex === hex), 'the sender does not hear itself');
  const uhex = hexOf(advert(8), llA, llB);
  await A.call('pacer.run', { name: 't', hex: uhex, dsts: [llB], intervalMs: 20 });
  const u = await B.waitEvent(msg('t', uhex), 2000, 'a paced unicast advert');
  t.deepEqual(u.rinfo, { address: llA, family: 'IPv6', dst: llB, ifname: lab.host('b').ifname, ttl: 255 });
  await A.call('pacer.close', { name: 't' });
});

rootTest('drain() reads the adverts waiting in the socket before it returns', async (t) => {
  const hexes = [11, 12, 13].map((i) => hexOf(advert(i), llA, llB));
  const r = B.call<{ drained: number }>('blockThenDrain', { name: 't', ms: 600 });
  await new Promise((res) => setTimeout(res, 150));
  for (const hex of hexes) await A.call('send', { name: 't', hex, dst: llB });
  t.is((await r).drained, 3, 'all three, read in one call while the loop was still busy');
  for (const hex of hexes) await B.waitEvent(msg('t', hex), 1000, 'each also reported as a message');
});

rootTest('unicast adverts to the peer\'s link-local (with or without zone) and global address', async (t) => {
  const ifB = lab.host('b').ifname;
  for (const [i, dst, expectDst] of [
    [2, llB, llB],
    [3, `${llB}%${lab.host('a').ifname}`, llB],
    [4, '2001:db8::12', '2001:db8::12'],
  ] as const) {
    const adv = advert(i);
    const hex = hexOf(adv, llA, expectDst);
    await A.call('send', { name: 't', hex, dst });
    const m = await B.waitEvent(msg('t', hex), 2000, `unicast to ${dst}`);
    t.deepEqual(m.rinfo, { address: llA, family: 'IPv6', dst: expectDst, ifname: ifB, ttl: 255 });
    const r = decodeAdvert(Buffer.from(m.hex!, 'hex'), { family: 6, src: m.rinfo!.address, dst: m.rinfo!.dst });
    t.true(r.ok && r.value.priority === 100 + i, JSON.stringify(r));
  }
});

rootTest('packets sent with hop limit 1 are reported with hop limit 1 (multicast from a plain sender, unicast via hopLimit)', async (t) => {
  const hex = hexOf(advert(5), llC, GROUP);
  await lab.exec('c', ['python3', '-c', SEND_PY, lab.host('c').ifname, GROUP, hex, '1']);
  const m = await B.waitEvent(msg('t', hex), 2000, 'hop-limit-1 multicast');
  t.deepEqual(m.rinfo, { address: llC, family: 'IPv6', dst: GROUP, ifname: lab.host('b').ifname, ttl: 1 });

  await A.call('open', { name: 'h1', ifname: lab.host('a').ifname, multicast: false, hopLimit: 1 });
  const hex2 = hexOf(advert(6), llA, llB);
  await A.call('send', { name: 'h1', hex: hex2, dst: llB });
  const m2 = await B.waitEvent(msg('t', hex2), 2000, 'hop-limit-1 unicast');
  t.is(m2.rinfo!.ttl, 1);
  await A.call('close', { name: 'h1' });
});

rootTest('an explicit global srcAddress is stamped on packets and in the checksum', async (t) => {
  const r = await A.call<{ srcAddress: string }>('open', {
    name: 'g', ifname: lab.host('a').ifname, multicast: false, srcAddress: '2001:db8:0:0::11',
  });
  t.is(r.srcAddress, '2001:db8::11');
  const hex = hexOf(advert(7), '2001:db8::11', GROUP);
  await A.call('send', { name: 'g', hex, dst: GROUP });
  const m = await B.waitEvent(msg('t', hex), 2000);
  t.is(m.rinfo!.address, '2001:db8::11');
  t.true(decodeAdvert(Buffer.from(m.hex!, 'hex'), { family: 6, src: m.rinfo!.address, dst: m.rinfo!.dst }).ok);
  await A.call('close', { name: 'g' });
  const e = await t.throwsAsync<CallError>(A.call('open', { name: 'x', ifname: lab.host('a').ifname, multicast: true, srcAddress: '2001:db8::99' }));
  t.is(e?.code, 'DUET_E_IO', 'an address the interface does not have');
  t.is(e?.causeCode, 'EADDRNOTAVAIL');
});

rootTest('multicast: false receives unicast only', async (t) => {
  await B.call('open', { name: 'u', ifname: lab.host('b').ifname, multicast: false });
  const mc = hexOf(advert(8), llA, GROUP);
  const uc = hexOf(advert(9), llA, llB);
  await A.call('send', { name: 't', hex: mc, dst: GROUP });
  await A.call('send', { name: 't', hex: uc, dst: llB });
  await B.waitEvent(msg('u', uc), 2000, 'unicast on the unicast-only transport');
  await B.waitEvent(msg('t', mc), 2000);
  t.false(B.events.some(msg('u', mc)), 'no multicast on a transport that did not join');
  // another group every host is in (all-nodes): neither transport reports it
  const other = hexOf(advert(12), llC, 'ff02::1');
  const sniffB = startPython(lab, 'b', SNIFF_PY, [lab.host('b').ifname]);
  await sniffB.waitLine((l) => l === 'ready', 5000);
  await lab.exec('c', ['python3', '-c', SEND_PY, lab.host('c').ifname, 'ff02::1', other, '255']);
  await sniffB.waitLine((l) => l.endsWith(other), 2000); // b's kernel has it
  sniffB.child.kill();
  const marker = hexOf(advert(13), llA, llB);
  await A.call('send', { name: 't', hex: marker, dst: llB });
  await B.waitEvent(msg('u', marker), 2000);
  await B.waitEvent(msg('t', marker), 2000);
  t.false(B.events.some((e) => e.hex === other), 'ff02::1 is not ff02::12');
  await B.call('close', { name: 'u' });
});

rootTest('a still-tentative link-local is used (IPV6_FREEBIND); a transport is pinned to its interface', async (t) => {
  // x0/x1, a veth pair inside b whose DAD lasts a minute: the link-locals stay tentative.
  await lab.exec('b', ['sh', '-c', [
    'ip link add x0 type veth peer name x1',
    'sysctl -qw net.ipv6.conf.x0.dad_transmits=60 net.ipv6.conf.x1.dad_transmits=60',
    'ip link set x0 up', 'ip link set x1 up',
  ].join(' && ')]);
  const tentativeLl = async (ifname: string): Promise<string> =>
    waitFor(async () => {
      const a = (await addrInfo(lab, 'b', ifname)).find((x) => x.scope === 'link');
      return a?.tentative ? a.local : undefined;
    }, { timeoutMs: 5000, intervalMs: 25, what: `tentative link-local on ${ifname}` });
  const ll0 = await tentativeLl('x0');
  const r = await B.call<{ srcAddress: string }>('open', { name: 'x0', ifname: 'x0', multicast: true });
  t.is(r.srcAddress, ll0);
  await B.call('open', { name: 'x1', ifname: 'x1', multicast: true });
  const hex = hexOf(advert(10), ll0, GROUP);
  await B.call('send', { name: 'x0', hex, dst: GROUP });
  const m = await B.waitEvent(msg('x1', hex), 2000, 'advert across x0 -> x1');
  t.deepEqual(m.rinfo, { address: ll0, family: 'IPv6', dst: GROUP, ifname: 'x1', ttl: 255 });
  // and the bridge side saw none of it, while x1 sees nothing from the bridge
  const marker = hexOf(advert(11), llA, GROUP);
  await A.call('send', { name: 't', hex: marker, dst: GROUP });
  await B.waitEvent(msg('t', marker), 2000);
  t.false(B.events.some(msg('t', hex)));
  t.false(B.events.some(msg('x1', marker)));
});

rootTest('close() inside a message callback: no callback after it', async (t) => {
  await B.call('open', { name: 'k', ifname: lab.host('b').ifname, multicast: true, closeOnFirst: true });
  const hexes = Array.from({ length: 8 }, (_, i) => hexOf(advert(20 + i), llA, GROUP));
  await A.call('sendMany', { name: 't', hexes, dst: GROUP });
  await B.waitEvent((e) => e.event === 'closed-in-callback' && e.name === 'k', 2000);
  await B.waitEvent(msg('t', hexes[7]!), 2000, 'the last of the burst on the other transport');
  t.is(B.events.filter((e) => e.event === 'message' && e.name === 'k').length, 1);
  t.false(B.events.some((e) => e.event === 'after-close'));
  await B.call('forget', { name: 'k' });
});

rootTest('I/O errors are IoErrors with the errno code as cause', async (t) => {
  const e1 = await t.throwsAsync<CallError>(A.call('open', { name: 'n', ifname: 'nosuch0', multicast: true }));
  t.is(e1?.code, 'DUET_E_IO');
  t.regex(e1!.message, /nosuch0/);
  const e2 = await t.throwsAsync<CallError>(A.call('send', { name: 't', hex: '00', dst: '192.0.2.12' }));
  t.is(e2?.code, 'DUET_E_IO');
  const e3 = await t.throwsAsync<CallError>(A.call('send', { name: 't', hex: '00'.repeat(70_000), dst: llB }));
  t.is(e3?.code, 'DUET_E_IO');
  t.is(e3?.causeCode, 'EMSGSIZE');
  await A.call('open', { name: 'z', ifname: lab.host('a').ifname, multicast: true });
  const e4 = await t.throwsAsync<CallError>(A.call('closeThenSend', { name: 'z', hex: '00', dst: GROUP }));
  t.is(e4?.code, 'DUET_E_IO');
  t.regex(e4!.message, /closed/);
  // links going down under a transport: y0 (DAD off: a valid link-local) and x0 (previous test:
  // tentative, so IPV6_FREEBIND)
  await lab.exec('a', ['sh', '-c', [
    'ip link add y0 type veth peer name y1',
    'sysctl -qw net.ipv6.conf.y0.accept_dad=0 net.ipv6.conf.y1.accept_dad=0',
    'ip link set y1 up', 'ip link set y0 up',
  ].join(' && ')]);
  await waitFor(() => dadDone(lab, 'a', 'y0'), { timeoutMs: 5000, intervalMs: 25, what: 'link-local on y0' });
  await A.call('open', { name: 'y', ifname: 'y0', multicast: true });
  await A.call('send', { name: 'y', hex: '00', dst: GROUP });
  await lab.exec('a', ['ip', 'link', 'set', 'y0', 'down']);
  await lab.exec('b', ['ip', 'link', 'set', 'x0', 'down']);
  // y0's link-local went with the link: the kernel's EINVAL for the source is told as EADDRNOTAVAIL;
  // x0 (freebind) gets as far as the route lookup
  for (const [agent, name, code] of [[A, 'y', 'EADDRNOTAVAIL'], [B, 'x0', 'ENETUNREACH']] as const) {
    for (const dst of [GROUP, 'fe80::1', '2001:db8::99']) {
      const e = await t.throwsAsync<CallError>(agent.call('send', { name, hex: '00', dst }));
      t.is(e?.code, 'DUET_E_IO');
      t.is(e?.causeCode, code, e?.message);
    }
  }
  t.false([...A.events, ...B.events].some((e) => e.event === 'uncaught' || e.event === 'error'));
});

rootTest('after close() of every transport the process exits by itself', async (t) => {
  const exit = (x: R6Agent) =>
    new Promise<{ code: number | null; ms: number }>((resolve) => {
      const t0 = performance.now();
      x.child.once('exit', (code) => resolve({ code, ms: performance.now() - t0 }));
      x.child.stdin!.end();
    });
  const [ea, eb] = await Promise.all([exit(A), exit(B)]);
  t.is(ea.code, 0, A.stderr());
  t.is(eb.code, 0, B.stderr());
  t.true(ea.ms < 3000 && eb.ms < 3000, `${ea.ms} ${eb.ms}`);
  t.true(B.events.some((e) => e.event === 'closed-all'));
  t.false([...A.events, ...B.events].some((e) => e.event === 'uncaught'));
});
