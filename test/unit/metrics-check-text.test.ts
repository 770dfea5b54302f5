// The per-server check families written as text (src/check/prom-text.ts): the same text
// prom-client writes for them, and a turn of the loop between slices of servers.
import test from 'ava';
import { Counter, Gauge, Registry } from 'prom-client';
import { checkFamiliesText, SERVERS_PER_TURN } from '../../src/check/prom-text.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { ServiceStatus } from '../../src/check/engine.js';
import { idleMetricsSource } from '../fakes/metrics-source.js';

/** Services with awkward names (quotes, backslashes, newlines), every health and verdict kind. */
function services(nServers: number): ServiceStatus[] {
  const health = ['up', 'down', 'unknown'] as const;
  return [
    { service: 'a', name: 'web "front"', quorumUp: true, healthyWeight: 1, servers: Array.from({ length: nServers }, (_, i) => ({
      server: `192.0.2.${i % 250}:${80 + Math.floor(i / 250)}`, configured: 1 + (i % 3), verdict: i % 5 === 0 ? 'remove' as const : i % 4, reason: 'ok', latencyEwmaMs: undefined,
      checks: [{ check: 'tcp#0', health: health[i % 3]!, reason: 'r', latencyMs: 1, checks: 10 + i, failures: i % 7 },
        ...(i % 2 ? [{ check: 'http#1', health: 'up' as const, reason: 'r', latencyMs: 1, checks: 3, failures: 0 }] : [])],
    })) },
    { service: 'b', name: 'back\\end\nx', quorumUp: false, healthyWeight: 0, servers: [] },
  ];
}

/** What the four families were before prom-text.ts: prom-client metrics read at scrape time. */
async function viaPromClient(list: ServiceStatus[]): Promise<string> {
  const registry = new Registry();
  const reg = [registry];
  type Set = (labels: Record<string, string>, v: number) => void;
  const each = (fn: (svc: ServiceStatus, srv: ServiceStatus['servers'][number]) => void): void => { for (const svc of list) for (const srv of svc.servers) fn(svc, srv); };
  const counter = (name: string, help: string, labelNames: string[], read: (set: Set) => void): void => {
    new Counter({ name, help, labelNames, registers: reg, collect() { this.reset(); read((l, v) => this.inc(l, v)); } });
  };
  const gauge = (name: string, help: string, labelNames: string[], read: (set: Set) => void): void => {
    new Gauge({ name, help, labelNames, registers: reg, collect() { this.reset(); read((l, v) => this.set(l, v)); } });
  };
  counter('duet_check_results_total', 'Check results by outcome', ['service', 'server', 'check', 'result'], (set) => each((svc, srv) => {
    for (const c of srv.checks) {
      set({ service: svc.name, server: srv.server, check: c.check, result: 'ok' }, c.checks - c.failures);
      set({ service: svc.name, server: srv.server, check: c.check, result: 'failed' }, c.failures);
    }
  }));
  gauge('duet_check_up', 'Check health: 1 up, 0 down, -1 not known yet', ['service', 'server', 'check'], (set) => each((svc, srv) => {
    for (const c of srv.checks) set({ service: svc.name, server: srv.server, check: c.check }, c.health === 'up' ? 1 : c.health === 'down' ? 0 : -1);
  }));
  gauge('duet_real_server_weight', 'Weight health checks give a real server (-1: out of the table)', ['service', 'server', 'kind'], (set) => each((svc, srv) => {
    set({ service: svc.name, server: srv.server, kind: 'configured' }, srv.configured);
    set({ service: svc.name, server: srv.server, kind: 'effective' }, srv.verdict === 'remove' ? -1 : srv.verdict);
  }));
  gauge('duet_service_quorum_up', 'Quorum of a checked service (0: sorry server in use)', ['service'], (set) => {
    for (const svc of list) set({ service: svc.name }, svc.quorumUp ? 1 : 0);
  });
  return registry.metrics();
}

test('the check families are the text prom-client writes for them, escaping included', async (t) => {
  const list = services(40);
  const mine = await checkFamiliesText(list, async () => {});
  t.is(`${mine}\n`, await viaPromClient(list));
  t.regex(mine, /service="web \\"front\\""/);
  t.regex(mine, /^duet_service_quorum_up\{service="back\\\\end\\nx"\} 0$/m);
});

test(`a turn of the loop after every ${SERVERS_PER_TURN} servers, none before the first`, async (t) => {
  let turns = 0;
  const n = 2 * SERVERS_PER_TURN + 7;
  const text = await checkFamiliesText(services(n), async () => { turns++; });
  t.is(turns, 2);
  t.is(text.split('\n').filter((l) => l.startsWith('duet_real_server_weight{') && l.includes('kind="configured"')).length, n);
  turns = 0;
  await checkFamiliesText(services(SERVERS_PER_TURN), async () => { turns++; });
  t.is(turns, 0);
});

test('a scrape holds both the registry families and the check families, each family once', async (t) => {
  const m = createMetrics(idleMetricsSource({ checkMetricsText: () => checkFamiliesText(services(3)) }), { ipvsCacheMs: () => 0, now: () => 0 });
  t.teardown(() => m.close());
  const text = await m.text();
  for (const f of ['duet_check_results_total', 'duet_check_up', 'duet_real_server_weight', 'duet_service_quorum_up', 'duet_check_latency_seconds', 'duet_reconcile_runs_total']) {
    t.is(text.split('\n').filter((l) => l === `# TYPE ${f} ${/total$/.test(f) ? 'counter' : /latency/.test(f) ? 'histogram' : 'gauge'}`).length, 1, f);
  }
  t.regex(text, /^duet_check_up\{service="web \\"front\\"",server="192\.0\.2\.0:80",check="tcp#0"\} 1$/m);
  t.true(text.endsWith('\n') && !text.endsWith('\n\n'));
});
