// `npm run bench:ipvs`: programming a large IPVS table, duet's reconciler vs ipvsadm -R, side by
// side in one run, on a real kernel.
//
//   node build/lab/bench-ipvs.js [--services N] [--dests N] [--repeat N] [--mem MB]
//
// The host kernel has no IPVS, so the host side boots a VM (test/helpers/vm.ts) and runs this
// same file inside with --inner, in a fresh network namespace, in ONE node process (its start is
// measured from the shell and printed, but excluded from every timing). Inside:
//  (a) install N services x M real servers into an empty table: duet (reconcile() over
//      IpvsClient, from an empty kernel) vs `ipvsadm -R` of the same table (text generated from
//      the same model; the time includes ipvsadm's process start). The bench flushes between the
//      two (ipvsadm -C, untimed); duet's daemon never flushes. Each result is dumped and compared
//      with the model (must be identical).
//  (b) re-apply the unchanged table with duet: dump (1 + one request per service, sent together
//      through the native batch addon), diff, and the whole reconcile() with its own dump; target
//      0 writes and < 100 ms for 10,000 destinations. For scale, the same dump one request at a
//      time through npm netlink (nativeBatch: false), and ipvsadm -Ln reading the same table.
//      ipvsadm has no diff: its column is the flush-and-restore (-C then -R) a script would do.
//  (c) change 1% of the weights and reconcile: exactly that many writes. ipvsadm column: -R of
//      just the matching -e lines (a hand-made diff, which ipvsadm cannot compute).
// Writes are netlink requests that change the table (IpvsClient.writes); for ipvsadm, one per
// restore line (ipvsadm -R sends one request per line).
import { scriptArgs } from './args.js';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { NO_FLAGS, serviceKey, destKey, sameTable, ipv4MaskFromLen, type Destination, type Service, type Table } from '../src/ipvs/model.js';
import { diff } from '../src/ipvs/diff.js';
import { reconcile, describeOp, type IpvsKernel } from '../src/ipvs/reconciler.js';

// ---------------------------------------------------------------------------------------------
// The table

export function benchTable(nServices: number, nDests: number): Map<string, Service> {
  const t = new Map<string, Service>();
  for (let i = 0; i < nServices; i++) {
    const dests = new Map<string, Destination>();
    for (let k = 0; k < nDests; k++) {
      const d: Destination = {
        family: 4, address: `10.${100 + k}.${i >> 8}.${i & 255}`, port: 8080, forward: 'masq', weight: 1 + ((i + k) % 5),
        upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 'nocsum',
      };
      dests.set(destKey(d), d);
    }
    const s: Service = {
      kind: 'addr', family: 4, protocol: 'tcp', address: `10.1.${i >> 8}.${i & 255}`, port: 80, scheduler: 'wrr',
      flags: NO_FLAGS, persistenceTimeoutS: 0, persistenceNetmaskLen: 32, dests,
    };
    t.set(serviceKey(s), s);
  }
  return t;
}

/** `count` destinations (spread over services, one per service) get a new weight. */
export function changeWeights(t: Table, count: number): { table: Map<string, Service>; changed: number } {
  const out = new Map(t);
  const keys = [...t.keys()];
  const step = Math.max(1, Math.floor(keys.length / count));
  let changed = 0;
  for (let i = 0; i < keys.length && changed < count; i += step) {
    const s = t.get(keys[i]!)!;
    const dests = new Map(s.dests);
    const [dk, d] = [...s.dests][changed % s.dests.size]!;
    dests.set(dk, { ...d, weight: d.weight + 10 });
    out.set(keys[i]!, { ...s, dests });
    changed++;
  }
  return { table: out, changed };
}

// ---------------------------------------------------------------------------------------------
// ipvsadm -R text from the model

const hp = (family: 4 | 6, a: string, p: number): string => (family === 6 ? `[${a}]:${p}` : `${a}:${p}`);

function svcArgs(s: Service): string {
  if (s.kind === 'fwmark') return `-f ${s.fwmark}${s.family === 6 ? ' -6' : ''}`;
  const opt = s.protocol === 'tcp' ? '-t' : s.protocol === 'udp' ? '-u' : '--sctp-service';
  return `${opt} ${hp(s.family, s.address, s.port)}`;
}

function svcLine(cmd: '-A' | '-E', s: Service): string {
  let l = `${cmd} ${svcArgs(s)} -s ${s.scheduler}`;
  const f = s.flags;
  const bflags = [f.shFallback && 'sh-fallback', f.shPort && 'sh-port', f.mhFallback && 'mh-fallback', f.mhPort && 'mh-port'].filter(Boolean);
  if (bflags.length) l += ` -b ${bflags.join(',')}`;
  if (f.persistent) {
    l += ` -p ${s.persistenceTimeoutS}`;
    const full = s.family === 4 ? 32 : 128;
    if (s.persistenceNetmaskLen !== full) {
      const m = ipv4MaskFromLen(s.persistenceNetmaskLen);
      l += ` -M ${s.family === 4 ? [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join('.') : s.persistenceNetmaskLen}`;
    }
  }
  if (f.onePacket) l += ' -o';
  return l;
}

function destLine(cmd: '-a' | '-e', s: Service, d: Destination): string {
  const fwd = { masq: '-m', route: '-g', tunnel: '-i', local: '-g', bypass: '-g' }[d.forward];
  let l = `${cmd} ${svcArgs(s)} -r ${hp(d.family, d.address, d.port)} ${fwd} -w ${d.weight}`;
  if (d.upperThreshold) l += ` -x ${d.upperThreshold}`;
  if (d.lowerThreshold) l += ` -y ${d.lowerThreshold}`;
  if (d.forward === 'tunnel' && d.tunnelType !== 'ipip') {
    l += ` --tun-type ${d.tunnelType}`;
    if (d.tunnelType === 'gue') l += ` --tun-port ${d.tunnelPort}`;
    if (d.tunnelFlags !== 'nocsum') l += ` --tun-${d.tunnelFlags}`;
  }
  return l;
}

/** The whole table as ipvsadm -R input (the shape ipvsadm -S writes). */
export function restoreText(t: Table): string {
  const lines: string[] = [];
  for (const s of t.values()) {
    lines.push(svcLine('-A', s));
    for (const d of s.dests.values()) lines.push(destLine('-a', s, d));
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Inside the VM

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function ipvsadm(args: string[], input?: string, stdout: 'pipe' | 'ignore' = 'pipe'): number {
  const t0 = performance.now();
  const r = spawnSync('ipvsadm', args, { input, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['pipe', stdout, 'pipe'] });
  const dt = performance.now() - t0;
  if (r.status !== 0) throw new Error(`ipvsadm ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return dt;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function inner(nSvc: number, nDest: number, repeat: number): Promise<number> {
  const startMs = process.env['BENCH_T0_NS'] ? Date.now() - Number(BigInt(process.env['BENCH_T0_NS']) / 1_000_000n) : NaN;
  const { IpvsClient } = await import('../src/ipvs/genl-client.js');
  const c = await IpvsClient.open({ timeoutMs: 120_000 });
  const total = nSvc * nDest;
  const want = benchTable(nSvc, nDest);
  const keys = new Set(want.keys());
  const problems: string[] = [];
  const check = async (what: string, t: Table): Promise<void> => {
    const d = await c.dump();
    if (!sameTable(d.table, t)) {
      const ops = diff(t, d.table, { managed: keys }).slice(0, 3).map((o) => `${describeOp(o)} ${JSON.stringify('dest' in o ? [o.dest, d.table.get(serviceKey(o.svc))?.dests.get(destKey(o.dest))] : o.svc.scheduler)}`);
      problems.push(`${what}: the kernel's table differs from the model (${ops.join('; ') || 'order or unmanaged'})`);
    }
  };
  // Timed kernel: records how long reconcile()'s own dump takes.
  let lastDumpMs = 0;
  const k: IpvsKernel = {
    dump: async (o) => { const t0 = performance.now(); const d = await c.dump(o ?? {}); lastDumpMs = performance.now() - t0; return d; },
    addService: (s) => c.addService(s), editService: (s) => c.editService(s), delService: (s) => c.delService(s),
    addDest: (s, d) => c.addDest(s, d), editDest: (s, d) => c.editDest(s, d), delDest: (s, d) => c.delDest(s, d),
  };
  const run = async (w: Table): Promise<{ ms: number; writes: number; ops: number; failed: number; dumpMs: number }> => {
    const w0 = c.writes;
    const t0 = performance.now();
    const r = await reconcile(k, w, keys);
    return { ms: performance.now() - t0, writes: c.writes - w0, ops: r.ops.length, failed: r.failed.length, dumpMs: lastDumpMs };
  };

  ipvsadm(['-C']);
  // (a) duet from empty
  const a = await run(want);
  await check('(a) duet install', want);
  ipvsadm(['-C']);
  // (a) ipvsadm -R of the same table
  const text = restoreText(want);
  const restoreLines = text.trimEnd().split('\n').length;
  const aIpvsadm = ipvsadm(['-R'], text);
  await check('(a) ipvsadm -R', want);

  // (b) unchanged: dump, diff, whole reconcile (on the table ipvsadm -R wrote: identical)
  const dumps: number[] = [], diffs: number[] = [], recs: number[] = [], recWrites: number[] = [];
  for (let i = 0; i < repeat; i++) {
    let t0 = performance.now();
    const d = await c.dump({ stats: false }); // what reconcile() reads
    dumps.push(performance.now() - t0);
    t0 = performance.now();
    const ops = diff(want, d.table, { managed: keys });
    diffs.push(performance.now() - t0);
    if (ops.length !== 0) problems.push(`(b) diff of the unchanged table has ${ops.length} ops`);
    const r = await run(want);
    recs.push(r.ms);
    recWrites.push(r.writes);
  }
  // For scale: the same dump one request at a time (no batch addon: the path before it), and
  // ipvsadm -Ln reading the same table (C, libnl, the same 1 + 1-per-service requests; output
  // discarded; process start included).
  const serial = await IpvsClient.open({ timeoutMs: 120_000, nativeBatch: false });
  const serialDumps: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await serial.dump({ stats: false });
    serialDumps.push(performance.now() - t0);
  }
  serial.close();
  const listings: number[] = [];
  for (let i = 0; i < repeat; i++) listings.push(ipvsadm(['-Ln'], undefined, 'ignore'));
  const starts: number[] = [];
  for (let i = 0; i < repeat; i++) starts.push(ipvsadm(['--version'], undefined, 'ignore'));
  // ipvsadm's re-apply: flush and restore (drops every connection; shown for scale only)
  const bFlush = ipvsadm(['-C']);
  const bRestore = ipvsadm(['-R'], text);
  await check('(b) ipvsadm -C; -R', want);

  // (c) 1% of the weights
  const nChange = Math.max(1, Math.round(total / 100));
  const { table: want2, changed } = changeWeights(want, nChange);
  const cRes = await run(want2);
  await check('(c) duet weights', want2);
  const editText = diff(want2, want, { managed: keys }).map((op) => (op.op === 'edit-dest' ? destLine('-e', op.svc, op.dest) : `# ${op.op}`)).join('\n') + '\n';
  const cIpvsadm = ipvsadm(["-R"], editText); // the same edits again (idempotent): times 100 edit requests
  await check('(c) ipvsadm -e', want2);
  c.close();

  const fmtN = (n: number): string => n.toLocaleString('en-US');
  const rows: Array<[string, string, string, string]> = [
    ['', 'duet (reconcile + IpvsClient)', 'ipvsadm', 'target'],
    [`(a) install ${fmtN(nSvc)} svc x ${nDest} dests into an empty table`, '', '', ''],
    ['    time', `${ms(a.ms)} ms`, `${ms(aIpvsadm)} ms (-R, incl. process start)`, ''],
    ['    writes', `${fmtN(a.writes)} (${a.failed} failed)`, `${fmtN(restoreLines)} (one per line)`, `${fmtN(nSvc + total)}`],
    [`(b) re-apply unchanged (${fmtN(total)} dests), median of ${repeat}`, '', '', ''],
    ['    dump, table only (1 + 1 per service)', `${ms(median(dumps))} ms (${fmtN(1 + nSvc)} requests)`, `${ms(median(listings))} ms (-Ln, process start ${ms(median(starts))} ms incl.)`, ''],
    ['    dump, one request at a time', `${ms(median(serialDumps))} ms (nativeBatch: false)`, '', ''],
    ['    diff', `${ms(median(diffs))} ms`, '-', ''],
    ['    reconcile total (own dump+diff)', `${ms(median(recs))} ms`, `${ms(bFlush + bRestore)} ms (-C ${ms(bFlush)} + -R ${ms(bRestore)})`, '< 100 ms'],
    ['    writes', `${recWrites.join(', ')}`, `${fmtN(1 + restoreLines)} (flush + all)`, '0'],
    [`(c) change 1% of weights (${fmtN(changed)} dests)`, '', '', ''],
    ['    time', `${ms(cRes.ms)} ms (dump ${ms(cRes.dumpMs)})`, `${ms(cIpvsadm)} ms (-R of ${changed} -e lines, hand diff)`, ''],
    ['    writes', `${fmtN(cRes.writes)}`, `${fmtN(changed)}`, `exactly ${fmtN(changed)}`],
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd();
  console.log(`node start inside the VM (shell exec to first line of the bench, excluded): ${Number.isNaN(startMs) ? '?' : `${startMs} ms`}`);
  console.log(line(rows[0]!));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
  const verdicts = [
    `(b) writes 0: ${recWrites.every((x) => x === 0) ? 'PASS' : 'FAIL'}`,
    `(b) < 100 ms: ${median(recs) < 100 ? 'PASS' : 'FAIL'} (median ${ms(median(recs))} ms, min ${ms(Math.min(...recs))} ms)`,
    `(c) writes == ${changed}: ${cRes.writes === changed ? 'PASS' : 'FAIL'}`,
    `tables identical to the model after each step: ${problems.length === 0 ? 'yes' : 'NO'}`,
  ];
  console.log(verdicts.join('\n'));
  for (const p of problems) console.log(`problem: ${p}`);
  return problems.length === 0 && a.failed === 0 && cRes.writes === changed && recWrites.every((x) => x === 0) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// On the host

async function host(nSvc: number, nDest: number, repeat: number, memMb: number): Promise<number> {
  const { runInVm } = await import('./vm.js');
  const self = fileURLToPath(import.meta.url);
  const script = `set -eu
modprobe ip_vs; modprobe ip_vs_wrr
ip netns add bench
# Real servers must be reachable unicast addresses for the kernel (else EINVAL): a dummy link
# with 10.0.0.0/8 on it gives them a route.
ip -n bench link set lo up
ip -n bench link add d0 type dummy && ip -n bench addr add 10.0.0.1/8 dev d0 && ip -n bench link set d0 up
echo "kernel $(uname -r), $(nproc) vCPU, $(ipvsadm --version 2>/dev/null | head -1 || true)"
ip netns exec bench env BENCH_T0_NS=$(date +%s%N) node ${self} --inner --services ${nSvc} --dests ${nDest} --repeat ${repeat}
`;
  // The VM is qemu TCG (software emulation), which slows node's JIT code far more than the
  // kernel's: the same diff (pure JS, no I/O) on the host gives the slowdown factor for scale.
  const want = benchTable(nSvc, nDest);
  const keys = new Set(want.keys());
  const copy = new Map([...want].map(([k, s]) => [k, { ...s, dests: new Map(s.dests) }]));
  const hostDiffs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    diff(want, copy, { managed: keys });
    hostDiffs.push(performance.now() - t0);
  }
  console.log(`host: the same diff (b) on the host: ${ms(median(hostDiffs))} ms (median of 7); compare with the VM's diff line for the TCG slowdown`);
  const r = await runInVm(script, { timeoutMs: 600_000, memMb });
  process.stdout.write(r.stdout);
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  console.log(`VM boot ${r.bootMs} ms, whole VM run ${r.totalMs} ms (host clock); qemu TCG (software emulation: scripts/vm/run.sh passes no -accel kvm), 1 vCPU`);
  return r.code;
}

async function main(): Promise<number> {
  const values = scriptArgs('bench-ipvs', `usage: npm run bench:ipvs -- [--services N] [--dests N] [--repeat N] [--mem MB]
  --services N  virtual services to program (default 1000)
  --dests N     real servers per service (default 10)
  --repeat N    timed runs per step (default 5)
  --mem MB      the VM's memory (default 1024)
  (--inner is the part that runs inside the VM)`, {
    inner: { type: 'boolean', default: false },
    services: { type: 'string', default: '1000' },
    dests: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '5' },
    mem: { type: 'string', default: '1024' },
  });
  const [n, m, rep] = [Number(values.services), Number(values.dests), Number(values.repeat)];
  if (values.inner) return inner(n, m, rep);
  console.log(`bench:ipvs: ${n} services x ${m} real servers, in a VM (the host kernel has no IPVS)`);
  return host(n, m, rep, Number(values.mem));
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { console.error('bench-ipvs:', e); process.exitCode = 1; });
