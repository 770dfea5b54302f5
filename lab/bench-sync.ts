// `npm run bench:sync`: do established TCP sessions survive a host-down failover of the director
// pair, and the failback? For DR and NAT, with the kernel's connection sync (sync), without it
// (none: the baseline) and with the mh scheduler plus sloppy_tcp (mh), over several trials.
//
//   node build/lab/bench-sync.js [--trials N] [--mode dr|nat|both] [--options sync,none,mh]
//        [--sessions N] [--interval MS] [--window S] [--json FILE]
//
// Each trial of a mode is one VM (lab/survival.ts: namespaces, two duet directors, two echo
// servers, a client holding N sessions); the options run one after the other in it. Prints one
// line per run as it goes, then the table: mode x option -> survived % on failover and failback
// (min over trials), max stall, failover time, and the client's connections the backup held
// before the kill, by state.
import { scriptArgs } from './args.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { OPTIONS, describe, replaySurvival, runSurvival, statesText, type Mode, type OptionResult, type SyncOption } from './survival.js';

const a = scriptArgs('bench-sync', `usage: npm run bench:sync -- [--trials N] [--mode dr|nat|both] [--options ${OPTIONS.join(',')}]
       [--sessions N] [--interval MS] [--window S] [--json FILE] [--replay MODE:FILE,...]
  --trials N     VMs per mode (default 3)
  --mode M       dr, nat or both (default both)
  --options L    sync options to run in each VM (default ${OPTIONS.join(',')})
  --sessions N   TCP sessions the client holds (default 120)
  --interval MS  the client's echo interval per session (default 500)
  --window S     seconds to watch after each failover/failback (default 20)
  --json FILE    also write every run's figures as JSON
  --replay L     tabulate saved job outputs (DUET_VM_DUMP files), one trial each, no VM`, {
  trials: { type: 'string', default: '3' },
  mode: { type: 'string', default: 'both' },
  options: { type: 'string', default: OPTIONS.join(',') },
  sessions: { type: 'string', default: '120' },
  interval: { type: 'string', default: '500' },
  window: { type: 'string', default: '20' },
  json: { type: 'string' },
  replay: { type: 'string' },
});

const trials = Number(a.trials);
const modes: Mode[] = a.mode === 'both' ? ['dr', 'nat'] : [a.mode as Mode];
const options = a.options!.split(',').filter(Boolean) as SyncOption[];
for (const m of modes) if (m !== 'dr' && m !== 'nat') { console.error(`bench-sync: --mode: dr, nat or both, got ${m}`); process.exit(2); }
for (const o of options) if (!OPTIONS.includes(o)) { console.error(`bench-sync: --options: a list of ${OPTIONS.join(', ')}, got ${o}`); process.exit(2); }

const runs: Array<{ mode: Mode; trial: number; r: OptionResult }> = [];
const t0 = Date.now();
const replays = (a.replay ?? '').split(',').filter(Boolean).map((x) => {
  const i = x.indexOf(':');
  return { mode: x.slice(0, i) as Mode, file: x.slice(i + 1) };
});
for (const [i, rp] of replays.entries()) {
  for (const r of replaySurvival(rp.mode, readFileSync(rp.file, 'utf8')).options) {
    runs.push({ mode: rp.mode, trial: i + 1, r });
    console.log(`replay ${rp.file}: ${describe(rp.mode, r)}`);
  }
}
if (replays.length) {
  modes.splice(0, modes.length, ...new Set(replays.map((r) => r.mode)));
}
for (let trial = 1; trial <= (replays.length ? 0 : trials); trial++) {
  for (const mode of modes) {
    const started = Date.now();
    try {
      const res = await runSurvival({ mode, options, sessions: Number(a.sessions), intervalMs: Number(a.interval), windowS: Number(a.window) });
      if (process.env['DUET_VM_DUMP']) writeFileSync(`${process.env['DUET_VM_DUMP']}.${mode}.${trial}`, `${res.vm.stdout}\n--- stderr\n${res.vm.stderr}`);
      for (const r of res.options) {
        runs.push({ mode, trial, r });
        console.log(`trial ${trial} ${describe(mode, r)}`);
      }
      if (res.vm.code !== 0 || res.options.length !== options.length) console.log(`trial ${trial} ${mode}: VM job exit ${res.vm.code}, ${res.options.length} of ${options.length} options reported`);
    } catch (e) {
      console.log(`trial ${trial} ${mode}: VM failed: ${(e as Error).message.split('\n')[0]}`);
    }
    console.log(`  (${Math.round((Date.now() - started) / 1000)} s)`);
  }
}

const range = (xs: Array<number | undefined>, unit: string): string => {
  const v = xs.filter((x): x is number => x !== undefined).sort((p, q) => p - q);
  if (!v.length) return '-';
  const r = (x: number): string => `${Math.round(x)}`;
  return v[0] === v[v.length - 1] ? `${r(v[0]!)}${unit}` : `${r(v[0]!)}-${r(v[v.length - 1]!)}${unit}`;
};
const pcts = (xs: Array<number | undefined>): string => {
  const v = xs.filter((x): x is number => x !== undefined);
  if (!v.length) return '-';
  const min = Math.min(...v);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  return v.length === 1 ? `${min}%` : `${min}% (mean ${Math.round(mean * 10) / 10}%)`;
};

const header = ['mode', 'option', 'trials', 'survived failover', 'survived failback', 'max stall failover', 'max stall failback', 'failover', 'backup conns before kill', 'd1 conns at preempt'];
const rows: string[][] = [];
for (const mode of modes) {
  for (const opt of options) {
    const rs = runs.filter((x) => x.mode === mode && x.r.option === opt).map((x) => x.r);
    const ok = rs.filter((r) => !r.error);
    const conns = [...new Set(rs.map((r) => statesText(r.conns['d2 before-kill'])))].join(' / ');
    const preempt = [...new Set(rs.map((r) => statesText(r.conns['d1 at-preempt'])))].join(' / ');
    rows.push([
      mode.toUpperCase(), opt, `${ok.length}/${rs.length}`,
      pcts(rs.map((r) => r.failoverPct)), pcts(rs.map((r) => r.failbackPct)),
      range(rs.map((r) => r.failoverStallMs), ' ms'), range(rs.map((r) => r.failbackStallMs), ' ms'),
      range(rs.map((r) => r.failoverMs), ' ms'), conns, preempt,
    ]);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log('');
console.log(`${a.sessions} sessions per batch, a line every ${a.interval} ms each; ${replays.length ? `${replays.length} saved run(s)` : `${trials} trial(s)`}; ${Math.round((Date.now() - t0) / 1000)} s in all.`);
console.log('survived: min over trials (mean); stall and failover: range over trials.');
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
const errors = runs.filter((x) => x.r.error);
for (const e of errors) console.log(`trial ${e.trial} ${e.mode} ${e.r.option}: ${e.r.error}`);
if (a.json) writeFileSync(a.json, JSON.stringify(runs, null, 2));
