// The Grafana dashboard (docs/grafana/duet.json) against duet's real metrics registry: every
// query reads metrics that exist, with the labels it names, over a source where every family has
// samples. (test/vm/sync.test.ts checks the same against a live director pair's scrapes.)
import test from 'ava';
import { createMetrics, type MetricsSource } from '../../src/metrics/metrics.js';
import type { DaemonStatus } from '../../src/control/views.js';
import type { LatencyHistogram, ServiceStatus } from '../../src/check/engine.js';
import type { DestStats, Service, Table, TableStats } from '../../src/ipvs/model.js';
import { LATENCY_BUCKETS_S } from '../../src/check/engine.js';
import { dashboardQueries, missing, uses } from '../../lab/dashboard.js';
import { checkFamiliesText } from '../../src/check/prom-text.js';

/** A daemon with something in every metric family: drops, a fault, an override, sync, BGP, checks, IPVS. */
function source(): MetricsSource {
  const dest = { conns: 5, inpkts: 9, outpkts: 8, inbytes: 900, outbytes: 800, activeConns: 2, inactConns: 1 } as DestStats;
  const table: Table = new Map([['tcp:192.0.2.100:80', { dests: new Map([['192.0.2.12:80', { weight: 3 }]]) } as unknown as Service]]);
  const stats: TableStats = new Map([['tcp:192.0.2.100:80', { stats: dest, dests: new Map([['192.0.2.12:80', dest]]) }]]);
  const status = {
    instances: [{ name: 'VI_1', state: 'master', priority: { effective: 150 }, faultReasons: ['maintenance'],
      counters: { advertsSent: 10, advertsReceived: 3, dropped: { ttl: 1 }, dualMasters: 0 } }],
    sockets: [{ ifname: 'eth0', kind: 'raw', family: 4, opens: 1, errors: 0 }],
    operator: { VI_1: { mode: 'failover', sticky: false, since: 0 } },
    checkWorker: { restarts: 0 },
    sync: { role: 'master', follows: 'instance VI_1', daemons: [{ state: 'master' }], error: undefined },
    bgp: { vips: [{ address: '192.0.2.100', announced: true, reason: 'healthy', sinceWall: 1, changes: 1 }],
      speaker: { sessions: [{ name: 'up1', established: true }], readAtMs: 1, error: undefined } },
  } as unknown as DaemonStatus;
  const checks = [{ name: 'web', quorumUp: true, servers: [{ server: '192.0.2.12:80', configured: 3, verdict: 3,
    checks: [{ check: 'tcp#0', checks: 4, failures: 1, health: 'up' }] }] }] as unknown as ServiceStatus[];
  const latency = [{ service: 'web', type: 'tcp', counts: LATENCY_BUCKETS_S.map(() => 1), count: LATENCY_BUCKETS_S.length, sumS: 0.01 }] as unknown as LatencyHistogram[];
  return {
    status: () => status,
    checkMetricsText: () => checkFamiliesText(checks),
    checkLatency: async () => latency,
    ipvsStats: async () => ({ table, stats }),
    reconcileCounters: () => ({ reconciles: 2, reconcileErrors: 0, ops: { 'add-svc': 1 }, opFailures: 0 }),
    onEvent: (fn) => { fn({ type: 'transition', instance: 'VI_1', from: 'backup', to: 'master', reason: 'master-down-timer' } as never); return () => {}; },
  };
}

test('the dashboard has panels over VRRP, checks, IPVS, the reconciler, sync, BGP and the process', (t) => {
  const q = dashboardQueries();
  const names = new Set(q.flatMap((x) => uses(x).metrics));
  for (const m of ['duet_vrrp_state', 'duet_vrrp_transitions_total', 'duet_vrrp_adverts_dropped_total', 'duet_check_up',
    'duet_check_latency_seconds_bucket', 'duet_real_server_weight', 'duet_ipvs_weight', 'duet_ipvs_active_connections',
    'duet_ipvs_bytes_in_total', 'duet_reconcile_operations_total', 'duet_sync_daemon', 'duet_bgp_announced', 'duet_bgp_session_established']) t.true(names.has(m), m);
  t.true(q.length >= 30, `${q.length} queries`);
});

test('every dashboard query reads metrics and labels duet exports', async (t) => {
  const m = createMetrics(source(), { ipvsCacheMs: () => 0, now: () => 0 });
  const text = await m.text();
  m.close();
  t.deepEqual(missing(dashboardQueries(), [text]), []);
});

test('the check finds a renamed metric, a missing label and a label on no sample', async (t) => {
  const m = createMetrics(source(), { ipvsCacheMs: () => 0, now: () => 0 });
  const text = await m.text();
  m.close();
  const problems = missing([
    { panel: 'a', expr: 'duet_vrrp_prio{instance=~"$node"}', legend: '' },
    { panel: 'b', expr: 'sum by (vrrp_instance, zone) (duet_vrrp_state)', legend: '' },
    { panel: 'c', expr: 'duet_ipvs_weight', legend: '{{vrrp_instance}}' },
  ], [text]);
  t.deepEqual(problems, [
    'a: duet_vrrp_prio is not exported',
    "b: no sample of duet_vrrp_state has the label 'zone'",
    "c: no sample of duet_ipvs_weight has the label 'vrrp_instance'",
  ]);
});
