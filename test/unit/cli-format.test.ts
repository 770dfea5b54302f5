import test from 'ava';
import { formatReload, formatStatus } from '../../src/cli/format.js';
import type { DaemonStatus } from '../../src/control/views.js';

const status = (ipvs: DaemonStatus['ipvs']): DaemonStatus & { nowMs: number } => ({
  node: 'lb1', nowMs: 12_500, unmatched: {}, tracking: {}, ipvs, operator: {}, maintenance: false, serverOverrides: [], sync: undefined, sockets: [], checkWorker: undefined,
  instances: [{
    name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, state: 'master', priority: { configured: 150, effective: 130 },
    masterAddress: '192.0.2.11', masterPriority: 130, sinceMs: 10_000, lastReason: 'preempt', fault: false, faultReasons: [],
    dualMaster: undefined,
    counters: { dualMasters: 0, advertsSent: 25, advertsReceived: 3, sendErrors: 0, dropped: { ttl: 2 }, addressMismatch: 0, transitions: 2 },
  }],
});

test('status table: state, effective and configured priority, age, reason, counters', (t) => {
  const out = formatStatus(status(undefined));
  const [node, header, row] = out.split('\n');
  t.is(node, 'node lb1');
  t.regex(header!, /^INSTANCE\s+IF\s+VRID\s+VER\s+STATE\s+PRIO\s+MASTER\s+SINCE\s+REASON\s+RX\s+TX\s+DROPPED$/);
  t.regex(row!, /^VI_1\s+eth0\s+51\s+v3\s+MASTER\s+130 \(cfg 150\)\s+192\.0\.2\.11\s+2\.5s\s+preempt\s+3\s+25\s+ttl:2$/);
  t.is(out.split('\n').length, 3, 'no ipvs line without virtual servers');
});

test('status says when the advert thread stopped for lack of a lease (and nothing while it never did)', (t) => {
  const s = status(undefined);
  s.instances[0]!.counters.advertThreadLapses = 0;
  t.notRegex(formatStatus(s), /advert thread/);
  s.instances[0]!.counters.advertThreadLapses = 2;
  t.regex(formatStatus(s), /^VI_1: advert thread stopped 2 times: the main thread did not renew its lease in time/m);
});

test('status shows the last IPVS reconcile and its failures', (t) => {
  const out = formatStatus(status({ services: 2, error: undefined,
    lastReconcile: { atMs: 1, ops: { 'edit-dest': 1 }, applied: 0, failed: [{ what: 'edit-dest 192.0.2.21:80 of tcp:192.0.2.100:80', error: 'ENOENT' }] } }));
  t.is(out.split('\n').at(-1), 'ipvs: 2 services configured; last reconcile: edit-dest 1; 1 failed: edit-dest 192.0.2.21:80 of tcp:192.0.2.100:80: ENOENT');
});

test('reload summary: instances, virtual servers, IPVS writes', (t) => {
  t.is(formatReload({ added: [], removed: [], replaced: [], updated: ['VI_1'], unchanged: ['VI_2'],
    virtualServers: { added: ['api'], removed: [], changed: ['web'], unchanged: [] }, ipvs: { 'add-svc': 1, 'edit-dest': 2 } }),
  'instances: updated VI_1; unchanged VI_2\nvirtual servers: added api; changed web\nipvs: add-svc 1, edit-dest 2');
  t.is(formatReload({ added: [], removed: [], replaced: [], updated: [], unchanged: ['VI_1'], virtualServers: { added: [], removed: [], changed: [], unchanged: ['web'] }, ipvs: {} }),
    'instances: unchanged VI_1\nvirtual servers: unchanged web\nipvs: no writes (the kernel already matched)');
});

test('services table: configured, wanted and kernel weight, connections, health and why', (t) => {
  const out = formatStatus({ ...status(undefined), services: [{
    name: 'web', service: 'tcp:192.0.2.100:80', scheduler: 'wrr', quorumLost: false, servers: [
      { server: '192.0.2.21:80', sorry: false, configured: 3, wanted: 3, kernel: 3, active: 12, inactive: 4, health: 'up', why: 'healthy' },
      { server: '192.0.2.22:80', sorry: false, configured: 1, wanted: null, kernel: null, active: null, inactive: null, health: 'down', why: 'check failed: refused' },
      { server: '192.0.2.99:80', sorry: true, configured: 1, wanted: null, kernel: null, active: null, inactive: null, health: '-', why: '' },
    ] }] });
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith('SERVICE'));
  t.deepEqual(lines.slice(at), [
    'SERVICE  SERVER         WEIGHT  WANTED  KERNEL  ACTIVE  INACT  HEALTH  WHY',
    'web      192.0.2.21:80  3       3       3       12      4      UP      healthy',
    'web      192.0.2.22:80  1       out     -       -       -      DOWN    check failed: refused',
  ], 'an idle sorry server is not listed');
});
