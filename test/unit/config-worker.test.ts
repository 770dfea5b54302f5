// The reload path parses on a worker thread: same result as on the main thread (every example
// config, and a broken one), and the main thread's timers keep running while a large file parses.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadConfig } from '../../src/config/load.js';
import { OFF_THREAD_MIN_BYTES, loadConfigOffThread } from '../../src/config/load-worker.js';
import { PROJECT_ROOT } from '../../lab/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'duet-cfgw-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('every example config comes back from the worker exactly as loadConfig gives it', async (t) => {
  const files = readdirSync(join(PROJECT_ROOT, 'conf')).filter((f) => f.endsWith('.yaml')).map((f) => join(PROJECT_ROOT, 'conf', f));
  t.true(files.length >= 5);
  for (const f of files) {
    const here = await loadConfig(f);
    t.true(here.ok, f);
    t.deepEqual(await loadConfigOffThread(f, { minBytes: 0 }), here, f);
  }
});

test('a broken file: the same positioned issues; a missing file: the same error', async (t) => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 999, virtual_ipaddress: [192.0.2.100/24] }\n');
  const r = await loadConfigOffThread(bad, { minBytes: 0 });
  t.false(r.ok);
  t.deepEqual(r, await loadConfig(bad));
  t.deepEqual(await loadConfigOffThread(join(dir, 'none.yaml'), { minBytes: 0 }), await loadConfig(join(dir, 'none.yaml')));
});

test('the main thread keeps its timers while a large file parses on the worker', async (t) => {
  const servers = Array.from({ length: 4000 }, (_, i) => `  - { address: 192.0.2.100, port: ${1000 + i}, scheduler: rr, lb_kind: dr, real_servers: [{ address: 10.0.${i >> 8}.${i & 255} }] }`).join('\n');
  const big = join(dir, 'big.yaml');
  writeFileSync(big, `vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\nvirtual_servers:\n${servers}\n`);
  const t0 = performance.now();
  const direct = await loadConfig(big);
  const blockedMs = performance.now() - t0;
  t.true(direct.ok);
  // The same parse off the thread: a 10 ms timer measures how long this thread was held at most.
  let last = performance.now(), worst = 0, ticks = 0;
  const tick = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; ticks++; }, 10);
  t.true(statSync(big).size > OFF_THREAD_MIN_BYTES);
  const off = await loadConfigOffThread(big);
  clearInterval(tick);
  t.true(off.ok);
  t.log(`parse on the main thread: ${Math.round(blockedMs)} ms; worst timer gap while parsing on the worker: ${Math.round(worst)} ms`);
  // Not a speed target (those are in the benchmarks): a parse held on this thread would let the
  // 10 ms timer fire once or twice at most, however loaded the machine is.
  t.true(ticks >= 10, `timers ran on while the worker parsed: ${ticks} ticks`);
});
