// `npm run bench:scale`: which combination keeps which share of the sessions when the set of
// active-active directors behind an ECMP router changes (issue 16). One VM (lab/scale.ts: FRR
// router, BIRD 2 + duet directors in DR, two echo servers, a client holding N sessions); the
// options run one after the other in it, each through the same scenarios: a fourth director
// joins, one is drained by `duet maintenance on`, one dies host-down.
//
//   node build/lab/bench-scale.js [--options mesh,mh-sloppy,mh,none] [--sessions N]
//        [--interval MS] [--window S] [--json FILE] [--replay FILE,...]
//
// Prints one line per scenario as it goes, then the table: option x scenario -> survived share
// of the sessions whose path stayed (reference: 100%), of those the router moved, of those on the
// changed director; the longest stall; the route convergence time.
import { readFileSync, writeFileSync } from 'node:fs';
import { scriptArgs } from './args.js';
import { OPTION_SETTINGS, describeScenario, parseScale, pct, runScale, type Group, type OptionResult, type ScaleOption } from './scale.js';

const ALL = Object.keys(OPTION_SETTINGS) as ScaleOption[];
const DEFAULT = ['mesh', 'mh-sloppy', 'mh', 'none'];
const a = scriptArgs('bench-scale', `usage: npm run bench:scale -- [--options ${DEFAULT.join(',')}] [--sessions N]
       [--interval MS] [--window S] [--json FILE] [--replay FILE,...]
  --options L    what the directors run, in one VM one after the other (default ${DEFAULT.join(',')}; all: ${ALL.join(',')})
  --sessions N   TCP sessions the client holds (default 300)
  --interval MS  the client's echo interval per session (default 1000)
  --window S     seconds measured from each scenario's start (default 15)
  --json FILE    also write the figures as JSON
  --replay L     tabulate saved job outputs (DUET_VM_DUMP files, comma-separated), no VM`, {
  options: { type: 'string', default: DEFAULT.join(',') },
  sessions: { type: 'string', default: '300' },
  interval: { type: 'string', default: '1000' },
  window: { type: 'string', default: '15' },
  json: { type: 'string' },
  replay: { type: 'string' },
});

const options = a.options!.split(',').filter(Boolean) as ScaleOption[];
for (const o of options) if (!ALL.includes(o)) { console.error(`bench-scale: --options: a list of ${ALL.join(', ')}, got ${o}`); process.exit(2); }

const t0 = Date.now();
let results: OptionResult[];
if (a.replay) {
  results = a.replay.split(',').filter(Boolean).flatMap((f) => parseScale(readFileSync(f, 'utf8')));
} else {
  const r = await runScale({ options, sessions: Number(a.sessions), intervalMs: Number(a.interval), windowS: Number(a.window) });
  if (process.env['DUET_VM_DUMP']) writeFileSync(process.env['DUET_VM_DUMP'], `${r.vm.stdout}\n--- stderr\n${r.vm.stderr}`);
  if (r.vm.code !== 0) console.log(`VM job exit ${r.vm.code}\n${r.vm.stdout.slice(-2000)}`);
  results = r.options;
}
for (const o of results) for (const s of o.scenarios) console.log(describeScenario(o.option, s));

const share = (g: Group): string => (g.n === 0 ? '-' : `${pct(g)}% (${g.survived}/${g.n})`);
const header = ['directors run', 'scenario', 'stayed (ref. 100%)', 'moved', 'on the changed one', 'max stall moved', 'max stall stayed', 'convergence', 'from duet\'s decision'];
const rows: string[][] = [];
for (const o of results) {
  for (const s of o.scenarios) {
    rows.push([OPTION_SETTINGS[o.option]?.what ?? o.option, `${s.scenario} ${s.changed}`, share(s.stayed), share(s.moved), share(s.onChanged),
      `${s.moved.maxStallMs} ms`, `${s.stayed.maxStallMs} ms`, s.convergenceMs === undefined ? '-' : `${s.convergenceMs} ms`, s.routeMs === undefined ? '-' : `${s.routeMs} ms`]);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log('');
console.log(`${a.replay ? `replay of ${a.replay}` : `${a.sessions} sessions, a line every ${a.interval} ms each, ${a.window} s per scenario`}; ${Math.round((Date.now() - t0) / 1000)} s in all.`);
console.log('stayed: the session\'s packets reached only the director they reached before (tc counters); moved: any other (the joiner, off the drained or dead one, or rehashed between others).');
console.log('convergence: join from `duet maintenance off` on the joiner, drain from `duet maintenance on` (its CLI start in the VM), kill from link down + SIGKILL, to the router\'s next hops as wanted;');
console.log('from duet\'s decision: from the joiner\'s "VIP announced", the drained one\'s "VIP withdrawn" (kill: link down), to the same.');
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
for (const o of results) if (o.error) console.log(`${o.option}: ${o.error}`);
if (a.json) writeFileSync(a.json, JSON.stringify(results, null, 2));
