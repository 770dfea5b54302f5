// Prometheus metrics (prom-client), read from the daemon at scrape time: the daemon keeps its
// own counters and status, so nothing here sits on a hot path. Transitions are counted as they
// happen (they carry a reason the status does not keep). A VRRP instance is the label
// `vrrp_instance`: `instance` is Prometheus's own target label (a scraped one would be renamed
// exported_instance), which tells the directors apart.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { DaemonStatus, DuetEvent } from '../control/views.js';
import type { LatencyHistogram } from '../check/engine.js';
import { LATENCY_BUCKETS_S } from '../check/engine.js';
import type { Table, TableStats } from '../ipvs/model.js';
import type { Op } from '../ipvs/diff.js';
import { sharedFetch } from './shared-fetch.js';

/** What the metrics read; the Daemon provides it. */
export interface MetricsSource {
  status(): DaemonStatus;
  /** The per-server check families, as text (check/prom-text.ts, written by the check worker). */
  checkMetricsText(): Promise<string>;
  checkLatency(): Promise<LatencyHistogram[]>;
  ipvsStats(): Promise<{ table: Table; stats: TableStats } | undefined>;
  reconcileCounters(): { reconciles: number; reconcileErrors: number; ops: Partial<Record<Op['op'], number>>; opFailures: number };
  onEvent(fn: (e: DuetEvent) => void): () => void;
}

const STATES = ['init', 'backup', 'master', 'fault'] as const;

export interface DuetMetrics {
  registry: Registry;
  /** A whole scrape: the registry's families, then the per-server check families (check/prom-text.ts). */
  text(): Promise<string>;
  close(): void;
}

export interface MetricsOptions {
  /** How long one IPVS dump serves scrapes (read at each scrape, so a reload changes it). */
  ipvsCacheMs(): number;
  now(): number;
}

export function createMetrics(src: MetricsSource, o: MetricsOptions): DuetMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'duet_' });
  const reg = [registry];

  const transitions = new Counter({ name: 'duet_vrrp_transitions_total', help: 'VRRP state transitions by reason', labelNames: ['vrrp_instance', 'from', 'to', 'reason'], registers: reg });
  const off = src.onEvent((e) => {
    if (e.type === 'transition') transitions.inc({ vrrp_instance: e.instance, from: e.from, to: e.to, reason: e.reason });
  });

  vrrpMetrics(src, reg);
  bgpMetrics(src, reg);
  registry.registerMetric(latencyHistogram(src) as unknown as Metric);
  ipvsMetrics(sharedFetch(() => src.ipvsStats().catch(() => undefined), o.ipvsCacheMs, o.now), reg);
  return {
    registry,
    async text() {
      const [families, checks] = await Promise.all([registry.metrics(), src.checkMetricsText()]);
      return `${families}\n${checks}\n`;
    },
    close: off,
  };
}

/** A counter whose value is read from the daemon at scrape time. */
function readCounter(name: string, help: string, labelNames: string[], reg: Registry[], read: (set: (labels: Record<string, string>, v: number) => void) => void | Promise<void>): void {
  new Counter({
    name, help, labelNames, registers: reg,
    async collect() {
      this.reset();
      await read((labels, v) => this.inc(labels, v));
    },
  });
}

function readGauge(name: string, help: string, labelNames: string[], reg: Registry[], read: (set: (labels: Record<string, string>, v: number) => void) => void | Promise<void>): void {
  new Gauge({
    name, help, labelNames, registers: reg,
    async collect() {
      this.reset();
      await read((labels, v) => this.set(labels, v));
    },
  });
}

const BGP_REASONS = ['healthy', 'stopping', 'maintenance', 'operator', 'interface-down', 'ipvs-failed', 'quorum-lost', 'checks-pending'] as const;

/** VIPs in bgp mode: announced or not and why, since when; the speaker's established sessions. */
function bgpMetrics(src: MetricsSource, reg: Registry[]): void {
  readGauge('duet_bgp_announced', 'VIP in bgp mode: 1 while its route is in the speaker\'s table (announced), 0 while withdrawn', ['vip'], reg, (set) => {
    for (const v of src.status().bgp?.vips ?? []) set({ vip: v.address }, v.announced ? 1 : 0);
  });
  readGauge('duet_bgp_reason', 'Why a VIP in bgp mode is announced or withdrawn (1 for the current reason)', ['vip', 'reason'], reg, (set) => {
    for (const v of src.status().bgp?.vips ?? []) for (const r of BGP_REASONS) set({ vip: v.address, reason: r }, v.reason === r ? 1 : 0);
  });
  readGauge('duet_bgp_since_seconds', 'Wall-clock time (Unix seconds) of the last announce or withdraw of the VIP', ['vip'], reg, (set) => {
    for (const v of src.status().bgp?.vips ?? []) set({ vip: v.address }, v.sinceWall / 1000);
  });
  readCounter('duet_bgp_changes_total', 'Announces and withdraws of the VIP since start', ['vip'], reg, (set) => {
    for (const v of src.status().bgp?.vips ?? []) set({ vip: v.address }, v.changes);
  });
  readGauge('duet_bgp_session_established', 'BGP sessions of the speaker, as it reports them (1 established, 0 not)', ['session'], reg, (set) => {
    for (const x of src.status().bgp?.speaker.sessions ?? []) set({ session: x.name }, x.established ? 1 : 0);
  });
  readGauge('duet_bgp_speaker_readable', 'The speaker\'s session state could be read at the last poll (0: timed out, failed or unparsable)', [], reg, (set) => {
    const b = src.status().bgp;
    if (b && b.speaker.readAtMs !== undefined) set({}, b.speaker.error ? 0 : 1);
  });
}

function vrrpMetrics(src: MetricsSource, reg: Registry[]): void {
  readGauge('duet_vrrp_state', 'VRRP state of each instance (1 for the current state)', ['vrrp_instance', 'state'], reg, (set) => {
    for (const i of src.status().instances) for (const st of STATES) set({ vrrp_instance: i.name, state: st }, i.state === st ? 1 : 0);
  });
  readGauge('duet_vrrp_priority', 'Effective VRRP priority (tracking and operator overrides included)', ['vrrp_instance'], reg, (set) => {
    for (const i of src.status().instances) set({ vrrp_instance: i.name }, i.priority.effective);
  });
  readCounter('duet_vrrp_adverts_sent_total', 'Adverts sent', ['vrrp_instance'], reg, (set) => {
    for (const i of src.status().instances) set({ vrrp_instance: i.name }, i.counters.advertsSent);
  });
  readCounter('duet_vrrp_adverts_received_total', 'Adverts received and accepted', ['vrrp_instance'], reg, (set) => {
    for (const i of src.status().instances) set({ vrrp_instance: i.name }, i.counters.advertsReceived);
  });
  readCounter('duet_vrrp_adverts_dropped_total', 'Adverts dropped, by reason', ['vrrp_instance', 'reason'], reg, (set) => {
    for (const i of src.status().instances) for (const [reason, n] of Object.entries(i.counters.dropped)) set({ vrrp_instance: i.name, reason }, n ?? 0);
  });
  readCounter('duet_vrrp_advert_thread_lapses_total', 'realtime.advert_thread: times the advert thread stopped because the main thread did not renew its lease (a stall longer than advert_lease_ms)', ['vrrp_instance'], reg, (set) => {
    for (const i of src.status().instances) if (i.counters.advertThreadLapses !== undefined) set({ vrrp_instance: i.name }, i.counters.advertThreadLapses);
  });
  readCounter('duet_vrrp_dual_master_total', 'Dual-master episodes: another router kept advertising as master while this one was', ['vrrp_instance'], reg, (set) => {
    for (const i of src.status().instances) set({ vrrp_instance: i.name }, i.counters.dualMasters);
  });
  readGauge('duet_vrrp_fault', 'Instance held in FAULT, by reason (interface missing or down, script, maintenance...)', ['vrrp_instance', 'reason'], reg, (set) => {
    for (const i of src.status().instances) for (const reason of i.faultReasons) set({ vrrp_instance: i.name, reason }, 1);
  });
  readCounter('duet_vrrp_socket_opens_total', 'VRRP sockets opened (the first included; more means reopened)', ['interface', 'kind'], reg, (set) => {
    for (const k of src.status().sockets) set({ interface: k.ifname, kind: `${k.kind}${k.family}` }, k.opens);
  });
  readCounter('duet_vrrp_socket_errors_total', 'VRRP socket open failures, socket errors and sockets given up after failed sends', ['interface', 'kind'], reg, (set) => {
    for (const k of src.status().sockets) set({ interface: k.ifname, kind: `${k.kind}${k.family}` }, k.errors);
  });
  readCounter('duet_check_worker_restarts_total', 'Check worker restarts (it stopped answering its heartbeat, or exited)', [], reg, (set) => {
    set({}, src.status().checkWorker?.restarts ?? 0);
  });
  readCounter('duet_check_late_runs_total', 'Checks that started late (50 ms or a tenth of their interval past due): the check worker is past capacity', [], reg, (set) => {
    set({}, src.status().checkWorker?.late?.lateRuns ?? 0);
  });
  readCounter('duet_check_timeouts_discounted_total', "Check timeouts not counted as failures: the check worker's own loop took the check's time", [], reg, (set) => {
    set({}, src.status().checkWorker?.late?.discounted ?? 0);
  });
  readGauge('duet_check_queued', 'Checks due and waiting to start: past capacity the check worker admits a bounded number per loop turn and in flight', [], reg, (set) => {
    set({}, src.status().checkWorker?.late?.queued ?? 0);
  });
  readCounter('duet_check_queued_total', 'Check runs that waited for admission before they started (their wait counts as lateness)', [], reg, (set) => {
    set({}, src.status().checkWorker?.late?.queuedTotal ?? 0);
  });
  readGauge('duet_check_in_flight', 'Check runs started and not finished', [], reg, (set) => {
    set({}, src.status().checkWorker?.late?.inFlight ?? 0);
  });
  readGauge('duet_check_lateness_seconds', 'How far behind schedule checks started, worst in the last heartbeat second', [], reg, (set) => {
    set({}, (src.status().checkWorker?.late?.behindMs ?? 0) / 1000);
  });
  readGauge('duet_operator_override', 'Operator override in force (failover, takeover, maintenance)', ['vrrp_instance', 'mode'], reg, (set) => {
    for (const [name, o] of Object.entries(src.status().operator)) set({ vrrp_instance: name, mode: o.mode }, 1);
  });
  readGauge('duet_sync_daemon', 'Kernel connection-sync daemons running (1) by state, where sync_daemon is configured', ['state'], reg, (set) => {
    const sync = src.status().sync;
    if (!sync) return;
    for (const state of ['master', 'backup'] as const) set({ state }, sync.daemons.some((d) => d.state === state) ? 1 : 0);
  });
  readCounter('duet_reconcile_operations_total', 'IPVS operations the reconciler applied or tried, by kind', ['op'], reg, (set) => {
    for (const [op, n] of Object.entries(src.reconcileCounters().ops)) set({ op }, n ?? 0);
  });
  readCounter('duet_reconcile_runs_total', 'Reconciler runs', [], reg, (set) => set({}, src.reconcileCounters().reconciles));
  readCounter('duet_reconcile_errors_total', 'Reconciler runs that failed, plus single operations that failed after a retry', ['kind'], reg, (set) => {
    const c = src.reconcileCounters();
    set({ kind: 'run' }, c.reconcileErrors);
    set({ kind: 'operation' }, c.opFailures);
  });
}

/** The engine keeps bucket counts (in its worker); this renders them as a Prometheus histogram. */
function latencyHistogram(src: MetricsSource) {
  const name = 'duet_check_latency_seconds';
  return {
    name, help: 'Check latency by service and check type', type: 'histogram', aggregator: 'sum',
    reset() {},
    async get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const h of await src.checkLatency()) {
        const labels = { service: h.service, type: h.type };
        let cum = 0;
        LATENCY_BUCKETS_S.forEach((le, i) => { cum += h.counts[i]!; values.push({ labels: { ...labels, le }, value: cum, metricName: `${name}_bucket` }); });
        values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
        values.push({ labels, value: h.sumS, metricName: `${name}_sum` });
        values.push({ labels, value: h.count, metricName: `${name}_count` });
      }
      return { name, help: this.help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

/**
 * dump: shared by the metrics below, which prom-client collects all at once, so one scrape makes
 * at most one dump (and concurrent or close scrapes share it, see sharedFetch).
 */
function ipvsMetrics(dump: () => Promise<{ table: Table; stats: TableStats } | undefined>, reg: Registry[]): void {
  const perDest = (name: string, help: string, kind: 'counter' | 'gauge', pick: (d: { conns: number; inpkts: number; outpkts: number; inbytes: number; outbytes: number; activeConns: number; inactConns: number }) => number): void => {
    (kind === 'counter' ? readCounter : readGauge)(name, help, ['service', 'server'], reg, async (set) => {
      const d = await dump();
      if (!d) return;
      for (const [svc, s] of d.stats) for (const [dest, st] of s.dests) set({ service: svc, server: dest }, pick(st));
    });
  };
  perDest('duet_ipvs_connections_total', 'Connections scheduled to a real server (kernel counter)', 'counter', (d) => d.conns);
  perDest('duet_ipvs_packets_in_total', 'Packets from clients to a real server', 'counter', (d) => d.inpkts);
  perDest('duet_ipvs_packets_out_total', 'Packets from a real server to clients (NAT only)', 'counter', (d) => d.outpkts);
  perDest('duet_ipvs_bytes_in_total', 'Bytes from clients to a real server', 'counter', (d) => d.inbytes);
  perDest('duet_ipvs_bytes_out_total', 'Bytes from a real server to clients (NAT only)', 'counter', (d) => d.outbytes);
  perDest('duet_ipvs_active_connections', 'Active (established) connections of a real server', 'gauge', (d) => d.activeConns);
  perDest('duet_ipvs_inactive_connections', 'Inactive connections of a real server', 'gauge', (d) => d.inactConns);
  readGauge('duet_ipvs_weight', 'Weight of a real server in the kernel table', ['service', 'server'], reg, async (set) => {
    const d = await dump();
    if (!d) return;
    for (const [svc, s] of d.table) for (const [dest, dst] of s.dests) set({ service: svc, server: dest }, dst.weight);
  });
}
