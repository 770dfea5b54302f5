// `npm run bench:reload`: reload time and IPVS writes for a 10,000-real-server config, with the
// real daemon on a real kernel.
//
//   node build/lab/bench-reload.js [--trials N] [--services N] [--dests N] [--mem MB]
//
// The host kernel has no IPVS, so this boots ONE VM (lab/vm.ts; qemu TCG, software
// emulation: JS runs ~19x slower there than on the host) and runs a bash job in it. The host
// writes every config variant into a temp directory first (the VM sees the host's files
// read-only), so the job only copies files: no node process of ours runs next to the daemon
// while it is timed. Inside, in a network namespace: a dummy eth0 for one VRRP instance, a dummy
// d0 with 10.0.0.0/8 (real servers must be routable), and `duet run` with N services x M NAT
// real servers (wrr, like bench-ipvs's table), no health checks. Then:
//  (0) start: the initial install (the log line 'IPVS table reconciled' with ops/applied), the
//      daemon's RSS (VmRSS from /proc/PID/status);
//  (1) `duet reload --json` of the unchanged file: CLI wall time, the reply's ipvs ops (0
//      writes expected), VRRP transitions (none expected), ipvsadm -Ln identical before/after;
//  (2) 1% of the weights changed (one per 10 services): exactly that many edit-dest expected;
//  (1)-(2) are repeated --trials times;
//  (h) the same two reloads through SIGHUP (no CLI process): daemon-side time, from the signal to
//      the daemon's 'config reloaded' log line;
//  (3) 10 services removed, 10 new ones added;
//  (4) an invalid file (a typo'd field): time to reject, ipvsadm -Ln identical before/after.
// Time sources inside the VM: bash's $EPOCHREALTIME (a builtin: timing starts no process) and
// the daemon's own log timestamps (same clock, 1 ms resolution).
import { scriptArgs } from './args.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig, formatIssue } from '../src/config/load.js';

// ---------------------------------------------------------------------------------------------
// The config

/** Service i: 10.1.x.y:80 (y in 1..250); its real server k: 10.(100+k).x.y:8080. */
const octets = (i: number): string => `${Math.floor(i / 250)}.${(i % 250) + 1}`;
const baseWeight = (i: number, k: number): number => 1 + ((i + k) % 5);

interface Variant {
  /** Service indices, in file order. */
  services: number[];
  /** Weight overrides: "i k" -> weight. */
  weights: Map<string, number>;
  /** Misspell one field (the invalid file). */
  typo?: boolean;
}

function configYaml(v: Variant, nDests: number): string {
  const out: string[] = [
    '# bench:reload (lab/bench-reload.ts)',
    'node: { name: lb1 }',
    'vrrp:',
    '  instances:',
    '    - { name: VI_1, interface: eth0, vrid: 51, priority: 150, advert_int: 1, virtual_ipaddress: [192.0.2.100/24] }',
    'virtual_servers:',
  ];
  v.services.forEach((i, n) => {
    out.push(
      `  - name: vs${i}`,
      `    address: 10.1.${octets(i)}`,
      '    port: 80',
      // The typo: a misspelt key in the middle of the file (strict schema: unknown field).
      v.typo && n === Math.floor(v.services.length / 2) ? '    schedular: wrr' : '    scheduler: wrr',
      '    lb_kind: nat',
      '    real_servers:',
    );
    for (let k = 0; k < nDests; k++) {
      out.push(`      - { address: 10.${100 + k}.${octets(i)}, port: 8080, weight: ${v.weights.get(`${i} ${k}`) ?? baseWeight(i, k)} }`);
    }
  });
  return out.join('\n') + '\n';
}

/** 1% of the real servers (one in every 10 services, a different k each) get weight base + 10*round. */
function weightRound(prev: Map<string, number>, nSvc: number, nDests: number, round: number): { weights: Map<string, number>; changed: number } {
  const w = new Map(prev);
  const count = Math.max(1, Math.round((nSvc * nDests) / 100));
  const step = Math.max(1, Math.floor(nSvc / count));
  let changed = 0;
  for (let i = 0; i < nSvc && changed < count; i += step, changed++) {
    const k = changed % nDests;
    w.set(`${i} ${k}`, baseWeight(i, k) + 10 * round);
  }
  return { weights: w, changed };
}

// ---------------------------------------------------------------------------------------------
// The VM job: lab/sh/bench-reload.sh in the director's namespace (markers on stdout:
// "MARK kind name t0_us [t1_us rc]").

function job(cfgDir: string, trials: number, root: string): string {
  return String.raw`set -u
modprobe -a ip_vs ip_vs_wrr
mkdir -p /tmp/duet
echo "kernel $(uname -r), $(nproc) vCPU, node $(node --version), $(grep MemTotal /proc/meminfo | tr -s ' ')"
ip netns add d
ip netns exec d env ROOT='${root}' C='${cfgDir}' TRIALS=${trials} bash ${join(root, 'lab', 'sh', 'bench-reload.sh')}
`;
}

// ---------------------------------------------------------------------------------------------
// Reading the job's output

interface LogLine { time: string; msg: string; [k: string]: unknown }
interface Mark { kind: string; name: string; t0: number; t1?: number; rc?: number }

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const f = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '?' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const sumOps = (ops: Record<string, number> | undefined): number => Object.values(ops ?? {}).reduce((a, b) => a + b, 0);
const opsText = (ops: Record<string, number> | undefined): string => {
  const e = Object.entries(ops ?? {});
  return e.length ? e.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
};

async function main(): Promise<number> {
  const values = scriptArgs('bench-reload', `usage: npm run bench:reload -- [--trials N] [--services N] [--dests N] [--mem MB]
  --trials N    runs of each reload case (default 3)
  --services N  virtual services in the config, at least 20 (default 1000)
  --dests N     real servers per service (default 10)
  --mem MB      the VM's memory (default 1024)`, {
    trials: { type: 'string', default: '3' },
    services: { type: 'string', default: '1000' },
    dests: { type: 'string', default: '10' },
    mem: { type: 'string', default: '1024' },
  });
  const trials = Number(values.trials), nSvc = Number(values.services), nDests = Number(values.dests), memMb = Number(values.mem);
  if (!(trials >= 1 && nSvc >= 20 && nDests >= 1)) { console.error('bench-reload: --trials >= 1, --services >= 20, --dests >= 1'); return 2; }
  const total = nSvc * nDests;
  const fmtN = (n: number): string => n.toLocaleString('en-US');
  console.log(`bench:reload: ${fmtN(nSvc)} virtual services x ${nDests} real servers (${fmtN(total)}, NAT, wrr), 1 VRRP instance, no checks; ${trials} trials`);

  // Config variants, written where the VM can read them (it sees the host's files read-only).
  const dir = mkdtempSync(join(tmpdir(), 'duet-bench-reload-'));
  try {
    const all = Array.from({ length: nSvc }, (_, i) => i);
    const files: Record<string, string> = { base: configYaml({ services: all, weights: new Map() }, nDests) };
    let weights = new Map<string, number>();
    let changed = 0;
    for (let n = 1; n <= trials + 1; n++) {
      ({ weights, changed } = weightRound(weights, nSvc, nDests, n));
      files[`w${n}`] = configYaml({ services: all, weights }, nDests);
    }
    // 10 services out (spread over the table), 10 new ones in (indices nSvc..nSvc+9).
    const out = new Set(Array.from({ length: 10 }, (_, j) => j * Math.floor(nSvc / 10) + Math.floor(nSvc / 20)));
    const swapped = [...all.filter((i) => !out.has(i)), ...Array.from({ length: 10 }, (_, j) => nSvc + j)];
    files['swap'] = configYaml({ services: swapped, weights }, nDests);
    files['invalid'] = configYaml({ services: swapped, weights, typo: true }, nDests);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.yaml`), text);

    // Host: the project's parser on the same 10k file (in-process, median of 5), and a sanity
    // check of every variant (all valid but the invalid one).
    const hostParse: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = parseConfig(files['base']!, 'base.yaml');
      hostParse.push(performance.now() - t0);
      if (!r.ok) throw new Error(`base config invalid: ${r.error.slice(0, 3).map(formatIssue).join('; ')}`);
    }
    for (const [name, text] of Object.entries(files)) {
      const r = parseConfig(text, `${name}.yaml`);
      if (r.ok !== (name !== 'invalid')) throw new Error(`${name}.yaml: unexpected parse result ${r.ok ? 'ok' : r.error.slice(0, 3).map(formatIssue).join('; ')}`);
    }
    const invalidIssue = (() => { const r = parseConfig(files['invalid']!, 'duet.yaml'); return r.ok ? '' : formatIssue(r.error[0]!); })();
    const sizeKb = Buffer.byteLength(files['base']!) / 1024;

    const { runInVm, PROJECT_ROOT } = await import('./vm.js');
    const r = await runInVm(job(dir, trials, PROJECT_ROOT), { timeoutMs: 1_500_000, memMb });
    const stdout = r.stdout;
    const [head, logText = ''] = stdout.split('\n=== log\n');
    const lines = head!.split('\n');
    if (r.code !== 0) {
      console.log(stdout.slice(-6000));
      console.error(r.stderr.slice(-3000));
      console.error(`bench-reload: the VM job failed (exit ${r.code})`);
      return 1;
    }

    // Parse markers, replies and the daemon's log.
    const marks: Mark[] = [];
    const replies = new Map<string, { ok: boolean; result?: Record<string, unknown>; err?: string }>();
    const same = new Map<string, string>();
    const lists = new Map<string, string>();
    const rss = new Map<string, string>();
    let vmParse: number[] = [];
    const adverts: number[] = [];
    let header = '';
    for (const l of lines) {
      const w = l.split(' ');
      if (l.startsWith('kernel ')) header = l;
      else if (w[0] === 'MARK') marks.push({ kind: w[1]!, name: w[2]!, t0: Number(w[3]) / 1000, ...(w[4] ? { t1: Number(w[4]) / 1000, rc: Number(w[5]) } : {}) });
      else if (w[0] === 'REPLY') {
        const text = l.slice(`REPLY ${w[1]} `.length).trim();
        replies.set(w[1]!, text ? { ok: true, result: JSON.parse(text) as Record<string, unknown> } : { ok: false });
      } else if (w[0] === 'ERR') { const p = replies.get(w[1]!) ?? { ok: false }; p.err = l.slice(`ERR ${w[1]} `.length).trim(); replies.set(w[1]!, p); }
      else if (w[0] === 'SAME') same.set(w[1]!, w[2]!);
      else if (w[0] === 'LIST') lists.set(w[1]!, `${w[2]} services, ${w[3]} real servers, md5 ${w[4]}`);
      else if (w[0] === 'RSS') rss.set(w[1]!, w.slice(2).join(' ').trim());
      else if (w[0] === 'VMPARSE') vmParse = w.slice(1).map(Number);
      else if (w[0] === 'ADV') adverts.push(Number(w[1]) * 1000);
    }
    const log: LogLine[] = logText.split('\n').filter((x) => x.startsWith('{')).map((x) => JSON.parse(x) as LogLine);
    const tOf = (x: LogLine): number => Date.parse(x.time);
    const mark = (kind: string, name: string): Mark => {
      const m = marks.find((x) => x.kind === kind && x.name === name);
      if (!m) throw new Error(`no marker ${kind} ${name}`);
      return m;
    };
    /** The first log line with this msg at or after t (ms). */
    const after = (t: number, msg: string): LogLine | undefined => log.find((x) => tOf(x) >= Math.floor(t) && x.msg.startsWith(msg));
    const transitionsBetween = (t0: number, t1: number): LogLine[] => log.filter((x) => x.msg === 'transition' && tOf(x) >= Math.floor(t0) && tOf(x) <= t1);
    /** The longest gap between two adverts sent around the window [a, b] (ms). */
    const advertGap = (a: number, b: number): number => {
      let g = NaN;
      for (let i = 0; i + 1 < adverts.length; i++) {
        if (adverts[i + 1]! >= a && adverts[i]! <= b) g = Math.max(Number.isNaN(g) ? 0 : g, adverts[i + 1]! - adverts[i]!);
      }
      return g;
    };
    const normalGap = (() => {
      const gaps = adverts.slice(1).map((x, i) => x - adverts[i]!);
      return gaps.length ? median(gaps) : NaN;
    })();
    const cliStart = median(marks.filter((m) => m.kind === 'clistart').map((m) => m.t1! - m.t0));

    interface Step { gap: number; name: string; eff: Record<string, number> | undefined; cliMs: number; daemonMs: number; rc: number; writes: number; ops: Record<string, number> | undefined; replyOps: Record<string, number> | undefined; transitions: number; applied?: number; replyOk: boolean }
    const cliStep = (name: string, endMsg = 'config reloaded'): Step => {
      const m = mark('cli', name);
      const done = after(m.t0, endMsg);
      const rep = replies.get(name);
      const ops = (done?.['ipvs'] as Record<string, number> | undefined);
      const replyOps = rep?.result?.['ipvs'] as Record<string, number> | undefined;
      const rec = done && endMsg === 'config reloaded' ? log.slice(0, log.indexOf(done)).reverse().find((x) => x.msg.startsWith('IPVS table')) : undefined;
      return {
        gap: done ? advertGap(m.t0, tOf(done)) : NaN, name, eff: rep?.ok && rep.result ? replyOps : ops, cliMs: m.t1! - m.t0, daemonMs: done ? tOf(done) - m.t0 : NaN, rc: m.rc!, writes: sumOps(ops), ops, replyOps,
        transitions: transitionsBetween(m.t0, Math.max(m.t1!, done ? tOf(done) : 0)).length,
        ...(rec ? { applied: rec['applied'] as number } : {}), replyOk: rep?.ok === true && rep.result !== undefined,
      };
    };
    const hupStep = (name: string, endMsg = 'config reloaded'): { ms: number; gap: number; ops: Record<string, number> | undefined; transitions: number } => {
      const m = mark('hup', name);
      const done = after(m.t0, endMsg);
      return { ms: done ? tOf(done) - m.t0 : NaN, gap: done ? advertGap(m.t0, tOf(done)) : NaN, ops: done?.['ipvs'] as Record<string, number> | undefined, transitions: done ? transitionsBetween(m.t0, tOf(done)).length : -1 };
    };

    const unchanged = Array.from({ length: trials }, (_, i) => cliStep(`unchanged${i + 1}`));
    const weightSteps = Array.from({ length: trials }, (_, i) => cliStep(`weights${i + 1}`));
    const swap = cliStep('swap');
    const invalid = cliStep('invalid', 'reload rejected');
    const hupU = hupStep('unchanged'), hupW = hupStep('weights'), hupI = hupStep('invalid', 'reload rejected');

    // Start-up.
    const start = mark('start', 'daemon').t0;
    const installed = log.find((x) => x.msg.startsWith('IPVS table'));
    const started = log.find((x) => x.msg === 'duet started');
    const master = log.find((x) => x.msg === 'transition' && x['to'] === 'master');
    const ipvsadmRuns = marks.filter((m) => m.kind === 'ipvsadm');

    // ---- The table
    type Row = [string, string, string, string, string];
    const rows: Row[] = [['', 'median', 'min', 'max', 'notes']];
    const stat = (label: string, xs: number[], unit: string, note = ''): void => {
      const ok = xs.filter((x) => !Number.isNaN(x));
      const g = unit ? f : (x: number): string => String(x);
      rows.push(ok.length ? [label, `${g(median(ok))}${unit}`, `${g(Math.min(...ok))}${unit}`, `${g(Math.max(...ok))}${unit}`, note] : [label, '?', '?', '?', note]);
    };
    const one = (label: string, v: string, note = ''): void => { rows.push([label, v, '', '', note]); };
    const section = (label: string): void => { rows.push([label, '', '', '', '']); };

    section(`(0) daemon start, ${fmtN(nSvc)} svc x ${nDests} into an empty table`);
    one('    exec -> "IPVS table reconciled" log', installed ? `${f(tOf(installed) - start)} ms` : '?', 'node start + parse + install, VM shell clock vs log time');
    one('    writes (ops / applied)', installed ? `${fmtN(sumOps(installed['ops'] as Record<string, number>))} / ${fmtN(installed['applied'] as number)}` : '?', installed ? `${opsText(installed['ops'] as Record<string, number>)}; failed ${String(installed['failed'])}` : '');
    if (started) one('    exec -> "duet started"', `${f(tOf(started) - start)} ms`, master ? `master ${f(tOf(master) - tOf(started))} ms later (advert_int 1 s)` : '');
    one('    daemon RSS after start', rss.get('installed') ?? '?', `after all reloads: ${rss.get('reloaded') ?? '?'}; at the end: ${rss.get('end') ?? '?'}`);
    section(`(1) duet reload --json, unchanged file (x${trials})`);
    stat('    CLI wall time', unchanged.map((s) => s.cliMs), ' ms', `CLI start-up alone ~${f(cliStart)} ms (duet help)`);
    stat('    CLI start -> "config reloaded" log', unchanged.map((s) => s.daemonMs), ' ms');
    stat('    writes (ipvs ops in the reply)', unchanged.map((s) => sumOps(s.eff)), '', `target 0; ${unchanged.map((s) => opsText(s.eff)).join(' | ')}`);
    stat('    VRRP transitions', unchanged.map((s) => s.transitions), '', 'target 0');
    stat('    longest gap between adverts', unchanged.map((s) => s.gap), ' ms', `advert_int 1 s (median gap ${f(normalGap)} ms); a backup takes over after 3 x advert_int + skew`);
    one('    ipvsadm -Ln identical before/after', unchanged.map((_, i) => same.get(`unchanged${i + 1}`) ?? '?').join(', '));
    section(`(2) 1% of the weights changed (${fmtN(changed)} real servers) (x${trials})`);
    stat('    CLI wall time', weightSteps.map((s) => s.cliMs), ' ms');
    stat('    CLI start -> "config reloaded" log', weightSteps.map((s) => s.daemonMs), ' ms');
    stat('    writes (ipvs ops in the reply)', weightSteps.map((s) => sumOps(s.eff)), '', `target exactly ${changed} edit-dest; ${[...new Set(weightSteps.map((s) => opsText(s.eff)))].join(' | ')}`);
    stat('    VRRP transitions', weightSteps.map((s) => s.transitions), '', 'target 0');
    stat('    longest gap between adverts', weightSteps.map((s) => s.gap), ' ms');
    section('(h) the same reloads by SIGHUP (no CLI): signal -> "config reloaded" log');
    one('    unchanged', `${f(hupU.ms)} ms`, `writes ${sumOps(hupU.ops)} (${opsText(hupU.ops)}), transitions ${hupU.transitions}, longest advert gap ${f(hupU.gap)} ms`);
    one(`    ${changed} weights`, `${f(hupW.ms)} ms`, `writes ${sumOps(hupW.ops)} (${opsText(hupW.ops)}), transitions ${hupW.transitions}, longest advert gap ${f(hupW.gap)} ms`);
    section('(3) 10 services removed, 10 added');
    one('    CLI wall time', `${f(swap.cliMs)} ms`, `CLI start -> log ${f(swap.daemonMs)} ms`);
    one('    writes (ipvs ops in the reply)', `${sumOps(swap.eff)}`, `${opsText(swap.eff)}; target del-svc 10 + add-svc 10 + add-dest ${10 * nDests}; transitions ${swap.transitions}`);
    one('    ipvsadm -Ln after', lists.get('swapped') ?? '?', `target ${fmtN(nSvc)} services, ${fmtN(total)} real servers`);
    section('(4) invalid file (typo\'d field), rejected');
    one('    CLI wall time to reject', `${f(invalid.cliMs)} ms`, `exit ${invalid.rc} (target 1); CLI start -> "reload rejected" log ${f(invalid.daemonMs)} ms`);
    one('    by SIGHUP: signal -> "reload rejected"', `${f(hupI.ms)} ms`, `longest advert gap ${f(hupI.gap)} ms`);
    one('    ipvsadm -Ln identical before/after', `${same.get('invalid') ?? '?'} (CLI), ${same.get('invalid-hup') ?? '?'} (SIGHUP)`, `transitions ${invalid.transitions}`);
    section('Config parse (parseConfig, in-process, same 10k file)');
    one('    on the host', `${f(median(hostParse))} ms`, `median of 5 (min ${f(Math.min(...hostParse))}, max ${f(Math.max(...hostParse))}); file ${f(sizeKb)} KiB, ${fmtN(files['base']!.split('\n').length - 1)} lines`);
    one('    in the VM', vmParse.length ? `${f(median(vmParse))} ms` : '?', vmParse.length ? `2 runs in one node process (cold, warm): ${vmParse.map(f).join(', ')} ms; VM/host ${f(median(vmParse) / median(hostParse))}x` : '');
    section('For scale');
    stat('    ipvsadm -Ln | wc -l (VM)', ipvsadmRuns.map((m) => m.t1! - m.t0), ' ms', `${ipvsadmRuns[0]?.rc ?? '?'} lines; process start included`);
    stat('    duet CLI start-up (duet help, VM, 1st cold)', marks.filter((m) => m.kind === 'clistart').map((m) => m.t1! - m.t0), ' ms');

    const w = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((x) => x[i]!.length)));
    const fmtRow = (x: string[]): string => x.map((c, i) => (i === 0 || i === 4 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
    console.log(`VM: ${header}; qemu TCG = SOFTWARE EMULATION (no KVM): JS runs ~19x slower than on the host, process starts cost 50-100 ms; every VM figure is inflated accordingly`);
    console.log(`VM boot ${r.bootMs} ms, whole VM run ${f(r.totalMs / 1000)} s (host clock)`);
    console.log(fmtRow(rows[0]!));
    console.log(w.map((n) => '-'.repeat(n)).join('  '));
    for (const x of rows.slice(1)) console.log(fmtRow(x));

    // Verdicts
    const v: Array<[string, boolean]> = [
      ['(0) initial install: all services and real servers added, none failed', sumOps(installed?.['ops'] as Record<string, number>) === nSvc + total && installed?.['failed'] === 0],
      ['(1) unchanged reload: 0 writes every time', unchanged.every((s) => s.eff !== undefined && sumOps(s.eff) === 0)],
      ['(1) unchanged reload: no VRRP transition, ipvsadm -Ln identical', unchanged.every((s) => s.transitions === 0) && unchanged.every((_, i) => same.get(`unchanged${i + 1}`) === 'yes')],
      [`(2) weights: exactly ${changed} edit-dest every time`, weightSteps.every((s) => s.eff?.['edit-dest'] === changed && sumOps(s.eff) === changed)],
      ['(2) weights: no VRRP transition', weightSteps.every((s) => s.transitions === 0)],
      [`(3) swap: del-svc 10, add-svc 10, add-dest ${10 * nDests}`, swap.eff?.['del-svc'] === 10 && swap.eff['add-svc'] === 10 && swap.eff['add-dest'] === 10 * nDests && sumOps(swap.eff) === 20 + 10 * nDests],
      ['(4) invalid: rejected by the daemon (CLI and SIGHUP), nothing changed', !Number.isNaN(invalid.daemonMs) && !Number.isNaN(hupI.ms) && same.get('invalid') === 'yes' && same.get('invalid-hup') === 'yes'],
      ['(4) invalid: the CLI says so (exit 1)', invalid.rc === 1],
      ['every CLI reply arrived (no client time-out)', [...unchanged, ...weightSteps, swap].every((s) => s.rc === 0 && s.replyOk)],
    ];
    for (const [what, ok] of v) console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
    console.log(`invalid file's message: ${invalid.rc === 1 ? (replies.get('invalid')?.err ?? '?') : '?'} (host parser: ${invalidIssue})`);
    const timedOut = [...unchanged, ...weightSteps, swap, invalid].filter((x) => x.rc === 3);
    for (const s of [...unchanged, ...weightSteps, swap, invalid].filter((x) => (x.rc !== 0 && x !== invalid) || (x === invalid && x.rc !== 1))) {
      console.log(`note: CLI reload ${s.name} exited ${s.rc}: ${replies.get(s.name)?.err ?? '(no message)'}`);
    }
    if (timedOut.length) {
      console.log(`note: ${timedOut.length} CLI reloads gave up after the control client's fixed 5 s reply timeout (src/control/client.ts request(); duet.ts passes no timeout for reload),`);
      console.log('      and reported "cannot reach the daemon" while the daemon carried on and finished the reload: their "CLI wall time" is that cap, not the reload.');
      console.log('      The real figure is "CLI start -> config reloaded log"; writes come from the reply when there was one, else from the daemon\'s "config reloaded" log line (the same object).');
    }
    if (process.env['BENCH_RELOAD_DEBUG']) console.log(head);
    return v.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { console.error('bench-reload:', e); process.exitCode = 1; });
