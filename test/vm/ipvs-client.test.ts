// IpvsClient against the real kernel (Debian's 6.1 in qemu; see test/helpers/vm.ts). One VM, one
// node process inside it (fixtures/ipvs-client-job.ts, in a network namespace) doing every step
// and printing one JSON object with what the client returned and what ipvsadm (the independent
// oracle) printed at the same points; the assertions are here.
import test from 'ava';
import { runInVm, type VmResult, describeVm } from '../../lab/vm.js';
import { sameTable, type Destination, type Service, type Stats, type DestStats } from '../../src/ipvs/model.js';
import { desiredTable, tableFromJson, VM_SCHEDULERS } from './fixtures/ipvs-client-table.js';

const JOB = String.raw`
ip netns add lvs && ip -n lvs link set lo up || exit 1
t0=${'$'}{EPOCHREALTIME/./}
ip netns exec lvs node build/test/vm/fixtures/ipvs-client-job.js
rc=$?
echo "node process: $(( (${'$'}{EPOCHREALTIME/./} - t0) / 1000 )) ms" >&2
# IPVS is per namespace: the root namespace of the VM saw none of it.
ipvsadm -Ln | grep -c '^[TUSF][CDCW]' >&2
exit $rc
`;

interface ErrInfo { name: string; code: string; errno: string; message: string; isIpvsError: boolean }
interface Out {
  loadedBefore: string; unavailable: ErrInfo; loadedAfter: string; family: number;
  info: { version: string; connTabSize: number };
  daemonDup: ErrInfo; daemons: unknown[]; daemonsIpvsadm: string; daemonsAfter: unknown[]; stopAgain: ErrInfo;
  installWrites: number; noScheduler: ErrInfo;
  ipvsadmList: string; ipvsadmThresholds: string; ipvsadmTunInfo: string;
  dumpJson: unknown; dumpUnmapped: unknown[];
  reapply: { ops: number; writes: number };
  edit: { ops: string[]; writes: number }; editListing: string; editedService: { service: Service } | null;
  errors: Record<string, ErrInfo> & { getServiceMissing: unknown; writesCounted: number };
  fromIpvsadm: unknown;
  timeouts: unknown; timeoutsIpvsadm: string; timeoutsPartial: unknown;
  stats: { stats: Stats; dests: Array<[string, DestStats]> } | null; statsEntry: Stats | null;
  destsEntry: Array<{ dest: Destination; stats: DestStats }>; statsIpvsadm: string; afterZero: Stats | null;
  afterDeletes: string; afterFlush: { dump: unknown; ipvsadm: string }; totalWrites: number;
  timings: Record<string, number>;
  fatal?: ErrInfo; fatalStack?: string;
}

let vm: VmResult;
test.afterEach.always((t) => { if (!t.passed) t.log(describeVm(vm)); });
let out: Out;

test.before(async () => {
  vm = await runInVm(JOB, { timeoutMs: 180_000 });
  const line = vm.stdout.trim().split('\n').pop() ?? '';
  try {
    out = JSON.parse(line) as Out;
  } catch {
    throw new Error(`the VM job printed no JSON (exit ${vm.code}):\n${vm.stdout}\n--- stderr:\n${vm.stderr}`);
  }
});

test('the job ran to the end in one VM', (t) => {
  t.log(`VM: boot ${vm.bootMs} ms, total ${vm.totalMs} ms; ${vm.stderr.trim().split('\n').join('; ')}`);
  t.log(`job steps (ms): ${JSON.stringify(out.timings)}`);
  t.is(out.fatal, undefined, `${JSON.stringify(out.fatal)}\n${out.fatalStack ?? ''}`);
  t.is(vm.code, 0, vm.stderr);
  t.regex(vm.stderr, /^0$/m, 'no service in the VM\'s root namespace');
});

// ---------------------------------------------------------------------------------------------
// ipvsadm's listing format (print_service_entry / print_dest_entry), whitespace collapsed

const hp = (family: number, a: string, p: number): string => (family === 6 ? `[${a}]:${p}` : `${a}:${p}`);
const FWD: Record<Destination['forward'], string> = { masq: 'Masq', route: 'Route', tunnel: 'Tunnel', local: 'Local', bypass: 'Bypass' };
const CSUM: Record<Destination['tunnelFlags'], string> = { nocsum: '-c', csum: '+c', remcsum: 'r+c' };

function serviceLine(s: Service): string {
  const head = s.kind === 'fwmark' ? `FWM ${s.fwmark}${s.family === 6 ? ' IPv6' : ''}` : `${s.protocol.toUpperCase()} ${hp(s.family, s.address, s.port)}`;
  let line = `${head} ${s.scheduler}`;
  if (s.flags.persistent) {
    line += ` persistent ${s.persistenceTimeoutS}`;
    if (s.persistenceNetmaskLen !== (s.family === 4 ? 32 : 128)) {
      const m = s.family === 4 ? (0xffffffff << (32 - s.persistenceNetmaskLen)) >>> 0 : 0;
      line += s.family === 4 ? ` mask ${[24, 16, 8, 0].map((sh) => (m >>> sh) & 255).join('.')}` : ` mask ${s.persistenceNetmaskLen}`;
    }
  }
  if (s.flags.onePacket) line += ' ops';
  const sf = [s.flags.shFallback && 'sh-fallback', s.flags.shPort && 'sh-port', s.flags.mhFallback && 'mh-fallback', s.flags.mhPort && 'mh-port'].filter(Boolean);
  if (sf.length) line += ` (${sf.join(',')})`;
  return line;
}

function tunInfo(d: Destination): string {
  if (d.forward !== 'tunnel') return 'n/a';
  if (d.tunnelType === 'ipip') return 'ipip';
  return d.tunnelType === 'gue' ? `gue:${d.tunnelPort}:${CSUM[d.tunnelFlags]}` : `gre:${CSUM[d.tunnelFlags]}`;
}

type Listing = Array<[string, string[]]>;

function parseListing(text: string): Listing {
  const blocks = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (line === '' || /^(IP Virtual Server|Prot |-> RemoteAddress)/.test(line)) continue;
    if (line.startsWith('-> ')) cur?.push(line.slice(3));
    else blocks.set(line, (cur = []));
  }
  return sortListing([...blocks]);
}

const sortListing = (l: Listing): Listing => l.map(([k, v]): [string, string[]] => [k, [...v].sort()]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function render(t: ReadonlyMap<string, Service>, dest: (d: Destination) => string, svcLine = serviceLine): Listing {
  return sortListing([...t.values()].map((s) => [svcLine(s), [...s.dests.values()].map(dest)]));
}

// ---------------------------------------------------------------------------------------------
// Tests

test('without IPVS in the kernel, open() rejects with a clear IoError (errno ENOENT); the look-up loads ip_vs', (t) => {
  t.is(out.loadedBefore, '0');
  t.like(out.unavailable, { name: 'IpvsError', code: 'DUET_E_IO', errno: 'ENOENT', isIpvsError: true });
  t.regex(out.unavailable.message, /^IPVS not available in this kernel/);
  t.is(out.loadedAfter, '1', 'resolving the family autoloads ip_vs (genl family alias)');
  t.true(out.family >= 16);
  t.regex(out.info.version, /^\d+\.\d+\.\d+$/);
  t.is(out.info.connTabSize, 4096);
});

test('ipvsadm -Ln shows exactly the table IpvsClient installed: every scheduler and forwarding method', (t) => {
  const want = desiredTable();
  t.is(VM_SCHEDULERS.length, 13);
  const schedulers = new Set([...want.values()].map((s) => s.scheduler));
  for (const s of VM_SCHEDULERS) t.true(schedulers.has(s), s);
  const forwards = new Set([...want.values()].flatMap((s) => [...s.dests.values()].map((d) => `${d.forward}/${d.forward === 'tunnel' ? d.tunnelType : ''}`)));
  t.deepEqual([...forwards].sort(), ['masq/', 'route/', 'tunnel/gre', 'tunnel/gue', 'tunnel/ipip']);
  t.deepEqual(parseListing(out.ipvsadmList), render(want, (d) => `${hp(d.family, d.address, d.port)} ${FWD[d.forward]} ${d.weight} 0 0`));
});

test('ipvsadm --thresholds and --tun-info agree with the installed thresholds and tunnel settings', (t) => {
  const want = desiredTable();
  t.deepEqual(parseListing(out.ipvsadmThresholds), render(want, (d) => `${hp(d.family, d.address, d.port)} ${d.upperThreshold} ${d.lowerThreshold} 0 0`));
  t.deepEqual(parseListing(out.ipvsadmTunInfo), render(want, (d) => `${hp(d.family, d.address, d.port)} ${FWD[d.forward]} ${tunInfo(d)} ${d.weight} 0 0`));
});

test('dump() reads back exactly the installed table, and nothing it cannot represent', (t) => {
  const got = tableFromJson(out.dumpJson);
  const want = desiredTable();
  t.true(sameTable(got, want));
  const norm = (m: ReadonlyMap<string, Service>): unknown => JSON.parse(JSON.stringify([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, s]) => [k, sortKeys({ ...s, dests: [...s.dests].sort(([a], [b]) => (a < b ? -1 : 1)).map(([dk, d]) => [dk, sortKeys(d)]) })])));
  t.deepEqual(norm(got), norm(want));
  t.deepEqual(out.dumpUnmapped, []);
});

function sortKeys(o: object): object {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v && typeof v === 'object' && !Array.isArray(v) ? sortKeys(v as object) : v]));
}

test('writes are counted: one per service and destination; re-applying the same table makes none', (t) => {
  const want = desiredTable();
  const n = [...want.values()].reduce((a, s) => a + 1 + s.dests.size, 0);
  t.is(out.installWrites, n);
  t.deepEqual(out.reapply, { ops: 0, writes: 0 });
  t.deepEqual(out.edit, { ops: ['edit-svc', 'edit-dest'], writes: 2 });
  t.regex(out.editListing, /^TCP\s+192\.0\.2\.100:8001 wlc\s*$/m);
  t.regex(out.editListing, /^\s+-> 192\.0\.2\.21:80\s+Masq\s+42\s/m);
  t.like(out.editedService?.service, { scheduler: 'wlc', port: 8001 });
});

test('kernel refusals come back as IoError naming the exact object, errno in its own field', (t) => {
  const e = out.errors;
  const want: Record<string, [string, string]> = {
    addServiceExists: ['EEXIST', 'add service udp 192.0.2.100:53: EEXIST'],
    addDestExists: ['EEXIST', 'add dest 192.0.2.21:80 to tcp 192.0.2.100:8001: EEXIST'],
    delDestMissing: ['ENOENT', 'del dest 192.0.2.99:80 from tcp 192.0.2.100:8001: ENOENT'],
    delServiceMissing: ['ESRCH', 'del service tcp 192.0.2.199:80: ESRCH'],
    editDestNoService: ['ESRCH', 'edit dest 192.0.2.21:53 in fwmark 999: ESRCH'],
  };
  for (const [k, [errno, message]] of Object.entries(want)) {
    t.like(e[k], { name: 'IpvsError', code: 'DUET_E_IO', isIpvsError: true, errno, message }, k);
  }
  t.like(out.noScheduler, { errno: 'ENOENT', message: 'add service tcp 192.0.2.100:8100: ENOENT' }, 'twos is not in 6.1');
  t.is(e.getServiceMissing, null, 'getService of a missing service is undefined, not an error');
  t.is(e.writesCounted, out.installWrites + 2 + 1 + 5 + 4, 'refused writes count too (daemons 4, edits 2, twos 1, refusals 5)');
});

test('dump() reads back what ipvsadm -A / -a added', (t) => {
  const got = tableFromJson(out.fromIpvsadm);
  t.deepEqual([...got.keys()].sort(), ['fwmark:77', 'tcp:192.0.2.50:80', 'udp:[2001:db8::50]:5000']);
  t.like(got.get('tcp:192.0.2.50:80'), { scheduler: 'wlc', flags: { persistent: true }, persistenceTimeoutS: 120, persistenceNetmaskLen: 16 });
  const d = got.get('tcp:192.0.2.50:80')!.dests;
  t.like(d.get('192.0.2.51:80'), { forward: 'route', weight: 4, upperThreshold: 10, lowerThreshold: 5 });
  t.like(d.get('192.0.2.52:80'), { forward: 'tunnel', tunnelType: 'gue', tunnelPort: 7000, tunnelFlags: 'csum', weight: 2 });
  t.like(got.get('fwmark:77'), { scheduler: 'mh', flags: { mhPort: true, mhFallback: false } });
  t.like(got.get('fwmark:77')!.dests.get('192.0.2.53:0'), { forward: 'masq', weight: 1 });
  t.like(got.get('udp:[2001:db8::50]:5000'), { family: 6, scheduler: 'sed', flags: { onePacket: true } });
  t.like(got.get('udp:[2001:db8::50]:5000')!.dests.get('[2001:db8::51]:5001'), { family: 6, forward: 'masq', weight: 3 });
});

test('timeouts: set, read back, as ipvsadm shows them; 0 leaves a value alone', (t) => {
  t.deepEqual(out.timeouts, { tcp: 900, tcpFin: 120, udp: 300 });
  t.regex(out.timeoutsIpvsadm, /Timeout \(tcp tcpfin udp\): 900 120 300/);
  t.deepEqual(out.timeoutsPartial, { tcp: 900, tcpFin: 120, udp: 200 });
});

test('sync daemons: start, list (as ipvsadm), refuse a second master, stop', (t) => {
  t.deepEqual(out.daemons, [{ state: 'master', mcastIfn: 'lo', syncId: 5, syncMaxlen: 1472, mcastGroup: '224.0.0.81', mcastPort: 8848, mcastTtl: 1 }]);
  t.regex(out.daemonsIpvsadm, /master sync daemon \(mcast=lo, syncid=5, maxlen=1472, group=224\.0\.0\.81, port=8848, ttl=1\)/);
  t.like(out.daemonDup, { errno: 'EEXIST', message: 'start master sync daemon (lo, syncid 5): EEXIST' });
  t.deepEqual(out.daemonsAfter, []);
  t.like(out.stopAgain, { errno: 'ESRCH' });
});

test('stats: counters and connection counts in dump(), getServices() and getDests() match ipvsadm --stats', (t) => {
  const s = out.stats;
  if (!s) return t.fail('no stats for the local service');
  // TCP  192.0.2.200:80   3   3   3   180   120
  const nums = out.statsIpvsadm.split('\n').filter((l) => /^(TCP|\s+->).*\d\s*$/.test(l)).map((l) => l.trim().split(/\s+/).slice(-5).map(Number));
  t.deepEqual([s.stats.conns, s.stats.inpkts, s.stats.outpkts, s.stats.inbytes, s.stats.outbytes], nums[0]);
  t.true(s.stats.conns >= 3);
  const [, d] = s.dests[0]!;
  t.deepEqual([d.conns, d.inpkts, d.outpkts, d.inbytes, d.outbytes], nums[1]);
  t.is(d.activeConns + d.inactConns, 3, 'three refused connections, counted per destination');
  t.is(out.statsEntry?.conns, s.stats.conns);
  t.is(out.destsEntry[0]?.stats.conns, d.conns);
  t.like(out.destsEntry[0]?.dest, { address: '127.0.0.1', port: 80, forward: 'masq' });
  t.like(out.afterZero, { conns: 0, inpkts: 0, inbytes: 0 }, 'zero(svc)');
});

test('deletes and flush', (t) => {
  t.notRegex(out.afterDeletes, /192\.0\.2\.21:80/);
  t.regex(out.afterDeletes, /192\.0\.2\.22:8080/);
  t.regex(out.afterDeletes, /No such service/);
  t.deepEqual(out.afterFlush.dump, []);
  t.deepEqual(parseListing(out.afterFlush.ipvsadm), []);
});
