// Main-thread cost of a burst of check results, as the daemon handles them (event stream, log
// line, desired-table bookkeeping), with the real JSON logger writing to /dev/null and the fake
// platform of the unit tests. First results (from 'unknown': every check at start) are counted
// into one summary line; later changes are a line each. Run: node build/lab/cost-check-burst.js [N]
import { openSync } from 'node:fs';
import { Daemon } from '../src/daemon/daemon.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/core/log.js';
import { FakeClock } from '../test/fakes/fake-clock.js';
import { FakePlatform } from '../test/fakes/fake-platform.js';

const N = Number(process.argv[2] ?? 3000);
const YAML = `vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, priority: 150, advert_int: 1, virtual_ipaddress: [192.0.2.100/24] }
virtual_servers:
  - { name: web, address: 192.0.2.100, port: 80, lb_kind: dr, checks: [{ type: tcp }], real_servers: [{ address: 192.0.2.21 }] }
`;

async function burst(first: boolean): Promise<number> {
  const r = parseConfig(YAML, 'cost.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  const clock = new FakeClock(10_000);
  const p = new FakePlatform(clock);
  const d = new Daemon(r.value, p, clock, createLogger({ level: 'info', name: 'cost', destination: openSync('/dev/null', 'w') }));
  await d.start();
  const checks = p.checks!;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    checks.emit({ kind: 'check', service: 'tcp:192.0.2.100:80', server: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:80`, check: 'tcp#0',
      from: first ? 'unknown' : 'up', to: i % 50 === 7 ? 'down' : 'up', reason: 'connected', latencyMs: 0.4 });
  }
  const ms = performance.now() - t0;
  await d.stop();
  return ms;
}

const rounds = 7;
for (const first of [false, true, false, true]) await burst(first); // warm up the JIT for both paths
const res: Record<string, number[]> = { line: [], summary: [] };
for (let i = 0; i < rounds; i++) {
  res['line']!.push(await burst(false));
  res['summary']!.push(await burst(true));
}
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${N} check results on the main thread, median of ${rounds} (ms): one log line each ${med(res['line']!).toFixed(1)}, first results summarized ${med(res['summary']!).toFixed(1)}`);
process.exit(0);
