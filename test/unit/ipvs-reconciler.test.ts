// The reconciler against an in-memory kernel: minimal writes, zero on a second run, failures
// reported with the exact object, unmanaged services untouched.
import test from 'ava';
import { reconcile } from '../../src/ipvs/reconciler.js';
import { MemKernel } from '../fakes/mem-kernel.js';
import { desiredTable } from '../../src/ipvs/desired.js';
import { parseConfig } from '../../src/config/load.js';
import type { Table } from '../../src/ipvs/model.js';

function table(yaml: string): Table {
  const r = parseConfig(`vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\nvirtual_servers:\n${yaml}`, 'test.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return desiredTable(r.value.virtualServers);
}

const web = (w1: number, w2: number, sched = 'wrr') => `  - address: 192.0.2.100
    port: 80
    scheduler: ${sched}
    lb_kind: dr
    real_servers:
      - { address: 192.0.2.21, weight: ${w1} }
      - { address: 192.0.2.22, weight: ${w2} }
`;

test('first run installs, second run writes nothing', async (t) => {
  const k = new MemKernel();
  const want = table(web(3, 1));
  const r1 = await reconcile(k, want, new Set());
  t.is(r1.applied, 3);
  t.deepEqual(r1.failed, []);
  t.is(k.writes, 3);
  const r2 = await reconcile(k, want, r1.managed);
  t.is(r2.ops.length, 0);
  t.is(k.writes, 3, 'zero writes for an unchanged table');
});

test('a weight change is one edit; a scheduler change is one edit; removal deletes only what duet managed', async (t) => {
  const k = new MemKernel();
  const r1 = await reconcile(k, table(web(3, 1)), new Set());
  const r2 = await reconcile(k, table(web(3, 2)), r1.managed);
  t.deepEqual(r2.ops.map((o) => o.op), ['edit-dest']);
  const r3 = await reconcile(k, table(web(3, 2, 'rr')), r2.managed);
  t.deepEqual(r3.ops.map((o) => o.op), ['edit-svc']);
  // Someone else's service appears in the kernel: left alone, also when ours goes.
  const other = table(`  - { address: 192.0.2.200, port: 25, scheduler: rr, lb_kind: nat, real_servers: [] }\n`);
  k.table = new Map([...k.table, ...other]);
  const r4 = await reconcile(k, new Map(), r3.managed);
  t.deepEqual(r4.ops.map((o) => o.op), ['del-svc']);
  t.deepEqual([...k.table.keys()], ['tcp:192.0.2.200:25']);
});

test('a failed operation is retried once, then reported with the exact object; the rest still applies', async (t) => {
  const k = new MemKernel();
  let tries = 0;
  k.failOn = (op) => op.op === 'add-dest' && op.dest.address === '192.0.2.22' ? (tries++, 'ENOMEM') : undefined;
  const r = await reconcile(k, table(web(3, 1)), new Set());
  t.is(tries, 2, 'retried once');
  t.is(r.applied, 2);
  t.is(r.failed.length, 1);
  t.is(r.failed[0]!.what, 'add-dest 192.0.2.22:80 to tcp:192.0.2.100:80');
  t.is(r.failed[0]!.error, 'ENOMEM');
  // Next run, with the fault gone, finishes the job.
  k.failOn = undefined;
  const r2 = await reconcile(k, table(web(3, 1)), r.managed);
  t.deepEqual(r2.ops.map((o) => o.op), ['add-dest']);
  t.deepEqual(r2.failed, []);
});

test('when a service cannot be created its destinations are not attempted', async (t) => {
  const k = new MemKernel();
  k.failOn = (op) => op.op === 'add-svc' ? 'EINVAL' : undefined;
  const r = await reconcile(k, table(web(3, 1)), new Set());
  t.is(k.writes, 2, 'add-svc and its retry only');
  t.deepEqual(r.failed.map((f) => f.what), ['add-svc tcp:192.0.2.100:80']);
});
