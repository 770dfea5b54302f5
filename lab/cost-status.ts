// Main-thread blocking of `duet status` at many checks: the daemon's status request as main.ts
// answers it (daemon status, check status from the worker, the services view, the JSON reply),
// with the real check worker running N TCP checks, and the fake platform of the unit tests for
// the rest (IPVS in memory). Reports the longest stall of this thread (a 1 ms ticker's worst
// lateness) while a status is built, and the wall time of one, median of several.
// Run: node build/lab/cost-status.js [N] [status|scrape]
//   scrape: a Prometheus scrape (the registry main.ts serves, every check's series) instead.
import { openSync, readFileSync } from 'node:fs';
import { Daemon } from '../src/daemon/daemon.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/core/log.js';
import { workerChecks } from '../src/check/host.js';
import { realClock } from '../src/core/clock.js';
import { FakePlatform } from '../test/fakes/fake-platform.js';
import { stringifyInSlices } from '../src/control/json-slices.js';
import { createMetrics } from '../src/metrics/metrics.js';

const N = Number(process.argv[2] ?? 3000);
const WHAT = process.argv[3] ?? 'status';
if (WHAT !== 'status' && WHAT !== 'scrape') throw new Error(`what to measure: status or scrape, got ${WHAT}`);
const servers = Array.from({ length: N }, (_, i) => `      - { address: 10.${((i >> 16) & 255) + 1}.${(i >> 8) & 255}.${i & 255} }`).join('\n');
const yaml = `vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, priority: 150, advert_int: 1, virtual_ipaddress: [192.0.2.100/24] }
virtual_servers:
  - name: web
    address: 192.0.2.100
    port: 80
    lb_kind: dr
    checks: [{ type: tcp, interval: 5, timeout: 1 }]
    real_servers:
${servers}
`;
const r = parseConfig(yaml, 'cost.yaml');
if (!r.ok) throw new Error(JSON.stringify(r.error.slice(0, 3)));

class Platform extends FakePlatform {
  override openChecks(onEvent: Parameters<FakePlatform['openChecks']>[0]) {
    return workerChecks({ onEvent, onError: (e) => console.error(e.message) }) as never;
  }
}
const p = new Platform(realClock);
p.kernel.inPlace = true;
const d = new Daemon(r.value, p, realClock, createLogger({ level: 'warn', name: 'cost', destination: openSync('/dev/null', 'w') }));
await d.start();
// Every check has run once (first runs are spread over one interval).
await new Promise((res) => setTimeout(res, 6500));

if (process.env['COST_STEPS']) {
  for (let i = 0; i < 5; i++) {
    let t = performance.now(); const st = d.status(); const a = performance.now() - t;
    t = performance.now(); const cs = await d.checkStatus(); const b = performance.now() - t;
    t = performance.now(); const sv = await d.serviceStatus(cs); const c = performance.now() - t;
    t = performance.now(); JSON.stringify({ ...st, checks: cs, services: sv }); const e = performance.now() - t;
    console.log(`daemon.status ${a.toFixed(1)} checkStatus ${b.toFixed(1)} serviceStatus ${c.toFixed(1)} stringify ${e.toFixed(1)} ms`);
  }
}

/** What main.ts answers to {cmd: 'status'}, serialized as the control socket sends it. */
async function status(): Promise<number> {
  const checks = await d.checkStatus();
  const result = { ...d.status(), checks, services: await d.serviceStatus(checks) };
  return (await stringifyInSlices({ ok: true, result })).length;
}

const metrics = WHAT === 'scrape' ? createMetrics(d, { ipvsCacheMs: () => 1000, now: () => performance.now() }) : undefined;
/** What the metrics endpoint answers to one GET. */
const scrape = async (): Promise<number> => (await metrics!.text()).length;

// A stall in wall time includes waiting for a CPU (other load on the machine); the main
// thread's own run time between two ticks (schedstat, ns) is what this thread did in one turn.
const runNs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
let worst = 0;
let worstCpu = 0;
let last = performance.now();
let lastRun = runNs();
const tick = setInterval(() => {
  const now = performance.now();
  const run = runNs();
  if (process.env['COST_TRACE'] && now - last > 50) console.log(`stall ${(now - last).toFixed(0)} ms (on CPU ${((run - lastRun) / 1e6).toFixed(1)} ms) at ${new Date().toISOString()}`);
  worst = Math.max(worst, now - last - 1);
  worstCpu = Math.max(worstCpu, (run - lastRun) / 1e6);
  last = now;
  lastRun = run;
}, 1);
const stalls: number[] = [];
const cpuStalls: number[] = [];
const walls: number[] = [];
let bytes = 0;
for (let i = 0; i < 9; i++) {
  await new Promise((res) => setTimeout(res, 100));
  worst = 0;
  worstCpu = 0;
  last = performance.now();
  lastRun = runNs();
  const t0 = performance.now();
  bytes = await (metrics ? scrape() : status());
  walls.push(performance.now() - t0);
  await new Promise((res) => setTimeout(res, 20));
  stalls.push(worst);
  cpuStalls.push(worstCpu);
}
clearInterval(tick);
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${N} checks: ${WHAT} reply ${Math.round(bytes / 1024)} KiB; longest main-thread stall median ${med(stalls).toFixed(1)} ms (max ${Math.max(...stalls).toFixed(1)}); longest turn on CPU median ${med(cpuStalls).toFixed(1)} ms (max ${Math.max(...cpuStalls).toFixed(1)}); wall ${med(walls).toFixed(1)} ms`);
await d.stop();
process.exit(0);
