// IpvsClient.dump() through the native batch addon (native/genl_batch.c: every destination dump
// in one native round trip) against the path without it (one npm netlink request at a time) and
// against ipvsadm -Ln, on a big table in the real kernel (Debian's, in qemu). One VM, one node
// process inside (the job below, in a network namespace) printing one JSON object; the
// assertions are here.
import test from 'ava';
import { runInVm, PROJECT_ROOT, type VmResult, describeVm } from '../../lab/vm.js';

const N_SVC = 200;
const N_DEST = 10;
const BIG = 400; // destinations of one service: its dest dump spans several datagrams

/** ipvsadm -R input: the big table, plus IPv6, fwmark, persistent and empty services. */
function restoreText(): string {
  const l: string[] = [];
  const fwd = ['-m', '-g', '-i'];
  for (let i = 0; i < N_SVC; i++) {
    const va = `10.1.${i >> 8}.${i & 255}:80`;
    l.push(`-A -t ${va} -s wrr`);
    for (let k = 0; k < N_DEST; k++) {
      l.push(`-a -t ${va} -r 10.${100 + k}.${i >> 8}.${i & 255}:8080 ${fwd[(i + k) % 3]} -w ${1 + ((i + k) % 5)}${k === 3 ? ' -x 100 -y 10' : ''}`);
    }
  }
  l.push('-A -t 10.2.0.1:443 -s rr');
  for (let k = 0; k < BIG; k++) l.push(`-a -t 10.2.0.1:443 -r 10.3.${k >> 8}.${k & 255}:443 -g -w ${k % 7}`);
  for (let i = 1; i <= 5; i++) {
    l.push(`-A -u [2001:db8:1::${i}]:53 -s sh -b sh-port`);
    for (let k = 1; k <= 3; k++) l.push(`-a -u [2001:db8:1::${i}]:53 -r [2001:db8:2::${i}:${k}]:53 -m -w ${k}`);
  }
  l.push('-A -f 7 -s lc', '-a -f 7 -r 10.4.0.1 -g', '-a -f 7 -r 10.4.0.2 -g -w 3');
  l.push('-A -f 8 -6 -s wlc', '-a -f 8 -6 -r [2001:db8:3::1]:0 -g');
  l.push('-A -t 10.5.0.1:80 -s wlc -p 300 -M 255.255.255.0');
  return l.join('\n') + '\n';
}

// Runs in the VM. Serialises dumps with their Maps as arrays, in the kernel's order.
const JOB_JS = String.raw`
const D = process.env.DUET_ROOT + '/build/src';
const { IpvsClient, serviceIdOf } = await import(D + '/ipvs/genl-client.js');
const { GenlSocket, loadGenlBatchAddon } = await import(D + '/netlink/genl.js');
const { encodeIpvsPayload } = await import(D + '/ipvs/genl-codec.js');
const { ipvsRequest } = await import(D + '/ipvs/genl-map.js');
const { NLMSG_ERROR } = await import(D + '/netlink/attrs.js');
const { performance } = await import('node:perf_hooks');
const out = { times: {}, addon: loadGenlBatchAddon() !== null };
const ser = (d) => JSON.parse(JSON.stringify({
  table: [...d.table].map(([k, s]) => [k, { ...s, dests: [...s.dests] }]),
  stats: d.stats && [...d.stats].map(([k, s]) => [k, { ...s, dests: [...s.dests] }]),
  unmapped: d.unmapped,
}));
const errInfo = (e) => ({ name: e.constructor.name, errno: e.errno, message: e.message });
const timed = async (name, f) => { const t0 = performance.now(); const r = await f(); out.times[name] = Math.round(performance.now() - t0); return r; };
const fast = await IpvsClient.open();
const slow = await IpvsClient.open({ nativeBatch: false });
out.fast = ser(await timed('fast dump', () => fast.dump()));
out.slow = ser(await timed('slow dump', () => slow.dump()));
out.fastNoStats = ser(await timed('fast dump stats:false', () => fast.dump({ stats: false })));
out.slowNoStats = ser(await timed('slow dump stats:false', () => slow.dump({ stats: false })));
const big = { kind: 'addr', family: 4, protocol: 'tcp', address: '10.2.0.1', port: 443 };
out.getDestsBig = (await fast.getDests(big)).map((e) => e.dest);
// A service that is gone when its destinations are asked for (deleted during a dump): the
// kernel answers its dest dump with nothing (no error), on both paths alike.
const gone = { kind: 'addr', family: 4, protocol: 'tcp', address: '10.9.9.9', port: 80, scheduler: 'wrr' };
out.gone = {};
for (const [name, c] of [['fast', fast], ['slow', slow]]) {
  const real = c.readServices.bind(c);
  c.readServices = async (s) => { const r = await real(s); return { entries: [...r.entries.slice(0, 3), { service: gone, wire: {} }, ...r.entries.slice(3)], unmapped: r.unmapped }; };
  try { out.gone[name] = ser(await c.dump({ stats: false })); } catch (e) { out.gone[name] = errInfo(e); }
  delete c.readServices;
}
// Raw answers, request by request: a gone service, the multi-datagram dump, and an error
// (GET_INFO has no dump: EOPNOTSUPP) among good ones.
const payload = (s) => { const r = ipvsRequest.getDests(serviceIdOf(s)); return encodeIpvsPayload(r.cmd, r.attrs); };
const first = { kind: 'addr', family: 4, protocol: 'tcp', address: '10.1.0.0', port: 80 };
const info = ipvsRequest.getInfo();
const ps = [payload(first), payload(gone), payload(big), encodeIpvsPayload(info.cmd, info.attrs), payload(first)];
const raw = async (nativeBatch) => {
  const s = new GenlSocket({ nativeBatch });
  try {
    return (await s.requestMany(fast.family, ps, { dump: true, what: (i) => 'request ' + i })).map((r) => r.map((m) => {
      const data = Buffer.from(m.data);
      if (m.type === NLMSG_ERROR) data.fill(0, 4 + 6, 4 + 16); // the echoed flags, seq, port
      return { type: m.type, flags: m.flags, data: data.toString('hex') };
    }));
  } finally { s.close(); }
};
out.rawFast = await raw(true);
out.rawSlow = await raw(false);
out.listing = (await import('node:child_process')).execFileSync('ipvsadm', ['-Ln'], { encoding: 'utf8', maxBuffer: 1 << 24 });
fast.close();
slow.close();
console.log(JSON.stringify(out));
`;

// Runs in the VM as nobody.
const EPERM_JS = String.raw`
const { IpvsClient } = await import(process.env.DUET_ROOT + '/build/src/ipvs/genl-client.js');
const out = {};
for (const [name, nativeBatch] of [['fast', true], ['slow', false]]) {
  const c = await IpvsClient.open({ nativeBatch });
  try { await c.dump({ stats: false }); out[name] = null; } catch (e) { out[name] = { name: e.constructor.name, errno: e.errno, message: e.message }; }
  c.close();
}
console.log(JSON.stringify(out));
`;

function job(): string {
  return String.raw`
set -e
modprobe -a ip_vs ip_vs_wrr ip_vs_rr ip_vs_sh ip_vs_lc ip_vs_wlc
ip netns add lvs
ip -n lvs link set lo up
# Real servers must have a route (else EINVAL): a dummy link with both prefixes.
ip -n lvs link add d0 type dummy
ip -n lvs addr add 10.0.0.1/8 dev d0
ip -n lvs addr add 2001:db8::1/32 dev d0 nodad
ip -n lvs link set d0 up
ip netns exec lvs ipvsadm -R <<'EOF_RESTORE'
${restoreText()}EOF_RESTORE
DUET_ROOT=${PROJECT_ROOT} ip netns exec lvs node --input-type=module <<'EOF_JS'
${JOB_JS}
EOF_JS
# Without CAP_NET_ADMIN every IPVS command is refused (EPERM): the error path of both.
DUET_ROOT=${PROJECT_ROOT} ip netns exec lvs setpriv --reuid=65534 --regid=65534 --clear-groups node --input-type=module <<'EOF_JS'
${EPERM_JS}
EOF_JS
`;
}

interface Dump {
  table: Array<[string, { kind: string; family: number; scheduler: string; protocol?: string; address?: string; port?: number; fwmark?: number; dests: Array<[string, { address: string; port: number; forward: string; weight: number; upperThreshold: number; lowerThreshold: number }]> }]>;
  stats?: unknown;
  unmapped: unknown[];
}
interface ErrInfo { name: string; errno: string; message: string }
interface Out {
  times: Record<string, number>;
  addon: boolean;
  fast: Dump; slow: Dump; fastNoStats: Dump; slowNoStats: Dump;
  getDestsBig: Array<{ address: string }>;
  gone: { fast: Dump | ErrInfo; slow: Dump | ErrInfo };
  rawFast: Array<Array<{ type: number; flags: number; data: string }>>;
  rawSlow: Array<Array<{ type: number; flags: number; data: string }>>;
  listing: string;
}

let vm: VmResult;
test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
let out: Out;
let eperm: { fast: ErrInfo | null; slow: ErrInfo | null };

test.before(async () => {
  vm = await runInVm(job(), { timeoutMs: 240_000, memMb: 768 });
  const [line = '', epermLine = ''] = vm.stdout.trim().split('\n').slice(-2);
  try {
    out = JSON.parse(line) as Out;
    eperm = JSON.parse(epermLine) as { fast: ErrInfo | null; slow: ErrInfo | null };
  } catch {
    throw new Error(`the VM job printed no JSON (exit ${vm.code}):\n${vm.stdout.slice(-2000)}\n--- stderr:\n${vm.stderr}`);
  }
});

test('the job ran to the end in one VM', (t) => {
  t.log(`VM: boot ${vm.bootMs} ms, total ${vm.totalMs} ms; dumps (ms): ${JSON.stringify(out.times)}`);
  t.is(vm.code, 0, vm.stderr);
  t.true(out.addon, 'the batch addon loads in the VM: the fast path is the one compared');
});

const nDests = (d: Dump): number => d.table.reduce((a, [, s]) => a + s.dests.length, 0);

test('dump() through the addon returns exactly what the one-request-at-a-time path returns, stats included', (t) => {
  t.is(out.fast.table.length, N_SVC + 1 + 5 + 2 + 1);
  t.is(nDests(out.fast), N_SVC * N_DEST + BIG + 5 * 3 + 2 + 1);
  // Same services and destinations, in the same (kernel) order, with the same counters.
  t.deepEqual(out.fast, out.slow);
  t.deepEqual(out.fastNoStats, out.slowNoStats);
  t.deepEqual(out.fastNoStats.table, out.fast.table);
  t.is(out.fastNoStats.stats, undefined);
  t.deepEqual(out.fast.unmapped, []);
});

test('a service with 400 destinations (a dest dump over several datagrams) is read whole', (t) => {
  const big = out.fast.table.find(([k]) => k === 'tcp:10.2.0.1:443')?.[1];
  t.is(big?.dests.length, BIG);
  t.deepEqual(big?.dests.map(([, d]) => d.address).sort(), out.getDestsBig.map((d) => d.address).sort());
  t.is(out.rawFast[2]!.length, BIG, 'one message per destination');
});

test('a service gone before its destinations are read: no destinations (the kernel\'s empty dump) on both paths', (t) => {
  const fast = out.gone.fast as Dump;
  t.deepEqual(fast.table.find(([k]) => k === 'tcp:10.9.9.9:80')?.[1].dests, []);
  t.is(fast.table.length, out.fast.table.length + 1);
  t.deepEqual(out.gone.fast, out.gone.slow);
});

test('requestMany answers each request with the bytes request() gets, an error (EOPNOTSUPP) among dumps', (t) => {
  t.deepEqual(out.rawFast.map((r) => r.length), [N_DEST, 0, BIG, 1, N_DEST]);
  t.is(out.rawFast[3]![0]!.type, 2, 'NLMSG_ERROR');
  t.is(Buffer.from(out.rawFast[3]![0]!.data, 'hex').readInt32LE(0), -95, 'EOPNOTSUPP');
  t.deepEqual(out.rawFast, out.rawSlow);
});

test('a refused dump (no CAP_NET_ADMIN) rejects with the same IpvsError on both paths', (t) => {
  t.deepEqual(eperm.fast, { name: 'IpvsError', errno: 'EPERM', message: 'list services: EPERM' });
  t.deepEqual(eperm.fast, eperm.slow);
});

test('the dump agrees with ipvsadm -Ln: every service, destination, forwarding method and weight', (t) => {
  const hp = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
  const FWD: Record<string, string> = { masq: 'Masq', route: 'Route', tunnel: 'Tunnel', local: 'Local', bypass: 'Bypass' };
  const fromDump = new Set<string>();
  for (const [, s] of out.fast.table) {
    const head = s.kind === 'fwmark' ? `FWM ${s.fwmark}${s.family === 6 ? ' IPv6' : ''}` : `${s.protocol!.toUpperCase()} ${hp(s.address!, s.port!)}`;
    fromDump.add(`${head} ${s.scheduler}`);
    for (const [, d] of s.dests) fromDump.add(`${head} -> ${hp(d.address, d.port)} ${FWD[d.forward]} ${d.weight}`);
  }
  const fromIpvsadm = new Set<string>();
  let head = '';
  for (const raw of out.listing.split('\n')) {
    const w = raw.trim().split(/\s+/);
    if (/^(TCP|UDP|SCTP|FWM)$/.test(w[0]!)) {
      const v6 = w[0] === 'FWM' && w[2] === 'IPv6';
      head = w.slice(0, v6 ? 3 : 2).join(' ');
      fromIpvsadm.add(`${head} ${w[v6 ? 3 : 2]}`);
    } else if (w[0] === '->' && w[1] !== 'RemoteAddress:Port') {
      fromIpvsadm.add(`${head} -> ${w[1]} ${w[2]} ${w[3]}`);
    }
  }
  t.is(fromIpvsadm.size, out.fast.table.length + nDests(out.fast));
  t.deepEqual([...fromDump].sort(), [...fromIpvsadm].sort());
});
